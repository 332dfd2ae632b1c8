"""Helpers for the exporter tests: small QAT models and run folders with a checkpoint (no training).

A module with a distinctive name (not conftest) so that test files can import it."""

from __future__ import annotations

from pathlib import Path

import torch

from snnx.config import RunConfig
from snnx.train.checkpoint import Checkpoint
from snnx.train.models import SNN, build_model, spec_from_config


def make_config(kind: str = "fc", alpha: float = 0.0, **model: object) -> RunConfig:
    return RunConfig.from_dict({"model": {"kind": kind, "neuron": {"alpha": alpha}, **model}})


def make_model(config: RunConfig, seed: int = 0, gain: float = 3.0, bias_std: float = 0.05,
               qat: bool = True) -> SNN:
    """An untrained model whose layers spike at useful rates (weights x gain, random biases)."""
    torch.manual_seed(seed)
    model = build_model(spec_from_config(config.model, (1, 28, 28), 10, qat=qat))
    with torch.no_grad():
        for layer in model.layers:
            layer.synapse.weight.mul_(gain)
            if layer.synapse.bias is not None:
                layer.synapse.bias.normal_(0.0, bias_std)
    return model.eval()


def save_run(run: Path, config: RunConfig, model: SNN) -> Path:
    run.mkdir(parents=True, exist_ok=True)
    Checkpoint(model.spec, model.state_dict(), config).save(run / "checkpoint.json")
    config.save(run / "config.yaml")
    return run


def rate_spikes(steps: int, batch: int, seed: int = 0, p: float = 0.25) -> torch.Tensor:
    """Random binary input spikes [T, B, 1, 28, 28] with a per-sample rate (like rate-coded digits)."""
    g = torch.Generator().manual_seed(seed)
    rate = torch.rand(1, batch, 1, 28, 28, generator=g) * 2 * p
    return (torch.rand(steps, batch, 1, 28, 28, generator=g) < rate).float()

