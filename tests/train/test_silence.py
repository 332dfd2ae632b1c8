"""train.silence_weight: a loss term on the last steps' spikes of recurrent layers (a silent end
leaks nothing through netx's reset; that property itself: tests/sim/test_recurrent_stream.py)."""

from __future__ import annotations

import torch

from snnx.config import RunConfig
from snnx.train.models import build_model, spec_from_config
from snnx.train.silence import SilenceObjective, last_step_rate


def toy_rows(batch: int = 64, width: int = 28, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Which half of the 28-step sequence holds the spikes: [28, B, width] and labels [B]."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (batch,), generator=g)
    x = torch.zeros(28, batch, width)
    for b in range(batch):
        lo = 0 if y[b] == 0 else 10
        x[lo:lo + 10, b] = (torch.rand(10, width, generator=g) < 0.5).float()
    return x, y


def attractor_model(cfg: RunConfig):
    """A recurrent model whose hidden layer, once driven, keeps itself firing (every neuron excites all)."""
    torch.manual_seed(0)
    model = build_model(spec_from_config(cfg.model, (28,), 2, qat=True))
    with torch.no_grad():
        model.layers[0].rec.weight.fill_(0.08)
    return model


def fit(model, cfg: RunConfig, x: torch.Tensor, y: torch.Tensor, steps: int = 40) -> None:
    silence = SilenceObjective(cfg.train, model)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    for _ in range(steps):
        out = model(x)
        loss = torch.nn.functional.cross_entropy(out.counts.float(), y)
        if silence.active:
            loss = loss + silence(out)
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_silence_term_is_only_for_recurrent_models():
    cfg = RunConfig.from_dict({"model": {"hidden": [16]}, "train": {"silence_weight": 1.0}})
    model = build_model(spec_from_config(cfg.model, (1, 28, 28), 10, qat=True))
    assert not SilenceObjective(cfg.train, model).active
    rec = RunConfig.from_dict({"data": {"encoding": "rows"}, "model": {"recurrent": True, "hidden": [16]},
                               "train": {"silence_weight": 1.0}})
    assert SilenceObjective(rec.train, build_model(spec_from_config(rec.model, (28,), 10, qat=True))).active
    off = RunConfig.from_dict({"data": {"encoding": "rows"}, "model": {"recurrent": True, "hidden": [16]}})
    assert not SilenceObjective(off.train, build_model(spec_from_config(off.model, (28,), 10, qat=True))).active


def test_silence_term_quiets_the_end_of_an_attractor():
    """A hidden layer that keeps itself firing to the end of the window: a few Adam steps on CE + the
    term silence its last steps (on this toy, as on row-MNIST with a large weight, it silences the
    whole layer with them: docs/design.md §12 has the measurements)."""
    x, y = toy_rows()
    cfg = RunConfig.from_dict({"data": {"encoding": "rows"}, "model": {"recurrent": True, "hidden": [24]},
                               "train": {"silence_weight": 5.0, "silence_steps": 2}})
    model = attractor_model(cfg)
    with torch.no_grad():
        before = model(x)
    assert float(last_step_rate(before, [0], 2)) > 0.3
    fit(model, cfg, x, y, steps=25)
    with torch.no_grad():
        after = model(x)
    assert float(last_step_rate(after, [0], 2)) < 0.02
    assert model.layers[0].rec.weight.grad.abs().sum() > 0
