"""Stage 1: models, the CUBA LIF neuron, losses, QAT, the trainer and checkpoints."""
