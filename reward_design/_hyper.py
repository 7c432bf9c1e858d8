"""Eager checks for numeric hyperparameters stored as pytree leaves.

Used by every frozen-dataclass component (terms, gates, ...) in its
``__post_init__``. ``__post_init__`` also runs when JAX rebuilds a pytree
with tracers or sentinel objects as leaves, so only concrete numbers are
checked and converted.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["as_float_leaf", "as_float_vector", "is_concrete", "set_float_leaf"]


def is_concrete(value: Any) -> bool:
    """True when the values of ``value`` can be read now (not a tracer)."""
    return not isinstance(value, jax.core.Tracer)


def as_float_leaf(value: Any, name: str, owner: str) -> Any:
    """Eager check of a numeric hyperparameter when its value is known.

    Python and numpy numbers become float32 numpy arrays, so that ``2`` and
    ``2.0`` give the same leaf type and never trigger a recompile; concrete
    JAX arrays become strong float32 JAX arrays (on their device). Tracers
    and other leaves (JAX rebuilds the pytree with them) pass unchanged.
    """
    if isinstance(value, jax.core.Tracer) or value is None:
        return value
    if isinstance(value, str | bytes):
        raise ValueError(f"{owner}.{name} must be a real number; got {value!r}.")
    if isinstance(value, bool) or not isinstance(
        value, (int, float, np.ndarray, np.generic, jax.Array)
    ):
        if isinstance(value, bool):
            raise ValueError(f"{owner}.{name} must be a real number; got {value!r}.")
        return value  # sentinel leaves during tree manipulation
    if isinstance(value, jax.Array) and not value.is_fully_addressable:
        # A multi-host global array cannot be read on one process; its values
        # were checked where it was built. Only normalise the dtype.
        if value.dtype != jnp.float32 or value.weak_type:
            return value.astype(jnp.float32)
        return value
    arr = np.asarray(value)
    # jnp.issubdtype also knows bfloat16 (numpy dtype kind "V").
    if arr.dtype == np.bool_ or not (
        jnp.issubdtype(arr.dtype, jnp.integer) or jnp.issubdtype(arr.dtype, jnp.floating)
    ):
        raise ValueError(f"{owner}.{name} must be a real number; got {value!r}.")
    arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{owner}.{name} must be finite; got {value!r}.")
    if isinstance(value, jax.Array):
        # Stay on device (the pytree may just have been device_put), but as
        # strong float32: an int, bfloat16 or weakly typed leaf would trace anew.
        if value.dtype != jnp.float32 or value.weak_type:
            return value.astype(jnp.float32)
        return value
    return arr


def set_float_leaf(obj: Any, name: str, owner: str) -> None:
    value = getattr(obj, name)
    checked = as_float_leaf(value, name, owner)
    if checked is not value:
        object.__setattr__(obj, name, checked)


def as_float_vector(value: Any, name: str, owner: str) -> Any:
    """Eager check of a ``[K]`` vector hyperparameter (e.g. rubric item weights).

    Lists, tuples and numpy arrays become float32 numpy arrays; concrete JAX
    arrays are checked and kept (on their device). Checks: real dtype
    (bfloat16 included), shape ``[K]`` with K >= 1, finite values. Tracers and
    ``None`` pass unchanged; callers add their own range rules.

    Raises:
      ValueError: naming ``owner.name``, for a non-real dtype, a wrong shape or
        non-finite values.
    """
    if isinstance(value, list | tuple):
        value = np.asarray(value, dtype=np.float32)
    if not (
        isinstance(value, np.ndarray)
        or (isinstance(value, jax.Array) and not isinstance(value, jax.core.Tracer))
    ):
        return value
    arr = np.asarray(value)
    if arr.dtype == np.bool_ or not (
        jnp.issubdtype(arr.dtype, jnp.integer) or jnp.issubdtype(arr.dtype, jnp.floating)
    ):
        raise ValueError(f"{owner}.{name} must be real numbers; got dtype {arr.dtype}.")
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{owner}.{name} must have shape [K] with K >= 1; got shape {arr.shape}.")
    arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{owner}.{name} must be finite; got {arr.tolist()}.")
    return value if isinstance(value, jax.Array) else arr
