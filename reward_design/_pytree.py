"""`pytree_dataclass`: frozen dataclasses registered as JAX pytrees.

Like ``flax.struct.dataclass``: fields made with `static_field` are static,
the others are children (flax itself is not imported: ``import flax`` loads
``flax.linen`` and, with it, ``rich``). One difference matters for
components that validate their hyperparameters: JAX rebuilds the object
**without calling ``__init__``**. ``__post_init__`` checks and conversions
therefore run only when a user constructs or ``.replace()``s a component,
never when JAX rebuilds one with tracers, ``None``, booleans
(``jax.tree.map(jnp.isfinite, obj)``, ``optax.masked``) or integers
(``vmap``'s ``in_axes`` trees) as leaves.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

import jax

__all__ = [
    "StaticCallable",
    "is_plain_callable",
    "pytree_dataclass",
    "static_field",
    "wrap_callable",
]

T = TypeVar("T")


def static_field(**kwargs: Any) -> Any:
    """A dataclass field that is static pytree metadata (no leaf): part of the compiled
    program's identity, like ``flax.struct.field(pytree_node=False)``."""
    return dataclasses.field(metadata={"pytree_node": False}, **kwargs)


def pytree_dataclass(cls: type[T]) -> type[T]:
    """Makes ``cls`` a frozen dataclass and registers it as a pytree (keys = field names)."""
    cls = dataclasses.dataclass(frozen=True)(cls)
    fields = dataclasses.fields(cls)
    children = tuple(f.name for f in fields if f.metadata.get("pytree_node", True))
    static = tuple(f.name for f in fields if not f.metadata.get("pytree_node", True))
    keys = tuple(jax.tree_util.GetAttrKey(name) for name in children)

    def flatten_with_keys(obj: Any) -> tuple[list[tuple[Any, Any]], tuple[Any, ...]]:
        return (
            [(k, getattr(obj, n)) for k, n in zip(keys, children, strict=True)],
            tuple(getattr(obj, n) for n in static),
        )

    def flatten(obj: Any) -> tuple[list[Any], tuple[Any, ...]]:
        return [getattr(obj, n) for n in children], tuple(getattr(obj, n) for n in static)

    def unflatten(aux: tuple[Any, ...], values: Any) -> Any:
        obj = object.__new__(cls)
        for name, value in zip(children, values, strict=True):
            object.__setattr__(obj, name, value)
        for name, value in zip(static, aux, strict=True):
            object.__setattr__(obj, name, value)
        return obj

    jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten, flatten)

    def replace(self: Any, **updates: Any) -> Any:
        """A copy with ``updates`` applied (validated like a new construction)."""
        return dataclasses.replace(self, **updates)

    cls.replace = replace
    return cls


def is_plain_callable(obj: Any) -> bool:
    """True for a callable JAX sees as one opaque leaf (a function, lambda, ``partial``).

    Such an object cannot be a field of a traced pytree: ``jax.jit`` would try
    to turn it into an array. Pytree dataclasses with ``__call__`` (terms,
    gates, value functions) are not plain: their numeric fields are leaves.
    """
    if not callable(obj):
        return False
    leaves = jax.tree_util.tree_leaves(obj)
    return len(leaves) == 1 and leaves[0] is obj


@pytree_dataclass
class StaticCallable:
    """A plain callable held as a static pytree node (no leaves).

    The function is part of the compiled program's identity: a new function
    compiles anew, the same function does not. Numbers meant to change
    without recompiling belong in a dataclass field (a leaf) instead.
    """

    fn: Callable[..., Any] = static_field()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


def wrap_callable(
    obj: Any,
    name: str,
    expected: str,
    wrap: Callable[[Callable[..., Any]], Any] = StaticCallable,
) -> Any:
    """The one place a user's callable becomes a pytree field.

    Pytree dataclasses with ``__call__`` pass unchanged (their numeric fields
    stay traced); a plain callable is wrapped with ``wrap`` (`StaticCallable`
    by default, or a public wrapper such as ``FunctionTerm``).

    Args:
      obj: the user's object.
      name: the argument's name for the error message (e.g. ``"Gated.gate"``).
      expected: what a valid value is, completing "``name`` must be ..." (e.g.
        ``"a gate, gate(rollouts) -> [P, G] bool"``).
      wrap: builds the static wrapper from a plain callable.

    Raises:
      TypeError: ``"{name} must be {expected}; got {obj!r}."`` when ``obj`` is
        not callable.
    """
    if not callable(obj):
        raise TypeError(f"{name} must be {expected}; got {obj!r}.")
    return wrap(obj) if is_plain_callable(obj) else obj
