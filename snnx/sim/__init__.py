"""Stage 3: float reference, fast bit-exact fixed-point simulator, Lava backend, comparison."""
