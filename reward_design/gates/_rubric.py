"""Reading a rubric as pass/fail, and the checks every gate shares.

A rubric is ``Rollouts.rubric``, shape ``[P, G, K]``: for each rollout, K
items, given either as booleans (item passed) or as a judge's probability
that the item passes, in [0, 1]. Gates are categorical, so probabilities are
thresholded: item k passes when ``rubric[..., k] >= pass_threshold`` (default
0.5; a probability of exactly the threshold passes). Boolean rubrics are used
as they are and ignore ``pass_threshold``; integer 0/1 rubrics are read as
probabilities, so 1 passes and 0 fails for every threshold in (0, 1].
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from reward_design._hyper import set_float_leaf
from reward_design.rollouts import Rollouts
from reward_design.terms import require_field

__all__ = ["rubric_passes"]


def is_concrete(value: Any) -> bool:
    """True when ``value``'s numbers can be read now (not a tracer)."""
    if isinstance(value, jax.core.Tracer):
        return False
    return isinstance(value, (int, float, np.ndarray, np.generic, jax.Array))


def check_pass_threshold(obj: Any, owner: str) -> None:
    """Eager check of ``obj.pass_threshold``: a finite number in (0, 1]."""
    check_scalar(obj, "pass_threshold", owner)
    value = obj.pass_threshold
    if is_concrete(value):
        arr = np.asarray(value)
        if not 0.0 < float(arr) <= 1.0:
            raise ValueError(
                f"{owner}.pass_threshold must lie in (0, 1] (a rubric item passes when "
                f"its probability is >= pass_threshold); got {float(arr)}."
            )


def check_scalar(obj: Any, name: str, owner: str) -> None:
    """Eager check that a numeric hyperparameter is a finite scalar."""
    value = getattr(obj, name)
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{owner}.{name} must be a real number; got {value!r}.")
    if isinstance(value, (list, tuple)):
        object.__setattr__(obj, name, np.asarray(value))
    set_float_leaf(obj, name, owner)
    value = getattr(obj, name)
    if is_concrete(value) and np.shape(value) != ():
        raise ValueError(f"{owner}.{name} must be a scalar; got shape {np.shape(value)}.")


def rubric_passes(
    rollouts: Rollouts, pass_threshold: Any = 0.5, owner: str = "rubric_passes"
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
      ValueError: if ``rollouts.rubric`` is None or not of rank 3.
    """
    rubric = require_field(rollouts, "rubric", owner)
    if rubric.ndim != 3:
        raise ValueError(
            f"{owner} needs Rollouts.rubric of shape [P, G, K] (rank 3); got shape {rubric.shape}."
        )
    if rubric.dtype == jnp.bool_:
        return rubric
    return rubric.astype(jnp.float32) >= jnp.asarray(pass_threshold, dtype=jnp.float32)


def finish(verdict: jax.Array, rollouts: Rollouts, owner: str) -> jax.Array:
    """``verdict & valid_mask``: a gate never accepts a masked-out rollout."""
    verdict = jnp.asarray(verdict)
    mask = rollouts.valid_mask
    if verdict.shape != mask.shape:
        raise ValueError(
            f"{owner} must give a [P, G] = {list(mask.shape)} verdict; got shape {verdict.shape}."
        )
    if verdict.dtype != jnp.bool_:
        raise TypeError(f"{owner} must give a boolean verdict; got dtype {verdict.dtype}.")
    return verdict & mask
