"""AUROC of confidence as a detector of correct answers."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from reward_design._checks import is_concrete
from reward_design.calibration._prepare import prepare

__all__ = ["auroc"]


@jax.jit
def _auroc(c: jax.Array, y: jax.Array, w: jax.Array) -> jax.Array:
    pos = (y > 0.5) & (w > 0)
    neg = (y <= 0.5) & (w > 0)
    # float counts: n_pos * n_neg overflows int32 once both exceed ~46k
    n_pos = jnp.sum(pos, dtype=c.dtype)
    n_neg = jnp.sum(neg, dtype=c.dtype)
    neg_sorted = jnp.sort(jnp.where(neg, c, jnp.inf))
    below = jnp.searchsorted(neg_sorted, c, side="left")  # negatives strictly below
    at_or_below = jnp.searchsorted(neg_sorted, c, side="right")
    credit = below + 0.5 * (at_or_below - below)
    total = jnp.sum(jnp.where(pos, credit, 0.0))
    return total / (n_pos * n_neg)


def auroc(
    confidence: ArrayLike,
    correct: ArrayLike,
    mask: ArrayLike | None = None,
) -> jax.Array:
    """Area under the ROC curve of ``confidence`` for detecting correct answers.

    ``AUROC = P(c_i > c_j) + 0.5 P(c_i = c_j)`` for a random correct element
    i and a random incorrect element j (the Mann-Whitney statistic, ties
    counted half), computed in O(N log N) by sorting. 0.5 means the
    confidence does not discriminate; 1 means every correct answer is more
    confident than every incorrect one. Calibration (ECE) and
    discrimination (AUROC) are different properties: a constant confidence
    equal to the accuracy has ECE 0 and AUROC 0.5. Jittable; under ``jax.jit``
    a sample with only one class gives NaN (eagerly it raises).

    Args:
      confidence: ``[...]`` confidences in [0, 1].
      correct: ``[...]`` correctness in {0, 1}, same shape.
      mask: optional boolean mask of the elements to use.

    Returns:
      Scalar AUROC.

    Raises:
      ValueError: bad shapes or values, or (eagerly) only one class present.

    References:
      Hanley & McNeil, "The meaning and use of the area under a receiver
      operating characteristic (ROC) curve", Radiology 143(1), 1982.
    """
    c, y, w = prepare(confidence, correct, mask, "auroc", binary_correct=True)
    if all(is_concrete(v) for v in (c, y, w)):
        sel = np.asarray(w) > 0
        labels = np.asarray(y)[sel]
        if labels.min() == labels.max():
            raise ValueError(
                "auroc: correct must contain both classes (some 0 and some 1) among the "
                f"selected elements; got only {int(labels[0])}s."
            )
    return _auroc(c, y, w)
