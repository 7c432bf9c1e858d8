"""Figures for the studies, with matplotlib's object API only (no pyplot).

No global state: each figure is a `matplotlib.figure.Figure` with its own Agg
canvas, so plotting works headless, in threads and inside a test run, and
never changes the caller's matplotlib backend. matplotlib is imported when
a figure is made (it comes with the ``studies`` extra).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["cell_bounds", "new_figure", "plot_cells", "save"]


def cell_bounds(cells: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Means, lower and upper 95% bounds of results cells (either cell kind)."""
    means, lows, highs = [], [], []
    for cell in cells:
        if "ci95" in cell:
            lo, hi = cell["ci95"]
        else:
            lo, hi = cell["low"], cell["high"]
        means.append(cell["mean"])
        lows.append(lo)
        highs.append(hi)
    as_float = lambda v: np.asarray([np.nan if x is None else x for x in v], dtype=float)  # noqa: E731
    return as_float(means), as_float(lows), as_float(highs)


def new_figure(nrows: int = 1, ncols: int = 1, *, width: float = 5.5, height: float = 4.0):
    """A figure of ``nrows x ncols`` panels, each ``width x height`` inches.

    Returns:
      ``(fig, axes)`` with ``axes`` a 2-D array ``[nrows, ncols]``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if nrows < 1 or ncols < 1:
        raise ValueError(f"nrows and ncols must be >= 1; got {nrows} and {ncols}.")
    fig = Figure(figsize=(width * ncols, height * nrows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def plot_cells(
    ax: Any,
    x: Sequence[float],
    cells: Sequence[Mapping[str, Any]],
    label: str | None = None,
    style: Mapping[str, Any] | None = None,
    *,
    kind: str = "band",
) -> None:
    """Draws results cells against ``x``: the mean and its 95% interval.

    Args:
      ax: a matplotlib ``Axes``.
      x: positions, one per cell.
      cells: `stats.metric_summary` or `stats.paired_difference_ci` cells.
      label: legend label.
      style: keyword arguments of the line (``color``, ``marker``, ``ls``, ...).
      kind: ``"band"`` (line + shaded interval) or ``"errorbar"`` (markers
        with error bars).
    """
    if len(x) != len(cells):
        raise ValueError(f"x and cells must have the same length; got {len(x)} and {len(cells)}.")
    style = dict(style or {})
    means, lo, hi = cell_bounds(cells)
    xs = np.asarray(x, dtype=float)
    if kind == "errorbar":
        style.setdefault("capsize", 3)
        ax.errorbar(xs, means, yerr=[means - lo, hi - means], label=label, **style)
    elif kind == "band":
        (line,) = ax.plot(xs, means, label=label, **style)
        ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
    else:
        raise ValueError(f"kind must be 'band' or 'errorbar'; got {kind!r}.")


def save(fig: Any, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Lays out and writes ``fig`` as ``path`` (folders created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    return path
