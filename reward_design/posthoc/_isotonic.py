"""Isotonic calibration: a monotone, piecewise-linear map from scores to probabilities."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from reward_design._checks import check_scores, host_array, is_concrete
from reward_design.posthoc._platt import check_binary_targets

__all__ = ["IsotonicCalibration", "pool_adjacent_violators"]


def pool_adjacent_violators(y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted least-squares non-decreasing fit to ``y`` (pool-adjacent-violators).

    Scans left to right keeping a stack of blocks (weighted mean, total
    weight, length); a block whose mean is not above the previous block's is
    merged into it until the stack is increasing. O(N).

    Args:
      y: ``[N]`` targets, in the order the fit must be non-decreasing.
      weights: ``[N]`` positive weights.

    Returns:
      ``[N]`` fitted non-decreasing values.

    References:
      Ayer, Brunk, Ewing, Reid, Silverman, "An Empirical Distribution Function
      for Sampling with Incomplete Information", Ann. Math. Statist. 26(4), 1955.
    """
    fn = "pool_adjacent_violators"
    y = check_scores(host_array(y, "y", fn), f"{fn}: y")
    weights = check_scores(host_array(weights, "weights", fn), f"{fn}: weights")
    if weights.shape != y.shape or np.any(weights <= 0):
        raise ValueError(
            f"{fn}: weights must be positive, one per entry of y {y.shape}; got shape "
            f"{weights.shape}."
        )
    means: list[float] = []
    wsum: list[float] = []
    sizes: list[int] = []
    for value, weight in zip(y.tolist(), weights.tolist(), strict=True):
        means.append(value)
        wsum.append(weight)
        sizes.append(1)
        while len(means) > 1 and means[-2] >= means[-1]:
            w = wsum[-2] + wsum[-1]
            means[-2] = (means[-2] * wsum[-2] + means[-1] * wsum[-1]) / w
            wsum[-2] = w
            sizes[-2] += sizes[-1]
            del means[-1], wsum[-1], sizes[-1]
    return np.repeat(np.asarray(means, dtype=np.float64), sizes)


class IsotonicCalibration(BaseEstimator):
    """Isotonic calibration of binary scores: ``P(y = 1 | s) = f(s)``, f non-decreasing.

    Fit: sort by score, average the labels of tied scores (weighted; scores
    closer than the resolution of their dtype, 1e-15 for float64 and 1e-6 for
    float32, count as tied), run pool-adjacent-violators, clip to [0, 1].
    Predict: linear interpolation between the fitted points, constant
    (clipped) outside the fitted score range. This reproduces scikit-learn's
    ``IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1)`` exactly
    (see `__call__` for float precision). The map has no hyperparameters:
    the constructor takes no arguments besides the data given to ``fit``.

    Attributes:
      X_thresholds_: ``[K]`` increasing scores where f changes slope
        (numpy float64; same as scikit-learn's attribute).
      y_thresholds_: ``[K]`` f at those scores.
      X_min_, X_max_: range of the fitted scores.

    References:
      Zadrozny, Elkan, "Transforming Classifier Scores into Accurate
      Multiclass Probability Estimates", KDD 2002.
    """

    _input_kind = "binary_scores"

    def fit(self, scores: Any, labels: Any, sample_weight: Any = None) -> IsotonicCalibration:
        """Fits f on ``scores: [N]`` and binary ``labels: [N]``; returns self."""
        # scikit-learn keeps float32 scores in float32 and merges scores closer than that
        # dtype's resolution (1e-6), so near-ties of float32 model outputs are pooled.
        single = np.asarray(scores).dtype == np.float32
        x = check_scores(scores)
        y = check_binary_targets(labels, x.shape[0])
        if sample_weight is None:
            w = np.ones_like(x)
        else:
            w = np.asarray(sample_weight, dtype=np.float64)
            if w.shape != x.shape or not np.all(np.isfinite(w)) or np.any(w < 0):
                raise ValueError(
                    f"sample_weight must be finite, >= 0, with shape {x.shape}; "
                    f"got shape {w.shape}."
                )
            keep = w > 0
            if not np.any(keep):
                raise ValueError("sample_weight must have at least one positive entry.")
            x, y, w = x[keep], y[keep], w[keep]
        order = np.lexsort((y, x))
        x, y, w = x[order], y[order], w[order]
        # Merge scores closer than the input dtype's resolution, keeping the first.
        eps = np.finfo(np.float32 if single else np.float64).resolution
        starts = [0]
        current = x[0]
        for k in range(1, x.shape[0]):
            if x[k] - current >= eps:
                starts.append(k)
                current = x[k]
        starts_arr = np.asarray(starts)
        ux = x[starts_arr]
        uw = np.add.reduceat(w, starts_arr)
        uy = np.add.reduceat(w * y, starts_arr) / uw
        fitted = np.clip(pool_adjacent_violators(uy, uw), 0.0, 1.0)
        # Interior points inside a flat run do not change the interpolation.
        keep = np.ones(fitted.shape[0], dtype=bool)
        keep[1:-1] = (fitted[1:-1] != fitted[:-2]) | (fitted[1:-1] != fitted[2:])
        self.X_thresholds_ = ux[keep]
        self.y_thresholds_ = fitted[keep]
        self.X_min_ = float(ux[0])
        self.X_max_ = float(ux[-1])
        return self

    def __call__(self, scores: Any) -> jax.Array:
        """``f(scores)`` by linear interpolation, clipped outside the fitted range.

        Concrete scores are interpolated in float64 on the host, so that fitted
        points closer than float32 resolution stay distinct; under ``jax.jit``
        (traced scores) the same interpolation runs in ``jnp.interp`` at the
        default float precision.
        """
        check_is_fitted(self, "X_thresholds_")
        if is_concrete(scores):
            arr = np.asarray(scores, dtype=np.float64)
            return jnp.asarray(np.interp(arr, self.X_thresholds_, self.y_thresholds_))
        s = jnp.asarray(scores)
        xp = jnp.asarray(self.X_thresholds_, dtype=s.dtype)
        return jnp.interp(s, xp, jnp.asarray(self.y_thresholds_, dtype=s.dtype))
