"""Eager checks for numeric hyperparameters stored as pytree leaves.

Used by every frozen-dataclass component (terms, gates, ...) in its
``__post_init__``. ``__post_init__`` also runs when JAX rebuilds a pytree
with tracers or sentinel objects as leaves, so only concrete numbers are
checked and converted.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

__all__ = ["as_float_leaf", "set_float_leaf"]


def as_float_leaf(value: Any, name: str, owner: str) -> Any:
    """Eager check of a numeric hyperparameter when its value is known.

    Python and numpy numbers become float32 numpy arrays, so that ``2`` and
    ``2.0`` give the same leaf type and never trigger a recompile. Tracers
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
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{owner}.{name} must be a real number; got {value!r}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{owner}.{name} must be finite; got {value!r}.")
    if isinstance(value, jax.Array):
        return value
    return arr.astype(np.float32)


def set_float_leaf(obj: Any, name: str, owner: str) -> None:
    value = getattr(obj, name)
    checked = as_float_leaf(value, name, owner)
    if checked is not value:
        object.__setattr__(obj, name, checked)
