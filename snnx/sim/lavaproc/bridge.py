"""One Lava process that feeds samples into a netx network and records every layer's spikes.

Source and recorder share a process because Lava's cost per step grows with the number of
OS processes it synchronises. Inputs are read from, and spikes written to, ``.npy`` files
opened as memory maps inside the Lava worker, so nothing large crosses Lava's channels or
goes through ``Var.get`` (docs/design.md §6.5).

Timing (see snnx.sim.lava_backend), with R = S - 1 = T + L - 1: sample k's input step j
(0-based) is sent at Lava step k*R + j + 1, and layer i's spikes of the sample's step t
(i + 1 <= t <= R) are received at Lava step k*R + t + 1; so step k*R + 1 carries the last step
(t = R) of sample k - 1.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

MAX_LAYERS = 16  # Lava matches ports by class attribute, so their number is fixed


class Bridge(AbstractProcess):
    """Send ``inputs[k, j]`` and record the spikes of up to MAX_LAYERS layers.

    ``input_path``: .npy [n, T, *netx input shape]; ``spike_paths``: .npy [n, S, *netx layer
    shape] per layer (bool, pre-created); ``first``: the rows of this worker.
    """

    def __init__(
        self,
        *,
        input_shape: tuple[int, ...],
        layer_shapes: list[tuple[int, ...]],
        input_path: str,
        spike_paths: list[str],
        first: int,
        count: int,
        timesteps: int,
        steps: int,
        interval: int,
    ) -> None:
        if len(layer_shapes) > MAX_LAYERS:
            raise ValueError(
                f"at most {MAX_LAYERS} layers can be recorded, got {len(layer_shapes)}"
            )
        super().__init__(
            input_path=input_path,
            spike_paths=spike_paths,
            first=first,
            count=count,
            timesteps=timesteps,
            steps=steps,
            interval=interval,
            num_layers=len(layer_shapes),
        )
        self.s_out = OutPort(shape=tuple(input_shape))
        for i in range(MAX_LAYERS):
            shape = tuple(layer_shapes[i]) if i < len(layer_shapes) else (1,)
            setattr(self, f"inp_{i}", InPort(shape=shape))


def _in_ports(cls):
    for i in range(MAX_LAYERS):
        setattr(cls, f"inp_{i}", LavaPyType(PyInPort.VEC_DENSE, bool, precision=1))
    return cls


@implements(proc=Bridge, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
@_in_ports
class PyBridgeModel(PyLoihiProcessModel):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        p = proc_params
        self.first, self.count = p["first"], p["count"]
        self.timesteps, self.steps, self.interval = p["timesteps"], p["steps"], p["interval"]
        self.num_layers = p["num_layers"]
        self.inputs = np.load(p["input_path"], mmap_mode="r")
        self.spikes = [np.load(path, mmap_mode="r+") for path in p["spike_paths"]]
        self.zero = np.zeros(self.inputs.shape[2:], dtype=np.int32)

    def run_spk(self) -> None:
        k, j = divmod(self.time_step - 1, self.interval)
        if k < self.count and j < self.timesteps:
            self.s_out.send(np.asarray(self.inputs[self.first + k, j], dtype=np.int32))
        else:
            self.s_out.send(self.zero)
        for i in range(self.num_layers):
            s = getattr(self, f"inp_{i}").recv()
            if j == 0:  # the last step (R) of the previous sample; this sample's layers are held
                if 0 < k <= self.count:
                    self.spikes[i][self.first + k - 1, self.interval] = s
            elif j > i and k < self.count:  # layer i runs from step i + 1 of the sample
                self.spikes[i][self.first + k, j] = s
