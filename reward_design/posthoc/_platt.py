"""Platt scaling: a logistic map from binary scores to probabilities."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from reward_design._checks import check_scores, host_array
from reward_design.posthoc._lbfgs import minimize_lbfgs, warn_unconverged

__all__ = ["PlattScaling", "check_binary_targets"]


def check_binary_targets(labels: Any, n: int, name: str = "labels") -> np.ndarray:
    """Checks ``[N]`` binary labels (bool, 0/1) and returns them as float64."""
    if isinstance(labels, str | bytes) or labels is None:
        raise TypeError(f"{name} must be numeric 0/1 labels; got {labels!r}.")
    arr = host_array(labels, name, "")
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) to match scores; got shape {arr.shape}.")
    if arr.dtype.kind not in "iufb":
        raise TypeError(f"{name} must be numeric 0/1 labels; got dtype {arr.dtype}.")
    arr = arr.astype(np.float64)
    if not np.all((arr == 0) | (arr == 1)):
        bad = arr[(arr != 0) & (arr != 1)][:5]
        raise ValueError(f"{name} must be binary (0 or 1); got values such as {bad.tolist()}.")
    return arr


def _loss(params: jax.Array, scores: jax.Array, targets: jax.Array) -> jax.Array:
    logits = params[0] * scores + params[1]
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, targets))


class PlattScaling(BaseEstimator):
    """Platt scaling: ``P(y = 1 | s) = sigmoid(a * s + b)`` for binary scores s.

    (a, b) minimise the binary cross-entropy on held-out data, fitted with
    optax's L-BFGS on standardised scores (then mapped back). With
    ``prior_correction=True`` (Platt's recipe, as scikit-learn's
    ``CalibratedClassifierCV(method="sigmoid")``) the 0/1 targets are replaced
    by ``1 / (N_0 + 2)`` and ``(N_1 + 1) / (N_1 + 2)``, which keeps the map from
    saturating on small or separable calibration sets.

    Args:
      prior_correction: use Platt's smoothed targets (default True).
      max_iter: L-BFGS iterations at most.
      tol: gradient-norm tolerance.

    Attributes:
      a_: fitted slope (float); a_ > 0 when higher scores mean class 1.
      b_: fitted intercept (float).
      n_iter_: L-BFGS iterations used.

    References:
      Platt, "Probabilistic Outputs for Support Vector Machines and
      Comparisons to Regularized Likelihood Methods", Advances in Large
      Margin Classifiers, 1999.
    """

    _input_kind = "binary_scores"

    def __init__(self, prior_correction: bool = True, max_iter: int = 200, tol: float = 1e-6):
        self.prior_correction = prior_correction
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, scores: Any, labels: Any) -> PlattScaling:
        """Fits (a, b) on ``scores: [N]`` and binary ``labels: [N]``; returns self."""
        s = check_scores(scores)
        y = check_binary_targets(labels, s.shape[0])
        n1 = float(y.sum())
        n0 = float(y.shape[0] - n1)
        if self.prior_correction:
            targets = np.where(y > 0, (n1 + 1.0) / (n1 + 2.0), 1.0 / (n0 + 2.0))
        else:
            targets = y
        # Standardising keeps L-BFGS well conditioned for scores of any scale.
        loc = float(s.mean())
        scale = float(s.std()) or 1.0
        z = (s - loc) / scale
        init = jnp.asarray([0.0, math.log((n1 + 1.0) / (n0 + 1.0))], dtype=jnp.float32)
        res = minimize_lbfgs(
            _loss,
            init,
            jnp.asarray(z, jnp.float32),
            jnp.asarray(targets, jnp.float32),
            max_iter=self.max_iter,
            tol=self.tol,
        )
        warn_unconverged(res, "PlattScaling", self.max_iter, self.tol)
        a_std, b_std = (float(v) for v in np.asarray(res.params, dtype=np.float64))
        self.a_ = a_std / scale
        self.b_ = b_std - a_std * loc / scale
        self.n_iter_ = int(res.num_iter)
        return self

    def __call__(self, scores: Any) -> jax.Array:
        """``sigmoid(a_ * scores + b_)``, same shape as ``scores`` (jittable)."""
        check_is_fitted(self, "a_")
        return jax.nn.sigmoid(self.a_ * jnp.asarray(scores, dtype=jnp.float32) + self.b_)
