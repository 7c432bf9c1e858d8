"""PNGs of the calibration study (the harness's figures: matplotlib's object API, no pyplot)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reward_design_studies.harness.plots import new_figure, plot_cells, save
from reward_design_studies.harness.stats import curve_summaries

__all__ = ["HEADLINE", "make_plots", "confidence_axes", "reliability_diagrams"]

HEADLINE = ("binary", "brier", "log")
COLORS = {"binary": "tab:red", "brier": "tab:blue", "log": "tab:green"}
_DPI = 110


def confidence_axes(ax: Any, xlabel: str, legend_size: str) -> None:
    """Labels, unit limits, grid and legend of a panel of stated confidence against q."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel("mean stated confidence")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_size)


def reliability_diagrams(
    raw: dict[str, Any], names: tuple[str, ...], num_bins: int, out: Path
) -> list[Path]:
    """``reliability_<name>.png`` per arm name (`rd.calibration.reliability_diagram`).

    ``raw`` is ``{arm: (confidence, correct)}`` pooled over seeds.
    """
    from reward_design.calibration import reliability_diagram

    paths = []
    for name in names:
        conf, correct = raw[name]
        path = out / f"reliability_{name}.png"
        reliability_diagram(
            conf, correct, path, num_bins=num_bins, title=f"{name} (held-out, all seeds)"
        )
        paths.append(path)
    return paths


def _curves(results: dict[str, Any], path: Path) -> Path:
    fig, axes = new_figure(1, 3, width=14 / 3, height=4)
    for name in HEADLINE:
        c = results["curves"][name]
        for ax, metric in zip(axes[0], ("accuracy", "ece", "mean_confidence"), strict=True):
            cells = curve_summaries(c[metric]["per_seed"])
            plot_cells(ax, c["step"], cells, name, {"color": COLORS[name]})
    bayes = results["reference"]["bayes_accuracy"]
    axes[0, 0].axhline(bayes, color="0.4", linestyle=":", label=f"Bayes accuracy {bayes:.2f}")
    for ax, title in zip(
        axes[0],
        ("accuracy (sampled answers)", "ECE (15 bins)", "mean stated confidence"),
        strict=True,
    ):
        ax.set_title(title)
        ax.set_xlabel("RL step")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize="small")
    fig.suptitle("held-out metrics during training (mean and 95% CI over seeds)")
    return save(fig, path, dpi=_DPI)


def _sweep(results: dict[str, Any], path: Path) -> Path:
    fig, axes = new_figure(1, 2, width=5, height=4)
    weights = results["sweep"]["weights"]
    arms = results["sweep"]["arms"]
    for ax, metric in zip(axes[0], ("accuracy", "ece"), strict=True):
        cells = [results["arms"][a][metric] for a in arms]
        style = {"marker": "o", "color": "tab:blue"}
        plot_cells(ax, weights, cells, "correct + w * Brier", style, kind="errorbar")
        b = results["arms"]["binary"][metric]
        ax.axhline(b["mean"], color="tab:red", linestyle="--", label="binary (w = 0)")
        ax.axhspan(b["ci95"][0], b["ci95"][1], color="tab:red", alpha=0.1)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("Brier weight w")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
    axes[0, 0].axvline(1.0, color="0.5", linestyle=":", label="w = 1 (RLCR)")
    axes[0, 0].legend(fontsize="small")
    fig.suptitle("Brier-weight sweep: theory says accuracy is preserved only for w <= 1")
    return save(fig, path, dpi=_DPI)


def _estimators(results: dict[str, Any], path: Path) -> Path:
    axis = results["estimator_axis"]
    fig, axes = new_figure(1, len(axis), width=4.5, height=4.2)
    cmap = ["tab:orange", "tab:blue", "tab:purple", "tab:brown"]
    for ax, (est, by_g) in zip(axes[0], axis.items(), strict=True):
        ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", label="c = q")
        for i, (g, arm) in enumerate(by_g.items()):
            col = cmap[i % len(cmap)]
            d = results["confidence_by_q"][arm]
            ax.plot(
                d["q_mean"], d["confidence_mean"], marker="o", color=col, label=f"trained G={g}"
            )
            a = results.get("audit", {}).get(arm)
            if a:
                ax.plot(
                    a["q"],
                    a["optimal_confidence"],
                    linestyle="--",
                    color=col,
                    label=f"audit c*(q) G={g}",
                )
        ax.set_title(f"correct + Brier, {est}")
        confidence_axes(ax, "known success probability q of the answer", "x-small")
    fig.suptitle("does the estimator decide calibration? trained confidence vs audit prediction")
    return save(fig, path, dpi=_DPI)


def _confidence_vs_q(results: dict[str, Any], path: Path) -> Path:
    fig, axes = new_figure(1, 1, width=5, height=4.5)
    ax = axes[0, 0]
    ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", label="c = q (calibrated)")
    for name in HEADLINE:
        d = results["confidence_by_q"][name]
        ax.plot(d["q_mean"], d["confidence_mean"], marker="o", color=COLORS[name], label=name)
    confidence_axes(ax, "known success probability q of the sampled answer", "small")
    ax.set_title("stated confidence vs the truth (held-out)")
    return save(fig, path, dpi=_DPI)


def make_plots(
    results: dict[str, Any], out_dir: str | Path, raw: dict[str, Any] | None = None
) -> list[Path]:
    """Writes the study's PNGs into ``out_dir``; returns their paths.

    ``raw`` (``{arm: (confidence, correct)}`` pooled over seeds) adds one
    reliability diagram per headline arm, drawn by
    `rd.calibration.reliability_diagram`.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [
        _curves(results, out / "curves.png"),
        _sweep(results, out / "weight_sweep.png"),
        _confidence_vs_q(results, out / "confidence_vs_q.png"),
        _estimators(results, out / "estimators.png"),
    ]
    if raw:
        paths += reliability_diagrams(raw, HEADLINE, results["config"]["num_bins"], out)
    return paths
