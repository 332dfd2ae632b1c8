"""Loihi's bit widths and Loihi 2's core limits, in one place.

Bit widths are exact (Lava's PyLifModelBitAcc, netx; docs/design.md §4, §6.3). Core limits are
APPROXIMATE: public round figures (Intel's Loihi 2 brief and docs/design.md §8); the core mapping uses
them for an order-of-magnitude core and chip count, Intel's proprietary compiler decides.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

# ----------------------------------------------------------------------------- bit widths

WEIGHT_MAX = 254  # largest |even| weight usable with mixed signs
WEIGHT_MIN = -256
VTH_MAX = 2**17 - 1
BIAS_MIN, BIAS_MAX = -(2**12), 2**12 - 1
DECAY_MAX = 4095
DU_MIN = -1  # netx iDecay 0 (du = -1): the current does not decay
U_BITS = 24  # current wraps to signed 24 bits
U_MAX = 2 ** (U_BITS - 1)  # Lava's max_uv_val: u wraps once into (-2**23, 2**23]
V_MAX = 2**23 - 1  # voltage saturates to +-V_MAX
DECAY_SHIFT = 12  # decays are 12-bit fractions of 4096
BIAS_EXP = 6  # netx fixes bias_exp = 6
ACT_SHIFT = 6  # synaptic input is MSB-aligned by 6 bits
VTH_SHIFT = 6  # the threshold is compared as v > vth << 6

# ----------------------------------------------------------------------------- cores


@dataclass(frozen=True)
class Loihi2Limits:
    """Per-core and per-chip capacities used by :mod:`snnx.deploy.mapping` (approximate)."""

    neurons_per_core: int = 8192
    synaptic_memory_bytes_per_core: int = 128 * 1024
    cores_per_chip: int = 128
    neuron_state_bits: int = 48  # CUBA u and v, 24 bits each (docs/design.md §6.3)
    max_weight_bits: int = 8  # netx / Lava weight precision (docs/design.md §6.1)
    source: str = (
        "approximate public figures (Intel Loihi 2 brief; snnx docs/design.md §8): <= 8,192 neurons and "
        "~128 KB synaptic memory per neuro core, 128 neuro cores per chip; the Lava/NxSDK compiler "
        "decides the real placement"
    )

    def to_dict(self) -> dict:
        return asdict(self)


LOIHI2 = Loihi2Limits()
