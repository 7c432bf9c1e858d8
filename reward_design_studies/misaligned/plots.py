"""The misaligned study's figures (matplotlib OO API through the harness).

* ``utility_vs_cost_ratio.png``: every arm's test utility against the cost
  ratio, and the paired utility differences;
* ``probe_accuracy_vs_cost_ratio.png``: the probe accuracy of each trained
  model, with the raw-input and untrained-network references, and its gap;
* ``gaps_vs_budget.png``: the utility and probe gaps against the budget;
* ``tuned.png`` (with the tuning): validation curves of the grid, the arms'
  test utility fixed vs tuned, and the headline gap fixed vs tuned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from reward_design_studies.harness import plots
from reward_design_studies.misaligned.config import ARMS, COMPARISONS, HEADLINE_COMPARISON

__all__ = ["ARM_STYLE", "plot"]

ARM_STYLE = {
    "symmetric_posthoc": {"color": "tab:blue", "marker": "o", "ls": "-"},
    "symmetric_posthoc_uncalibrated": {"color": "tab:cyan", "marker": "s", "ls": "--"},
    "symmetric_argmax": {"color": "tab:gray", "marker": "x", "ls": ":"},
    "utility_weighted_argmax": {"color": "tab:red", "marker": "^", "ls": "-"},
    "utility_weighted_bayes": {"color": "tab:orange", "marker": "v", "ls": "--"},
}


def _rows(results: dict[str, Any], task: str, steps: int) -> list[dict[str, Any]]:
    rows = [r for r in results["sweep"] if r["task"] == task and r["steps"] == steps]
    return sorted(rows, key=lambda r: r["cost_ratio"])


def _shifted(xs: list[float], factor: float) -> np.ndarray:
    """Positions nudged on a log axis so that overlapping error bars stay apart."""
    return np.asarray(xs, dtype=float) * (1 + factor)


def _cost_axes(ax: Any, title: str, xlabel: str, ylabel: str, zero: bool = False) -> None:
    if zero:
        ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def _utility_figure(results: dict[str, Any], out_dir: Path) -> Path:
    tasks, steps = results["config"]["tasks"], results["config"]["headline"]["steps"]
    fig, axes = plots.new_figure(2, len(tasks), width=5.5, height=4.0)
    for col, task in enumerate(tasks):
        rows = _rows(results, task, steps)
        xs = [r["cost_ratio"] for r in rows]
        for k, arm in enumerate(ARMS):
            cells = [r["arms"][arm]["test_utility"] for r in rows]
            plots.plot_cells(
                axes[0, col],
                _shifted(xs, 0.03 * (k - 2)),
                cells,
                arm,
                ARM_STYLE[arm],
                kind="errorbar",
            )
        _cost_axes(
            axes[0, col],
            f"{task}: test utility ({steps} steps)",
            "cost ratio r (missing the critical class)",
            "test utility = -mean realised cost",
        )
        for k, (a, b) in enumerate(COMPARISONS):
            cells = [r["comparisons"][f"{a} - {b}"]["test_utility"] for r in rows]
            plots.plot_cells(
                axes[1, col],
                _shifted(xs, 0.03 * (k - 1)),
                cells,
                f"{a} − {b}",
                {"marker": "o"},
                kind="errorbar",
            )
        _cost_axes(
            axes[1, col],
            f"{task}: paired utility difference (>0: post-hoc better)",
            "cost ratio r",
            "Δ test utility",
            zero=True,
        )
    axes[0, 0].legend(fontsize=7)
    axes[1, 0].legend(fontsize=7)
    return plots.save(fig, out_dir / "utility_vs_cost_ratio.png")


def _probe_figure(results: dict[str, Any], out_dir: Path) -> Path:
    tasks, steps = results["config"]["tasks"], results["config"]["headline"]["steps"]
    fig, axes = plots.new_figure(2, len(tasks), width=5.5, height=3.75)
    models = (
        ("symmetric_posthoc", "symmetric model", 0.0),
        ("utility_weighted_argmax", "utility-weighted model", 0.03),
    )
    references = (
        ("probe_accuracy_raw_inputs", ":", "probe on raw inputs"),
        ("probe_accuracy_untrained_network", "-.", "probe on untrained network"),
    )
    for col, task in enumerate(tasks):
        rows = _rows(results, task, steps)
        xs = [r["cost_ratio"] for r in rows]
        ax = axes[0, col]
        for arm, label, shift in models:
            cells = [r["arms"][arm]["probe_accuracy"] for r in rows]
            plots.plot_cells(ax, _shifted(xs, shift), cells, label, ARM_STYLE[arm], kind="errorbar")
        diag = results.get("diagnostics", {}).get(task, {})
        for name, style, label in references:
            if name in diag:
                ax.axhline(diag[name]["mean"], color="k", ls=style, lw=1, label=label)
        _cost_axes(
            ax,
            f"{task}: 10-class linear probe ({steps} steps)",
            "cost ratio r",
            "probe test accuracy",
        )
        ax.legend(fontsize=7)
        cells = [r["comparisons"][HEADLINE_COMPARISON]["probe_accuracy"] for r in rows]
        plots.plot_cells(
            axes[1, col],
            xs,
            cells,
            None,
            {"marker": "o", "color": "tab:purple"},
            kind="errorbar",
        )
        _cost_axes(
            axes[1, col],
            f"{task}: paired probe gap, symmetric − weighted",
            "cost ratio r",
            "Δ probe accuracy",
            zero=True,
        )
    return plots.save(fig, out_dir / "probe_accuracy_vs_cost_ratio.png")


def _budget_figure(results: dict[str, Any], out_dir: Path) -> Path:
    from matplotlib.ticker import ScalarFormatter

    cfg = results["config"]
    fig, axes = plots.new_figure(2, len(cfg["tasks"]), width=5.5, height=3.75)
    panels = (("test_utility", "Δ test utility"), ("probe_accuracy", "Δ probe accuracy"))
    for col, task in enumerate(cfg["tasks"]):
        for row_i, (metric, label) in enumerate(panels):
            ax = axes[row_i, col]
            for k, ratio in enumerate(cfg["cost_ratios"]):
                rows = [
                    r
                    for r in results["sweep"]
                    if r["task"] == task and r["cost_ratio"] == float(ratio)
                ]
                rows.sort(key=lambda r: r["steps"])
                cells = [r["comparisons"][HEADLINE_COMPARISON][metric] for r in rows]
                xs = _shifted([r["steps"] for r in rows], 0.02 * (k - 1.5))
                plots.plot_cells(ax, xs, cells, f"r = {ratio:g}", {"marker": "o"}, kind="errorbar")
            _cost_axes(
                ax,
                f"{task}: {label} (post-hoc − weighted argmax)",
                "training steps",
                label,
                zero=True,
            )
            ax.set_xticks(cfg["checkpoints"])
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.minorticks_off()
            ax.legend(fontsize=8)
    return plots.save(fig, out_dir / "gaps_vs_budget.png")


def _tuned_figure(results: dict[str, Any], out_dir: Path) -> Path:
    tuned = results["tuned"]
    sel = tuned["selections"]
    fig, axes = plots.new_figure(1, 3, width=5.0, height=3.75)
    ax = axes[0, 0]
    for arm, ls in (("symmetric_posthoc", "-"), ("utility_weighted_argmax", "--")):
        grid = np.asarray(tuned["validation_grid"]["utility"][arm])  # [rate, step, seed]
        for i, rate in enumerate(tuned["learning_rates"]):
            ax.plot(
                tuned["steps"],
                grid[i].mean(-1),
                ls=ls,
                color=f"C{i}",
                label=f"{arm}, lr {rate:g}",
            )
    ax.set_title(f"{tuned['task']}, r = {tuned['cost_ratio']:g}: validation utility")
    ax.set_xlabel("training steps")
    ax.set_ylabel("mean validation utility over seeds")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)
    ax = axes[0, 1]
    blocks = (("fixed budget", results["arms"]), ("tuned", sel["val_utility"]["arms"]))
    for b, (label, arms) in enumerate(blocks):
        xs = np.arange(len(ARMS)) + 0.15 * (2 * b - 1)
        cells = [arms[arm]["test_utility"] for arm in ARMS]
        style = {"marker": "o" if b == 0 else "s", "ls": "none"}
        plots.plot_cells(ax, xs, cells, label, style, kind="errorbar")
    ax.set_xticks(np.arange(len(ARMS)))
    ax.set_xticklabels([a.replace("_", "\n", 1) for a in ARMS], fontsize=6)
    ax.set_title("test utility: fixed budget vs tuned on validation")
    ax.set_ylabel("test utility")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax = axes[0, 2]
    cells = [
        results["comparisons"][HEADLINE_COMPARISON]["test_utility"],
        sel["val_utility"]["comparisons"][HEADLINE_COMPARISON]["test_utility"],
        sel["own_loss"]["comparisons"][HEADLINE_COMPARISON]["test_utility"],
    ]
    plots.plot_cells(ax, [0, 1, 2], cells, None, {"marker": "o", "ls": "none"}, kind="errorbar")
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xticks([0, 1, 2])
    ax.set_xticklabels(["fixed budget", "tuned:\nval utility", "tuned:\nown val loss"])
    ax.set_title("Δ test utility, post-hoc − weighted argmax")
    ax.set_ylabel("paired difference (95% CI)")
    ax.grid(alpha=0.3)
    return plots.save(fig, out_dir / "tuned.png")


def plot(results: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Writes the study's PNGs under ``out_dir`` (three, and ``tuned.png`` with the
    tuning); returns their paths."""
    out_dir = Path(out_dir)
    paths = [
        _utility_figure(results, out_dir),
        _probe_figure(results, out_dir),
        _budget_figure(results, out_dir),
    ]
    if "tuned" in results:
        paths.append(_tuned_figure(results, out_dir))
    return paths
