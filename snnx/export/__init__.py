"""Stage 2: torch -> NIR -> LoihiNet (quantized) -> netx HDF5."""
