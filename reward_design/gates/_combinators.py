"""`Not`, `And`, `Or`: boolean combinations of gates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from reward_design._pytree import pytree_dataclass
from reward_design.gates._base import Gate
from reward_design.gates._function_gate import as_gate
from reward_design.gates._rubric import finish
from reward_design.rollouts import Rollouts

__all__ = ["Not", "And", "Or"]


def _gates_tuple(args: tuple, gates: Sequence[Any] | None, owner: str) -> tuple:
    if gates is not None and args:
        raise TypeError(f"{owner}: pass the gates positionally or as gates=[...], not both.")
    items = tuple(args if gates is None else gates)
    if len(items) == 1 and isinstance(items[0], (list, tuple)):
        items = tuple(items[0])
    if not items:
        raise ValueError(f"{owner} needs at least one gate; got none.")
    return tuple(as_gate(item, f"{owner} (each gate)") for item in items)


@pytree_dataclass
class Not(Gate):
    """Accepts the valid rollouts that ``gate`` rejects: ``accept = ~gate(r) & valid_mask``.

    Args:
      gate: the gate to negate (a pytree child: its hyperparameters stay traced).
    """

    gate: Any

    def __post_init__(self):
        gate = as_gate(self.gate, "Not.gate")
        if gate is not self.gate:
            object.__setattr__(self, "gate", gate)

    def __call__(self, rollouts: Rollouts) -> jax.Array:
        return finish(~jnp.asarray(self.gate(rollouts)), rollouts, "Not")


@pytree_dataclass
class And(Gate):
    """Accepts a rollout when every gate accepts it: ``accept = AND_i gate_i(r)``.

    Construct as ``And(g1, g2, ...)``, ``And([g1, g2])`` or ``g1 & g2``.

    Args:
      gates: the gates (pytree children).

    Raises:
      ValueError: if no gate is given. TypeError: if one is not callable.
    """

    gates: tuple = ()

    def __init__(self, *args: Any, gates: Sequence[Any] | None = None):
        object.__setattr__(self, "gates", _gates_tuple(args, gates, "And"))

    def __call__(self, rollouts: Rollouts) -> jax.Array:
        verdict = jnp.asarray(self.gates[0](rollouts))
        for gate in self.gates[1:]:
            verdict = verdict & jnp.asarray(gate(rollouts))
        return finish(verdict, rollouts, "And")


@pytree_dataclass
class Or(Gate):
    """Accepts a rollout when any gate accepts it: ``accept = OR_i gate_i(r)``.

    Construct as ``Or(g1, g2, ...)``, ``Or([g1, g2])`` or ``g1 | g2``.

    Args:
      gates: the gates (pytree children).

    Raises:
      ValueError: if no gate is given. TypeError: if one is not callable.
    """

    gates: tuple = ()

    def __init__(self, *args: Any, gates: Sequence[Any] | None = None):
        object.__setattr__(self, "gates", _gates_tuple(args, gates, "Or"))

    def __call__(self, rollouts: Rollouts) -> jax.Array:
        verdict = jnp.asarray(self.gates[0](rollouts))
        for gate in self.gates[1:]:
            verdict = verdict | jnp.asarray(gate(rollouts))
        return finish(verdict, rollouts, "Or")
