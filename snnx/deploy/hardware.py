"""Loihi 2 resource limits, in one place. APPROXIMATE: Intel's proprietary compiler decides.

The numbers are public round figures (Intel's Loihi 2 brief and DESIGN §8); the core mapping
uses them to give an order-of-magnitude core and chip count, not a placement.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Loihi2Limits:
    """Per-core and per-chip capacities used by :mod:`snnx.deploy.mapping` (approximate)."""

    neurons_per_core: int = 8192
    synaptic_memory_bytes_per_core: int = 128 * 1024
    cores_per_chip: int = 128
    neuron_state_bits: int = 48  # CUBA u and v, 24 bits each (DESIGN §6.3)
    max_weight_bits: int = 8  # netx / Lava weight precision (DESIGN §6.1)
    source: str = (
        "approximate public figures (Intel Loihi 2 brief; snnx DESIGN §8): <= 8,192 neurons and "
        "~128 KB synaptic memory per neuro core, 128 neuro cores per chip; the Lava/NxSDK compiler "
        "decides the real placement"
    )

    def to_dict(self) -> dict:
        return asdict(self)


LOIHI2 = Loihi2Limits()
