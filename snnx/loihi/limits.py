"""Loihi's bit widths and Loihi 2's core limits, in one place.

Bit widths are exact (Lava's PyLifModelBitAcc, netx; docs/design.md §4, §6.3). Core limits are
APPROXIMATE: calibrated to the per-core tables Intel's Loihi 2 compiler printed in lava-dl's netx
tutorials (docs/design.md §8, each constant names its source); Intel's proprietary compiler decides.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

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
# Loihi 2 core capacities, calibrated to the per-core tables Intel's Loihi 2 compiler (lava-loihi)
# printed in lava-dl's tutorials (docs/design.md §8 has the tables and the derivation):
#   [mnist]  tutorials/lava/lib/dl/netx/mnist/run.ipynb, "Per core utilization" (% of capacity),
#            784-128-64-10 CUBA, 8-bit weights: 1 + 1 + 3 = 5 cores
#   [oxford] tutorials/lava/lib/dl/netx/oxford/run.ipynb, SynMem allocations of 16,128 and 16,200
#            words (200-256-200 CUBA, 8- and 7-bit weights) against the register limit 12,000
#   [pilot]  tutorials/lava/lib/dl/netx/pilotnet_{snn,sdnn}/benchmark.ipynb, "Per core distribution"
#            (absolute counts; dense layers with 3- to 6-bit weights)
#   [yolo]   tutorials/lava/lib/dl/netx/yolo_kp/run.ipynb, "Per core utilization" (% of capacity)
# They are APPROXIMATE: Intel's proprietary compiler decides the real placement.

NEURONS_PER_CORE_BY_TYPE = {
    "CUBA": 4096,  # [mnist] 10 neurons = 0.24 %, 64 = 1.56 %, 50 = 1.22 % of a core -> 4,096
    "SDNN": 4096,  # [yolo] 3,584 sigma-delta neurons = 87.52 %, 2,688 = 65.64 % -> 4,096
    "LOIHI": 4096,  # [pilot] PilotNet LIF: at most 3,168 per core, consistent with 4,096 (no % printed)
    "none": 4096,  # a dense readout without neurons: no published point; assumed as CUBA
}


@dataclass(frozen=True)
class Loihi2Limits:
    """Per-core and per-chip capacities used by :mod:`snnx.deploy.mapping` (approximate, calibrated).

    Synaptic memory model (docs/design.md §8): a dense layer's synapses are stored per input
    axon as one row of the core's neurons, zeros included (no compression of a Dense process);
    a row takes ``ceil((n * (b + synapse_overhead_bits) + row_header_bits) / synaptic_word_bits)``
    words for ``n`` neurons in the core and ``b`` = the weight bits rounded up to even.
    """

    neurons_per_core: int = 4096  # CUBA, [mnist]; other types: neurons_per_core_by_type
    neurons_per_core_by_type: dict = field(default_factory=lambda: dict(NEURONS_PER_CORE_BY_TYPE))
    synaptic_memory_words_per_core: int = 16000  # [mnist] percentages = words / 16,000 (derivation §8)
    synaptic_word_bits: int = 64  # fits every published point; Loihi 1's synaptic words were 64-bit too
    synapse_overhead_bits: int = 12  # per stored synapse, beside the weight: fits all points (§8)
    row_header_bits: int = 8  # per axon row; any value 1..12 fits all points (§8)
    input_axons_per_core: int = 16000  # [mnist] AxonIn: 64 = 0.40 %, 128 = 0.80 %, 784 = 4.90 %
    output_axons_per_core: int = 16000  # [mnist] AxonMap: 64 = 0.40 %; [yolo] 2,688 = 16.80 %
    neuron_groups_per_core: int = 8  # [mnist], [yolo] one layer's group = 12.50 % of NeuronGr
    cores_per_chip: int = 128  # Intel Loihi 2 brief: 128 neuro cores per chip
    max_weight_bits: int = 8  # netx / Lava weight precision (docs/design.md §6.1)
    source: str = (
        "approximation calibrated to the per-core tables Intel's Loihi 2 compiler printed in lava-dl's "
        "netx tutorials (mnist, oxford, pilotnet_snn/sdnn, yolo_kp; snnx docs/design.md §8); Intel's "
        "compiler decides the real placement. Spec-sheet figures (up to 8,192 neurons, ~128 KB synaptic "
        "memory per core) are upper bounds that the compiler does not reach for CUBA layers"
    )

    def neurons_for(self, neuron_type: str) -> int:
        """Neurons of one type a core holds (unknown types: as CUBA)."""
        return int(self.neurons_per_core_by_type.get(str(neuron_type), self.neurons_per_core))

    def stored_weight_bits(self, bits: int) -> int:
        """Weight bits as stored: rounded up to even ([oxford] 7-bit costs as 8, [pilot] 3-bit as 4)."""
        bits = min(max(int(bits), 1), self.max_weight_bits)
        return bits + (bits & 1)

    def row_words(self, neurons: int, bits: int) -> int:
        """Synaptic-memory words of one input axon's row of ``neurons`` dense synapses in a core."""
        if neurons <= 0:
            return 0
        per_synapse = self.stored_weight_bits(bits) + self.synapse_overhead_bits
        return -(-(neurons * per_synapse + self.row_header_bits) // self.synaptic_word_bits)

    def to_dict(self) -> dict:
        return asdict(self)


LOIHI2 = Loihi2Limits()
