"""``snnx export``: checkpoint (or a NIR file) -> RUN/model.nir, RUN/model.net, RUN/quant.json.

The quantizer reads the NIR graph *as written to disk*, never the torch module, so what
reaches Loihi is exactly what model.nir says, and graphs from other tools take the same
path. Everything is computed and validated before anything is written; the three files
are then written to temporary names and renamed together, so a failed export leaves no
partial model.net / model.nir and keeps earlier results.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from snnx import provenance
from snnx.config import ExportConfig, RunConfig
from snnx.errors import SnnxError
from snnx.export.from_nir import DT_DEFAULT, graph_to_float, read_graph
from snnx.export.quantize import QuantReport, quantize
from snnx.io import publish_files, staging_dir, write_json
from snnx.loihi.net import LoihiNet
from snnx.loihi.netx import read_netx, write_netx
from snnx.loihi.stream_clock import add_stream_clock
from snnx.run import RunFolder


def export_command(
    run: Path | None,
    target: str,
    from_nir: Path | None,
    out: Path | None,
    scale: str | None,
    percentile: float | None,
    timesteps: int | None,
    framework: str = "auto",
    stream_clock: int | None = None,
) -> LoihiNet:
    """Export RUN's checkpoint (or ``from_nir``) to Loihi fixed point; print a per-layer table."""
    if target != "loihi":
        raise SnnxError(f"--target {target!r} is not supported; use --target loihi")
    if timesteps is not None and timesteps < 1:
        raise SnnxError(f"--timesteps {timesteps}: need at least 1 input step")
    if from_nir is not None:
        dest = Path(out or run) if (out or run) else None
        if dest is None:
            raise SnnxError("--from-nir needs a run folder to write to: snnx export --from-nir FILE.nir -o runs/NAME")
        export_cfg = _folder_export_config(dest)
        source_nir = Path(from_nir)
        read_graph(source_nir)  # fail early on an unreadable file, before any folder is made
        graph_meta = None
        graded = False
    else:
        if run is None:
            raise SnnxError("give a run folder (snnx export runs/NAME) or a graph (snnx export --from-nir FILE.nir -o RUN)")
        run = Path(run)
        dest = Path(out) if out is not None else run
        ck = _load_checkpoint(run)
        export_cfg = ck.config.export
        source_nir, graph_meta = None, _checkpoint_graph(ck, run)
        graded = ck.config.data.encoding == "direct"
    rule, pct = _scale_rule(scale, percentile, export_cfg)
    clocks = export_cfg.stream_clock if stream_clock is None else stream_clock
    if not 0 <= clocks <= 4096:
        raise SnnxError(f"--stream-clock {clocks}: need 0 (off) to 4096 clock neurons")
    made_dest = not dest.exists()
    try:
        net, report, fnet = _write_outputs(dest, source_nir, graph_meta, run, timesteps, framework, rule, pct, graded,
                                           clocks)
    except BaseException:
        if made_dest and dest.is_dir() and not any(dest.iterdir()):
            dest.rmdir()  # a failed export leaves no empty run folder behind
        raise
    if source_nir is not None:
        for line in [fnet.assumed, *fnet.notes]:
            print(f"snnx: {line}")
    print(format_table(report, dest))
    from snnx.export.probe import warn_if_dead

    warn_if_dead(net)
    return net


def _write_outputs(dest: Path, source_nir: Path | None, graph_meta, run: Path | None, timesteps: int | None,
                   framework: str, rule: str, pct: float, graded: bool, clocks: int = 0):
    """Compute everything, then commit model.nir, model.net and quant.json in one step (a staging folder)."""
    same = source_nir is None and Path(dest).resolve() == Path(run).resolve()
    inputs = provenance.checkpoint_inputs(run) if same else {}  # checksums of what it was made from
    with staging_dir(dest, "export") as staging:  # three files, committed in one step
        nir_tmp, net_tmp, quant_tmp = staging / "model.nir", staging / "model.net", staging / "quant.json"
        if source_nir is not None:
            shutil.copyfile(source_nir, nir_tmp)
            source = f"nir:{source_nir.name}"
        else:
            from snnx.export.to_nir import write_nir

            write_nir(graph_meta, nir_tmp)
            source = f"checkpoint:{run.name}/checkpoint.json"
        fnet = graph_to_float(read_graph(nir_tmp), source=source, timesteps=timesteps,
                              framework=framework if source_nir is not None else "snnx")
        if timesteps is not None:
            fnet.timesteps = timesteps
        net, report = quantize(fnet, rule, pct, graded=graded or fnet.encoding == "direct")
        net, clock_info = add_stream_clock(net, clocks)  # dense_rec: a stream that leaks nothing (§12)
        for c in clock_info:
            pre = f", pushed by {c.pre} pre-clock neurons (bias {c.pre_bias})," if c.pre else ""
            print(f"stream clock: {c.clocks} neurons in layer {c.layer + 1} (bias {c.bias}){pre} fire at step "
                  f"{c.fire_step} and silence it on its last step {c.last_step} before netx's reset")
        write_netx(net, net_tmp)
        read_netx(net_tmp)  # what we wrote must read back
        write_json(quant_tmp, _quant_json(report, net, fnet.dt))
        provenance.record(staging, dest, ["model.nir", "model.net", "quant.json"], inputs, "export")
        publish_files(staging, dest)
    return net, report, fnet


# ----------------------------------------------------------------------------- inputs


def _load_checkpoint(run: Path):
    from snnx.train.checkpoint import Checkpoint
    from snnx.train.checkpoint import exists as checkpoint_exists
    from snnx.train.models import check_deployable

    folder = RunFolder(run)
    path = folder.checkpoint
    if not checkpoint_exists(path):
        raise SnnxError(f"{path} not found; run `snnx train -o {run}` first (or use --from-nir FILE.nir -o {run})")
    ck = Checkpoint.load(path)
    cfg_path = folder.config
    if cfg_path.is_file():
        saved = RunConfig.load(cfg_path)
        for section in ("model", "data"):
            a, b = getattr(ck.config, section), getattr(saved, section)
            keys = ["kind", "hidden", "conv", "bias", "neuron", "skip"] if section == "model" else ["dataset", "encoding"]
            diff = [k for k in keys if getattr(a, k) != getattr(b, k)]
            if diff:
                k = diff[0]
                raise SnnxError(
                    f"{path} belongs to another model: it has {section}.{k} = {getattr(a, k)!r} but {cfg_path} says "
                    f"{getattr(b, k)!r}; re-run `snnx train -o {run}` or restore the matching checkpoint"
                )
    check_deployable(ck.spec)
    return ck


def _checkpoint_graph(ck, run: Path):
    from snnx.export.to_nir import model_to_nir, snnx_metadata

    data = ck.config.data
    meta = snnx_metadata(DT_DEFAULT, data.timesteps, data.encoding,
                         {"gain": data.gain, "latency_tau": data.latency_tau}, source=f"{run.name}/checkpoint.json")
    return model_to_nir(ck.build_model(), meta, DT_DEFAULT)


def _folder_export_config(dest: Path) -> ExportConfig:
    cfg = RunFolder(dest).load_config()
    return cfg.export if cfg is not None else ExportConfig()


def _scale_rule(scale: str | None, percentile: float | None, cfg: ExportConfig) -> tuple[str, float]:
    if scale == "max" and percentile is not None:
        raise SnnxError(f"--percentile {percentile} only applies with --scale percentile")
    rule = scale or ("percentile" if percentile is not None else cfg.scale)
    pct = float(percentile if percentile is not None else cfg.percentile)
    if not 0 < pct <= 100:
        raise SnnxError(f"--percentile {pct} must be in (0, 100]")
    return rule, pct


# ----------------------------------------------------------------------------- outputs


def _quant_json(report: QuantReport, net: LoihiNet, dt: float) -> dict:
    inp = {"shape": list(net.input.shape), "encoding": net.input.encoding, "timesteps": net.input.timesteps,
           "params": net.input.params}
    return replace(report, source=net.source, dt=dt, input=inp).to_dict()


def format_table(report: QuantReport, dest: Path) -> str:
    head = f"{'layer':<10}{'kind':<7}{'scale':>10}{'w_exp':>6}{'clip %':>8}{'max err':>10}{'rms err':>10}" \
           f"{'du':>6}{'dv':>6}{'vth':>8}{'bias':>14}"
    rows = [f"exported {dest}/model.nir, model.net, quant.json (scale rule: {report.scale_rule})", head,
            "-" * len(head)]
    for q in report.layers:
        bias = "-" if q.bias_min is None else f"[{q.bias_min},{q.bias_max}]"
        rows.append(f"{q.name:<10}{q.kind:<7}{q.scale:>10.4g}{q.weight_exp:>6}{100 * q.clipped:>8.3f}"
                    f"{q.max_weight_error:>10.3g}{q.rms_weight_error:>10.3g}{q.du:>6}{q.dv:>6}{q.vth:>8}{bias:>14}")
        rows += [f"  note: {n}" for n in q.notes]
    return "\n".join(rows)
