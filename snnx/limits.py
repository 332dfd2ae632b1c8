"""Size limits on everything snnx reads or builds, in one place (docs/limits.md lists them).

Every reader checks the sizes a file *declares* against these bounds before it allocates
anything, so a small hostile file cannot make snnx allocate gigabytes. The bounds are far
above any network Loihi 2 runs (a chip has about one million neurons), and far below what
would exhaust a workstation. Pure Python: importable without torch or numpy. (Loihi's own
bit widths and core capacities are hardware facts, not input bounds: they live with Loihi's
arithmetic, in the ground floor ``snnx/loihi/``.)
"""

from __future__ import annotations

import math

MAX_TIMESTEPS = 10_000  # input steps per sample (config, NIR metadata, model.net, spike files)
MAX_LAYER_NEURONS = 1 << 22  # neurons in one layer (4,194,304; a Loihi 2 chip holds ~1 M)
MAX_TOTAL_NEURONS = 1 << 24  # neurons in one network
MAX_LAYER_WEIGHTS = 1 << 27  # synapses in one layer (134 M: 512 MB as float32)
MAX_TOTAL_WEIGHTS = 1 << 28  # synapses in one network
MAX_CHANNELS = 4096  # conv channels
MAX_KERNEL = 64  # conv kernel side
MAX_LAYERS = 256
MAX_IMAGE_PIXELS = 4096 * 4096  # an image given to `snnx predict` (checked from its header)
MAX_SAMPLES = 1_000_000  # samples in one spike file
MAX_INPUT_ELEMENTS = 1 << 30  # samples x steps x input size of one spike file (1 GB as uint8)
MAX_EPOCHS = 100_000
MAX_BATCH = 1 << 16
MAX_FILE_BYTES = 4 << 30  # any single artifact snnx reads (model.net, NIR, checkpoint)
MAX_JSON_BYTES = 256 << 20  # a JSON/YAML artifact or config


def prod(shape) -> int:
    """Product of a shape's entries as a Python int (no overflow, unlike numpy)."""
    return math.prod(int(s) for s in shape)


def is_count(value, lo: int = 1, hi: int | None = None) -> bool:
    """True for a real int (not bool, not float) in [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            import numpy as np

            if not isinstance(value, np.integer):
                return False
            value = int(value)
        except ImportError:  # pragma: no cover - numpy is always installed with snnx
            return False
    return value >= lo and (hi is None or value <= hi)
