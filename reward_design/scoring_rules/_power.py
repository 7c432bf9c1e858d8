"""The power score family."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from reward_design._checks import check_order
from reward_design.scoring_rules._forecast import as_float, multiclass, outcome_prob

__all__ = ["power"]


def power(probs: ArrayLike, outcome: ArrayLike, order: ArrayLike = 2.0) -> jax.Array:
    """Power score (a loss): ``1 + (a - 1) sum_k p_k^a - a p_y^(a - 1)``, a = ``order``.

    Negatively oriented, bounded, range [0, a] (0 for a certain correct
    forecast, a for a certain wrong one); the constant 1 makes order 2 equal
    to `brier`. Strictly proper for every order a > 1 (it is the Bregman
    score of the convex function ``sum_k p_k^a``).

    Args:
      probs: ``[..., C]`` forecast probabilities.
      outcome: ``[...]`` integer class index of what happened.
      order: a > 1 (traceable; checked eagerly when concrete).

    Returns:
      ``[...]`` losses.

    Raises:
      ValueError: ``order`` is not a finite number > 1.

    References:
      Selten, "Axiomatic characterization of the quadratic scoring rule",
      Experimental Economics 1, 1998.
      Gneiting & Raftery, "Strictly Proper Scoring Rules, Prediction, and
      Estimation", JASA 102(477), 2007, eq. (21).
      Merkle & Steyvers, "Choosing a Strictly Proper Scoring Rule", Decision
      Analysis 10(4), 2013.
    """
    check_order(order, "power")
    p, onehot = multiclass(probs, outcome, "power")
    a = as_float(order, "order").astype(p.dtype)
    p_y = outcome_prob(p, onehot)
    return 1.0 + (a - 1.0) * jnp.sum(p**a, axis=-1) - a * p_y ** (a - 1.0)
