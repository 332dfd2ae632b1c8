"""``snnx deploy --run``: the bundle on Loihi 2 hardware through Lava's ``Loihi2HwCfg``.

The run is the sim stage's in-process Lava engine (:class:`snnx.sim.lava_backend.LavaEngine`)
with the chip's run config and the manifest's reset interval; this stage encodes the test set
and does the accounting (readout counts, accuracy).

Open-source lava-nc has the run configuration but not the Loihi 2 compiler and runtime, which
come with Intel's lava-loihi package (INRC members). Without it we stop with one line that
says so before doing anything, never with Lava's own NameError.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from snnx.errors import SnnxError
from snnx.loihi.netx import read_netx
from snnx.sim.lava_build import allow_lava_import

LAVA_LOIHI_MODULE = (
    "lava.magma.compiler.subcompilers.nc.ncproc_compiler"  # shipped by lava-loihi only
)


def lava_loihi_available() -> bool:
    try:
        return importlib.util.find_spec(LAVA_LOIHI_MODULE) is not None
    except (ImportError, ValueError):  # a missing parent package
        return False


def require_lava_loihi() -> None:
    if not lava_loihi_available():
        raise SnnxError(
            "--run needs Intel's lava-loihi package (Loihi 2 compiler and runtime), which is not installed; "
            "run the same network bit-exactly in Lava's simulator with `snnx sim RUN --backend lava`"
        )


def run_bundle_on_loihi2(
    bundle: Path, config, samples: int, data_dir: Path | None, run_cfg=None
) -> dict[str, Any]:
    """Stream the first ``samples`` encoded test images through the bundle on Loihi 2; accuracy.

    Samples are spaced by the manifest's power-of-two reset interval, as the chip requires.
    ``run_cfg`` defaults to ``Loihi2HwCfg()``; the tests pass Lava's fixed-point simulator
    config to check this very path (inputs, reset interval, readout) without a chip.
    """
    import numpy as np

    allow_lava_import()
    from lava.magma.core.run_configs import Loihi2HwCfg

    from snnx.deploy.manifest import verify_bundle
    from snnx.sim.fast import predictions, readout_counts
    from snnx.sim.lava_backend import LavaEngine
    from snnx.sim.reference import encoded_test_set

    manifest = verify_bundle(bundle)
    net = read_netx(bundle / manifest.model)
    x, y = encoded_test_set(net, config, samples, data_dir)
    n, interval = len(x), manifest.reset_interval
    if manifest.steps_per_sample != x.shape[1] + net.num_synapse_layers:
        raise SnnxError(
            f"{bundle}/manifest.json says {manifest.steps_per_sample} steps per sample, model.net "
            f"runs {x.shape[1] + net.num_synapse_layers}; re-run `snnx deploy`"
        )
    engine = LavaEngine(  # the sim engine, with the chip's run config and reset interval
        bundle / manifest.model,
        interval=interval,
        reset_offset=manifest.reset_offset,
        run_cfg=run_cfg or Loihi2HwCfg(),
        output_only=True,
    )
    out = engine.run(x).spikes[-1]
    total = (n - 1) * interval + manifest.steps_per_sample
    pred = predictions(readout_counts(out, manifest.latency_steps))
    result = {
        "samples": n,
        "accuracy": float(np.mean(pred == y)),
        "steps": total,
        "reset_interval": interval,
        "run_cfg": type(run_cfg).__name__ if run_cfg is not None else "Loihi2HwCfg",
        "predictions": pred.tolist(),
    }
    print(f"Loihi 2 ({result['run_cfg']}): {n} samples, accuracy {100 * result['accuracy']:.2f} %")
    return result
