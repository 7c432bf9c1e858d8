"""Boundary checks shared by the HALO losses.

Shapes and dtypes are static, so they are checked even when the losses run
under ``jax.jit`` (the arguments are tracers then). Values (finiteness,
ranges) are checked only when they are concrete: eagerly, never inside a
compiled function.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from reward_design._hyper import is_concrete

__all__ = [
    "is_concrete",
    "host_values",
    "float_vector",
    "same_length",
    "preference_pairs",
    "bool_labels",
    "scalar_hyper",
    "reference_point_array",
]


def host_values(value: Any, arr: jax.Array) -> np.ndarray | None:
    """The values of an input as a float64 numpy array, or None while tracing.

    ``value`` is the caller's input, ``arr`` its JAX conversion. Under
    ``jax.jit`` a numpy constant may be converted to a tracer, so the
    original input is read when it is a host value.
    """
    if isinstance(value, np.ndarray | np.generic | int | float):
        return np.asarray(value, dtype=np.float64)
    if is_concrete(value) and is_concrete(arr):
        return np.asarray(arr, dtype=np.float64)
    return None


def _dtype_kind(value: Any) -> str:
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        dtype = np.asarray(value).dtype
    return np.dtype(dtype).kind


def float_vector(value: Any, name: str, fn: str, ndim: int = 1) -> jax.Array:
    """``value`` as a floating JAX array of rank ``ndim``; raises otherwise.

    Concrete inputs are also checked to be finite.
    """
    if isinstance(value, str | bytes) or value is None:
        raise TypeError(f"{fn}: {name} must be an array of real numbers; got {value!r}.")
    if isinstance(value, list | tuple):
        value = np.asarray(value)
    kind = _dtype_kind(value)
    if kind not in "iuf" and not (kind == "V" and "bfloat16" in str(value.dtype)):
        raise TypeError(
            f"{fn}: {name} must hold real numbers; got dtype {getattr(value, 'dtype', kind)}."
        )
    arr = jnp.asarray(value)
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        arr = arr.astype(jnp.float32)
    if arr.ndim != ndim:
        expected = "[B]" if ndim == 1 else f"rank {ndim}"
        raise ValueError(
            f"{fn}: {name} must have shape {expected} (rank {ndim}); got shape {arr.shape}."
        )
    host = host_values(value, arr)
    if host is not None and not bool(np.all(np.isfinite(host))):
        raise ValueError(f"{fn}: {name} must be finite; got non-finite values (NaN or inf).")
    return arr


def same_length(fn: str, **arrays: jax.Array) -> None:
    """Raises unless every array has the same shape as the first."""
    names = list(arrays)
    first = arrays[names[0]]
    for other in names[1:]:
        if arrays[other].shape != first.shape:
            raise ValueError(
                f"{fn}: {other} must have the shape of {names[0]} {tuple(first.shape)}; "
                f"got shape {tuple(arrays[other].shape)}."
            )


def preference_pairs(
    fn: str,
    policy_chosen_logps: Any,
    policy_rejected_logps: Any,
    reference_chosen_logps: Any,
    reference_rejected_logps: Any,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """The four ``[B]`` log-prob vectors of a preference loss, checked and of one length."""
    pc = float_vector(policy_chosen_logps, "policy_chosen_logps", fn)
    pr = float_vector(policy_rejected_logps, "policy_rejected_logps", fn)
    rc = float_vector(reference_chosen_logps, "reference_chosen_logps", fn)
    rr = float_vector(reference_rejected_logps, "reference_rejected_logps", fn)
    same_length(
        fn,
        policy_chosen_logps=pc,
        policy_rejected_logps=pr,
        reference_chosen_logps=rc,
        reference_rejected_logps=rr,
    )
    return pc, pr, rc, rr


def bool_labels(
    value: Any, name: str, fn: str, shape: tuple[int, ...], meaning: str = "True = desirable"
) -> jax.Array:
    """Boolean labels of the given shape; integer or float 0/1 labels raise."""
    if isinstance(value, list | tuple):
        value = np.asarray(value)
    dtype = getattr(value, "dtype", None)
    if dtype is None or np.dtype(dtype) != np.bool_:
        raise TypeError(
            f"{fn}: {name} must be a boolean array ({meaning}); got dtype "
            f"{dtype if dtype is not None else type(value).__name__}. "
            "Convert 0/1 values with `.astype(bool)`."
        )
    arr = jnp.asarray(value)
    if arr.shape != tuple(shape):
        raise ValueError(
            f"{fn}: {name} must have shape {tuple(shape)} to match the log-probabilities; "
            f"got shape {arr.shape}."
        )
    return arr


def scalar_hyper(
    value: Any,
    name: str,
    fn: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> Any:
    """A scalar hyperparameter, range-checked when concrete.

    Returns Python numbers and JAX arrays unchanged, numpy values as numpy
    arrays (integers as float32), tracers unchanged.

    Tracers (under ``jax.jit`` / ``jax.vmap``) pass unchecked, so one compiled
    function serves every value of the hyperparameter.
    """
    if isinstance(value, bool) or isinstance(value, str | bytes) or value is None:
        raise TypeError(f"{fn}: {name} must be a real number; got {value!r}.")
    if not is_concrete(value):
        if jnp.ndim(value) != 0:
            raise ValueError(f"{fn}: {name} must be a scalar; got shape {jnp.shape(value)}.")
        return value
    try:
        arr = np.asarray(value)
    except Exception as err:  # pragma: no cover - exotic objects
        raise TypeError(f"{fn}: {name} must be a real number; got {value!r}.") from err
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{fn}: {name} must be a real number; got {value!r}.")
    if arr.ndim != 0:
        raise ValueError(f"{fn}: {name} must be a scalar; got shape {arr.shape}.")
    x = float(arr)
    if not np.isfinite(x):
        raise ValueError(f"{fn}: {name} must be finite; got {x!r}.")
    bad_low = low is not None and (x <= low if low_open else x < low)
    bad_high = high is not None and (x >= high if high_open else x > high)
    if bad_low or bad_high:
        lo = "-inf" if low is None else repr(low)
        hi = "inf" if high is None else repr(high)
        lb = "(" if low_open or low is None else "["
        hb = ")" if high_open or high is None else "]"
        raise ValueError(f"{fn}: {name} must be in {lb}{lo}, {hi}{hb}; got {x!r}.")
    if isinstance(value, jax.Array | float | int):
        return value
    return arr.astype(np.float32) if arr.dtype.kind in "iu" else arr


def reference_point_array(value: Any, name: str, size: int, fn: str) -> jax.Array:
    """A reference point: a real scalar or a ``[B]`` array (``B = size``), as floats."""
    if isinstance(value, str | bytes) or value is None or isinstance(value, bool):
        raise TypeError(f"{fn}: {name} must be a real scalar or a [B] array; got {value!r}.")
    if isinstance(value, list | tuple):
        value = np.asarray(value)
    arr = jnp.asarray(value)
    if arr.dtype == jnp.bool_ or not (
        jnp.issubdtype(arr.dtype, jnp.floating) or jnp.issubdtype(arr.dtype, jnp.integer)
    ):
        raise TypeError(f"{fn}: {name} must hold real numbers; got dtype {arr.dtype}.")
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        arr = arr.astype(jnp.float32)
    if arr.shape not in ((), (size,)):
        raise ValueError(
            f"{fn}: {name} must be a scalar or have shape [B] = ({size},); got shape {arr.shape}."
        )
    host = host_values(value, arr)
    if host is not None and not bool(np.all(np.isfinite(host))):
        raise ValueError(f"{fn}: {name} must be finite; got non-finite values (NaN or inf).")
    return arr
