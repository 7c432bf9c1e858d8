"""`Essential`: a set of must-pass rubric items, plus an optional gate on the rest."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from reward_design._checks import check_pass_threshold
from reward_design._pytree import pytree_dataclass, static_field
from reward_design.gates._base import Gate, as_gate, finish
from reward_design.gates._rubric import rubric_passes
from reward_design.rollouts import Rollouts, checked_call

__all__ = ["Essential"]


@pytree_dataclass
class Essential(Gate):
    """Accepts a rollout when every essential item passes (and ``rest`` accepts the others).

    Rubric-writing guides sort items into categories (Essential, Important,
    Optional, Pitfall). ``Essential(indices, rest=...)`` makes the essential
    items hard requirements and hands the remaining items, in their original
    order, to another gate:

    ``accept = AND_{k in indices} pass_k  AND  rest(rollouts with rubric[..., others])``

    where ``others`` are the items not in ``indices``. For example
    ``Essential([0, 3], rest=AtLeast(2))`` requires items 0 and 3 and at
    least two of the others; ``rest=WeightedThreshold(w, t)`` takes ``w``
    of length ``K - len(indices)``. Without ``rest`` only the essential items
    count.

    Args:
      indices: the essential item indices (static: they fix which columns
        are read), distinct, non-negative.
      rest: optional gate evaluated on the other items (a pytree child: its
        hyperparameters stay traced). Its own ``pass_threshold`` applies
        to them.
      pass_threshold: for probabilistic rubrics, an essential item passes
        when its probability is ``>= pass_threshold`` (traced; in (0, 1]).

    Raises:
      ValueError: if ``indices`` is empty, repeats an index or holds a
        negative or non-integer value; when called, if an index is ``>= K``
        or ``rest`` is given but no item is left for it.
      TypeError: if ``rest`` is not callable.

    References:
      Gunjal et al., "Rubrics as Rewards", arXiv 2507.17746 (rubric
      categories Essential / Important / Optional / Pitfall).
    """

    indices: tuple = static_field()
    rest: Any = None
    pass_threshold: Any = 0.5

    def __post_init__(self):
        idx = self.indices
        if isinstance(idx, (int, np.integer)):
            idx = (idx,)
        arr = np.asarray(idx)
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(
                f"Essential.indices must be a non-empty list of item indices; got {self.indices!r}."
            )
        if arr.dtype.kind not in "iu" or np.any(arr < 0):
            raise ValueError(
                f"Essential.indices must be non-negative integers; got {self.indices!r}."
            )
        if len(set(arr.tolist())) != arr.size:
            raise ValueError(f"Essential.indices must be distinct; got {self.indices!r}.")
        object.__setattr__(self, "indices", tuple(int(i) for i in arr))
        if self.rest is not None:
            rest = as_gate(self.rest, "Essential.rest")
            if rest is not self.rest:
                object.__setattr__(self, "rest", rest)
        check_pass_threshold(self, "Essential")

    def __call__(self, rollouts: Rollouts) -> jax.Array:
        passes = rubric_passes(rollouts, self.pass_threshold, "Essential")
        num_items = passes.shape[-1]
        if max(self.indices) >= num_items:
            raise ValueError(
                f"Essential.indices {list(self.indices)} refer to items beyond the K = "
                f"{num_items} rubric items of Rollouts.rubric."
            )
        verdict = jnp.all(passes[..., jnp.asarray(self.indices)], axis=-1)
        if self.rest is not None:
            others = [k for k in range(num_items) if k not in self.indices]
            if not others:
                raise ValueError(
                    f"Essential.rest was given but every one of the K = {num_items} rubric "
                    "items is essential; nothing is left for it."
                )
            rubric = jnp.asarray(rollouts.rubric)
            rest_rollouts = rollouts.replace(rubric=rubric[..., jnp.asarray(others)])
            with checked_call():
                rest = finish(self.rest(rest_rollouts), rest_rollouts, "Essential.rest")
            verdict = verdict & rest
        return finish(verdict, rollouts, "Essential")
