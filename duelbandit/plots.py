"""matplotlib figures. Each function draws on a given Axes (or makes a figure) and returns the figure;
nothing here shows a window (the Agg backend is selected on import of a saving helper)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from collections.abc import Sequence

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_regret_vs_budget(panels: dict[str, Sequence], path: str | Path, *, title: str = "") -> Path:
    """One column per panel (e.g. per pool), rows: max-over-prompts and mean simple regret vs budget.

    Args:
        panels: name -> list of :class:`duelbandit.theory.experiment.Summary` rows.
        path: PNG to write.
    """
    plt = _pyplot()
    names = list(panels)
    fig, axes = plt.subplots(2, len(names), figsize=(5.2 * len(names), 7), squeeze=False)
    for c, name in enumerate(names):
        rows = panels[name]
        selectors = list(dict.fromkeys(r.selector for r in rows))
        for sel in selectors:
            rs = sorted((r for r in rows if r.selector == sel), key=lambda r: r.budget)
            x = np.array([r.budget for r in rs], dtype=float)
            for row, (m, s, label) in enumerate(
                [("max_regret_mean", "max_regret_std", "max over prompts"),
                 ("mean_regret_mean", "mean_regret_std", "mean over prompts")]
            ):
                ax = axes[row, c]
                mu = np.array([getattr(r, m) for r in rs])
                sd = np.array([getattr(r, s) for r in rs])
                n = np.array([r.n_seeds for r in rs])
                half = sd / np.sqrt(np.maximum(n, 1))
                (line,) = ax.plot(x, mu, marker="o", label=sel)
                ax.fill_between(x, np.maximum(mu - half, 0), mu + half, color=line.get_color(), alpha=0.2)
                ax.set_xscale("log")
                ax.set_xlabel("labels (T)")
                ax.set_ylabel(f"simple regret ({label})")
                ax.grid(True, which="both", alpha=0.3)
        axes[0, c].set_title(textwrap.fill(name, 48), fontsize=10)
        axes[0, c].legend()
    if title:
        fig.suptitle(title + "\n(bands: ± one standard error over seeds)")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
