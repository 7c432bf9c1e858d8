"""The spherical and pseudospherical scores."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from reward_design._checks import check_order
from reward_design.scoring_rules._forecast import as_float, binary, multiclass, outcome_prob

__all__ = ["spherical", "pseudospherical", "spherical_binary"]


def pseudospherical(probs: ArrayLike, outcome: ArrayLike, order: ArrayLike = 2.0) -> jax.Array:
    """Pseudospherical score (a loss): ``1 - (p_y / ||p||_a)^(a - 1)``, a = ``order``.

    Negatively oriented, bounded, range [0, 1] (the classical positively
    oriented score ``(p_y / ||p||_a)^(a-1)`` subtracted from 1, which does
    not change propriety). Strictly proper for every order a > 1; a = 2 is
    the spherical score.

    Args:
      probs: ``[..., C]`` forecast probabilities.
      outcome: ``[...]`` integer class index of what happened.
      order: a > 1 (traceable; checked eagerly when concrete).

    Returns:
      ``[...]`` losses.

    Raises:
      ValueError: ``order`` is not a finite number > 1.

    References:
      Good, "Comment on 'Measuring information and uncertainty' by R. J.
      Buehler", in Foundations of Statistical Inference, 1971.
      Gneiting & Raftery, "Strictly Proper Scoring Rules, Prediction, and
      Estimation", JASA 102(477), 2007, eq. (22).
    """
    check_order(order, "pseudospherical")
    p, onehot = multiclass(probs, outcome, "pseudospherical")
    a = as_float(order, "order").astype(p.dtype)
    # (p_y / ||p||_a)^(a-1) written as p_y^(a-1) ||p||_a^(1-a): at p_y = 0 the ratio form
    # multiplies the infinite derivative of x^(a-1) (a < 2) by 0 and gives NaN gradients.
    norm_pow = jnp.sum(p**a, axis=-1) ** ((1.0 - a) / a)
    return 1.0 - outcome_prob(p, onehot) ** (a - 1.0) * norm_pow


def spherical(probs: ArrayLike, outcome: ArrayLike) -> jax.Array:
    """Spherical score (a loss): ``1 - p_y / ||p||_2``.

    Negatively oriented, bounded, range [0, 1], strictly proper; the
    pseudospherical score of order 2.

    Args:
      probs: ``[..., C]`` forecast probabilities.
      outcome: ``[...]`` integer class index of what happened.

    Returns:
      ``[...]`` losses.

    References:
      Gneiting & Raftery, "Strictly Proper Scoring Rules, Prediction, and
      Estimation", JASA 102(477), 2007.
    """
    p, onehot = multiclass(probs, outcome, "spherical")
    return 1.0 - outcome_prob(p, onehot) / jnp.linalg.norm(p, axis=-1)


def spherical_binary(p: ArrayLike, y: ArrayLike) -> jax.Array:
    """Binary spherical score (a loss): ``1 - (y p + (1-y)(1-p)) / sqrt(p^2 + (1-p)^2)``.

    Negatively oriented, bounded, range [0, 1], strictly proper; equal to
    `spherical` on the two-class forecast ``[1 - p, p]``.

    Args:
      p: ``[...]`` probability of the outcome 1.
      y: ``[...]`` outcomes in {0, 1}, broadcastable with p.

    Returns:
      ``[...]`` losses.

    References:
      Gneiting & Raftery, "Strictly Proper Scoring Rules, Prediction, and
      Estimation", JASA 102(477), 2007.
    """
    p, y = binary(p, y, "spherical_binary")
    p_outcome = y * p + (1.0 - y) * (1.0 - p)
    return 1.0 - p_outcome / jnp.sqrt(jnp.square(p) + jnp.square(1.0 - p))
