"""Utility-weighted cross-entropy: the "bake the utility into the loss" baseline."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from reward_design._checks import check_labels, check_logits, is_concrete
from reward_design.posthoc._cost import validate_cost_matrix

__all__ = [
    "utility_weights",
    "utility_weighted_cross_entropy",
    "utility_weighted_cross_entropy_per_example",
]


def _weights(cost: jax.Array) -> jax.Array:
    num = cost.shape[0]
    off = (jnp.sum(cost, axis=1) - jnp.diag(cost)) / (num - 1)
    return off - jnp.diag(cost)


@jax.jit
def _per_example(logits: jax.Array, labels: jax.Array, cost: jax.Array) -> jax.Array:
    logp = jax.nn.log_softmax(logits, axis=-1)
    ce = -jnp.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]
    return _weights(cost).astype(ce.dtype)[labels] * ce


@jax.jit
def _normalised(logits: jax.Array, labels: jax.Array, cost: jax.Array) -> jax.Array:
    weighted = _per_example(logits, labels, cost)
    total = jnp.sum(_weights(cost).astype(weighted.dtype)[labels])
    safe = jnp.where(total > 0, total, 1.0)
    return jnp.where(total > 0, jnp.sum(weighted) / safe, 0.0)


def utility_weights(cost: Any) -> jax.Array:
    """Per-class weights ``w_i = mean_{j != i} cost[i, j] - cost[i, i]``.

    w_i is the average regret of misclassifying an example of true class i.
    It is unchanged by adding a constant to a row of ``cost``.

    Args:
      cost: ``[C, C]`` cost matrix.

    Returns:
      ``[C]`` weights.

    Raises:
      ValueError: bad cost matrix, or (outside ``jax.jit``) a negative weight
        or all weights zero.
    """
    cost = validate_cost_matrix(cost)
    if is_concrete(cost):
        c = np.asarray(cost, dtype=np.float64)
        arr = (c.sum(axis=1) - np.diag(c)) / (c.shape[0] - 1) - np.diag(c)
        if np.any(arr < 0) or not np.any(arr > 0):
            raise ValueError(
                "utility weights w_i = mean_{j != i} cost[i, j] - cost[i, i] must be >= 0 and "
                f"not all 0; got w = {arr.tolist()} from cost = {np.asarray(cost).tolist()}."
            )
    return _weights(cost)


def _check(logits: Any, labels: Any, cost: Any) -> tuple[jax.Array, jax.Array, jax.Array]:
    logits = check_logits(logits)
    num = jnp.shape(logits)[-1]
    cost = validate_cost_matrix(cost, num_classes=num)
    labels = check_labels(
        labels, num, shape=tuple(jnp.shape(logits)[:-1]), of="logits without the class axis"
    )
    utility_weights(cost)  # eager sign check of the weights
    return jnp.asarray(logits), jnp.asarray(labels), cost


def utility_weighted_cross_entropy_per_example(logits: Any, labels: Any, cost: Any) -> jax.Array:
    """Per-example weighted softmax cross-entropy ``w_{y} * (-log softmax(logits)_y)``.

    Args:
      logits: ``[..., C]`` unnormalised log-probabilities.
      labels: ``[...]`` int true classes.
      cost: ``[C, C]`` cost matrix; weights from `utility_weights`.

    Returns:
      ``[...]`` weighted losses (no reduction, no normalisation).
    """
    return _per_example(*_check(logits, labels, cost))


def utility_weighted_cross_entropy(logits: Any, labels: Any, cost: Any) -> jax.Array:
    """Utility-weighted softmax cross-entropy, normalised by the total weight.

        L = sum_n w_{y_n} CE_n / sum_n w_{y_n},
        CE_n = -log softmax(logits_n)_{y_n},
        w_i = mean_{j != i} cost[i, j] - cost[i, i].

    This is the baseline that "Misaligned by Design" tests: the utility is
    baked into training by up-weighting classes whose mistakes are costly.
    With all w_i equal it is the ordinary mean cross-entropy. A batch whose
    examples all have weight 0 gives 0.

    Args:
      logits: ``[..., C]`` unnormalised log-probabilities.
      labels: ``[...]`` int true classes.
      cost: ``[C, C]`` cost matrix.

    Returns:
      Scalar loss.

    References:
      Autor, Caplin, Martin, Marx, "Misaligned by Design: Incentive Failures
      in Machine Learning", arXiv 2511.07699.
    """
    return _normalised(*_check(logits, labels, cost))
