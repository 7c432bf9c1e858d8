"""Bayes decisions under a cost matrix, and their evaluation.

Given class probabilities p (``[..., C]``) and a cost matrix ``cost[i, j]``
(truth i, decision j), the expected cost of decision j is

    R_j(p) = sum_i p_i cost[i, j],

and the Bayes decision is argmin_j R_j(p). With calibrated p this minimises
the expected cost among all rules that see only p. All functions here are
batched, jittable and free of Python loops over examples; none reduces over
the batch (take ``.mean()`` yourself).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from reward_design._checks import check_labels, check_probs
from reward_design.posthoc._cost import validate_cost_matrix, with_reject_option

__all__ = ["bayes_decision", "expected_cost", "bayes_risk", "realized_cost", "utility"]


def _decision_costs(cost: Any, reject_cost: Any) -> jax.Array:
    cost = validate_cost_matrix(cost)
    if reject_cost is None:
        return cost
    return with_reject_option(cost, reject_cost)


def expected_cost(probs: Any, cost: Any, *, reject_cost: Any = None) -> jax.Array:
    """Expected cost of every decision: ``R[..., j] = sum_i probs[..., i] cost[i, j]``.

    Args:
      probs: ``[..., C]`` class probabilities (rows in [0, 1], summing to 1).
      cost: ``[C, C]``, ``cost[i, j]`` = cost of deciding j when the truth is i.
      reject_cost: optional scalar or ``[C]``; adds a reject decision (index C).

    Returns:
      ``[..., D]`` expected costs, D = C, or C + 1 with a reject option.

    Raises:
      ValueError: bad cost matrix, or ``probs`` of the wrong size or not a
        probability vector (value checks only outside ``jax.jit``).
    """
    costs = _decision_costs(cost, reject_cost)
    probs = check_probs(probs, num_classes=costs.shape[0])
    p = jnp.asarray(probs, dtype=costs.dtype)
    # Full float32 precision: on GPUs XLA's default matmul precision (TF32) errs by
    # ~1e-3, enough to flip decisions near the threshold. C x C is tiny anyway.
    return jnp.matmul(p, costs, precision=jax.lax.Precision.HIGHEST)


def bayes_decision(probs: Any, cost: Any, *, reject_cost: Any = None) -> jax.Array:
    """The Bayes (minimum expected cost) decision: ``argmin_j sum_i p_i cost[i, j]``.

    Ties go to the lowest decision index. For a binary cost matrix this is
    the threshold rule of `binary_threshold` (up to the decision at p = p*
    exactly, where both decisions are optimal). With ``reject_cost`` the
    decision C means "abstain"; with a 0-1 cost and ``reject_cost = r`` this
    is Chow's rule: reject iff max_j p_j < 1 - r.

    Args:
      probs: ``[..., C]`` class probabilities.
      cost: ``[C, C]``, ``cost[i, j]`` = cost of deciding j when the truth is i.
      reject_cost: optional scalar or ``[C]`` cost of abstaining when the truth is i.

    Returns:
      ``[...]`` int32 decisions in [0, C) (or [0, C] with a reject option).

    Raises:
      ValueError: bad cost matrix or probabilities (see `expected_cost`).

    References:
      Elkan, "The Foundations of Cost-Sensitive Learning", IJCAI 2001.
      Chow, "On optimum recognition error and reject tradeoff", IEEE Trans.
      Information Theory 16(1), 1970.
    """
    risks = expected_cost(probs, cost, reject_cost=reject_cost)
    return jnp.argmin(risks, axis=-1).astype(jnp.int32)


def bayes_risk(probs: Any, cost: Any, *, reject_cost: Any = None) -> jax.Array:
    """Expected cost of the Bayes decision, ``min_j sum_i p_i cost[i, j]``, shape ``[...]``."""
    return jnp.min(expected_cost(probs, cost, reject_cost=reject_cost), axis=-1)


def realized_cost(decisions: Any, labels: Any, cost: Any, *, reject_cost: Any = None) -> jax.Array:
    """Cost actually incurred: ``cost[labels, decisions]``, elementwise.

    Args:
      decisions: ``[...]`` int decisions in [0, C) (or [0, C] with a reject option).
      labels: ``[...]`` int true classes in [0, C), same shape.
      cost: ``[C, C]`` cost matrix.
      reject_cost: optional scalar or ``[C]``; decision C is then "reject".

    Returns:
      ``[...]`` float costs (no reduction).

    Raises:
      ValueError / TypeError: shapes differ, indices are not integers or are
        out of range (range checks only outside ``jax.jit``), bad cost matrix.
    """
    costs = _decision_costs(cost, reject_cost)
    num_classes, num_decisions = costs.shape
    labels = check_labels(labels, num_classes, name="labels")
    decisions = check_labels(
        decisions, num_decisions, shape=tuple(jnp.shape(labels)), name="decisions", of="labels"
    )
    # booleans are the class indices 0 and 1 (not a boolean mask)
    y = jnp.asarray(labels).astype(jnp.int32)
    d = jnp.asarray(decisions).astype(jnp.int32)
    return costs[y, d]


def utility(decisions: Any, labels: Any, cost: Any, *, reject_cost: Any = None) -> jax.Array:
    """Realised utility, ``-cost[labels, decisions]``, elementwise.

    With ``cost = cost_matrix_from_gain(gain)`` this is ``gain[labels, decisions]``.
    Arguments and errors as in `realized_cost`.
    """
    return -realized_cost(decisions, labels, cost, reject_cost=reject_cost)
