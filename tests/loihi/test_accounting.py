"""Fan-out (stored synapses leaving each input neuron), by hand and against torch's gradient."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnx.loihi.accounting import fan_out
from snnx.loihi.net import LoihiLayer


def test_dense_fan_out_counts_nonzero_weights():
    layer = LoihiLayer("dense", (2,), weight=np.array([[2, 0, 4], [0, 0, -2]]))
    assert fan_out(layer, (3,)).tolist() == [1, 0, 2]


def test_conv_fan_out_is_border_aware():
    w = np.ones((1, 1, 3, 3), dtype=int)
    same = LoihiLayer("conv", (1, 3, 3), weight=w, padding=(1, 1))
    assert fan_out(same, (1, 3, 3))[0].tolist() == [[4, 6, 4], [6, 9, 6], [4, 6, 4]]
    # stride 2, pad 1: outputs read rows {-1,0,1} and {1,2,3}; row 1 is read twice, rows 0 and 2 once
    strided = LoihiLayer("conv", (1, 2, 2), weight=w, padding=(1, 1), stride=(2, 2))
    assert fan_out(strided, (1, 3, 3))[0].tolist() == [[1, 2, 1], [2, 4, 2], [1, 2, 1]]


@pytest.mark.parametrize(
    "stride,padding,dilation,groups", [(1, 1, 1, 1), (2, 1, 1, 2), (2, 0, 2, 1), (3, 2, 1, 4)]
)
def test_conv_fan_out_equals_torch_gradient(stride, padding, dilation, groups):
    """d(sum of conv(x, nonzero mask))/dx is the number of synapses leaving each input: an independent count."""
    rng = np.random.default_rng(stride + 10 * padding + 100 * groups)
    c_in, c_out, k = 4, 8, 3
    w = rng.integers(-3, 4, size=(c_out, c_in // groups, k, k)) * 2
    x = torch.zeros(1, c_in, 9, 11, dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.conv2d(
        x,
        torch.from_numpy((w != 0).astype(np.float64)),
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
    )
    y.sum().backward()
    layer = LoihiLayer(
        "conv",
        tuple(y.shape[1:]),
        weight=w,
        stride=(stride,) * 2,
        padding=(padding,) * 2,
        dilation=(dilation,) * 2,
        groups=groups,
    )
    assert np.array_equal(fan_out(layer, (c_in, 9, 11)), x.grad[0].numpy().astype(np.int64))
