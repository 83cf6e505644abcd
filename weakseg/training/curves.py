"""PNG of the training curves (losses, learning rate, validation metrics) from the events file."""

from __future__ import annotations

from pathlib import Path

from weakseg.io.atomic import write_with
from weakseg.training.events import read_events


def _latest_by_iteration(events: list[dict], kind: str) -> list[dict]:
    """One event per iteration (the last one: a resumed run re-emits the iterations after its checkpoint)."""
    by_iteration = {}
    for e in events:
        if e.get("event") == kind and "iteration" in e:
            by_iteration[int(e["iteration"])] = e
    return [by_iteration[i] for i in sorted(by_iteration)]


def plot_curves(events_path: str | Path, png_path: str | Path) -> Path | None:
    """Plot losses (smoothed), learning rate and validation metrics; None if there is nothing to plot."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    events = read_events(events_path)
    train = _latest_by_iteration(events, "iteration")
    valid = _latest_by_iteration(events, "validation")
    if not train:
        return None
    its = np.array([e["iteration"] for e in train])
    loss_keys = sorted({k for e in train for k in e if k.startswith("loss")})
    fig, axes = plt.subplots(1, 3 if valid else 2, figsize=(13 if valid else 9, 3.6))
    window = max(1, len(its) // 50)
    for key in loss_keys:
        values = np.array([e.get(key, np.nan) for e in train], dtype=float)
        smooth = np.convolve(values, np.ones(window) / window, mode="valid") if len(values) >= window else values
        axes[0].plot(its[len(its) - len(smooth):], smooth, label=key)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("iteration")
    axes[0].set_title("training loss")
    axes[0].legend(fontsize=8)
    axes[1].plot(its, [e.get("lr", np.nan) for e in train])
    axes[1].set_yscale("log")
    axes[1].set_xlabel("iteration")
    axes[1].set_title("learning rate")
    if valid:
        vits = [e["iteration"] for e in valid]
        for key in sorted({k for e in valid for k in e if k.startswith("dice")}):
            axes[2].plot(vits, [e.get(key, np.nan) for e in valid], marker="o", label=key)
        axes[2].set_ylim(0, 1)
        axes[2].set_xlabel("iteration")
        axes[2].set_title("validation Dice")
        axes[2].legend(fontsize=8)
    fig.tight_layout()
    write_with(png_path, lambda tmp: fig.savefig(str(tmp), format="png", dpi=90))
    plt.close(fig)
    return Path(png_path)
