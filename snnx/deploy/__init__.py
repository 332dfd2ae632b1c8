"""Stage 4: deployment bundles, Loihi 2 core mapping, energy and spike-count reports."""

from snnx._stage_module import make_callable

make_callable(
    __name__, "snnx.api:deploy"
)  # snnx.deploy(...) runs the stage (see snnx._stage_module)
