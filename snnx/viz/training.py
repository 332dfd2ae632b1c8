"""Training-curve plot (loss and accuracy per epoch)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from snnx.io import write_atomic  # noqa: E402


def plot_training(rows: list[dict], path: str | Path) -> None:
    """Loss and train/test accuracy against epoch, from metrics.csv rows."""
    epochs = [int(r["epoch"]) for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(epochs, [float(r["loss"]) for r in rows], "o-")
    ax1.set(xlabel="epoch", ylabel="training loss", title="Loss")
    ax2.plot(epochs, [100 * float(r["train_acc"]) for r in rows], "o-", label="train")
    ax2.plot(epochs, [100 * float(r["test_acc"]) for r in rows], "s-", label="test")
    ax2.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    ax2.legend()
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    write_atomic(path, lambda p: fig.savefig(p, dpi=110, format="png"))
    plt.close(fig)
