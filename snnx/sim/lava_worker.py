"""A Lava worker: ``python -m snnx.sim.lava_worker job.json`` runs one share of the samples.

Started by :func:`snnx.sim.lava_backend.run_lava_stream`. It builds the netx network and the
:class:`~snnx.sim.lavaproc.bridge.Bridge` (inputs in, spikes out, through memory-mapped
files), runs the Lava runtime in chunks, writes its progress and any error to the job's
status file, and always stops the runtime (also on SIGTERM).
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path


class _Stop(Exception):
    pass


def _on_term(signum, frame):  # noqa: ARG001 - signal handler signature
    raise _Stop("stopped")


def write_status(path: str, **status) -> None:
    tmp = Path(path + ".tmp")
    tmp.write_text(json.dumps(status))
    tmp.replace(path)


def run(job: dict) -> None:
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    from snnx.sim.lava_build import build_lava_network, input_port
    from snnx.sim.lavaproc.bridge import Bridge

    lava_net = None
    try:
        lava_net = build_lava_network(
            job["net_path"],
            reset_interval=job["interval"],
            reset_offset=job.get("reset_offset", 1),
            input_message_bits=8 if job["graded"] else 0,
        )
        bridge = Bridge(
            input_shape=tuple(job["input_shape"]),
            layer_shapes=[tuple(s) for s in job["layer_shapes"]],
            input_path=job["input_path"],
            spike_paths=job["spike_paths"],
            first=job["first"],
            count=job["count"],
            timesteps=job["timesteps"],
            steps=job["steps"],
            interval=job["interval"],
        )
        bridge.s_out.connect(input_port(lava_net))
        # lava-dl's Input block (first, when the net has one) is not recorded
        blocks = lava_net.layers[1:] if job.get("input_block") else lava_net.layers
        for i, block in enumerate(blocks):
            block.out.connect(getattr(bridge, f"inp_{i}"))
        interval = job["interval"]
        total = job["count"] * interval + 1  # sample k ends at Lava step (k + 1) R + 1
        cfg = Loihi2SimCfg(select_tag="fixed_pt")
        ran = 0
        while ran < total:
            steps = min(job["chunk"] * interval, total - ran)
            lava_net.run(condition=RunSteps(num_steps=steps), run_cfg=cfg)
            ran += steps
            write_status(job["status"], done=min(job["count"], max(0, ran - 1) // interval))
    finally:
        if lava_net is not None:
            try:
                lava_net.stop()
            except Exception:  # noqa: BLE001 - stopping is best effort
                pass


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGINT, _on_term)
    job = json.loads(Path(argv[1]).read_text())
    try:
        run(job)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as one line
        lines = [line for line in str(exc).strip().splitlines() if line.strip()]
        write_status(job["status"], error=lines[-1] if lines else type(exc).__name__)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
