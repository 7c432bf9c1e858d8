"""`WeightedThreshold`: accept when the weighted count of passed items reaches a threshold."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from reward_design._checks import as_float_vector, check_pass_threshold, check_scalar
from reward_design._pytree import pytree_dataclass
from reward_design.gates._base import Gate, finish
from reward_design.gates._rubric import rubric_passes
from reward_design.rollouts import Rollouts

__all__ = ["WeightedThreshold"]

# Relative slack on the comparison, so that e.g. five items of weight 0.2
# reach a threshold of 1.0 despite float32 rounding of the sum.
_REL_SLACK = 1e-6


@pytree_dataclass
class WeightedThreshold(Gate):
    """Accepts a rollout when ``sum_k w_k pass_k >= threshold``.

    The comparison allows float32 rounding: a rollout is accepted when
    ``sum_k w_k pass_k >= threshold - 1e-6 * sum_k |w_k|``. Weights may be
    negative (a "pitfall" item that costs when it is present). This is the
    categorical twin of the weighted-fraction rubric score of Rubrics as
    Rewards (`rd.terms.RubricScore`): the same weighted sum, thresholded
    instead of used as the reward.

    Args:
      weights: ``[K]`` finite item weights (traced).
      threshold: the weighted count required (traced, finite).
      pass_threshold: for probabilistic rubrics, item k passes when
        ``rubric[..., k] >= pass_threshold`` (traced; in (0, 1]; default 0.5).

    Raises:
      ValueError: if ``weights`` is not a non-empty finite 1-D array, if
        ``threshold`` is NaN/inf, if ``pass_threshold`` is out of range; when
        called, if ``rollouts.rubric`` is None or ``len(weights) != K``.

    References:
      Gunjal et al., "Rubrics as Rewards", arXiv 2507.17746.
    """

    weights: Any
    threshold: Any

    pass_threshold: Any = 0.5

    def __post_init__(self):
        if self.weights is None:
            raise ValueError("WeightedThreshold.weights is required (shape [K]); got None.")
        w = as_float_vector(self.weights, "weights", "WeightedThreshold")
        object.__setattr__(self, "weights", w)
        check_scalar(self, "threshold", "WeightedThreshold")
        check_pass_threshold(self, "WeightedThreshold")

    def score(self, rollouts: Rollouts) -> jax.Array:
        """``[P, G]`` weighted count of passed items, ``sum_k w_k pass_k``."""
        passes = rubric_passes(rollouts, self.pass_threshold, "WeightedThreshold")
        num_items = passes.shape[-1]
        w = jnp.asarray(self.weights, dtype=jnp.float32)
        if w.shape != (num_items,):
            raise ValueError(
                f"WeightedThreshold.weights must have shape [K] = [{num_items}] to match "
                f"Rollouts.rubric; got shape {w.shape}."
            )
        # A sum of products, not `passes @ w`: a matmul may run in TF32 on GPUs and
        # round the weighted count near the threshold.
        return jnp.sum(passes * w, axis=-1)

    def __call__(self, rollouts: Rollouts) -> jax.Array:
        score = self.score(rollouts)
        w = jnp.asarray(self.weights, dtype=jnp.float32)
        slack = _REL_SLACK * jnp.sum(jnp.abs(w))
        verdict = score >= jnp.asarray(self.threshold, jnp.float32) - slack
        return finish(verdict, rollouts, "WeightedThreshold")
