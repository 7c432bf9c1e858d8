"""PNGs of the LM calibration study (the harness's figures: matplotlib's object API)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from reward_design_studies.calibration.plots import (
    HEADLINE,
    confidence_axes,
    reliability_diagrams,
)
from reward_design_studies.harness.plots import new_figure, plot_cells, save
from reward_design_studies.harness.stats import curve_summaries

__all__ = ["make_plots"]

CURVE_ARMS = ("binary", "brier", "log", "brier_grpo", "confidence_bonus")
COLORS = {
    "binary": "tab:red",
    "brier": "tab:blue",
    "log": "tab:green",
    "binary_grpo": "tab:pink",
    "brier_grpo": "tab:purple",
    "brier_denoised": "tab:cyan",
    "confidence_bonus": "tab:orange",
}
_DPI = 110


def _curves(results: dict[str, Any], path: Path) -> Path:
    metrics = ("accuracy", "ece", "mean_confidence", "overconfidence")
    fig, axes = new_figure(1, 4, width=4.2, height=3.8)
    for name in CURVE_ARMS:
        c = results["curves"][name]
        for ax, metric in zip(axes[0], metrics, strict=True):
            cells = curve_summaries(c[metric]["per_seed"])
            plot_cells(ax, c["step"], cells, name, {"color": COLORS[name]})
    bayes = results["reference"]["bayes_accuracy"]
    axes[0, 0].axhline(bayes, color="0.4", linestyle=":", label=f"Bayes {bayes:.2f}")
    axes[0, 3].axhline(0.0, color="0.4", linestyle=":")
    titles = ("accuracy (sampled)", "ECE", "mean stated confidence", "mean conf. - accuracy")
    for ax, title, lim in zip(axes[0], titles, ((0, 1), (0, 1), (0, 1), (-1, 1)), strict=True):
        ax.set_ylim(*lim)
        ax.set_title(title)
        ax.set_xlabel("RL step")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize="x-small")
    fig.suptitle("held-out metrics during training (mean and 95% CI over seeds)")
    return save(fig, path, dpi=_DPI)


def _confidence_vs_q(results: dict[str, Any], path: Path) -> Path:
    fig, axes = new_figure(1, 1, width=5.5, height=4.5)
    ax = axes[0, 0]
    ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", label="c = q (calibrated)")
    d0 = results["start"]["confidence_by_q"]
    ax.plot(d0["q_mean"], d0["confidence_mean"], color="0.3", linestyle="--", label="start")
    for name, d in results["confidence_by_q"].items():
        ax.plot(d["q_mean"], d["confidence_mean"], marker="o", color=COLORS.get(name), label=name)
    confidence_axes(ax, "known success probability q of the answer given", "x-small")
    ax.set_title("stated confidence vs the truth (held-out)")
    return save(fig, path, dpi=_DPI)


def _diagnostics(results: dict[str, Any], path: Path) -> Path:
    names = list(results["arms"])
    fig, axes = new_figure(1, 2, width=6, height=4)
    x = np.arange(len(names))
    ax = axes[0, 0]
    for off, key, label in (
        (-0.25, "ece", "ECE"),
        (0.0, "ece_floor", "floor (calibrated c)"),
        (0.25, "ece_oracle", "confidence = q"),
    ):
        cells = [results["arms"][n][key] for n in names]
        plot_cells(ax, x + off, cells, label, {"marker": "o", "linestyle": "none"}, kind="errorbar")
    ax.set_xticks(x, names, rotation=30, ha="right", fontsize="small")
    ax.set_ylim(-0.05, 1.0)
    ax.set_title("residual ECE vs the estimator's floor")
    ax.legend(fontsize="x-small")
    ax.grid(alpha=0.3)
    ax = axes[0, 1]
    for off, key, label in (
        (-0.15, "conf_sd_given_xa", "sd of c given (x, a)"),
        (0.15, "conf_slope_on_q", "slope of E[c | x, a] on q"),
    ):
        cells = [results["arms"][n][key] for n in names]
        plot_cells(ax, x + off, cells, label, {"marker": "s", "linestyle": "none"}, kind="errorbar")
    start = results["start"]["metrics"]
    ax.axhline(
        start["conf_sd_given_xa"]["mean"], color="tab:blue", linestyle=":", label="sd at start"
    )
    ax.axhline(1.0, color="0.5", linestyle="--", linewidth=0.8)
    ax.set_xticks(x, names, rotation=30, ha="right", fontsize="small")
    ax.set_ylim(-0.3, 1.1)
    ax.set_title("the confidence head: spread and resolution")
    ax.legend(fontsize="x-small")
    ax.grid(alpha=0.3)
    return save(fig, path, dpi=_DPI)


def make_plots(
    results: dict[str, Any], out_dir: str | Path, raw: dict[str, Any] | None = None
) -> list[Path]:
    """Writes the PNGs into ``out_dir``; with ``raw`` also a reliability diagram per
    headline arm (`rd.calibration.reliability_diagram`)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [
        _curves(results, out / "curves.png"),
        _confidence_vs_q(results, out / "confidence_vs_q.png"),
        _diagnostics(results, out / "diagnostics.png"),
    ]
    if raw:
        paths += reliability_diagrams(raw, HEADLINE, results["config"]["num_bins"], out)
    return paths
