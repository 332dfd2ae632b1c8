"""Checkpoints cannot carry code: safetensors + JSON, legacy .pt inspected before torch opens it,
every field of an untrusted spec checked before a tensor is allocated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import make_config, make_model, save_run
from PIL import Image

from snnx.cli import main
from snnx.errors import SnnxError
from snnx.train.checkpoint import Checkpoint, inspect_pt


def torchscript_that_creates(target: Path, archive: Path) -> None:
    """A real TorchScript archive whose __setstate__ creates ``target`` when loaded (CVE-2025-32434)."""

    class Evil(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.zeros(2)
            self.path = str(target)
            self.buf = torch.zeros(1, dtype=torch.uint8)

        @torch.jit.export
        def __getstate__(self) -> tuple[torch.Tensor, str, bool]:
            return (self.w, self.path, self.training)

        @torch.jit.export
        def __setstate__(self, state: tuple[torch.Tensor, str, bool]) -> None:
            self.w, self.path, self.training = state[0], state[1], state[2]
            self.buf = torch.from_file(self.path, shared=True, size=16, dtype=torch.uint8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.w

    torch.jit.script(Evil()).save(str(archive))


def _one_line(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("snnx: error: "), err
    return err[0]


def test_torchscript_archive_is_dangerous_and_refused(tmp_path: Path) -> None:
    marker, archive = tmp_path / "pwned", tmp_path / "evil.pt"
    torchscript_that_creates(marker, archive)
    assert not marker.exists()
    # the threat is real: torch 2.3's weights_only=True dispatches to torch.jit.load
    if tuple(int(p) for p in torch.__version__.split(".")[:2]) < (2, 6):
        with pytest.warns(UserWarning, match="TorchScript"):
            torch.load(archive, weights_only=True)
        assert marker.exists()
        marker.unlink()
    with pytest.raises(SnnxError, match="TorchScript archive"):
        inspect_pt(archive)
    with pytest.raises(SnnxError, match="TorchScript archive"):
        Checkpoint.load(archive)
    assert not marker.exists()


def test_no_command_runs_code_from_a_checkpoint(tmp_path: Path, synthetic_mnist: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    cfg = make_config(hidden=[8])
    run = save_run(tmp_path / "run", cfg, make_model(cfg))
    for name in ("checkpoint", "last"):
        for suffix in (".json", ".safetensors"):
            (run / f"{name}{suffix}").unlink(missing_ok=True)
    marker = tmp_path / "pwned"
    torchscript_that_creates(marker, run / "checkpoint.pt")
    torchscript_that_creates(marker, run / "last.pt")
    image = tmp_path / "digit.png"
    Image.new("L", (28, 28), 128).save(image)
    data = ["--data-dir", str(synthetic_mnist)]
    for argv in (["export", str(run)], ["predict", str(run), "--image", str(image)], ["report", str(run), *data],
                 ["compare", str(run), *data], ["train", "-o", str(run), "--resume", *data]):
        assert main(argv) == 2, argv
        assert "TorchScript archive" in _one_line(capsys), argv
        assert not marker.exists(), argv


def test_safetensors_round_trip_and_mixed_pair(tmp_path: Path) -> None:
    cfg = make_config(hidden=[8])
    model = make_model(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.rand(3, 2, 1, 28, 28)).counts.sum().backward()
    opt.step()
    Checkpoint(model.spec, model.state_dict(), cfg, 3, {"loss": float("nan")}, opt.state_dict(),
               {"last_epoch": 4}, {"best": 0.5}).save(tmp_path / "last.json")
    assert {p.name for p in tmp_path.iterdir()} == {"last.json", "last.safetensors"}
    ck = Checkpoint.load(tmp_path / "last.json")
    assert all(torch.equal(ck.state_dict[k], v) for k, v in model.state_dict().items())
    want = opt.state_dict()
    for pid, st in want["state"].items():
        assert all(torch.equal(ck.optimizer["state"][pid][k], v) for k, v in st.items())
    fresh = torch.optim.AdamW(model.parameters(), lr=1e-3)
    fresh.load_state_dict(ck.optimizer)  # loads back into a real optimizer
    assert ck.epoch == 3 and ck.metrics == {"loss": None} and ck.extra == {"best": 0.5}
    # weights from another write: refused, naming both files
    other = make_model(cfg, seed=1)
    Checkpoint(other.spec, other.state_dict(), cfg).save(tmp_path / "b" / "checkpoint.json")
    (tmp_path / "last.safetensors").write_bytes((tmp_path / "b" / "checkpoint.safetensors").read_bytes())
    with pytest.raises(SnnxError, match="does not match .*last.json"):
        Checkpoint.load(tmp_path / "last.json")


def test_legacy_pt_still_loads_after_inspection(tmp_path: Path) -> None:
    cfg = make_config(hidden=[8])
    model = make_model(cfg)
    payload = {"format": "snnx-checkpoint/1", "spec": model.spec.to_dict(), "state_dict": model.state_dict(),
               "config": cfg.to_dict(), "epoch": 2, "metrics": {}, "optimizer": None, "scheduler": None, "extra": {}}
    torch.save(payload, tmp_path / "checkpoint.pt")
    ck = Checkpoint.load(tmp_path / "checkpoint.json")
    assert ck.epoch == 2 and all(torch.equal(ck.state_dict[k], v) for k, v in model.state_dict().items())
    torch.save(payload, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(SnnxError, match="old pickle-format"):
        Checkpoint.load(tmp_path / "old.pt")


def _spec_edit(layer0: dict | None = None, **top: object):
    def edit(meta: dict) -> None:
        meta["spec"]["layers"][0].update(layer0 or {})
        meta["spec"].update(top)
    return edit


@pytest.mark.parametrize("edit, words", [
    (_spec_edit({"out": -5}), "non-negative integer"),
    (_spec_edit({"out": 10**9}), "non-negative integer"),
    (_spec_edit({"out": 4_000_000}), "weights; the limits are"),
    (_spec_edit({"out": 1.5}), "must be a non-negative integer"),
    (_spec_edit({"out": "16"}), "must be a non-negative integer"),
    (_spec_edit(beta=float("nan")), "must be a finite number"),
    (_spec_edit(threshold=-1.0), "threshold > 0"),
    (_spec_edit(input_shape=[1, 0, 28]), "positive integers"),
    (_spec_edit(layers=[]), "1 to 256 layers"),
    (_spec_edit(kind="lstm"), "spec.kind 'lstm'"),
    (lambda m: m.update(spec=[1, 2]), "spec must be a JSON object"),
    (lambda m: m.update(epoch="3"), "epoch '3'"),
    (lambda m: m.update(weights="../../etc/passwd.safetensors"), "beside it"),
])
def test_hostile_specs_are_one_line_errors(tmp_path: Path, edit, words: str, capsys: pytest.CaptureFixture) -> None:
    cfg = make_config(hidden=[8])
    run = save_run(tmp_path / "run", cfg, make_model(cfg))
    meta = json.loads((run / "checkpoint.json").read_text())
    edit(meta)
    (run / "checkpoint.json").write_text(json.dumps(meta))
    assert main(["export", str(run)]) == 2
    assert words in _one_line(capsys)
    assert not (run / "model.net").exists()


def test_nan_weight_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cfg = make_config(hidden=[8])
    model = make_model(cfg)
    with torch.no_grad():
        model.layers[0].synapse.weight[0, 0] = float("nan")
    run = save_run(tmp_path / "run", cfg, model)
    assert main(["export", str(run)]) == 2
    assert "holds NaN or infinite values" in _one_line(capsys)


def test_real_kill_9_mid_epoch_then_resume_is_bit_identical(synthetic_mnist: Path, tmp_path: Path) -> None:
    """A SIGKILL (no Python cleanup at all) in the second epoch, then --resume: same weights,
    optimizer moments and metrics as an uninterrupted run."""
    import os
    import signal
    import subprocess
    import sys
    import time

    sets = ["--set", "train.epochs=3", "--set", "model.hidden=[32]", "--set", "train.batch_size=16",
            "--data-dir", str(synthetic_mnist)]
    code = "import sys; from snnx.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "SNNX_CACHE_DIR": str(tmp_path / "cache")}
    assert main(["train", "-o", str(tmp_path / "full"), *sets]) == 0
    proc = subprocess.Popen([sys.executable, "-c", code, "train", "-o", str(tmp_path / "cut"), *sets], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = tmp_path / "cut" / "last.json"
    deadline = time.time() + 300
    while not last.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    time.sleep(0.05)  # into the second epoch
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the training ended before it could be killed"
    assert Checkpoint.load(last).epoch < 3
    assert main(["train", "-o", str(tmp_path / "cut"), "--resume", "--data-dir", str(synthetic_mnist)]) == 0
    a, b = Checkpoint.load(tmp_path / "cut" / "last.json"), Checkpoint.load(tmp_path / "full" / "last.json")
    assert all(torch.equal(a.state_dict[k], v) for k, v in b.state_dict.items())
    for pid, st in b.optimizer["state"].items():
        assert all(torch.equal(a.optimizer["state"][pid][k], v) for k, v in st.items())
    assert (tmp_path / "cut" / "metrics.csv").read_text().splitlines()[1:] and \
        [r.split(",")[:4] for r in (tmp_path / "cut" / "metrics.csv").read_text().splitlines()] == \
        [r.split(",")[:4] for r in (tmp_path / "full" / "metrics.csv").read_text().splitlines()]
