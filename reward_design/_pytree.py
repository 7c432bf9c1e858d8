"""`pytree_dataclass`: frozen dataclasses registered as JAX pytrees.

Like ``flax.struct.dataclass`` (fields marked ``flax.struct.field(
pytree_node=False)`` are static, the others are children), with one
difference that matters for components that validate their
hyperparameters: JAX rebuilds the object **without calling ``__init__``**.
``__post_init__`` checks and conversions therefore run only when a user
constructs or ``.replace()``s a component, never when JAX rebuilds one with
tracers, ``None``, booleans (``jax.tree.map(jnp.isfinite, obj)``,
``optax.masked``) or integers (``vmap``'s ``in_axes`` trees) as leaves.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

import jax

__all__ = ["pytree_dataclass"]

T = TypeVar("T")


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
