"""Stage sub-packages that can be called: ``snnx.train(...)`` works whatever was imported first.

``train``, ``export``, ``deploy`` and ``frontier`` are both public functions and sub-package names. Python's
import system binds ``snnx.train`` to the *sub-package* the first time any ``snnx.train.*``
module is imported (``import snnx.train.trainer`` sets the attribute on ``snnx``), so a
function of that name defined in ``snnx/__init__.py`` would be silently replaced by a module,
depending on import order. Rather than fight the import system, the sub-package module *is*
the function: its class becomes :class:`StageModule`, whose ``__call__`` runs the stage from
:mod:`snnx.api`. ``snnx.train`` is then the same object (the module) under every import order,
and calling it runs the stage. Torch-free: the stage itself is imported only when called.
"""

from __future__ import annotations

import sys
import types
from importlib import import_module
from typing import Any


class StageModule(types.ModuleType):
    """A sub-package module that is also the public stage function of the same name."""

    __api__: str  # "module:function" that __call__ runs

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        module, name = self.__api__.split(":")
        return getattr(import_module(module), name)(*args, **kwargs)

    @property
    def __wrapped__(self) -> Any:  # inspect.signature(snnx.train) shows the stage's signature
        module, name = self.__api__.split(":")
        return getattr(import_module(module), name)


def make_callable(module_name: str, api: str) -> None:
    """Turn the (already imported) module ``module_name`` into a :class:`StageModule` running ``api``."""
    module = sys.modules[module_name]
    module.__class__ = StageModule
    module.__api__ = api
