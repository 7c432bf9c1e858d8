"""Temperature scaling: one scalar that rescales multiclass logits."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from reward_design._checks import check_labels, check_logits
from reward_design.posthoc._lbfgs import minimize_lbfgs, warn_unconverged

__all__ = ["TemperatureScaling"]


def softmax_nll(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean negative log-likelihood ``mean_n -log softmax(logits_n)_{y_n}``."""
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=-1))


def _nll(params: jax.Array, logits: jax.Array, labels: jax.Array) -> jax.Array:
    return softmax_nll(logits * jnp.exp(-params), labels)


def check_logits_labels(logits: Any, labels: Any, owner: str) -> tuple[jax.Array, jax.Array]:
    """Eager checks for ``fit(logits [N, C], labels [N])``; returns JAX arrays."""
    check_logits(logits, ndim=2)
    n, c = np.shape(logits)
    if n < 1 or c < 2:
        raise ValueError(
            f"{owner}.fit: logits must have shape [N, C] with N >= 1, C >= 2; got shape {(n, c)}."
        )
    check_labels(labels, c, shape=(n,), of="logits without the class axis")
    return jnp.asarray(logits, dtype=jnp.float32), jnp.asarray(labels, dtype=jnp.int32)


def check_fitted_logits(logits: Any, n_classes: int) -> jax.Array:
    """Checks for ``__call__(logits [..., C])`` with the C seen in fit; returns a JAX array."""
    logits = check_logits(logits)
    if jnp.shape(logits)[-1] != n_classes:
        raise ValueError(
            f"logits must have shape [..., {n_classes}] (C seen in fit); "
            f"got shape {tuple(jnp.shape(logits))}."
        )
    return jnp.asarray(logits)


class TemperatureScaling(BaseEstimator):
    """Temperature scaling: ``p = softmax(logits / T)``, T fitted by negative log-likelihood.

    T > 1 softens over-confident logits, T < 1 sharpens under-confident ones;
    the argmax (and so accuracy) never changes. T is fitted on held-out
    data as argmin_T mean_n -log softmax(z_n / T)_{y_n}, parametrised as
    log T, with optax's L-BFGS.

    Args:
      max_iter: L-BFGS iterations at most.
      tol: stop when the gradient norm (w.r.t. log T) is below this.

    Attributes:
      temperature_: fitted T (float).
      n_classes_: C seen in `fit`.
      n_iter_: L-BFGS iterations used.
      nll_: held-out mean NLL at the fitted T.

    Example:
      >>> cal = TemperatureScaling().fit(val_logits, val_labels)   # doctest: +SKIP
      >>> probs = cal(test_logits)                                 # doctest: +SKIP

    References:
      Guo, Pleiss, Sun, Weinberger, "On Calibration of Modern Neural
      Networks", ICML 2017, arXiv 1706.04599.
    """

    _input_kind = "logits"

    def __init__(self, max_iter: int = 200, tol: float = 1e-6):
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, logits: Any, labels: Any) -> TemperatureScaling:
        """Fits T on ``logits: [N, C]`` and int ``labels: [N]``; returns self."""
        z, y = check_logits_labels(logits, labels, "TemperatureScaling")
        res = minimize_lbfgs(
            _nll, jnp.zeros((), jnp.float32), z, y, max_iter=self.max_iter, tol=self.tol
        )
        warn_unconverged(
            res, "TemperatureScaling", self.max_iter, self.tol, "; separable data drive T to 0"
        )
        self.temperature_ = float(jnp.exp(res.params))
        self.n_classes_ = int(z.shape[1])
        self.n_iter_ = int(res.num_iter)
        self.nll_ = float(res.value)
        return self

    def __call__(self, logits: Any) -> jax.Array:
        """Calibrated probabilities ``softmax(logits / T)``, ``[..., C]`` (jittable)."""
        check_is_fitted(self, "temperature_")
        z = check_fitted_logits(logits, self.n_classes_)
        return jax.nn.softmax(z / self.temperature_, axis=-1)
