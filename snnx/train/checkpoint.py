"""Checkpoints: model weights + architecture spec + config, loadable with weights_only=True.

Only plain Python containers and tensors are stored, so ``torch.load(weights_only=True)``
(no arbitrary code execution from a downloaded file) can read them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from snnx.config import RunConfig
from snnx.errors import SnnxError
from snnx.io import write_bytes
from snnx.train.models import SNN, ModelSpec, build_model

FORMAT = "snnx-checkpoint/1"


@dataclass
class Checkpoint:
    spec: ModelSpec
    state_dict: dict[str, torch.Tensor]
    config: RunConfig
    epoch: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    optimizer: dict | None = None  # only in last.pt, for --resume
    scheduler: dict | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. best accuracy, RNG state

    def save(self, path: str | Path) -> None:
        payload = {
            "format": FORMAT,
            "spec": self.spec.to_dict(),
            "state_dict": {k: v.detach().cpu() for k, v in self.state_dict.items()},
            "config": self.config.to_dict(),
            "epoch": self.epoch,
            "metrics": self.metrics,
            "optimizer": self.optimizer,
            "scheduler": self.scheduler,
            "extra": self.extra,
        }
        buf = io.BytesIO()
        torch.save(payload, buf)
        write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> Checkpoint:
        path = Path(path)
        if not path.exists():
            raise SnnxError(f"{path} not found; run `snnx train -o {path.parent}` first")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
            raise SnnxError(f"{path} is not a readable snnx checkpoint ({type(exc).__name__}); retrain or restore it") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise SnnxError(f"{path} is not an snnx checkpoint (format {FORMAT} expected)")
        try:
            spec = ModelSpec.from_dict(payload["spec"])
            config = RunConfig.from_dict(payload["config"])
        except (KeyError, TypeError) as exc:
            raise SnnxError(f"{path}: the checkpoint's model spec is incomplete ({exc})") from None
        return cls(spec, payload["state_dict"], config, payload.get("epoch", 0), payload.get("metrics", {}),
                   payload.get("optimizer"), payload.get("scheduler"), payload.get("extra", {}))

    def build_model(self, device: str | torch.device = "cpu") -> SNN:
        """The model with these weights, in eval mode; a mismatch is a clear error."""
        model = build_model(self.spec)
        load_weights(model, self.state_dict, "checkpoint")
        return model.to(device).eval()


def load_weights(model: torch.nn.Module, state_dict: dict[str, torch.Tensor], what: str) -> None:
    """``load_state_dict`` that reports an architecture mismatch in one line."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    wrong = [k for k in own if k in state_dict and own[k].shape != state_dict[k].shape]
    if missing or unexpected or wrong:
        detail = (f"{wrong[0]} has shape {tuple(state_dict[wrong[0]].shape)}, model expects {tuple(own[wrong[0]].shape)}"
                  if wrong else f"missing {missing[:2]}, unexpected {unexpected[:2]}")
        raise SnnxError(f"the {what} does not match this model architecture ({detail}); use a checkpoint of the same model")
    model.load_state_dict(state_dict)
