"""The one backend interface: an engine runs integer input spikes through model.net, nothing else.

An engine takes inputs [N, T, *input shape] (bool, or uint8 graded) and returns a
:class:`~snnx.sim.fast.FastRun` (per-sample spikes of the layers it records, [N, T + L, *shape]).
The stage that calls it streams the samples, times the engine and does the accounting
(activity, readout counts, predictions): ``snnx sim`` for "fast" and "lava", and ``deploy
--run`` with :class:`~snnx.sim.lava_backend.LavaEngine` under the chip's run config.
``whole`` says how to feed it: False, batch by batch as samples are encoded; True, all samples
in one call (a Lava engine costs seconds to start).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from snnx.errors import SnnxError
from snnx.loihi.net import LoihiNet
from snnx.sim.fast import FastRun

ENGINES = ("fast", "lava")


class Engine(Protocol):
    name: str
    whole: bool

    def run(self, inputs: np.ndarray) -> FastRun: ...


def open_engine(name: str, net: LoihiNet, net_path: Path, timesteps: int, graded: bool) -> Engine:
    """The engine ``name`` for ``net`` (read from ``net_path``) and T = ``timesteps`` inputs.

    "fast" is :class:`~snnx.sim.fast.FastSimulator`; "lava" is Lava's fixed-point simulator in
    worker processes (:class:`~snnx.sim.lava_backend.LavaWorkerEngine`).
    """
    if name == "fast":
        from snnx.sim.fast import FastSimulator

        return FastSimulator(net, timesteps, graded=graded, stream=True)  # batches in order = one stream
    if name == "lava":
        try:
            import lava.magma  # noqa: F401

            from snnx.sim.lava_backend import LavaWorkerEngine
        except ImportError:
            raise SnnxError(
                "Lava is not installed (lava-nc, lava-dl); use --backend fast"
            ) from None
        return LavaWorkerEngine(Path(net_path), progress=True)
    raise SnnxError(f"engine {name!r} is not one of {', '.join(ENGINES)}")
