"""The gating study's figures: training curves, the judge-noise sweep, rubric items.

matplotlib's object API through `reward_design_studies.harness.plots` (no pyplot).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from reward_design_studies.gating.config import arm_name
from reward_design_studies.harness.plots import new_figure, plot_cells, save

__all__ = ["COLORS", "plot", "plot_curves", "plot_noise", "plot_items"]

COLORS = {"dense": "tab:red", "gated_floor": "tab:blue", "gated_drop": "tab:green"}
_DPI = 110
_CURVE_METRICS = ("proxy", "gold", "accepted", "kl")


def plot_curves(results: dict[str, Any], path: Path) -> Path:
    """Proxy, gold, acceptance and KL over training, one row per noise level."""
    steps = np.asarray(results["curves"]["step"])
    levels = results["config"]["noise_levels"]
    fig, axes = new_figure(len(levels), len(_CURVE_METRICS), width=4.25, height=3.4)
    for li, e in enumerate(levels):
        for ci, metric in enumerate(_CURVE_METRICS):
            ax = axes[li, ci]
            for arm in results["config"]["arms"]:
                curve = results["curves"]["arms"][arm_name(arm, e)][metric]
                for row in np.asarray(curve["per_seed"]):
                    ax.plot(steps, row, color=COLORS[arm], alpha=0.15, lw=0.8)
                ax.plot(steps, np.asarray(curve["mean"]), color=COLORS[arm], lw=2, label=arm)
            ax.set_title(f"{metric} (judge noise e={e:g})")
            ax.set_xlabel("GRPO step")
            if metric != "kl":
                ax.set_ylim(-0.02, 1.02)
            ax.grid(alpha=0.3)
        axes[li, 0].legend(loc="lower right", fontsize=8)
    fig.suptitle(
        "Training batches: proxy (weighted rubric fraction, true checks) and gold "
        "(both essential items truly pass); faint lines = seeds"
    )
    return save(fig, path, dpi=_DPI)


def plot_noise(results: dict[str, Any], path: Path) -> Path:
    """Final gold and proxy of each arm against the judge noise (mean, 95% CI)."""
    levels = results["config"]["noise_levels"]
    fig, axes = new_figure(1, 2, width=5.0, height=3.8)
    for ax, metric in zip(axes[0], ("gold", "proxy"), strict=True):
        for arm in results["config"]["arms"]:
            cells = [results["arms"][arm_name(arm, e)][metric] for e in levels]
            style = {"color": COLORS[arm], "marker": "o"}
            plot_cells(ax, levels, cells, label=arm, style=style, kind="errorbar")
        ax.set_xlabel("judge noise e (probability a check is flipped)")
        ax.set_title(f"final {metric} (mean, 95% CI over seeds)")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0, 0].legend()
    return save(fig, path, dpi=_DPI)


def plot_items(results: dict[str, Any], path: Path) -> Path:
    """Per-item pass rates of the warm start and of every arm's final policy.

    The arms are shown at judge noise 0 (the first noise level if 0 is not swept).
    """
    names = results["item_names"]
    levels = results["config"]["noise_levels"]
    e = 0.0 if 0.0 in levels else levels[0]
    groups = [("initial", results["initial_policy"]["items"], "tab:gray")] + [
        (arm, results["items"][arm_name(arm, e)], COLORS[arm]) for arm in results["config"]["arms"]
    ]
    fig, axes = new_figure(1, 1, width=10.0, height=3.8)
    ax = axes[0, 0]
    width = 0.8 / len(groups)
    x = np.arange(len(names))
    for gi, (label, cells, color) in enumerate(groups):
        means = np.array([cells[n]["mean"] for n in names])
        err = np.array(
            [
                [cells[n]["mean"] - cells[n]["ci95"][0] for n in names],
                [cells[n]["ci95"][1] - cells[n]["mean"] for n in names],
            ]
        )
        offset = (gi - (len(groups) - 1) / 2) * width
        ax.bar(x + offset, means, width, yerr=err, capsize=2, color=color, label=label)
    weights = results["item_weights"]
    ax.set_xticks(x, [f"{n}\n(w={w:g})" for n, w in zip(names, weights, strict=True)], fontsize=8)
    ax.set_ylabel("pass rate (true checks)")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Rubric items passed by the final policies (judge noise e={e:g})")
    ax.legend(fontsize=8, ncol=len(groups))
    ax.grid(alpha=0.3, axis="y")
    return save(fig, path, dpi=_DPI)


def plot(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Writes ``gating_curves.png``, ``gating_noise.png`` and ``gating_items.png``."""
    out_dir = Path(out_dir)
    return [
        plot_curves(results, out_dir / "gating_curves.png"),
        plot_noise(results, out_dir / "gating_noise.png"),
        plot_items(results, out_dir / "gating_items.png"),
    ]
