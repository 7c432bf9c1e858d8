"""Murphy's decomposition of the Brier score into reliability, resolution, uncertainty."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from reward_design._checks import check_binning
from reward_design._pytree import pytree_dataclass
from reward_design.calibration._binning import _bins
from reward_design.calibration._prepare import prepare

__all__ = ["BrierDecomposition", "brier_decomposition"]


@pytree_dataclass
class BrierDecomposition:
    """The terms of `brier_decomposition` (all scalars).

    Attributes:
      reliability: ``sum_k (n_k/N) (conf_k - acc_k)^2``, lower is better
        (the calibration term).
      resolution: ``sum_k (n_k/N) (acc_k - acc)^2``, higher is better.
      uncertainty: ``acc (1 - acc)``, the Brier score of always forecasting
        the base rate.
      brier: the mean Brier score ``mean (confidence - correct)^2`` itself.
    """

    reliability: jax.Array
    resolution: jax.Array
    uncertainty: jax.Array
    brier: jax.Array


def brier_decomposition(
    confidence: ArrayLike,
    correct: ArrayLike,
    num_bins: int = 15,
    strategy: str = "uniform",
    mask: ArrayLike | None = None,
) -> BrierDecomposition:
    """Murphy decomposition: ``Brier = reliability - resolution + uncertainty``.

    With K confidence bins (as `expected_calibration_error`), ``n_k``
    elements, mean confidence ``conf_k`` and mean correctness ``acc_k`` in
    bin k and overall accuracy ``acc``:

    * reliability ``REL = sum_k (n_k/N) (conf_k - acc_k)^2``
    * resolution  ``RES = sum_k (n_k/N) (acc_k - acc)^2``
    * uncertainty ``UNC = acc (1 - acc)``

    The identity ``brier = REL - RES + UNC`` is exact when the confidences
    within each bin are equal (e.g. confidences on a grid of at most K values,
    one per bin); otherwise the two sides differ by the within-bin variance
    and covariance terms of Stephenson et al. (2008), which vanish as bins
    shrink. ``brier`` is always the exact mean score.

    Args:
      confidence: ``[...]`` stated confidences in [0, 1].
      correct: ``[...]`` correctness in [0, 1], same shape.
      num_bins: K (static).
      strategy: ``"uniform"`` or ``"quantile"`` (static).
      mask: optional boolean mask of the elements to use.

    Returns:
      `BrierDecomposition`.

    References:
      Murphy, "A New Vector Partition of the Probability Score", J. Applied
      Meteorology 12(4), 1973.
      Stephenson, Coelho & Jolliffe, "Two Extra Components in the Brier
      Score Decomposition", Weather and Forecasting 23(4), 2008.
    """
    check_binning(num_bins, strategy, "brier_decomposition")
    c, y, w = prepare(confidence, correct, mask, "brier_decomposition")
    return _decompose(c, y, w, num_bins, strategy)


@partial(jax.jit, static_argnames=("num_bins", "strategy"))
def _decompose(c, y, w, num_bins: int, strategy: str) -> BrierDecomposition:
    _, _, counts, conf_sum, acc_sum = _bins(c, y, w, num_bins, strategy)
    n = jnp.sum(w)
    safe = jnp.maximum(counts, 1e-30)
    conf_k = conf_sum / safe
    acc_k = acc_sum / safe
    base = jnp.sum(w * y) / n
    return BrierDecomposition(
        reliability=jnp.sum(counts * jnp.square(conf_k - acc_k)) / n,
        resolution=jnp.sum(counts * jnp.square(acc_k - base)) / n,
        uncertainty=base * (1.0 - base),
        brier=jnp.sum(w * jnp.square(c - y)) / n,
    )
