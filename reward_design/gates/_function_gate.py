"""`FunctionGate` / `gate_from_fn`: any function of `Rollouts` as a gate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
from flax import struct

from reward_design._pytree import pytree_dataclass
from reward_design.gates._base import Gate
from reward_design.gates._rubric import finish
from reward_design.rollouts import Rollouts

__all__ = ["FunctionGate", "gate_from_fn"]


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

    fn: Callable[..., jax.Array] = struct.field(pytree_node=False)
    params: Any = None

    def __post_init__(self):
        if not callable(self.fn):
            raise TypeError(f"FunctionGate.fn must be callable; got {self.fn!r}.")

    def __call__(self, rollouts: Rollouts) -> jax.Array:
        name = f"FunctionGate({getattr(self.fn, '__name__', type(self.fn).__name__)})"
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
    """Checks ``gate`` is callable; wraps a plain function in `FunctionGate`.

    Gate dataclasses pass through; a plain function (a pytree leaf, which
    ``jax.jit`` could not trace) becomes a static `FunctionGate`.
    """
    if not callable(gate):
        raise TypeError(f"{owner} must be a gate, gate(rollouts) -> [P, G] bool; got {gate!r}.")
    leaves = jax.tree_util.tree_leaves(gate)
    if len(leaves) == 1 and leaves[0] is gate:
        return FunctionGate(fn=gate)
    return gate
