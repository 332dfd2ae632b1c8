"""SimResult: what ``snnx sim`` found, saved as RUN/sim.json (read by deploy and the report)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from snnx.artifacts import check_schema, stamp
from snnx.errors import SnnxError
from snnx.io import read_json, write_json

BACKENDS = ("fast", "lava", "both")


@dataclass(frozen=True)
class SimResult:
    """Float vs fixed-point comparison on the same encoded inputs.

    Accuracies are fractions in [0, 1] (None without labels or without a float model);
    ``agreement`` is the fraction of samples whose float and fixed predictions are equal.
    ``spikes_per_sample`` has one entry per synapse layer: {name, float, fixed} (spikes per
    sample over all T + L steps). ``layers`` is the fixed-point run's per-layer activity
    (snnx.sim.activity.LayerActivity as dicts: name, kind, neurons, input_spikes, synops,
    spikes). ``backend_seconds`` times the fixed-point simulation alone; with ``both`` it is
    the sum and ``backend_seconds_by`` splits it.
    """

    backend: str
    samples: int
    float_accuracy: float | None
    fixed_accuracy: float | None
    agreement: float | None
    spikes_per_sample: list[dict[str, Any]]
    layers: list[dict[str, Any]]
    timesteps: int
    steps: int
    encoding: str
    dataset: str | None
    seconds: float
    backend_seconds: float
    backend_seconds_by: dict[str, float] = field(default_factory=dict)
    lava_fast_identical: bool | None = None
    first_difference: dict[str, Any] | None = None  # {layer, name, sample, step} when not identical
    input: str | None = None  # the --input file, if the dataset was replaced
    # dense_rec networks (docs/design.md §12): fixed_accuracy is the deployed stream (netx's reset
    # between samples, recurrent state crossing it); these run every sample alone, from rest
    fixed_accuracy_from_rest: float | None = None
    leaked_samples: int | None = None  # samples whose spikes differ between the stream and from rest

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise SnnxError(
                f"sim.json: backend {self.backend!r} is not one of {', '.join(BACKENDS)}"
            )
        for key in ("float_accuracy", "fixed_accuracy", "agreement", "fixed_accuracy_from_rest"):
            value = getattr(self, key)
            if value is not None and not 0.0 <= value <= 1.0:
                raise SnnxError(f"sim.json: {key} {value} is not a fraction in [0, 1]")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.backend != "both":
            for key in ("lava_fast_identical", "first_difference"):
                d.pop(key)
        if self.leaked_samples is None:
            for key in ("fixed_accuracy_from_rest", "leaked_samples"):
                d.pop(key)
        return stamp("sim", d)

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> SimResult:
        data = check_schema("sim", read_json(path), Path(path))
        names = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in names})
        except TypeError as exc:
            raise SnnxError(f"{path} is incomplete ({exc}); re-run `snnx sim`") from None
