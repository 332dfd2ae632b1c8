"""``snnx report RUN``: one self-contained HTML page with every plot, the config and the numbers.

Self-contained means it opens from a file with no network: the PNGs are inlined as base64
data URIs, the stylesheet and the plain-JavaScript viewer (``report.css``, ``report.js``
beside this module) are inlined, and the viewer's data (spikes and membranes of a few test
images, float and fixed point) is embedded as JSON. A section whose stage has not run yet
(no model.net, sim.json or energy.json) says which command makes it.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
from pathlib import Path

import numpy as np

from snnx.io import write_text
from snnx.run import RunFolder
from snnx.sim.trace import Trace
from snnx.viz.plots import JSON_FILES, ReportData, make_plots

HERE = Path(__file__).parent
JSON_SECTIONS = (("quant", "Quantization", "snnx export"), ("sim", "Simulation", "snnx sim"),
                 ("energy", "Energy", "snnx deploy"), ("core_map", "Loihi 2 core map", "snnx deploy"))
MAX_TRACED = 64  # membrane traces kept per layer in the page (the most active neurons)


def report_command(run: Path, data_dir: Path | None) -> Path:
    """Write RUN/plots/*.png and RUN/report.html; return the report's path."""
    run = Path(run)
    d = make_plots(run, data_dir)
    path = write_text(RunFolder(run).report, render(d))
    print(f"report: {path} ({len(d.figures)} plots)")
    return path


# ----------------------------------------------------------------------------- viewer data


def _sparse(spikes: np.ndarray) -> list[list[int]]:
    """[steps, neurons] 0/1 -> per step the indices that spiked (small JSON for sparse rasters)."""
    return [np.flatnonzero(step).tolist() for step in spikes]


def _traced_neurons(runs: list[Trace], layer: int, sample: int) -> list[int]:
    n = runs[0].layers[layer].spikes.shape[2]
    if n <= MAX_TRACED:
        return list(range(n))
    activity = sum(r.layers[layer].spikes[sample].sum(0) for r in runs)
    return sorted(int(i) for i in np.argsort(-activity, kind="stable")[:MAX_TRACED])


def _round(a: np.ndarray) -> list:
    return np.round(a.astype(np.float64), 4).tolist()


def viewer_data(d: ReportData) -> dict:
    """Everything the interactive view draws, per test sample and layer."""
    runs = {k: r for k, r in (("float", d.float_trace), ("fixed", d.fixed_trace)) if r is not None}
    ref = next(iter(runs.values()))
    samples = []
    for s in range(ref.inputs.shape[0]):
        layers = []
        for i, layer in enumerate(ref.layers):
            neurons = _traced_neurons(list(runs.values()), i, s)
            entry = {"name": layer.name, "size": int(layer.spikes.shape[2]), "neurons": neurons}
            for key, run in runs.items():
                ly = run.layers[i]
                entry[key] = {"spikes": _sparse(ly.spikes[s]), "threshold": round(float(ly.threshold), 5),
                              "v": None if ly.v is None else _round(ly.v[s][:, neurons].T)}
            layers.append(entry)
        samples.append({
            "label": int(d.labels[s]),
            "prediction": {k: int(r.predictions[s]) for k, r in runs.items()},
            "input": {"size": int(ref.inputs.shape[2]), "spikes": _sparse(ref.inputs[s] > 0)},
            "layers": layers,
        })
    return {"models": list(runs), "steps": int(ref.layers[0].spikes.shape[1]),
            "timesteps": int(ref.inputs.shape[1]), "latency": int(ref.latency), "samples": samples}


# ----------------------------------------------------------------------------- HTML pieces


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def json_table(obj: object) -> str:
    """Any JSON value as nested HTML tables: dicts as key/value rows, lists of dicts as tables."""
    if isinstance(obj, dict):
        rows = "".join(f"<tr><th>{_e(k)}</th><td>{json_table(v)}</td></tr>" for k, v in obj.items())
        return f'<table class="kv">{rows}</table>'
    if isinstance(obj, list) and obj and all(isinstance(r, dict) for r in obj):
        cols = list(dict.fromkeys(k for r in obj for k in r))
        head = "".join(f"<th>{_e(c)}</th>" for c in cols)
        body = "".join("<tr>" + "".join(f"<td>{json_table(r.get(c, ''))}</td>" for c in cols) + "</tr>" for r in obj)
        return f'<table class="grid"><tr>{head}</tr>{body}</table>'
    return _e(_fmt(obj))


def _section(key: str, title: str, body: str) -> str:
    return f'<section id="{key}" data-section="{key}"><h2>{_e(title)}</h2>\n{body}\n</section>\n'


def _missing(text: str) -> str:
    return f'<p class="missing">{_e(text)}</p>'


def _png(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _num(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def _pct(v: object) -> str | None:
    return f"{100 * v:.2f} %" if isinstance(v, (int, float)) else None


def summary_cards(d: ReportData) -> str:
    """The headline numbers: the stages' own figures when they ran, else ours on the report images."""
    sim, energy = d.sim, d.energy
    n = len(d.labels)
    cards: list[tuple[str, str | None, str]] = []
    for key, summary, label in (("float_accuracy", d.float_summary, "float accuracy"),
                                ("fixed_accuracy", d.fixed_summary, "fixed-point accuracy")):
        if sim is not None and getattr(sim, key) is not None:
            cards.append((label, _pct(getattr(sim, key)), f"sim.json, {sim.samples} images"))
        elif summary is not None:
            cards.append((label, _pct(float((summary.predictions == d.labels).mean())), f"report, {n} images"))
    if sim is not None and sim.agreement is not None:
        cards.append(("float/fixed agreement", _pct(sim.agreement), "sim.json"))
    elif d.float_summary is not None and d.fixed_summary is not None:
        agree = float((d.float_summary.predictions == d.fixed_summary.predictions).mean())
        cards.append(("float/fixed agreement", _pct(agree), f"report, {n} images"))
    for key, label in (("energy_per_inference_uJ", "energy per inference (µJ)"),
                       ("synops_per_inference", "synaptic ops per inference"),
                       ("spikes_per_inference", "spikes per inference"),
                       ("latency_us", "latency per inference (µs)"),
                       ("cores", "Loihi 2 cores")):
        if energy is not None:
            cards.append((label, _num(getattr(energy, key)), "energy.json"))
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="value">{_e(v)}</div><div class="label">{_e(lbl)}</div>'
        f'<div class="src">{_e(src)}</div></div>' for lbl, v, src in cards if v is not None) + "</div>"


def _config_text(d: ReportData) -> str:
    path = RunFolder(d.run).config
    if path.exists():
        return path.read_text(encoding="utf-8")
    if d.models.checkpoint is not None:
        import yaml

        return yaml.safe_dump(d.models.checkpoint.config.to_dict(), sort_keys=False)
    return ""


def render(d: ReportData) -> str:
    """The whole page as one string."""
    run = d.run
    notes = "".join(_missing(n) for n in d.models.notes)
    figures = "".join(
        f'<figure id="fig-{f.key}"><h3>{_e(f.title)}</h3><img alt="{_e(f.title)}" src="{_png(f.path)}">'
        f"<figcaption>{_e(f.caption)}</figcaption></figure>\n" for f in d.figures)
    figures += "".join(_missing(f"{key}: {text}") for key, text in d.missing.items())
    sections = [
        _section("summary", "Summary", summary_cards(d) + notes),
        _section("viewer", "Step through a test image",
                 '<p>Spikes of every layer up to the selected step (the current step highlighted) and the '
                 'membrane potential of one neuron, float (solid) and fixed point (dashed).</p>'
                 '<div id="viewer-root"></div>'),
        _section("plots", "Plots", figures),
        *(_section(key, f"{title} ({JSON_FILES[key]})",
                   json_table(d.documents[key]) if d.documents.get(key) is not None
                   else _missing(f"{JSON_FILES[key]} not found: run `{command} {run}`"))
          for key, title, command in JSON_SECTIONS),
        _section("config", "Configuration (config.yaml)", f"<pre>{_e(_config_text(d))}</pre>"),
    ]
    nav = "".join(f'<a href="#{k}">{_e(t)}</a>' for k, t in (("summary", "Summary"), ("viewer", "Viewer"),
                                                             ("plots", "Plots"),
                                                             *((k, t) for k, t, _ in JSON_SECTIONS),
                                                             ("config", "Config")))
    data = json.dumps(viewer_data(d), separators=(",", ":")).replace("</", "<\\/")
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    css = (HERE / "report.css").read_text(encoding="utf-8")
    js = (HERE / "report.js").read_text(encoding="utf-8")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>snnx report: {_e(run.name)}</title>\n<style>\n{css}</style></head>\n<body>\n"
        f"<header><h1>snnx report: {_e(run.name)}</h1><p>{_e(run.resolve())} · generated {stamp}</p>"
        f"<nav>{nav}</nav></header>\n<main>\n{''.join(sections)}</main>\n"
        f'<script type="application/json" id="viewer-data">{data}</script>\n'
        f"<script>\n{js}</script>\n</body></html>\n"
    )
