"""The gating study's figures (second version): held-out curves and final rubric items.

matplotlib's object API through `reward_design_studies.harness.plots` (no pyplot).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from reward_design_studies.gating_v2.config import base_arm
from reward_design_studies.harness.plots import new_figure, save

__all__ = ["COLORS", "plot", "plot_curves", "plot_items"]

COLORS = {"dense": "tab:red", "gated_floor": "tab:blue", "gated_drop": "tab:green"}
"""One colour per arm; under judge noise (``<arm>@e=<e>``) the arm's colour, with a line
style per level (solid at 0, then dashed, dotted, dash-dotted) and hatched bars."""
_STYLES = ("-", "--", ":", "-.")


def _noisy(name: str) -> bool:
    return "@" in name


def _line_style(name: str, results: dict[str, Any]) -> str:
    if not _noisy(name):
        return "-"
    levels = sorted(e for e in results["config"].get("judge_noise") or [] if e > 0)
    e = float(name.split("@e=", 1)[1])
    return _STYLES[1 + levels.index(e) % (len(_STYLES) - 1)] if e in levels else "--"


_CURVES = ("gold", "proxy", "exploit_rate", "answer_true")


def plot_curves(results: dict[str, Any], path: Path) -> Path:
    """Held-out gold, proxy, exploit rate and answer accuracy over training."""
    steps = np.asarray(results["curves"]["step"])
    fig, axes = new_figure(1, len(_CURVES), width=4.0, height=3.4)
    for ax, metric in zip(axes[0], _CURVES, strict=True):
        for arm, curves in results["curves"]["arms"].items():
            curve = curves[metric]
            color, ls = COLORS[base_arm(arm)], _line_style(arm, results)
            for row in np.asarray(curve["per_seed"]):
                ax.plot(steps, row, color=color, ls=ls, alpha=0.2, lw=0.8)
            ax.plot(steps, np.asarray(curve["mean"]), color=color, ls=ls, lw=2, label=arm)
        ax.set_title(f"held-out {metric}")
        ax.set_xlabel("GRPO step")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Held-out prompts, sampled at temperature 1; faint lines = seeds")
    return save(fig, path, dpi=110)


def plot_items(results: dict[str, Any], path: Path) -> Path:
    """Per-item pass rates (as judged) of the warm start and each arm's final policy."""
    names = results["item_names"]
    groups = [("initial", results["initial_policy"], "tab:gray")]
    groups += [(arm, cells, COLORS[base_arm(arm)]) for arm, cells in results["arms"].items()]
    fig, axes = new_figure(1, 1, width=9.5, height=3.6)
    ax = axes[0, 0]
    width = 0.8 / len(groups)
    x = np.arange(len(names) + 1)
    labels = [*names, "gold"]
    for gi, (label, cells, color) in enumerate(groups):
        keys = [f"item/{n}" for n in names] + ["gold"]
        means = np.array([cells[k]["mean"] for k in keys])
        lo = np.array([cells[k]["ci95"][0] for k in keys])
        hi = np.array([cells[k]["ci95"][1] for k in keys])
        err = np.nan_to_num(np.stack([means - lo, hi - means]))
        offset = (gi - (len(groups) - 1) / 2) * width
        hatch = "//" if _noisy(label) else None
        ax.bar(x + offset, means, width, yerr=err, capsize=2, color=color, hatch=hatch, label=label)
    weights = [*results["item_weights"], None]
    ax.set_xticks(
        x, [n if w is None else f"{n}\n(w={w:g})" for n, w in zip(labels, weights, strict=True)]
    )
    ax.set_ylabel("pass rate, held-out prompts")
    ax.set_ylim(0, 1.05)
    ax.set_title("Rubric checks as judged, and gold (exact checker), final policies")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3, axis="y")
    return save(fig, path, dpi=110)


def plot(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Writes ``gating_v2_curves.png`` and ``gating_v2_items.png``."""
    out_dir = Path(out_dir)
    return [
        plot_curves(results, out_dir / "gating_v2_curves.png"),
        plot_items(results, out_dir / "gating_v2_items.png"),
    ]
