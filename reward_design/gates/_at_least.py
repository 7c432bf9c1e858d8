"""`AtLeast`: accept a rollout when at least k rubric items pass."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from reward_design._checks import check_pass_threshold, check_scalar, is_concrete
from reward_design._pytree import pytree_dataclass
from reward_design.gates._base import Gate, finish
from reward_design.gates._rubric import rubric_passes
from reward_design.rollouts import Rollouts

__all__ = ["AtLeast"]


@pytree_dataclass
class AtLeast(Gate):
    """Accepts a rollout when at least ``k`` of its K rubric items pass.

    ``accept = (sum_k pass_k) >= k``. ``AtLeast(K)`` is `AllOf`; ``AtLeast(1)``
    is "any item passes"; ``AtLeast(0)`` accepts every valid rollout.

    Args:
      k: the number of items that must pass (traced, so changing it does not
        recompile); a non-negative integer, at most K (checked when called
        outside ``jax.jit``).
      pass_threshold: for probabilistic rubrics, item k passes when
        ``rubric[..., k] >= pass_threshold`` (traced; in (0, 1]; default 0.5).

    Raises:
      ValueError: if ``k`` is negative, not an integer, NaN or not a scalar,
        if ``pass_threshold`` is out of range; when called, if
        ``rollouts.rubric`` is None or ``k > K``.
    """

    k: Any = 1
    pass_threshold: Any = 0.5

    def __post_init__(self):
        check_scalar(self, "k", "AtLeast")
        check_pass_threshold(self, "AtLeast")
        if is_concrete(self.k):
            k = float(np.asarray(self.k))
            if k < 0 or k != round(k):
                raise ValueError(f"AtLeast.k must be a non-negative integer; got {k}.")

    def __call__(self, rollouts: Rollouts) -> jax.Array:
        passes = rubric_passes(rollouts, self.pass_threshold, "AtLeast")
        num_items = passes.shape[-1]
        if is_concrete(self.k) and float(np.asarray(self.k)) > num_items:
            raise ValueError(
                f"AtLeast.k = {float(np.asarray(self.k)):g} exceeds the number of rubric "
                f"items K = {num_items}; no rollout could pass."
            )
        count = jnp.sum(passes, axis=-1).astype(jnp.float32)
        return finish(count >= jnp.asarray(self.k, jnp.float32), rollouts, "AtLeast")
