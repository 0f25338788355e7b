"""Regret-curve figure for the RL runs (matplotlib, Agg backend, nothing shown)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_cumulative_regret(
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
    path: str | Path,
    *,
    title: str = "",
    ylabel: str = "cumulative regret (exact)",
    band_label: str = "± 1 std over runs",
) -> Path:
    """One line per agent with a shaded band: ``curves`` maps name -> (mean, std) per episode."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for name, (mean, std) in curves.items():
        mean, std = np.asarray(mean), np.asarray(std)
        x = np.arange(1, len(mean) + 1)
        step = max(1, len(mean) // 2000)  # a few thousand points are enough for a line
        (line,) = ax.plot(x[::step], mean[::step], label=name)
        ax.fill_between(x[::step], (mean - std)[::step], (mean + std)[::step], color=line.get_color(), alpha=0.2)
    ax.set_xlabel("episode")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title((title + "\n" if title else "") + f"(bands: {band_label})", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
