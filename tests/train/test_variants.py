"""Model variants from the seed projects: residual, attention hybrid, stochastic output, latency coding."""

from pathlib import Path

import pytest
import torch

from snnx.config import resolve
from snnx.errors import SnnxError
from snnx.train.models import build_model, check_deployable, spec_from_config
from snnx.train.stage import train_command


def _model(sets: list[str], qat: bool = False):
    cfg = resolve(None, sets)
    spec = spec_from_config(cfg.model, (1, 28, 28), 10, qat)
    torch.manual_seed(0)
    return spec, build_model(spec)


def test_one_layer_residual_is_a_merged_dense_weight() -> None:
    spec, model = _model(["model.kind=residual", "model.hidden=[32,32]"])
    layer = model.layers[1]
    assert layer.spec.skip == 1
    assert torch.allclose(layer.params().weight, layer.synapse.weight + torch.eye(32))
    check_deployable(spec)  # a sum Loihi does: W + I is one Dense layer


def test_two_layer_residual_changes_output_and_is_refused_for_loihi() -> None:
    spec, model = _model(["model.kind=residual", "model.hidden=[32,32,32]", "model.skip=2"])
    x = (torch.rand(10, 3, 1, 28, 28) < 0.5).float()
    with_skip = model(x).spikes[2]
    model.layers[2].spec.skip = 0
    without = model(x).spikes[2]
    model.layers[2].spec.skip = 2
    assert not torch.equal(with_skip, without)
    with pytest.raises(SnnxError, match="two layers"):
        check_deployable(spec)


def test_residual_needs_equal_sizes() -> None:
    with pytest.raises(SnnxError, match="equal hidden sizes"):
        _model(["model.kind=residual", "model.hidden=[32,16]"])


def test_attention_hybrid_trains_and_is_refused_for_loihi(synthetic_mnist: Path, tmp_path: Path) -> None:
    res = train_command(None, tmp_path / "att", ["model.kind=attention", "model.hidden=[32]", "train.epochs=1",
                                                 "train.batch_size=16"], synthetic_mnist)
    assert res.epochs_done == 1
    spec, _ = _model(["model.kind=attention"])
    with pytest.raises(SnnxError, match="attention"):
        check_deployable(spec)


def test_stochastic_output_only_while_training() -> None:
    _, model = _model(["model.stochastic_output=true", "model.hidden=[64]"])
    x = (torch.rand(20, 8, 1, 28, 28) < 0.3).float()
    model.train()
    torch.manual_seed(1)
    a = model(x).spikes[-1]
    torch.manual_seed(2)
    b = model(x).spikes[-1]
    assert not torch.equal(a, b)  # sampled
    model.eval()
    assert torch.equal(model(x).spikes[-1], model(x).spikes[-1])  # deterministic threshold at inference


def test_latency_coding_trains_on_real_mnist(mnist_dir: Path, tmp_path: Path) -> None:
    res = train_command(None, tmp_path / "lat", ["data.encoding=latency", "train.epochs=3", "train.lr=1e-2",
                                                 "data.train_subset=3000", "data.test_subset=500"], mnist_dir)
    assert res.best_test_acc > 0.75  # one spike per pixel; chance is 0.1
