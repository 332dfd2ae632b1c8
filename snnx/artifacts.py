"""Versioned JSON artifacts: the ``schema`` key every JSON file snnx writes carries, and its check.

A reader that meets another kind or version of file says so in one line, naming the file and the
command that rebuilds it, instead of guessing keys. Kept apart from :mod:`snnx.run` so the typed
artifact classes of each stage (e.g. :class:`snnx.sim.result.SimResult`) can use it without an
import cycle through the run folder that loads them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from snnx.errors import SnnxError

# file names inside a deployment bundle (deploy/<target>/), built in a temporary folder first
ENERGY_JSON, CORE_MAP_JSON, MANIFEST_JSON = "energy.json", "core_map.json", "manifest.json"

# kind of artifact -> (current version, command that writes it; {run} is the run folder)
SCHEMAS: dict[str, tuple[int, str]] = {
    "quant": (1, "snnx export {run}"),
    "sim": (1, "snnx sim {run}"),
    "energy": (1, "snnx deploy {run}"),
    "core_map": (2, "snnx deploy {run}"),  # 2: synaptic memory in words, calibrated (§8)
    "manifest": (1, "snnx deploy {run}"),
    "summary": (1, "snnx run -o {run}"),
    "compare": (1, "snnx compare {run}"),
    "frontier": (1, "snnx frontier -o {run} --trials N"),
}


def schema_id(kind: str) -> str:
    """The ``schema`` value written into a JSON artifact of ``kind``, e.g. ``"snnx.sim/1"``."""
    return f"snnx.{kind}/{SCHEMAS[kind][0]}"


def stamp(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with its ``schema`` key first (what every writer of a JSON artifact calls)."""
    return {"schema": schema_id(kind), **{k: v for k, v in data.items() if k != "schema"}}


def check_schema(kind: str, data: Any, path: Path, rebuild: str | None = None) -> dict[str, Any]:
    """``data`` (read from ``path``) as it is, if it carries ``kind``'s current schema."""
    command = rebuild or SCHEMAS[kind][1].format(run=run_of(path))
    if not isinstance(data, dict):
        raise SnnxError(
            f"{path} holds a JSON {type(data).__name__}, not an object; rebuild it with `{command}`"
        )
    got, want = data.get("schema"), schema_id(kind)
    if got != want:
        what = "has no schema key" if got is None else f"has schema {got!r}"
        raise SnnxError(
            f"{path} {what}, expected {want!r} (written by another snnx version or tool); "
            f"rebuild it with `{command}`"
        )
    return data


def read_artifact(kind: str, path: Path, rebuild: str | None = None) -> dict[str, Any]:
    """Read a JSON artifact and check its schema (a missing file says which command makes it)."""
    from snnx.io import read_json

    path = Path(path)
    command = rebuild or SCHEMAS[kind][1].format(run=run_of(path))
    if not path.is_file():
        raise SnnxError(f"{path} not found; run `{command}` first")
    return check_schema(kind, read_json(path), path, command)


def run_of(path: Path) -> Path:
    """The run folder an artifact belongs to (bundles live two levels down, in deploy/<target>/)."""
    path = Path(path)
    return path.parent.parent.parent if path.parent.parent.name == "deploy" else path.parent
