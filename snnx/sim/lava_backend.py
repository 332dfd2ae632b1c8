"""Lava engines: run ``model.net`` in Lava (netx, ``Loihi2SimCfg(select_tag="fixed_pt")``).

Samples are streamed through one Lava network: netx's ``reset_interval = R`` with
``reset_offset = 1`` resets synapse layer l (1-based) at Lava steps k*R + l + 1, exactly when
sample k's first input reaches it (docs/design.md §6.5, measured). With R = T + L - 1 every layer's
window covers its steps l+1..T+L of the sample, so the result is cut back into per-sample
arrays [N, T + L, *shape] that equal :mod:`snnx.sim.fast` bit for bit (steps before l+1 are
reported as zero, as the fast simulator defines them).

:class:`LavaEngine` (and :func:`run_lava`) records spikes (and u, v) of every layer with Lava
monitors in this process (tests, small runs, ``deploy --run`` with the chip's run config).
:class:`LavaWorkerEngine` (:func:`run_lava_stream`) runs many samples in chunks in worker
processes (one per core), each writing its results to a shared file, and keeps this process
light. Both are engines of :mod:`snnx.sim.engine`: they only run, the caller does the accounting.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snnx.errors import SnnxError
from snnx.loihi.net import LoihiNet
from snnx.loihi.netx import read_netx, write_netx
from snnx.sim.fast import FastRun, check_inputs, is_graded
from snnx.sim.lava_build import allow_lava_import, build_lava_network, input_port


def reset_interval(timesteps: int, latency: int) -> int:
    """R = T + L - 1: the shortest interval whose windows hold all T + L steps of every layer."""
    return max(1, timesteps + latency - 1)


def reset_offset(net: LoihiNet) -> int:
    """netx's ``reset_offset`` that resets every block when its sample's first input reaches it.

    netx resets its first block at ``time_step mod R == reset_offset + 1`` and each further
    block one step later (docs/design.md §5). Sample k's input is sent at steps k*R + 1 ...;
    a dense/conv block adds one step of latency, lava-dl's Input block none, so the first
    block must reset at step 2 (offset 1) for a synapse layer and at step 1 (offset 0) for an
    Input block. Any other offset lets one sample's tail spill into the next sample's window.
    """
    return 0 if net.input_block is not None else 1


def _whc(a: np.ndarray) -> np.ndarray:
    """Our [..., C, H, W] -> netx's [..., W, H, C] (last three axes)."""
    return np.swapaxes(a, -1, -3) if a.ndim >= 3 else a


def lava_inputs(net: LoihiNet, x: np.ndarray) -> np.ndarray:
    """Inputs [N, T, *input shape] in the layout of netx's ``inp`` port.

    A conv-first net takes WHC frames; a dense-first net takes the flat vector in our (C, H, W)
    order, which is the order of its weight columns (netx flattens nothing before layer 1).
    """
    first = net.input_block or net.synapse_layers[0]
    if first.kind == "dense" or (first.kind == "input" and len(first.shape) != 3):
        return x.reshape(x.shape[0], x.shape[1], -1)
    return _whc(x)


def input_schedule(inputs: np.ndarray, steps_per_sample: int, total_steps: int) -> np.ndarray:
    """Lava RingBuffer data [*inp shape, total_steps]: sample k at steps k*R + 1 .. k*R + T."""
    n, t = inputs.shape[:2]
    data = np.zeros((total_steps, *inputs.shape[2:]), dtype=np.int32)
    for k in range(n):
        data[k * steps_per_sample : k * steps_per_sample + t] = inputs[k]
    return np.moveaxis(data, 0, -1)


def cut_samples(
    trace: np.ndarray, n: int, steps: int, interval: int, layer_index: int
) -> np.ndarray:
    """Global per-step trace [total_steps, *shape] -> per-sample [n, steps, *shape].

    Sample k's step t (0-based) is Lava step k*R + t + 1; a layer's window is the R steps from
    its reset step ``layer_index`` + 1 (-1 for lava-dl's Input block); steps outside it belong
    to the previous or next sample's window and are zeroed.
    """
    out = np.zeros((n, steps, *trace.shape[1:]), dtype=trace.dtype)
    for k in range(n):
        lo = k * interval
        out[k, : min(steps, len(trace) - lo)] = trace[lo : lo + steps]
    out[:, : layer_index + 1] = 0
    out[:, layer_index + 1 + interval :] = 0
    return out


@dataclass
class LavaRun(FastRun):
    """Same layout as :class:`snnx.sim.fast.FastRun`."""


@dataclass
class LavaEngine:
    """Engine "lava": netx in this process (tests, ``deploy --run``), one Lava run per call.

    ``interval``: netx's reset interval (default R = T + L - 1; ``deploy --run`` uses the
    manifest's power of two); ``run_cfg``: default ``Loihi2SimCfg(select_tag="fixed_pt")``,
    ``Loihi2HwCfg()`` on the chip. Every layer is recorded with Lava monitors, or with
    ``output_only`` just the output layer through a sink (what a chip run can read back);
    then ``spikes`` holds that one layer.
    """

    net_path: Path
    interval: int | None = None
    reset_offset: int | None = None  # default: :func:`reset_offset` of the net
    run_cfg: object | None = None
    output_only: bool = False
    record_state: bool = False
    name: str = "lava"
    whole: bool = True  # give it every sample at once: building the network costs seconds

    def run(self, inputs: np.ndarray) -> LavaRun:
        """Simulate ``inputs`` [N, T, *input shape]; per-sample arrays [N, T + L, *shape]."""
        allow_lava_import()
        from lava.magma.core.run_conditions import RunSteps
        from lava.magma.core.run_configs import Loihi2SimCfg
        from lava.proc.io.sink import RingBuffer as Sink
        from lava.proc.io.source import RingBuffer as Source
        from lava.proc.monitor.process import Monitor

        net = read_netx(self.net_path)
        x = check_inputs(net, inputs)
        n, t = x.shape[:2]
        latency = net.num_synapse_layers
        steps = t + latency
        interval = self.interval or reset_interval(t, latency)
        total = (n - 1) * interval + steps
        record_state = self.record_state and not self.output_only
        lava_net = build_lava_network(
            self.net_path,
            reset_interval=interval,
            reset_offset=reset_offset(net) if self.reset_offset is None else self.reset_offset,
            input_message_bits=8 if is_graded(x) else 0,
        )
        src = Source(data=input_schedule(lava_inputs(net, x.astype(np.int32)), interval, total))
        src.s_out.connect(input_port(lava_net))
        monitors, sink = [], None  # a Lava Monitor holds one probe
        if self.output_only:
            sink = Sink(shape=lava_net.out.shape, buffer=total)
            lava_net.out.connect(sink.a_in)
        else:
            for block in lava_net.layers:
                targets = [block.neuron.s_out] + (
                    [block.neuron.u, block.neuron.v] if record_state else []
                )
                probes = []
                for target in targets:
                    mon = Monitor()
                    mon.probe(target, total)
                    probes.append((mon, target.name))
                monitors.append((probes, block.neuron.name))
        try:
            lava_net.run(
                condition=RunSteps(num_steps=total),
                run_cfg=self.run_cfg or Loihi2SimCfg(select_tag="fixed_pt"),
            )
            if sink is not None:
                data = [{"s_out": np.moveaxis(np.asarray(sink.data.get()), -1, 0)}]
            else:
                data = [
                    {key: mon.get_data()[name][key] for mon, key in probes}
                    for probes, name in monitors
                ]
        except Exception as exc:  # noqa: BLE001 - Lava raises plain Exceptions from its workers
            raise SnnxError(
                f"Lava failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            ) from exc
        finally:
            with contextlib.suppress(Exception):
                lava_net.stop()
        layers = net.synapse_layers
        block = net.input_block
        if block is not None and not self.output_only:
            block_data, data = data[0], data[1:]
        recorded = list(range(len(layers)))[-len(data) :] if self.output_only else range(len(layers))
        if len(data) != len(recorded):
            raise SnnxError(f"netx built {len(data)} layers, the network has {len(layers)}")

        def cut(trace: np.ndarray, layer, index: int) -> np.ndarray:
            trace = np.asarray(trace)
            if len(layer.shape) == 3:
                trace = _whc(trace)
            return cut_samples(trace.reshape(total, *layer.shape), n, steps, interval, index)

        def per_sample(key: str, j: int, i: int) -> np.ndarray:
            return cut(data[j][key], layers[i], i)

        def state(key: str) -> list[np.ndarray] | None:
            if not record_state:
                return None
            return [per_sample(key, j, i).astype(np.int64) for j, i in enumerate(recorded)]

        spikes = [per_sample("s_out", j, i).astype(bool) for j, i in enumerate(recorded)]
        run = LavaRun(spikes=spikes, latency=latency, u=state("u"), v=state("v"))
        if block is not None and not self.output_only:
            run.in_spikes = cut(block_data["s_out"], block, -1).astype(bool)
            if record_state:
                run.in_u = cut(block_data["u"], block, -1).astype(np.int64)
                run.in_v = cut(block_data["v"], block, -1).astype(np.int64)
        return run


def run_lava(
    net_or_path: LoihiNet | str | Path,
    inputs: np.ndarray,
    record_state: bool = False,
    workdir: Path | None = None,
) -> LavaRun:
    """Simulate ``inputs`` [N, T, *input shape] in Lava, recording every layer with monitors."""
    path, _ = _net_file(net_or_path, workdir)
    return LavaEngine(path, record_state=record_state).run(inputs)


def _net_file(net_or_path: LoihiNet | str | Path, workdir: Path | None) -> tuple[Path, LoihiNet]:
    if isinstance(net_or_path, LoihiNet):
        folder = Path(workdir) if workdir else Path(os.environ.get("TMPDIR", "/tmp"))
        path = folder / f"snnx-lava-{os.getpid()}-{id(net_or_path)}.net"
        write_netx(net_or_path, path)
        return path, net_or_path
    path = Path(net_or_path)
    return path, read_netx(path)


# ----------------------------------------------------------------------------- streaming


def _netx_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(reversed(shape)) if len(shape) == 3 else tuple(shape)


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


@dataclass
class LavaWorkerEngine:
    """Engine "lava" of ``snnx sim``: :func:`run_lava_stream` (worker processes, spikes only)."""

    net_path: Path
    workers: int | None = None
    chunk: int = 100
    progress: bool = True
    scratch: str | Path | None = None
    name: str = "lava"
    whole: bool = True  # every sample in one call: starting the workers costs seconds

    def run(self, inputs: np.ndarray) -> LavaRun:
        return run_lava_stream(
            self.net_path, inputs, self.workers, self.chunk, self.progress, self.scratch
        )


def run_lava_stream(
    path: str | Path,
    inputs: np.ndarray,
    workers: int | None = None,
    chunk: int = 100,
    progress: bool = True,
    scratch: str | Path | None = None,
) -> LavaRun:
    """Simulate many samples in Lava: ``workers`` processes, each streams its share in chunks.

    Returns the spikes of every layer [N, T + L, *shape] (no u, v). Workers are started with
    ``spawn`` so that they do not inherit this process's memory (datasets, torch models);
    Lava then forks its own processes from the small worker.
    """
    import tempfile

    path = Path(path)
    net = read_netx(path)
    x = check_inputs(net, inputs)
    n, t = x.shape[:2]
    latency = net.num_synapse_layers
    steps = t + latency
    interval = reset_interval(t, latency)
    layers = net.synapse_layers
    workers = max(1, min(workers or default_workers(), n))
    if any(layer.is_recurrent for layer in layers):
        workers = 1  # dense_rec state crosses samples (docs/design.md §12): one stream, as the fast engine
    with tempfile.TemporaryDirectory(prefix="snnx-lava-", dir=scratch) as tmp:
        tmp = Path(tmp)
        np.save(tmp / "inputs.npy", np.ascontiguousarray(lava_inputs(net, x.astype(np.uint8))))
        spike_paths = []
        for i, layer in enumerate(layers):
            p = tmp / f"layer_{i}.npy"
            shape = (n, steps, *_netx_shape(layer.shape))
            np.lib.format.open_memmap(p, mode="w+", dtype=bool, shape=shape).flush()
            spike_paths.append(str(p))
        job = {
            "net_path": str(path.resolve()),
            "input_path": str(tmp / "inputs.npy"),
            "spike_paths": spike_paths,
            "input_shape": np.load(tmp / "inputs.npy", mmap_mode="r").shape[2:],
            "layer_shapes": [_netx_shape(layer.shape) for layer in layers],
            "timesteps": t,
            "steps": steps,
            "interval": interval,
            "reset_offset": reset_offset(net),
            "input_block": net.input_block is not None,
            "graded": bool(is_graded(x)),
            "chunk": chunk,
        }
        bounds = np.linspace(0, n, workers + 1).astype(int)
        jobs = [
            dict(job, first=int(lo), count=int(hi - lo), status=str(tmp / f"worker_{w}.json"))
            for w, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))
            if hi > lo
        ]
        _run_workers(jobs, tmp, n, progress)
        spikes = []
        for p, layer in zip(spike_paths, layers, strict=True):
            s = np.load(p, mmap_mode="r")
            spikes.append(np.array(_whc(s) if len(layer.shape) == 3 else s))
    return LavaRun(spikes=spikes, latency=latency)


def _run_workers(jobs: list[dict], tmp: Path, total: int, progress: bool) -> None:
    """Start one ``python -m snnx.sim.lava_worker`` per job and wait, with a progress bar.

    Fresh interpreters (not forks of this process) keep each Lava runtime small; each worker
    runs in its own session so that Ctrl-C reaches only this process, which then asks the
    workers to stop their runtimes (SIGTERM) and kills what is left.
    """
    import json
    import signal
    import subprocess
    import sys
    import time

    from tqdm import tqdm

    procs = []
    bar = tqdm(total=total, unit="sample", desc="lava", disable=not progress, leave=False)
    try:
        for w, job in enumerate(jobs):
            job_path = tmp / f"job_{w}.json"
            job_path.write_text(json.dumps(job))
            log = open(tmp / f"worker_{w}.log", "wb")  # noqa: SIM115 - closed with the process
            procs.append(
                (
                    subprocess.Popen(
                        [sys.executable, "-m", "snnx.sim.lava_worker", str(job_path)],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    ),
                    log,
                    job,
                )
            )
        while True:
            alive = [p for p, _, _ in procs if p.poll() is None]
            bar.update(sum(_status(job).get("done", 0) for _, _, job in procs) - bar.n)
            failed = [job for p, _, job in procs if p.poll() not in (None, 0)]
            if failed or not alive:
                break
            time.sleep(0.2)
        if failed:
            status = _status(failed[0])
            reason = status.get("error") or f"a worker exited with code {procs[0][0].returncode}"
            raise SnnxError(f"Lava failed: {reason}")
    finally:
        for p, _log, _ in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)  # the worker stops its Lava runtime
        for p, log, _ in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            log.close()
        bar.close()


def _status(job: dict) -> dict:
    import json

    try:
        return json.loads(Path(job["status"]).read_text())
    except (OSError, ValueError):
        return {}
