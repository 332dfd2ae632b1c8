"""Loihi's arithmetic and formats, the ground floor every stage builds on; needs no torch.

``net`` (the quantized network values), ``limits`` (bit widths, core limits), ``grid`` (the
fixed-point grid), ``cuba`` (the one integer neuron step), ``weights`` (netx's weight-bit rules),
``netx`` (the model.net HDF5 format), ``naming`` (layer names) and ``accounting`` (synapse counts).
"""
