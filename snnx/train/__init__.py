"""Stage 1: models, the CUBA LIF neuron, losses, QAT, the trainer and checkpoints."""

from snnx._stage_module import make_callable

make_callable(__name__, "snnx.api:train")  # snnx.train(...) runs the stage (see snnx._stage_module)
