"""PNGs of the calibration study (matplotlib's object-oriented API, no pyplot state)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["make_plots"]

HEADLINE = ("binary", "brier", "log")
COLORS = {"binary": "tab:red", "brier": "tab:blue", "log": "tab:green"}


def _figure(nrows: int, ncols: int, size: tuple[float, float]):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _band(ax, x, per_seed, color, label):
    arr = np.asarray(per_seed, dtype=float)
    mean = arr.mean(axis=0)
    ax.plot(x, mean, color=color, label=label)
    if arr.shape[0] > 1:
        from scipy import stats

        half = (
            stats.t.ppf(0.975, arr.shape[0] - 1) * arr.std(axis=0, ddof=1) / np.sqrt(arr.shape[0])
        )
        ax.fill_between(x, mean - half, mean + half, color=color, alpha=0.2)


def _curves(results: dict[str, Any], path: Path) -> Path:
    fig, axes = _figure(1, 3, (14, 4))
    for name in HEADLINE:
        c = results["curves"][name]
        for ax, metric in zip(axes[0], ("accuracy", "ece", "mean_confidence"), strict=True):
            _band(ax, c["step"], c[metric]["per_seed"], COLORS[name], name)
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
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def _sweep(results: dict[str, Any], path: Path) -> Path:
    fig, axes = _figure(1, 2, (10, 4))
    weights = results["sweep"]["weights"]
    arms = results["sweep"]["arms"]
    for ax, metric in zip(axes[0], ("accuracy", "ece"), strict=True):
        mean = [results["arms"][a][metric]["mean"] for a in arms]
        lo = [results["arms"][a][metric]["ci95"][0] for a in arms]
        hi = [results["arms"][a][metric]["ci95"][1] for a in arms]
        ax.errorbar(
            weights,
            mean,
            yerr=[np.subtract(mean, lo), np.subtract(hi, mean)],
            marker="o",
            capsize=3,
            color="tab:blue",
            label="correct + w * Brier",
        )
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
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def _estimators(results: dict[str, Any], path: Path) -> Path:
    axis = results["estimator_axis"]
    fig, axes = _figure(1, len(axis), (4.5 * len(axis), 4.2))
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
        ax.set_xlabel("known success probability q of the answer")
        ax.set_ylabel("mean stated confidence")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small")
    fig.suptitle("does the estimator decide calibration? trained confidence vs audit prediction")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def _confidence_vs_q(results: dict[str, Any], path: Path) -> Path:
    fig, axes = _figure(1, 1, (5, 4.5))
    ax = axes[0, 0]
    ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", label="c = q (calibrated)")
    for name in HEADLINE:
        d = results["confidence_by_q"][name]
        ax.plot(d["q_mean"], d["confidence_mean"], marker="o", color=COLORS[name], label=name)
    ax.set_xlabel("known success probability q of the sampled answer")
    ax.set_ylabel("mean stated confidence")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title("stated confidence vs the truth (held-out)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


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
        from reward_design.calibration import reliability_diagram

        bins = results["config"]["num_bins"]
        for name in HEADLINE:
            conf, correct = raw[name]
            path = out / f"reliability_{name}.png"
            reliability_diagram(
                conf, correct, path, num_bins=bins, title=f"{name} (held-out, all seeds)"
            )
            paths.append(path)
    return paths
