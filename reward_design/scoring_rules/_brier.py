"""The Brier (quadratic) score, multiclass and binary."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from reward_design.scoring_rules._forecast import binary, multiclass

__all__ = ["brier", "brier_binary"]


def brier(probs: ArrayLike, outcome: ArrayLike) -> jax.Array:
    """Multiclass Brier score (a loss): ``sum_k (p_k - 1[y = k])^2``.

    Negatively oriented (lower is better), one value per instance, no
    reduction. Bounded: range [0, 2] (0 for a certain correct forecast, 2 for
    a certain wrong one). Strictly proper: the expected loss under q is
    ``||p - q||^2 + (1 - ||q||^2)``. With two classes it is twice
    `brier_binary`.

    Args:
      probs: ``[..., C]`` forecast probabilities.
      outcome: ``[...]`` integer class index of what happened.

    Returns:
      ``[...]`` losses.

    References:
      Brier, "Verification of forecasts expressed in terms of probability",
      Monthly Weather Review 78(1), 1950.
      Gneiting & Raftery, "Strictly Proper Scoring Rules, Prediction, and
      Estimation", JASA 102(477), 2007.
    """
    p, onehot = multiclass(probs, outcome, "brier")
    return jnp.sum(jnp.square(p - onehot), axis=-1)


def brier_binary(p: ArrayLike, y: ArrayLike) -> jax.Array:
    """Binary Brier score (a loss): ``(p - y)^2``, p the probability that y = 1.

    Negatively oriented, bounded, range [0, 1], strictly proper: the expected
    loss under success probability q is ``(p - q)^2 + q (1 - q)``. RLCR's
    reward is ``correct - brier_binary(confidence, correct)``, whose expected
    value ``q - (c - q)^2 - q (1 - q)`` is maximised at ``c = q`` with value
    ``q^2``.

    Args:
      p: ``[...]`` probability of the outcome 1 (the stated confidence).
      y: ``[...]`` outcomes in {0, 1} (bool, int or float), broadcastable with p.

    Returns:
      ``[...]`` losses.

    References:
      Brier, "Verification of forecasts expressed in terms of probability",
      Monthly Weather Review 78(1), 1950.
      Damani et al., "Beyond Binary Rewards: Training LMs to Reason About
      Their Uncertainty" (RLCR), arXiv 2507.16806.
    """
    p, y = binary(p, y, "brier_binary")
    return jnp.square(p - y)
