"""Reliability diagrams (PNG) with bin counts."""

from __future__ import annotations

import os

import numpy as np
from jax.typing import ArrayLike

from reward_design.calibration._binning import reliability_bins
from reward_design.calibration._ece import expected_calibration_error

__all__ = ["reliability_diagram"]


def reliability_diagram(
    confidence: ArrayLike,
    correct: ArrayLike,
    path: str | os.PathLike | None = None,
    *,
    num_bins: int = 15,
    strategy: str = "uniform",
    mask: ArrayLike | None = None,
    title: str | None = None,
    dpi: int = 120,
):
    """Draws a reliability diagram and, if ``path`` is given, writes it as a PNG.

    Top panel: accuracy per confidence bin (bars) against the diagonal of
    perfect calibration, with each bin's mean confidence marked and the ECE
    in the legend. Bottom panel: the number of elements per bin. Uses the
    object-oriented matplotlib API (no global pyplot state), so it is safe
    in scripts and tests.

    Args:
      confidence: ``[...]`` stated confidences in [0, 1].
      correct: ``[...]`` correctness in [0, 1], same shape.
      path: where to write the PNG (parent folders are created), or None.
      num_bins: number of bins.
      strategy: ``"uniform"`` or ``"quantile"``.
      mask: optional boolean mask of the elements to use.
      title: figure title.
      dpi: resolution of the PNG.

    Returns:
      The ``matplotlib.figure.Figure``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    bins = reliability_bins(confidence, correct, num_bins=num_bins, strategy=strategy, mask=mask)
    ece = float(
        expected_calibration_error(
            confidence, correct, num_bins=num_bins, strategy=strategy, mask=mask
        )
    )
    edges = np.asarray(bins.edges, dtype=float)
    counts = np.asarray(bins.counts, dtype=float)
    acc = np.asarray(bins.accuracy, dtype=float)
    conf = np.asarray(bins.mean_confidence, dtype=float)
    left, width = edges[:-1], np.diff(edges)
    full = counts > 0

    fig = Figure(figsize=(5.0, 6.0))
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot([0, 1], [0, 1], linestyle="--", color="0.5", label="perfect calibration")
    top.bar(
        left[full],
        acc[full],
        width=width[full],
        align="edge",
        edgecolor="black",
        color="tab:blue",
        alpha=0.8,
        label=f"accuracy (ECE = {ece:.3f})",
    )
    top.scatter(conf[full], acc[full], color="tab:red", s=12, zorder=3, label="mean confidence")
    top.set_ylim(0, 1)
    top.set_ylabel("accuracy")
    top.legend(loc="upper left", fontsize="small")
    if title:
        top.set_title(title)
    bottom.bar(left, counts, width=width, align="edge", edgecolor="black", color="0.6")
    bottom.set_xlim(0, 1)
    bottom.set_xlabel("confidence")
    bottom.set_ylabel("count")
    fig.tight_layout()
    if path is not None:
        path = os.fspath(path)
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        fig.savefig(path, dpi=dpi, format="png")
    return fig
