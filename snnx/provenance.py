"""provenance.json: what each artifact of a run folder was made from, by checksum.

Every stage records, in the same commit as its outputs, the SHA-256 of each output and of
each input it read (model.net <- checkpoint, sim.json <- model.net; a deployment bundle's
manifest records model.net, sim.json and the checkpoint). A later stage calls
:func:`check_fresh` on what it reads: an artifact modified since it was written, or made
from inputs that have changed since (e.g. ``train --resume`` wrote a new checkpoint after
``export``), is refused in one line that names the stale file and the command that
rebuilds it. Artifacts without a record (a model.net written by lava-dl and copied in) are
taken as given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from snnx.errors import SnnxError
from snnx.io import read_json, sha256_file, write_json

FILE = "provenance.json"
FORMAT = "snnx-provenance/1"
CHECKPOINT_FILES = ("checkpoint.safetensors", "checkpoint.json", "checkpoint.pt")


def digest(path: Path) -> str | None:
    path = Path(path)
    if not path.is_file():
        return None
    return sha256_file(path)


def checkpoint_inputs(run: Path) -> dict[str, str]:
    """Checksums of the checkpoint files present in ``run`` (what export reads)."""
    out = {}
    for name in CHECKPOINT_FILES:
        d = digest(Path(run) / name)
        if d is not None:
            out[name] = d
    return out


def load(run: Path) -> dict[str, Any]:
    path = Path(run) / FILE
    if not path.is_file():
        return {}
    data = read_json(path)
    arts = data.get("artifacts") if isinstance(data, dict) else None
    if data.get("format") != FORMAT or not isinstance(arts, dict) \
            or not all(isinstance(v, dict) for v in arts.values()):
        raise SnnxError(f"{path} is damaged (expected {FORMAT}); delete it and re-run `snnx export {run}`")
    return arts


def record(staging: Path, run: Path, outputs: list[str], inputs: dict[str, str], command: str) -> None:
    """Write the updated provenance.json into ``staging`` (committed with the outputs)."""
    arts = load(run)
    for name in outputs:
        arts[name] = {"sha256": digest(Path(staging) / name), "inputs": dict(inputs), "made_by": command}
    write_json(Path(staging) / FILE, {"format": FORMAT, "artifacts": arts})


def check_fresh(run: Path, name: str) -> None:
    """Refuse ``name`` if it changed after it was written, or its inputs changed since."""
    run = Path(run)
    entry = load(run).get(name)
    if entry is None:
        return
    command = f"snnx {entry.get('made_by', 'export')} {run}"
    current = digest(run / name)
    if current is None:
        return
    if current != entry.get("sha256"):
        raise SnnxError(f"{run / name} was modified after `{command}` wrote it (its SHA-256 differs from "
                        f"{FILE}); rebuild it with `{command}`")
    inputs = entry.get("inputs") or {}
    for inp, sha in inputs.items():
        now = digest(run / inp)
        if now != sha:
            what = "was removed" if now is None else "changed"
            raise SnnxError(f"{run / name} is stale: {inp} {what} since it was made; rebuild it with `{command}`")


def check_bundles(run: Path) -> None:
    """Every deployment bundle in ``run``: manifest checksums hold, and its inputs are current."""
    from snnx.deploy.manifest import verify_bundle

    run = Path(run)
    deploy = run / "deploy"
    if not deploy.is_dir():
        return
    for folder in sorted(p for p in deploy.iterdir() if p.is_dir() and not p.name.startswith(".")):
        manifest = verify_bundle(folder)  # names the modified file
        inputs = manifest.inputs if isinstance(manifest.inputs, dict) else {}
        for inp, sha in inputs.items():
            now = digest(run / inp)
            if now != sha:
                what = "was removed" if now is None else "changed"
                raise SnnxError(f"bundle {folder} is stale: {inp} {what} since `snnx deploy` made it; rebuild it "
                                f"with `snnx deploy {run} --target {manifest.target}`")


def check_run(run: Path) -> None:
    """What a reader of the whole run (report, compare) needs: nothing stale, no bundle modified."""
    for name in ("model.net", "sim.json"):
        check_fresh(run, name)
    check_bundles(run)
