"""`compose`: named reward terms -> one objective returning `RewardOutput`.

What each argument accepts, and what an accepted input means: docs/concepts.md,
"Input checks: eager and under jit".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from reward_design._pytree import pytree_dataclass, static_field, wrap_callable
from reward_design.rollouts import Rollouts, check_rollouts, checked_call, invalid_members
from reward_design.terms import FunctionTerm

__all__ = ["RewardOutput", "Objective", "compose", "as_term"]


@pytree_dataclass
class RewardOutput:
    """What an objective returns for a batch of rollouts.

    Attributes:
      total: ``[P, G]`` float, the reward to train on (sum of components;
        0 where the rollout is masked out).
      components: ``{name: [P, G]}``, each term's reward, for logging (0 where
        the rollout is masked out: terms never see masked-out members' values,
        so NaN or garbage padding reaches neither the rewards nor gradients).
      accepted: ``[P, G]`` bool, the rollouts that take part in the group
        statistics. Without gates this is the rollouts' ``mask``; gated
        objectives (`rd.gates.Gated`) narrow it.
      stats: ``{name: scalar}``, batch statistics (e.g. gate keep-rates) for
        logging; empty for plain compositions (with ``count_invalid=True``:
        ``"input/invalid_rollouts"``, see `compose`).
    """

    total: jax.Array
    components: dict[str, jax.Array]
    accepted: jax.Array
    stats: dict[str, jax.Array] = dataclasses.field(default_factory=dict)


def as_term(term: Any, name: str = "term") -> Any:
    """Returns ``term`` as a pytree-compatible term.

    Pytree dataclass terms pass through; a plain callable (a function, a
    lambda, a ``functools.partial``) is wrapped in `FunctionTerm` so it is
    treated as static by ``jax.jit``.

    Raises:
      TypeError: naming the term when it is not callable.
    """
    return wrap_callable(
        term, f"term {name!r}", "callable as term(rollouts) -> [P, G]", wrap=FunctionTerm
    )


def _zero_masked_members(rollouts: Rollouts, mask: jax.Array) -> Rollouts:
    """``rollouts`` with every per-member field set to 0 (False) on masked-out members.

    Padding may hold anything (NaN, inf, garbage). Masking only the terms'
    outputs would keep such values out of the rewards but not out of the
    gradients (``0 * nan = nan`` in the backward pass), so the terms never
    see them.
    """
    if rollouts.mask is None:
        return rollouts
    updates = {}
    for name in ("correct", "confidence", "rubric", "token_rewards", "token_mask"):
        value = getattr(rollouts, name)
        if value is None:
            continue
        value = jnp.asarray(value)
        keep = mask.reshape(mask.shape + (1,) * (value.ndim - 2))
        updates[name] = jnp.where(keep, value, jnp.zeros_like(value))
    return rollouts.replace(**updates)


@pytree_dataclass
class Objective:
    """A weighted sum of named reward terms (made by `compose`).

    ``objective(rollouts)`` returns `RewardOutput`. The terms are pytree
    children, so their numeric hyperparameters are traced: ``jax.jit``
    compiles once for objectives that differ only in those values, and
    ``jax.vmap`` over them sweeps without recompiling.

    ``rollouts`` is checked (``reward_design.rollouts.check_rollouts``): its
    type, ranks, shapes and dtypes on every call; on an eager call also the
    values of its valid members (ValueError naming the field). Inside
    ``jax.jit`` values are not checked; with ``count_invalid=True`` (static)
    ``stats["input/invalid_rollouts"]`` (int32) counts the valid members
    holding a value outside its range (docs/concepts.md).
    """

    terms: dict[str, Any]
    count_invalid: bool = static_field(default=False)

    def __post_init__(self):
        if not isinstance(self.terms, Mapping) or not all(isinstance(k, str) for k in self.terms):
            raise TypeError(
                f"Objective.terms must be a dict {{name: term}} with string names; got "
                f"{self.terms!r}."
            )
        object.__setattr__(
            self, "terms", {name: as_term(term, name) for name, term in self.terms.items()}
        )
        if not isinstance(self.count_invalid, bool | np.bool_):
            raise TypeError(f"Objective.count_invalid must be a bool; got {self.count_invalid!r}.")

    def __call__(self, rollouts: Rollouts) -> RewardOutput:
        rollouts = check_rollouts(rollouts, "Objective")
        with checked_call():
            return self._evaluate(rollouts)

    def _evaluate(self, rollouts: Rollouts) -> RewardOutput:
        mask = rollouts.valid_mask
        p, g = mask.shape
        clean = _zero_masked_members(rollouts, mask)
        components: dict[str, jax.Array] = {}
        total = jnp.zeros((p, g), dtype=jnp.float32)
        for name, term in self.terms.items():
            value = jnp.asarray(term(clean))
            if value.shape != (p, g):
                raise ValueError(
                    f"term {name!r} returned shape {value.shape}; a term must return "
                    f"[P, G] = {[p, g]} rewards."
                )
            value = jnp.where(mask, value, jnp.zeros_like(value))
            components[name] = value
            total = total + value
        stats: dict[str, jax.Array] = {}
        if self.count_invalid:
            stats["input/invalid_rollouts"] = jnp.sum(invalid_members(rollouts), dtype=jnp.int32)
        return RewardOutput(total=total, components=components, accepted=mask, stats=stats)

    def replace_term(self, name: str, term: Any) -> Objective:
        """Returns a copy with term ``name`` replaced (or added)."""
        terms = dict(self.terms)
        terms[name] = as_term(term, name)
        return Objective(terms=terms, count_invalid=self.count_invalid)


def compose(
    terms: Mapping[str, Callable] | None = None,
    /,
    *,
    count_invalid: bool = False,
    **named_terms: Callable,
) -> Objective:
    """Builds an objective from named reward terms.

    Args:
      terms: optional mapping ``{name: term}`` (for names that are not
        Python identifiers, or the name ``count_invalid``); merged with the
        keyword arguments.
      count_invalid: static; if True, ``RewardOutput.stats`` carries
        ``"input/invalid_rollouts"``, the number of valid rollouts with a
        value outside its range (NaN/inf, or ``correct``/``confidence``/rubric
        outside [0, 1]). Eager calls raise on such values instead, so the
        count is for ``jax.jit``, where values are not checked
        (docs/concepts.md). It costs one more pass over the inputs.
      **named_terms: ``name=term`` where each term maps `Rollouts` to
        ``[P, G]`` rewards (higher is better).

    Returns:
      An `Objective`; ``objective(rollouts).total`` is the sum of the terms.

    Raises:
      ValueError: if no term is given or a name is repeated.
      TypeError: if a term is not callable, ``terms`` is not a mapping or a
        name is not a string.

    Example:
      >>> objective = compose(correct=Correctness(), brier=Brier(weight=1.0))
    """
    if terms is not None and not isinstance(terms, Mapping):
        raise TypeError(
            f"compose: terms must be a mapping {{name: term}}; got {type(terms).__name__}."
        )
    merged: dict[str, Any] = {}
    for source in (dict(terms or {}), named_terms):
        for name, term in source.items():
            if not isinstance(name, str):
                raise TypeError(f"compose: term names must be strings; got {name!r}.")
            if name in merged:
                raise ValueError(f"term name {name!r} is given twice.")
            merged[name] = as_term(term, name)
    if not merged:
        raise ValueError(
            "compose() needs at least one term, in terms or as name=term keywords, e.g. "
            "compose(correct=Correctness())."
        )
    return Objective(terms=merged, count_invalid=count_invalid)
