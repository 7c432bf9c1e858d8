"""Binning of confidences: bin edges and per-bin statistics."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from reward_design._checks import check_binning
from reward_design._pytree import pytree_dataclass
from reward_design.calibration._prepare import prepare

__all__ = ["ReliabilityBins", "bin_edges", "reliability_bins"]


@pytree_dataclass
class ReliabilityBins:
    """Per-bin statistics of a binned reliability analysis.

    Attributes:
      edges: ``[K + 1]`` bin edges; bin k is ``[edges[k], edges[k+1])``, the
        last bin is closed on the right.
      counts: ``[K]`` number (total mask weight) of elements per bin.
      mean_confidence: ``[K]`` mean confidence per bin (NaN for empty bins).
      accuracy: ``[K]`` mean correctness per bin (NaN for empty bins).
    """

    edges: jax.Array
    counts: jax.Array
    mean_confidence: jax.Array
    accuracy: jax.Array


def _weighted_quantiles(x: jax.Array, w: jax.Array, levels: jax.Array) -> jax.Array:
    """Quantiles of the elements with ``w > 0``, numpy's default 'linear' method."""
    n = jnp.sum(w > 0)
    xs = jnp.sort(jnp.where(w > 0, x, jnp.inf))
    pos = levels * (n - 1)
    lo = jnp.floor(pos).astype(jnp.int32)
    hi = jnp.minimum(lo + 1, n - 1)
    frac = pos - lo
    return xs[lo] + frac * (xs[hi] - xs[lo]) * (hi > lo)


def _edges(c: jax.Array, w: jax.Array, num_bins: int, strategy: str) -> jax.Array:
    if strategy == "uniform":
        return jnp.linspace(0.0, 1.0, num_bins + 1, dtype=c.dtype)
    levels = jnp.linspace(0.0, 1.0, num_bins + 1, dtype=c.dtype)
    return _weighted_quantiles(c, w, levels)


def _bin_index(c: jax.Array, edges: jax.Array) -> jax.Array:
    # [e_k, e_{k+1}) for every bin, the last one closed: search the inner edges only.
    return jnp.searchsorted(edges[1:-1], c, side="right")


@partial(jax.jit, static_argnames=("num_bins", "strategy"))
def _bins(c, y, w, num_bins: int, strategy: str):
    edges = _edges(c, w, num_bins, strategy)
    idx = _bin_index(c, edges)
    counts = jax.ops.segment_sum(w, idx, num_segments=num_bins)
    conf_sum = jax.ops.segment_sum(w * c, idx, num_segments=num_bins)
    acc_sum = jax.ops.segment_sum(w * y, idx, num_segments=num_bins)
    return edges, idx, counts, conf_sum, acc_sum


def bin_edges(
    confidence: ArrayLike,
    num_bins: int = 15,
    strategy: str = "uniform",
    mask: ArrayLike | None = None,
) -> jax.Array:
    """``[num_bins + 1]`` bin edges.

    ``"uniform"``: ``linspace(0, 1, num_bins + 1)``. ``"quantile"``: the
    ``k / num_bins`` quantiles of the (masked) confidences with numpy's
    default linear interpolation, so each bin holds about the same number
    of elements (ties can leave bins empty), as scikit-learn's
    ``calibration_curve(strategy="quantile")``.

    Args:
      confidence: ``[...]`` confidences in [0, 1].
      num_bins: number of bins K (static).
      strategy: ``"uniform"`` or ``"quantile"`` (static).
      mask: optional boolean mask of the elements to use.
    """
    check_binning(num_bins, strategy, "bin_edges")
    c, _, w = prepare(confidence, jnp.zeros(jnp.shape(confidence)), mask, "bin_edges")
    return _edges(c, w, num_bins, strategy)


def reliability_bins(
    confidence: ArrayLike,
    correct: ArrayLike,
    num_bins: int = 15,
    strategy: str = "uniform",
    mask: ArrayLike | None = None,
) -> ReliabilityBins:
    """Counts, mean confidence and accuracy per confidence bin.

    Bins are ``[e_k, e_{k+1})`` with the last bin closed, so a confidence of
    exactly 1 falls in the last bin. (scikit-learn's ``calibration_curve``
    uses ``(e_k, e_{k+1}]`` instead; the two agree unless a confidence sits
    exactly on an inner edge.)

    Args:
      confidence: ``[...]`` stated confidences in [0, 1].
      correct: ``[...]`` correctness in [0, 1] (bool, 0/1, or a soft score).
      num_bins: number of bins K (static).
      strategy: ``"uniform"`` or ``"quantile"`` (static), see `bin_edges`.
      mask: optional boolean mask, same shape; masked-out elements are ignored.

    Returns:
      `ReliabilityBins`.
    """
    check_binning(num_bins, strategy, "reliability_bins")
    c, y, w = prepare(confidence, correct, mask, "reliability_bins")
    edges, _, counts, conf_sum, acc_sum = _bins(c, y, w, num_bins, strategy)
    safe = jnp.maximum(counts, 1e-30)
    return ReliabilityBins(
        edges=edges,
        counts=counts,
        mean_confidence=jnp.where(counts > 0, conf_sum / safe, jnp.nan),
        accuracy=jnp.where(counts > 0, acc_sum / safe, jnp.nan),
    )
