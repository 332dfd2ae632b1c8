"""manifest.json: what a deployment bundle holds and how to feed it, with a checksum per file.

Written last, after every other file of the bundle, so a bundle with a manifest is complete;
:func:`verify_bundle` recomputes the sha256 of every listed file and refuses a bundle whose
files were modified, removed or replaced since ``snnx deploy`` wrote it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from snnx.artifacts import MANIFEST_JSON, check_schema, run_of, stamp
from snnx.errors import SnnxError
from snnx.io import read_json, sha256_file, write_json
from snnx.versions import package_versions

MANIFEST = MANIFEST_JSON
FORMAT = "snnx-deploy/1"
def next_power_of_two(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


def checksums(folder: Path) -> dict[str, dict[str, Any]]:
    """sha256 and size of every file in ``folder`` (recursively) except the manifest itself."""
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel == MANIFEST or path.name.startswith("."):
            continue
        out[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return out


@dataclass
class Manifest:
    """Everything a user needs to run the bundle elsewhere, and the checksums to trust it."""

    target: str
    model: str  # file name of the network in the bundle (model.net or model.nir)
    input: dict[str, Any]  # shape, encoding, params, timesteps, graded, dataset
    output: dict[str, Any]  # shape, readout, readout_window [first, last] step (1-based)
    timesteps: int | None  # T; None: a foreign model.net deployed without sim.json does not say
    latency_steps: int  # L: one step of delay per synapse layer
    steps_per_sample: int | None  # T + L
    reset_interval: int | None  # steps between samples on hardware: a power of two >= T + L - 1
    reset_offset: int
    versions: dict[str, str] = field(default_factory=package_versions)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)  # sha256 of the run files it was made from
    source: str = ""
    energy_missing: str | None = None  # why the bundle has no energy.json (no sim.json), what to run
    created: str = field(
        default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds")
    )
    format: str = FORMAT

    def to_dict(self) -> dict[str, Any]:
        return stamp("manifest", asdict(self))

    def save(self, folder: Path) -> Path:
        """Checksum every file now in ``folder`` and write the manifest (call it last)."""
        folder = Path(folder)
        self.files = checksums(folder)
        return write_json(folder / MANIFEST, self.to_dict())

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        path = Path(folder) / MANIFEST
        if not path.is_file():
            raise SnnxError(
                f"{folder} is not a deployment bundle (no {MANIFEST}); run `snnx deploy RUN`"
            )
        data = check_schema("manifest", read_json(path), path, f"snnx deploy {run_of(path)}")
        names = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in names})
        except TypeError as exc:
            raise SnnxError(f"{path} is incomplete ({exc}); re-run `snnx deploy`") from None


def verify_bundle(folder: Path) -> Manifest:
    """Load the manifest and check every listed file against its sha256; refuse on any change."""
    folder = Path(folder)
    manifest = Manifest.load(folder)
    if manifest.format != FORMAT:
        raise SnnxError(
            f"{folder}: manifest format {manifest.format!r} is not {FORMAT!r}; re-run `snnx deploy`"
        )
    if manifest.model not in manifest.files:
        raise SnnxError(
            f"{folder}: the manifest does not list its model {manifest.model}; re-run `snnx deploy`"
        )
    for name, entry in manifest.files.items():
        path = folder / name
        if not path.is_file():
            raise SnnxError(
                f"bundle {folder}: {name} is missing; re-run `snnx deploy` to rebuild the bundle"
            )
        if sha256_file(path) != entry.get("sha256"):
            raise SnnxError(
                f"bundle {folder}: {name} was modified after `snnx deploy` wrote it (sha256 differs from "
                f"{MANIFEST}); refusing it: re-run `snnx deploy` to rebuild the bundle"
            )
    return manifest
