"""Expected and maximum calibration error (binary, top-label, classwise)."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from reward_design._checks import check_binning, check_labels, check_unit, real_array
from reward_design.calibration._binning import _bins
from reward_design.calibration._prepare import prepare

__all__ = [
    "expected_calibration_error",
    "maximum_calibration_error",
    "top_label_calibration_error",
    "classwise_calibration_error",
]


@partial(jax.jit, static_argnames=("num_bins", "strategy"))
def _gaps(c, y, w, num_bins: int, strategy: str):
    _, _, counts, conf_sum, acc_sum = _bins(c, y, w, num_bins, strategy)
    gap = jnp.abs(acc_sum - conf_sum) / jnp.maximum(counts, 1e-30)
    return counts, gap


def _ece(c, y, w, num_bins: int, strategy: str) -> jax.Array:
    """``sum_k (n_k / N) |acc_k - conf_k|`` of prepared inputs (see `prepare`)."""
    counts, gap = _gaps(c, y, w, num_bins, strategy)
    return jnp.sum(counts * gap) / jnp.sum(counts)


def expected_calibration_error(
    confidence: ArrayLike,
    correct: ArrayLike,
    num_bins: int = 15,
    strategy: str = "uniform",
    mask: ArrayLike | None = None,
) -> jax.Array:
    """Binned expected calibration error.

    ``ECE = sum_k (n_k / N) |acc_k - conf_k|`` over K bins
    ``[e_k, e_{k+1})`` (last bin closed), where ``acc_k`` is the mean
    correctness and ``conf_k`` the mean confidence of the ``n_k`` elements
    in bin k. Range [0, 1], lower is better. Jittable (``num_bins`` and
    ``strategy`` static).

    Args:
      confidence: ``[...]`` stated confidences in [0, 1].
      correct: ``[...]`` correctness in [0, 1] (bool or 0/1), same shape.
      num_bins: K (default 15, as Guo et al.).
      strategy: ``"uniform"`` (equal-width bins) or ``"quantile"``
        (equal-mass bins).
      mask: optional boolean mask of the elements to use, same shape.

    Returns:
      Scalar ECE.

    Raises:
      ValueError: shapes differ, values outside [0, 1] or NaN, bad
        ``num_bins``/``strategy``, or a mask selecting nothing.

    References:
      Naeini et al., "Obtaining Well Calibrated Probabilities Using Bayesian
      Binning", AAAI 2015.
      Guo et al., "On Calibration of Modern Neural Networks", arXiv 1706.04599.
    """
    check_binning(num_bins, strategy, "expected_calibration_error")
    c, y, w = prepare(confidence, correct, mask, "expected_calibration_error")
    return _ece(c, y, w, num_bins, strategy)


def maximum_calibration_error(
    confidence: ArrayLike,
    correct: ArrayLike,
    num_bins: int = 15,
    strategy: str = "uniform",
    mask: ArrayLike | None = None,
) -> jax.Array:
    """Maximum calibration error: ``max_k |acc_k - conf_k|`` over non-empty bins.

    Same bins and arguments as `expected_calibration_error`.

    References:
      Naeini et al., "Obtaining Well Calibrated Probabilities Using Bayesian
      Binning", AAAI 2015.
    """
    check_binning(num_bins, strategy, "maximum_calibration_error")
    c, y, w = prepare(confidence, correct, mask, "maximum_calibration_error")
    counts, gap = _gaps(c, y, w, num_bins, strategy)
    return jnp.max(jnp.where(counts > 0, gap, 0.0))


def _check_probs(probs: ArrayLike, labels: ArrayLike, fn: str) -> tuple[jax.Array, jax.Array]:
    p = real_array(probs, "probs", fn)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"{fn}: probs must have shape [N, C] with C >= 2; got shape {p.shape}.")
    check_unit(probs, "probs", fn)
    check_labels(
        labels,
        p.shape[1],
        shape=p.shape[:1],
        name=f"{fn}: labels",
        of="probs without the class axis",
    )
    return p, jnp.asarray(labels)


def top_label_calibration_error(
    probs: ArrayLike,
    labels: ArrayLike,
    num_bins: int = 15,
    strategy: str = "uniform",
    mask: ArrayLike | None = None,
) -> jax.Array:
    """Top-label ECE of multiclass probabilities.

    The binary ECE of the confidence ``max_k p_k`` against the event
    ``argmax_k p_k == label`` (the "confidence ECE" of Guo et al.).

    Args:
      probs: ``[N, C]`` predicted probabilities.
      labels: ``[N]`` integer true classes.
      num_bins, strategy: as in `expected_calibration_error`.
      mask: optional boolean ``[N]`` mask of the rows to use.

    Returns:
      Scalar ECE.

    References:
      Guo et al., "On Calibration of Modern Neural Networks", arXiv 1706.04599.
      Kumar et al., "Verified Uncertainty Calibration", arXiv 1909.10155.
    """
    p, y = _check_probs(probs, labels, "top_label_calibration_error")
    conf = jnp.max(p, axis=1)
    hit = (jnp.argmax(p, axis=1) == y).astype(conf.dtype)
    return expected_calibration_error(conf, hit, num_bins=num_bins, strategy=strategy, mask=mask)


def classwise_calibration_error(
    probs: ArrayLike,
    labels: ArrayLike,
    num_bins: int = 15,
    strategy: str = "uniform",
    mask: ArrayLike | None = None,
) -> jax.Array:
    """Classwise ECE: ``(1/C) sum_k ECE(p_k, 1[label = k])``.

    Every class probability is binned and compared with the frequency of
    that class, so miscalibration of the non-top classes counts too.

    Args:
      probs: ``[N, C]`` predicted probabilities.
      labels: ``[N]`` integer true classes.
      num_bins, strategy: as in `expected_calibration_error` (the quantile
        edges are computed per class).
      mask: optional boolean ``[N]`` mask of the rows to use.

    Returns:
      Scalar classwise ECE.

    References:
      Kull et al., "Beyond temperature scaling: Obtaining well-calibrated
      multiclass probabilities with Dirichlet calibration", arXiv 1910.12656.
    """
    check_binning(num_bins, strategy, "classwise_calibration_error")
    p, y = _check_probs(probs, labels, "classwise_calibration_error")
    dtype = jnp.promote_types(p.dtype, jnp.float32)
    p = p.astype(dtype)
    onehot = jax.nn.one_hot(y, p.shape[1], dtype=dtype)
    _, _, w = prepare(p[:, 0], onehot[:, 0], mask, "classwise_calibration_error")
    w = w.astype(dtype)

    def one(pk, yk):
        return _ece(pk, yk, w, num_bins, strategy)

    return jnp.mean(jax.vmap(one, in_axes=(1, 1))(p, onehot))
