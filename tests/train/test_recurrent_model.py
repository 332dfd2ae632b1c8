"""Recurrent layers (model.recurrent): the same neuron as snnTorch's RLeaky/RSynaptic, trainable."""

from __future__ import annotations

import pytest
import snntorch as snn
import torch

from snnx.config import RunConfig
from snnx.errors import SnnxError
from snnx.train.models import LayerParams, build_model, recurrent_sequence, spec_from_config
from snnx.train.neurons import make_spike_fn


def test_recurrent_neuron_equals_snntorch():
    """snnTorch's RLeaky (reset to zero, no reset delay, bias-free recurrent Linear) on the same input
    current gives the same spikes: the recurrent input of step t is V·s[t-1]. (RSynaptic with
    reset_delay=False fails in snntorch 1.0.0 before its first step, so alpha > 0 is not compared.)"""
    alpha = 0.0
    torch.manual_seed(0)
    n, steps, batch = 20, 15, 4
    cur = torch.rand(steps, batch, n) * 0.8
    w_rec = torch.randn(n, n) * 0.3
    kw = dict(linear_features=n, all_to_all=True, reset_mechanism="zero", reset_delay=False, threshold=1.0)
    lif = snn.RLeaky(beta=0.9, **kw)
    with torch.no_grad():
        lif.recurrent.weight.copy_(w_rec)
        lif.recurrent.bias.zero_()
    state = lif.init_rleaky()
    ref = []
    for t in range(steps):
        out = lif(cur[t], *state)
        state = out
        ref.append(out[0])
    p = LayerParams(weight=None, bias=None, threshold=1.0, alpha=alpha, beta=0.9, weight_rec=w_rec)
    ours, _ = recurrent_sequence(cur, p, 0.0, make_spike_fn(), steps, 0, False)
    assert 50 < int(ours.sum()) < ours.numel() // 2  # the recurrence matters: spiking, not saturated
    assert torch.equal(torch.stack(ref), ours)


def test_recurrent_training_learns_row_sequences():
    """A few Adam steps on a toy row task (which half of the sequence holds the spikes) lower the loss;
    the gradient reaches the recurrent weights."""
    cfg = RunConfig.from_dict({"data": {"encoding": "rows"}, "model": {"recurrent": True, "hidden": [24]}})
    torch.manual_seed(0)
    model = build_model(spec_from_config(cfg.model, (8,), 2, qat=True))
    x = torch.zeros(28, 64, 8)
    y = torch.randint(0, 2, (64,))
    for b in range(64):
        lo = 0 if y[b] == 0 else 14
        x[lo:lo + 14, b] = (torch.rand(14, 8) < 0.5).float()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        out = model(x)
        loss = torch.nn.functional.cross_entropy(out.counts.float(), y)
        opt.zero_grad()
        loss.backward()
        assert model.layers[0].rec.weight.grad.abs().sum() > 0
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]


def test_recurrent_needs_fc():
    cfg = RunConfig.from_dict({"model": {"kind": "conv", "recurrent": True}})
    with pytest.raises(SnnxError, match="model.recurrent=true needs model.kind=fc"):
        spec_from_config(cfg.model, (1, 28, 28), 10, qat=True)


def test_rows_config_and_encoding():
    """rows: 28 steps (filled in), one binary row per step; another step count is refused."""
    from snnx.data.encoders import encode, encoded_shape

    cfg = RunConfig.from_dict({"data": {"encoding": "rows"}})
    assert cfg.data.timesteps == 28
    with pytest.raises(SnnxError, match="data.timesteps must be 28"):
        RunConfig.from_dict({"data": {"encoding": "rows", "timesteps": 25}})
    img = torch.zeros(2, 1, 28, 28)
    img[0, 0, 5, 3] = 0.9
    img[1, 0, 20, 7] = 0.3  # below one half: no spike
    x = encode(img, "rows", 28)
    assert x.shape == (28, 2, 28) and encoded_shape("rows", (1, 28, 28)) == (28,)
    assert x[5, 0, 3] == 1 and x.sum() == 1
    with pytest.raises(SnnxError, match="one image row per step"):
        encode(img, "rows", 12)  # e.g. `snnx export RUN --timesteps 12` on a rows run
