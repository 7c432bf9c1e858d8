"""The ranked probability score for ordered classes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from reward_design.scoring_rules._forecast import multiclass

__all__ = ["ranked_probability"]


def ranked_probability(probs: ArrayLike, outcome: ArrayLike) -> jax.Array:
    """Ranked probability score (a loss): ``sum_{k<C-1} (F_k - 1[y <= k])^2``.

    For ordinal classes 0 < 1 < ... < C-1, with ``F_k = p_0 + ... + p_k``
    the forecast's cumulative distribution. Negatively oriented, bounded,
    range [0, C - 1] (not normalised by C - 1), strictly proper; it is the
    Brier score of the C - 1 threshold events ``y <= k``, so a forecast
    that misses by more classes scores worse. With two classes it equals
    `brier_binary` of ``p_1``.

    Args:
      probs: ``[..., C]`` forecast probabilities over ordered classes.
      outcome: ``[...]`` integer class index of what happened.

    Returns:
      ``[...]`` losses.

    References:
      Epstein, "A Scoring System for Probability Forecasts of Ranked
      Categories", J. Applied Meteorology 8(6), 1969.
      Murphy, "On the 'ranked probability score'", J. Applied Meteorology
      8(6), 1969.
    """
    p, onehot = multiclass(probs, outcome, "ranked_probability")
    acc = jnp.promote_types(p.dtype, jnp.float32)  # half precision: cumulate in float32
    cdf = jnp.cumsum(p.astype(acc), axis=-1)[..., :-1]
    observed = jnp.cumsum(onehot.astype(acc), axis=-1)[..., :-1]  # 1[y <= k]
    return jnp.sum(jnp.square(cdf - observed), axis=-1).astype(p.dtype)
