"""The one Lava network builder: ``netx.hdf5.Network`` from a model.net, in this process.

Every path that runs Lava (``snnx sim --backend lava``, its worker processes, ``deploy --run``)
builds the network here, so the import guard and the zero-weight workaround live once.
netx's ``optimize_weight_bits`` crashes on an all-zero dense weight; the file still stores the
zeros (the truth), and the network is built with a zero-safe copy of that function.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


def allow_lava_import() -> None:
    """Lava calls ``multiprocessing.set_start_method("fork")`` when first imported, which raises
    once anything in this process (a torch DataLoader in ``snnx run``, say) fixed the start
    method. Forget the choice so that import succeeds; Lava needs fork anyway."""
    import multiprocessing as mp
    import sys

    if "lava.magma.runtime.message_infrastructure.multiprocessing" not in sys.modules:
        if mp.get_start_method(allow_none=True) is not None:
            mp.set_start_method(None, force=True)


def _zero_safe_optimize(original):
    """netx's optimize_weight_bits, except that an all-zero matrix stays zero instead of crashing."""

    def optimize(weight: np.ndarray):
        w = np.asarray(weight)
        if w.size and not np.any(w):
            from lava.lib.dl.netx.utils import SYNAPSE_SIGN_MODE

            return w.astype(int), 8, 0, SYNAPSE_SIGN_MODE.EXCITATORY
        return original(weight)

    return optimize


@contextmanager
def _netx_zero_safe() -> Iterator[None]:
    allow_lava_import()
    import lava.lib.dl.netx.hdf5 as hdf5

    original = hdf5.optimize_weight_bits
    hdf5.optimize_weight_bits = _zero_safe_optimize(original)
    try:
        yield
    finally:
        hdf5.optimize_weight_bits = original


def build_lava_network(path: str | Path, **kwargs: Any):
    """``netx.hdf5.Network(path, **kwargs)``, also for files with an all-zero dense layer."""
    with _netx_zero_safe():
        from lava.lib.dl.netx.hdf5 import Network

        return Network(net_config=str(path), **kwargs)


def input_port(lava_net: Any):
    """The port a source connects to: ``lava_net.inp``, or for a net that starts with lava-dl's
    Input block that block's neuron's ``a_in``.

    netx's Input block never connects its own ``inp`` to its neuron ("the input must be handled
    through neuron's bias", blocks/process.py), and Lava's compiler then fails on the block
    ("No subcompiler exists for ... PyInputModel"); lava-dl's own tests connect the source to
    ``net.in_layer.neuron.a_in``, which is what this returns.
    """
    from lava.lib.dl.netx.blocks.process import Input

    if isinstance(lava_net.in_layer, Input):
        return lava_net.in_layer.neuron.a_in
    return lava_net.inp
