"""``python -m snnx``: the ``snnx`` command, also what ``torchrun -m snnx`` starts per process."""

import sys

from snnx.cli import main

sys.exit(main())
