"""snnx: spiking neural networks from PyTorch to Loihi 2."""
__version__ = "0.1.0"
