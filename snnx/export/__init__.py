"""Stage 2: torch -> NIR -> LoihiNet (quantized) -> netx HDF5."""

from snnx._stage_module import make_callable

make_callable(
    __name__, "snnx.api:export"
)  # snnx.export(...) runs the stage (see snnx._stage_module)
