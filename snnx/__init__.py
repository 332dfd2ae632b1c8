"""snnx: spiking neural networks from PyTorch to Loihi 2.

The public API (see :mod:`snnx.api`)::

    import snnx
    snnx.train("runs/a", overrides=["train.epochs=3"])
    snnx.export("runs/a", timesteps=25)
    snnx.simulate("runs/a", backend="fast")
    snnx.deploy("runs/a", target="loihi2")

Nothing heavy is imported here: names resolve on first use (PEP 562 ``__getattr__``), so
``import snnx`` and ``snnx.loihi`` work without torch. ``train``, ``export`` and ``deploy`` are
also sub-package names; those sub-packages are callable modules (:mod:`snnx._stage_module`), so
``snnx.train(...)`` runs the stage whichever of ``snnx.train.*`` was imported before.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it ("" = the name is a callable stage sub-package)
_LAZY = {
    "train": "",
    "export": "",
    "deploy": "",
    "simulate": "snnx.api",
    "run_pipeline": "snnx.pipeline",
    "report": "snnx.api",
    "predict": "snnx.api",
    "compare": "snnx.api",
    "frontier": "",
    "TrainReport": "snnx.api",
    "ExportReport": "snnx.api",
    "SimResult": "snnx.sim.result",
    "DeployReport": "snnx.deploy.stage",
    "RunFolder": "snnx.run",
    "InputEncoding": "snnx.run",
    "SnnxError": "snnx.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module 'snnx' has no attribute {name!r}")
    value = import_module(f"snnx.{name}") if where == "" else getattr(import_module(where), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
