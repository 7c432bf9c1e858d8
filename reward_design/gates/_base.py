"""`Gate`, its boolean algebra (`Not`, `And`, `Or`) and `FunctionGate`.

A gate is a frozen pytree dataclass called as ``gate(rollouts) -> [P, G]``
bool, the rollouts it accepts. Every gate returns ``verdict & rollouts.valid_mask``
(`finish`): a masked-out (padding) rollout is never accepted, so gates compose
without re-checking masks. Gates combine with ``&``, ``|`` and ``~``.

The base class and the combinators its operators build live in this one
module, so that no gate module imports another one back.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from reward_design._pytree import pytree_dataclass, static_field, wrap_callable
from reward_design.rollouts import Rollouts, check_rollouts, checked_call

__all__ = ["And", "FunctionGate", "Gate", "Not", "Or", "as_gate", "finish", "gate_from_fn"]


def finish(verdict: jax.Array, rollouts: Rollouts, owner: str) -> jax.Array:
    """``verdict & valid_mask``: a gate never accepts a masked-out rollout.

    Raises:
      ValueError: a verdict that is not ``[P, G]``. TypeError: a non-boolean one.
    """
    try:
        verdict = jnp.asarray(verdict)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{owner} must give a [P, G] boolean verdict; got {type(verdict).__name__}."
        ) from err
    mask = rollouts.valid_mask
    if verdict.shape != mask.shape:
        raise ValueError(
            f"{owner} must give a [P, G] = {list(mask.shape)} verdict; got shape {verdict.shape}."
        )
    if verdict.dtype != jnp.bool_:
        raise TypeError(f"{owner} must give a boolean verdict; got dtype {verdict.dtype}.")
    return verdict & mask


class Gate:
    """Base class of gates: gives ``&`` (`And`), ``|`` (`Or`) and ``~`` (`Not`).

    Subclasses are pytree dataclasses implementing
    ``__call__(rollouts) -> [P, G] bool``.
    """

    def __and__(self, other: Any) -> And:
        return And(self, other)

    def __or__(self, other: Any) -> Or:
        return Or(self, other)

    def __invert__(self) -> Not:
        return Not(self)


@pytree_dataclass
class FunctionGate(Gate):
    """A gate from a user function: ``accept = fn(rollouts) & valid_mask``.

    ``fn`` is static (part of the compiled program's identity, so a new
    function compiles anew). Numbers you want to change without recompiling
    go in ``params``, a pytree of traced leaves passed as ``fn(rollouts, params)``.

    Args:
      fn: ``fn(rollouts) -> [P, G] bool`` or, with ``params``,
        ``fn(rollouts, params) -> [P, G] bool``. Must be jittable if the gate
        is used under ``jax.jit``.
      params: optional pytree of hyperparameters (traced).

    Raises:
      TypeError: if ``fn`` is not callable; when called, if it returns a
        non-boolean array. ValueError: if it returns a shape other than
        ``[P, G]``.

    Example:
      >>> short = FunctionGate(lambda r, p: r.correct > p, params=0.5)
    """

    fn: Callable[..., jax.Array] = static_field()
    params: Any = None

    def __post_init__(self):
        if not callable(self.fn):
            raise TypeError(f"FunctionGate.fn must be callable; got {self.fn!r}.")

    def __call__(self, rollouts: Rollouts) -> jax.Array:
        name = f"FunctionGate({getattr(self.fn, '__name__', type(self.fn).__name__)})"
        check_rollouts(rollouts, name)
        verdict = self.fn(rollouts) if self.params is None else self.fn(rollouts, self.params)
        return finish(verdict, rollouts, name)


def gate_from_fn(fn: Callable[..., jax.Array], params: Any = None) -> FunctionGate:
    """Returns ``FunctionGate(fn, params)``: a gate from any function of `Rollouts`.

    Args:
      fn: ``fn(rollouts) -> [P, G] bool`` (or ``fn(rollouts, params)``).
      params: optional pytree of traced hyperparameters passed to ``fn``.

    Returns:
      A `FunctionGate`.
    """
    return FunctionGate(fn=fn, params=params)


def as_gate(gate: Any, owner: str) -> Any:
    """``gate`` as a pytree field: gate dataclasses pass, a plain function becomes a `FunctionGate`.

    Raises:
      TypeError: naming ``owner`` when ``gate`` is not callable.
    """
    return wrap_callable(gate, owner, "a gate, gate(rollouts) -> [P, G] bool", wrap=FunctionGate)


def _gates_tuple(args: tuple, gates: Sequence[Any] | None, owner: str) -> tuple:
    if gates is not None and args:
        raise TypeError(f"{owner}: pass the gates positionally or as gates=[...], not both.")
    items = tuple(args if gates is None else gates)
    if len(items) == 1 and isinstance(items[0], list | tuple):
        items = tuple(items[0])
    if not items:
        raise ValueError(f"{owner} needs at least one gate (gates); got none.")
    return tuple(as_gate(item, f"{owner}.gates (each gate)") for item in items)


def _verdict_of(gate: Any, rollouts: Rollouts, owner: str) -> jax.Array:
    """One inner gate's verdict, checked: ``[P, G]`` bool (before it is combined)."""
    return finish(gate(rollouts), rollouts, f"{owner} (each gate)")


def _fold(gates: tuple, rollouts: Rollouts, op: Callable, owner: str) -> jax.Array:
    """The gates' verdicts combined left to right by ``op`` (``&`` or ``|``), then `finish`."""
    check_rollouts(rollouts, owner)
    with checked_call():
        verdict = _verdict_of(gates[0], rollouts, owner)
        for gate in gates[1:]:
            verdict = op(verdict, _verdict_of(gate, rollouts, owner))
    return finish(verdict, rollouts, owner)


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
        check_rollouts(rollouts, "Not")
        with checked_call():
            verdict = finish(self.gate(rollouts), rollouts, "Not (its gate)")
        return finish(~verdict, rollouts, "Not")


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
        return _fold(self.gates, rollouts, operator.and_, "And")


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
        return _fold(self.gates, rollouts, operator.or_, "Or")
