"""The Bayes threshold of a binary cost matrix."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from reward_design._checks import is_concrete
from reward_design.posthoc._cost import validate_cost_matrix

__all__ = ["binary_threshold"]


def binary_threshold(cost: Any) -> jax.Array:
    """Bayes threshold p* on P(y = 1) for a binary cost matrix.

    With ``cost = [[c_tn, c_fp], [c_fn, c_tp]]``, deciding 1 has expected cost
    p c_tp + (1 - p) c_fp and deciding 0 has p c_fn + (1 - p) c_tn; deciding 1
    is no worse iff (1 - p)(c_fp - c_tn) <= p (c_fn - c_tp), i.e. iff p >= p* with

        p* = (c_fp - c_tn) / (c_fp - c_tn + c_fn - c_tp).

    Decide 1 iff ``p >= p*``. p* < 0 means "always 1" and p* > 1 "never 1".
    Only the two regrets c_fp - c_tn and c_fn - c_tp matter: the symmetric
    0-1 cost gives p* = 1/2 and a false negative k times as costly as a false
    positive gives p* = 1 / (1 + k).

    Args:
      cost: ``[2, 2]`` binary cost matrix (truth rows, decision columns).

    Returns:
      Scalar p*, jittable and differentiable in ``cost``.

    Raises:
      ValueError: ``cost`` is not a finite ``[2, 2]`` matrix, or (outside
        ``jax.jit``) c_fp - c_tn + c_fn - c_tp <= 0, where no threshold rule on
        p is the Bayes decision (mistakes would be preferred to correct calls).

    References:
      Elkan, "The Foundations of Cost-Sensitive Learning", IJCAI 2001.
    """
    cost = validate_cost_matrix(cost, num_classes=2)
    regret_fp = cost[0, 1] - cost[0, 0]
    regret_fn = cost[1, 0] - cost[1, 1]
    denom = regret_fp + regret_fn
    if is_concrete(denom) and not float(denom) > 0.0:
        raise ValueError(
            "binary_threshold needs c_fp - c_tn + c_fn - c_tp > 0 (correct decisions cheaper "
            f"than mistakes on balance); got cost={jnp.asarray(cost).tolist()}, "
            f"for which it is {float(denom):.6g}."
        )
    return regret_fp / denom
