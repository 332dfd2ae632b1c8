"""Loihi energy profiles: per-operation energies with their sources, and the published MNIST chips.

The ground floor (numpy-free, torch-free) because two stages price the same chip: training's
energy loss (snnx.train.energy) and the deployed report (snnx.deploy.energy) use one profile
format and one formula for the dynamic terms, :func:`dynamic_parts_pJ`. Profiles are data:
``snnx/loihi/profiles/NAME.json`` or a user's JSON file with the same keys.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from snnx.errors import SnnxError
from snnx.io import read_json

PROFILE_DIR = Path(__file__).parent / "profiles"
DEFAULT_PROFILE = "loihi1-davies2018"
REQUIRED = (
    "synop_pJ",
    "neuron_update_inactive_pJ",
    "neuron_update_spiking_pJ",
    "spike_within_tile_pJ",
    "tile_hop_pJ",
    "tile_hops_per_spike",
    "static_power_per_core_uW",
    "step_time_us",
)

# Published MNIST points on neuromorphic chips, as tabulated by Renner et al., "The backpropagation
# algorithm implemented on spiking neuromorphic hardware", Nat. Commun. 2024, Table 1 (each row cites
# the chip's own paper). The one table of them: the energy report, the run's report page and
# ``snnx frontier`` all plot these.
RENNER_TABLE_1 = "Renner et al., Nat. Commun. 2024, Table 1"
PUBLISHED_MNIST = [
    {"what": "Loihi", "energy_per_inference_uJ": 2.5, "accuracy": 0.963, "source": RENNER_TABLE_1},
    {"what": "SPOON", "energy_per_inference_uJ": 0.31, "accuracy": 0.975,
     "source": f"{RENNER_TABLE_1} (Frenkel et al. 2020, SPOON)"},
    {"what": "TrueNorth", "energy_per_inference_uJ": 0.27, "accuracy": 0.927, "source": RENNER_TABLE_1},
    {"what": "784-200-200-10 chip (Park 2019)", "energy_per_inference_uJ": 0.25, "accuracy": 0.981,
     "source": f"{RENNER_TABLE_1} (Park et al. 2019)"},
]


@dataclass
class EnergyProfile:
    """Per-operation energies (and static power, step time), each with its source."""

    name: str
    description: str
    constants: dict[str, dict[str, Any]]  # key -> {value, source, ...}
    path: str

    def __post_init__(self) -> None:
        missing = [k for k in REQUIRED if k not in self.constants]
        if missing:
            raise SnnxError(
                f"energy profile {self.path}: missing {', '.join(missing)}; every profile needs {', '.join(REQUIRED)}"
            )
        for key, entry in self.constants.items():
            value = entry.get("value") if isinstance(entry, dict) else None
            if (
                not isinstance(value, (int, float))
                or isinstance(value, bool)
                or not math.isfinite(value)
                or value < 0
            ):
                raise SnnxError(
                    f'energy profile {self.path}: {key} must be {{"value": number >= 0, "source": ...}}, got {entry!r}'
                )
            if not str(entry.get("source", "")).strip():
                raise SnnxError(
                    f"energy profile {self.path}: {key} has no source; say where the number comes from"
                )

    def __getitem__(self, key: str) -> float:
        return float(self.constants[key]["value"])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.json"))


def load_profile(name_or_path: str | Path | None) -> EnergyProfile:
    """A profile by name (``snnx/loihi/profiles/NAME.json``) or from a JSON file."""
    name = str(name_or_path or DEFAULT_PROFILE)
    path = Path(name)
    if not (path.suffix == ".json" or path.is_file()):
        path = PROFILE_DIR / f"{name}.json"
        if not path.is_file():
            raise SnnxError(
                f"energy profile {name!r} not found; use one of {', '.join(available_profiles())} or a JSON file path"
            )
    elif not path.is_file():
        raise SnnxError(f"energy profile file {path} not found")
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("constants"), dict):
        raise SnnxError(
            f'energy profile {path}: expected {{"name", "description", "constants": {{...}}}}'
        )
    return EnergyProfile(
        name=str(data.get("name") or path.stem),
        description=str(data.get("description", "")),
        constants=data["constants"],
        path=str(path),
    )


def dynamic_parts_pJ(synops: Any, spikes: Any, updates: Any, profile: EnergyProfile) -> dict[str, Any]:
    """The dynamic terms of the formula (pJ) for per-sample counts: floats here, differentiable
    torch tensors in training (snnx.train.energy); spikes never exceed updates."""
    per_spike = profile["spike_within_tile_pJ"] + profile["tile_hops_per_spike"] * profile["tile_hop_pJ"]
    return {
        "synops": synops * profile["synop_pJ"],
        "neuron_updates": spikes * profile["neuron_update_spiking_pJ"]
        + (updates - spikes) * profile["neuron_update_inactive_pJ"],
        "spikes": spikes * per_spike,
    }
