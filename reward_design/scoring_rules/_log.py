"""The logarithmic (ignorance) score, multiclass and binary."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from reward_design.scoring_rules._forecast import binary, multiclass, outcome_prob

__all__ = ["log", "log_binary"]


def log(probs: ArrayLike, outcome: ArrayLike) -> jax.Array:
    """Logarithmic score (a loss): ``-log p_y``.

    Negatively oriented, one value per instance. Unbounded: range [0, +inf];
    a forecast that gave the outcome probability 0 scores +inf (nothing is
    clipped). Strictly proper: the expected loss under q is
    ``H(q) + KL(q || p)``.

    Args:
      probs: ``[..., C]`` forecast probabilities.
      outcome: ``[...]`` integer class index of what happened.

    Returns:
      ``[...]`` losses.

    References:
      Good, "Rational Decisions", JRSS B 14(1), 1952.
      Gneiting & Raftery, "Strictly Proper Scoring Rules, Prediction, and
      Estimation", JASA 102(477), 2007.
    """
    p, onehot = multiclass(probs, outcome, "log")
    return -jnp.log(outcome_prob(p, onehot))


def log_binary(p: ArrayLike, y: ArrayLike) -> jax.Array:
    """Binary logarithmic score (a loss): ``-y log p - (1 - y) log(1 - p)``.

    Negatively oriented, unbounded (range [0, +inf]; +inf when the outcome
    had probability 0), strictly proper. The term whose coefficient is 0 is
    dropped exactly (``0 * log 0 = 0``), so ``log_binary(1.0, 1) == 0``.
    RLCR notes that correctness minus an unbounded rule such as this one is
    not accuracy-preserving: a wrong answer stated with confidence near 1
    costs without bound.

    Args:
      p: ``[...]`` probability of the outcome 1.
      y: ``[...]`` outcomes in {0, 1}, broadcastable with p.

    Returns:
      ``[...]`` losses.

    References:
      Good, "Rational Decisions", JRSS B 14(1), 1952.
      Damani et al., "Beyond Binary Rewards: Training LMs to Reason About
      Their Uncertainty" (RLCR), arXiv 2507.16806.
    """
    p, y = binary(p, y, "log_binary")
    return -(_xlogy_safe(y, p) + _xlogy_safe(1.0 - y, 1.0 - p))


def _xlogy_safe(x: jax.Array, z: jax.Array) -> jax.Array:
    """``x log z`` with ``0 log 0 = 0`` in value *and* gradient.

    ``jax.scipy.special.xlogy`` has the right value but its JVP computes
    ``dx log z + dz x / z``, which is ``0 * -inf`` and ``0 / 0`` = NaN at
    ``x = z = 0``: ``log_binary(1.0, 1)`` would be 0 with a NaN gradient.
    The double ``where`` keeps the unused branch's log out of the gradient.
    """
    used = x != 0
    safe_z = jnp.where(used, z, jnp.ones_like(z))
    return jnp.where(used, x * jnp.log(safe_z), jnp.zeros_like(x))
