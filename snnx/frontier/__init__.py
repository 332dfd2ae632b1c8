"""``snnx frontier``: the accuracy-energy frontier of deployed networks, searched with Optuna.

A sub-package of its own (not a stage): it sits above :func:`snnx.pipeline.run_pipeline`, runs
many complete runs, and has its own inputs and outputs (the space file, the study storage,
frontier.json/png); optuna is imported only here. Modules: :mod:`.space` (the space file, checked
against the config), :mod:`.search` (the study and one trial), :mod:`.results` (frontier.json/png).
"""

from snnx._stage_module import make_callable

make_callable(__name__, "snnx.frontier.search:frontier")  # snnx.frontier(...) runs the search (see snnx._stage_module)
