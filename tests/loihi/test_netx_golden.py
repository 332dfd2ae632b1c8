"""Golden model.net: a tiny committed file guards the netx HDF5 format.

``data/tiny.net`` was written once by :func:`snnx.loihi.netx.write_netx` from
:func:`golden_net` (run this file as a script to rewrite it, only for a deliberate format
change). Reading it must give that network, and writing the network again must give the same
datasets and metadata, so a change of layout, dtype or naming in the writer or the reader fails
here before it reaches a user's file.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from snnx.loihi.net import InputSpec, LoihiLayer, LoihiNet
from snnx.loihi.netx import read_netx, write_netx

GOLDEN = Path(__file__).parent / "data" / "tiny.net"


def golden_net() -> LoihiNet:
    conv_w = (np.arange(2 * 1 * 3 * 3).reshape(2, 1, 3, 3) % 7 - 3) * 2
    dense_w = (np.arange(3 * 32).reshape(3, 32) % 11 - 5) * 2
    return LoihiNet(
        input=InputSpec(shape=(1, 4, 4), encoding="rate", timesteps=7, params={"gain": 0.5}),
        layers=[
            LoihiLayer(
                "conv",
                (2, 4, 4),
                name="conv1",
                weight=conv_w,
                bias=np.full((2, 4, 4), [[[3]], [[-4]]]),
                du=1023,
                dv=205,
                vth=40,
                padding=(1, 1),
                scale=12.5,
            ),
            LoihiLayer("flatten", (32,), name="flatten"),
            LoihiLayer(
                "dense",
                (3,),
                name="fc",
                weight=dense_w,
                bias=np.array([1, -2, 4095]),
                du=4095,
                dv=0,
                vth=131071,
                scale=3.25,
            ),
        ],
        dt=1e-3,
        source="golden",
    )


def _datasets(path: Path) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda k, o: (
                out.__setitem__(k, (o.dtype.str, o.shape, o[()].tobytes()))
                if isinstance(o, h5py.Dataset)
                else None
            )
        )
        out["snnx.json"] = json.loads(f["snnx"].attrs["json"])
    return out


def test_reading_the_golden_file_gives_the_network() -> None:
    got, want = read_netx(GOLDEN), golden_net()
    assert got.input == want.input and got.dt == want.dt and got.source == want.source
    assert len(got.layers) == len(want.layers)
    for a, b in zip(got.layers, want.layers, strict=True):
        for key in (
            "kind",
            "shape",
            "name",
            "du",
            "dv",
            "vth",
            "stride",
            "padding",
            "dilation",
            "groups",
            "scale",
        ):
            assert getattr(a, key) == getattr(b, key), key
        for key in ("weight", "bias"):
            x, y = getattr(a, key), getattr(b, key)
            assert (x is None and y is None) or np.array_equal(x, y), key


def test_writing_the_network_again_gives_identical_datasets(tmp_path: Path) -> None:
    write_netx(read_netx(GOLDEN), tmp_path / "again.net")
    write_netx(golden_net(), tmp_path / "fresh.net")
    golden = _datasets(GOLDEN)
    assert "layer/1/neuron/iDecay" in golden and "layer/3/weight" in golden
    assert _datasets(tmp_path / "again.net") == golden
    assert _datasets(tmp_path / "fresh.net") == golden


if __name__ == "__main__":
    GOLDEN.parent.mkdir(exist_ok=True)
    write_netx(golden_net(), GOLDEN)
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes)")
