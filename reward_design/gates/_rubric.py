"""Reading a rubric as pass/fail.

A rubric is ``Rollouts.rubric``, shape ``[P, G, K]``: for each rollout, K
items, given either as booleans (item passed) or as a judge's probability
that the item passes, in [0, 1]. Gates are categorical, so probabilities are
thresholded: item k passes when ``rubric[..., k] >= pass_threshold`` (default
0.5; a probability of exactly the threshold passes). Boolean rubrics are used
as they are and ignore ``pass_threshold``; integer 0/1 rubrics are read as
probabilities, so 1 passes and 0 fails for every threshold in (0, 1].
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from reward_design._checks import scalar_hyper
from reward_design.rollouts import Rollouts, check_rollouts
from reward_design.terms import require_field

__all__ = ["rubric_passes"]


def rubric_passes(
    rollouts: Rollouts, pass_threshold: ArrayLike = 0.5, owner: str = "rubric_passes"
) -> jax.Array:
    """``[P, G, K]`` bool: which rubric items each rollout passes.

    ``pass_k = rubric[..., k]`` for boolean rubrics, else
    ``pass_k = rubric[..., k] >= pass_threshold`` (a judge's P(pass) thresholded).

    Args:
      rollouts: a `Rollouts` with ``rubric`` of shape ``[P, G, K]``.
      pass_threshold: probability at or above which an item counts as passed
        (used only for non-boolean rubrics). May be traced.
      owner: name used in error messages.

    Returns:
      ``[P, G, K]`` boolean array.

    Raises:
      TypeError: ``rollouts`` is not a `Rollouts`. ValueError: if
        ``rollouts.rubric`` is None or not of rank 3, or ``pass_threshold``
        is not a scalar in (0, 1] (its range checked when concrete); the
        errors of ``reward_design.rollouts.check_rollouts``.
    """
    if not isinstance(owner, str):
        raise TypeError(f"rubric_passes: owner must be a string; got {owner!r}.")
    check_rollouts(rollouts, owner)
    pass_threshold = scalar_hyper(
        pass_threshold, "pass_threshold", owner, low=0.0, high=1.0, low_open=True
    )
    rubric = require_field(rollouts, "rubric", owner)
    if rubric.ndim != 3:
        raise ValueError(
            f"{owner} needs Rollouts.rubric of shape [P, G, K] (rank 3); got shape {rubric.shape}."
        )
    if rubric.dtype == jnp.bool_:
        return rubric
    return rubric.astype(jnp.float32) >= jnp.asarray(pass_threshold, dtype=jnp.float32)
