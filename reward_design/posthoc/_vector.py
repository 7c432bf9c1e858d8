"""Vector scaling: a per-class affine map of multiclass logits."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from reward_design.posthoc._lbfgs import minimize_lbfgs, warn_unconverged
from reward_design.posthoc._temperature import (
    check_fitted_logits,
    check_logits_labels,
    softmax_nll,
)

__all__ = ["VectorScaling"]


def _nll(params: dict, logits: jax.Array, labels: jax.Array) -> jax.Array:
    return softmax_nll(logits * params["w"] + params["b"], labels)


class VectorScaling(BaseEstimator):
    """Vector scaling: ``p = softmax(w * logits + b)`` with per-class ``w, b: [C]``.

    A generalisation of temperature scaling (w = 1/T, b = 0) that can also
    fix per-class biases; unlike temperature scaling it can change the
    argmax. Fitted by NLL with optax's L-BFGS from w = 1, b = 0. ``b`` is only
    identified up to a common shift (softmax ignores it); the fit returns
    the one closest to the start, and ``b_`` is reported centred (mean 0).

    Args:
      max_iter: L-BFGS iterations at most.
      tol: gradient-norm tolerance.

    Attributes:
      w_: ``[C]`` fitted scales (numpy).
      b_: ``[C]`` fitted biases, centred (numpy).
      n_classes_: C.
      n_iter_: L-BFGS iterations used.
      nll_: mean NLL at the fit.

    References:
      Guo, Pleiss, Sun, Weinberger, "On Calibration of Modern Neural
      Networks", ICML 2017, arXiv 1706.04599.
    """

    _input_kind = "logits"

    def __init__(self, max_iter: int = 500, tol: float = 1e-6):
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, logits: Any, labels: Any) -> VectorScaling:
        """Fits (w, b) on ``logits: [N, C]`` and int ``labels: [N]``; returns self."""
        z, y = check_logits_labels(logits, labels, "VectorScaling")
        c = z.shape[1]
        init = {"w": jnp.ones((c,), jnp.float32), "b": jnp.zeros((c,), jnp.float32)}
        res = minimize_lbfgs(_nll, init, z, y, max_iter=self.max_iter, tol=self.tol)
        warn_unconverged(res, "VectorScaling", self.max_iter, self.tol)
        b = np.asarray(res.params["b"], dtype=np.float64)
        self.w_ = np.asarray(res.params["w"], dtype=np.float64)
        self.b_ = b - b.mean()
        self.n_classes_ = int(c)
        self.n_iter_ = int(res.num_iter)
        self.nll_ = float(res.value)
        return self

    def __call__(self, logits: Any) -> jax.Array:
        """Calibrated probabilities ``softmax(w_ * logits + b_)``, ``[..., C]`` (jittable)."""
        check_is_fitted(self, "w_")
        z = check_fitted_logits(logits, self.n_classes_)
        w = jnp.asarray(self.w_, dtype=z.dtype if z.dtype.kind == "f" else jnp.float32)
        return jax.nn.softmax(z * w + jnp.asarray(self.b_, dtype=w.dtype), axis=-1)
