"""`AllOf`: accept a rollout when every rubric item passes."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from reward_design._checks import check_pass_threshold
from reward_design._pytree import pytree_dataclass
from reward_design.gates._base import Gate, finish
from reward_design.gates._rubric import rubric_passes
from reward_design.rollouts import Rollouts

__all__ = ["AllOf"]


@pytree_dataclass
class AllOf(Gate):
    """Accepts a rollout when all K rubric items pass: ``accept = AND_k pass_k``.

    The strictest rubric gate: the rubric stays a categorical judgement
    (pass or fail) and never becomes partial credit the policy can collect
    from the easy items.

    Args:
      pass_threshold: for probabilistic rubrics, item k passes when
        ``rubric[..., k] >= pass_threshold`` (traced; in (0, 1]; default 0.5).
        Ignored for boolean rubrics.

    Returns (when called on `Rollouts`):
      ``[P, G]`` bool, False for masked-out rollouts.

    Raises:
      ValueError: if ``pass_threshold`` is not in (0, 1] or is NaN; when
        called, if ``rollouts.rubric`` is None.

    References:
      Xu et al., "Direct Reasoning Optimization: LLMs Can Reward And Refine
      Their Own Reasoning for Open-Ended Tasks" (DRO), arXiv 2506.13351.
      Gunjal et al., "Rubrics as Rewards", arXiv 2507.17746.
    """

    pass_threshold: Any = 0.5

    def __post_init__(self):
        check_pass_threshold(self, "AllOf")

    def __call__(self, rollouts: Rollouts) -> jax.Array:
        passes = rubric_passes(rollouts, self.pass_threshold, "AllOf")
        return finish(jnp.all(passes, axis=-1), rollouts, "AllOf")
