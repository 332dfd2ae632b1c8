"""The one layer-naming rule, so reports, the core map, sim results and plots pair layers.

A layer keeps the name it was given (the exporter names layers after the model's modules);
an unnamed one is ``{kind}{n}`` with n its 1-based position among the synapse layers.
"""

from __future__ import annotations

from typing import Protocol


class _Named(Protocol):
    kind: str


def layer_name(layer: _Named, index: int) -> str:
    """The name of the ``index``-th synapse layer (0-based): its own name, else ``kind{index + 1}``."""
    return getattr(layer, "name", "") or f"{layer.kind}{index + 1}"


def layer_label(index: int, kind: str, shape: tuple[int, ...]) -> str:
    """The label figures draw for the ``index``-th layer, the same for float and fixed point."""
    return f"{index + 1}: {kind} {'x'.join(map(str, shape))}"
