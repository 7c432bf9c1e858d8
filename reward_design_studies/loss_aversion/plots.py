"""PNGs of the loss-aversion study (the harness's figures: matplotlib's object API, no pyplot).

* ``vs_lambda.png``: gold utility, sophistry rate and probe accuracy against
  lambda, one line per arm (KTO trained with that lambda; the post-hoc arm
  deciding at threshold lambda / (1 + lambda); DPO, which has no lambda);
* ``arms.png``: every arm at the headline lambda_h, with 95% intervals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reward_design_studies.harness.plots import new_figure, plot_cells, save

__all__ = ["make_plots"]

_STYLE = {
    "kto": {"color": "tab:red", "marker": "o"},
    "symmetric_posthoc": {"color": "tab:blue", "marker": "s"},
    "symmetric_posthoc_allstyles": {"color": "tab:cyan", "marker": "^", "ls": "--"},
    "dpo": {"color": "tab:purple", "marker": "D", "ls": ":"},
}
_PANELS = (
    ("gold_utility", "gold utility (rater's true utility)"),
    ("sophistry_rate", "sophistry rate (persuasive and wrong)"),
    ("probe_accuracy", "probe accuracy (full label, frozen features)"),
)


def _vs_lambda(results: dict[str, Any], path: Path) -> Path:
    by = results["by_lambda"]
    lams = [float(k) for k in by]
    fig, axes = new_figure(1, 3, width=4.8, height=4.0)
    for ax, (metric, title) in zip(axes[0], _PANELS, strict=True):
        for arm, style in _STYLE.items():
            cells = [by[k][arm][metric] for k in by]
            label = "kto (trained with lambda)" if arm == "kto" else arm
            plot_cells(ax, lams, cells, label, style, kind="errorbar")
        ax.set_xscale("log")
        ax.set_xticks(lams)
        ax.set_xticklabels([f"{v:g}" for v in lams])
        ax.set_xlabel("lambda (= rater's loss lambda_h)")
        ax.set_title(title, fontsize="medium")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize="x-small")
    fig.suptitle("loss aversion in training (KTO) vs at decision time (mean, 95% CI over seeds)")
    return save(fig, path, dpi=110)


def _arms(results: dict[str, Any], path: Path) -> Path:
    arms = list(results["arms"])
    fig, axes = new_figure(1, 3, width=4.8, height=4.0)
    for ax, (metric, title) in zip(axes[0], _PANELS, strict=True):
        cells = [results["arms"][a][metric] for a in arms]
        plot_cells(
            ax, list(range(len(arms))), cells, None, {"marker": "o", "ls": "none"}, kind="errorbar"
        )
        ax.set_xticks(list(range(len(arms))))
        ax.set_xticklabels(arms, rotation=45, ha="right", fontsize="small")
        ax.set_title(title, fontsize="medium")
        ax.grid(alpha=0.3)
    fig.suptitle(f"every arm at rater loss lambda_h = {results['lambda_h']:g}")
    return save(fig, path, dpi=110)


def make_plots(results: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Writes the PNGs into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [_vs_lambda(results, out / "vs_lambda.png"), _arms(results, out / "arms.png")]
