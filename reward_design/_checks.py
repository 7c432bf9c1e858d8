"""Input checks, in one place: every module checks its arguments with these.

Two kinds of check (docs/concepts.md, "Input checks: eager and under jit"):

* **Static checks** read what ``jax.jit`` knows while tracing: Python types,
  ranks, shapes, dtypes. They run on every call, traced or not.
* **Value checks** read the numbers: finiteness, ranges, row sums, class
  indices. They run only on concrete inputs (numpy arrays, Python numbers,
  JAX arrays outside a trace); tracers pass, so a compiled function never
  branches on values and pays nothing for the checks.

Hyperparameters stored in dataclass components are checked in
``__post_init__``, which runs when a user builds or ``.replace()``s a
component, never when JAX rebuilds one (see ``reward_design._pytree``).

Messages name the argument (``Owner.field`` for a dataclass field,
``fn: name`` for a function argument), what is expected and what was given.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

# --- basics -----------------------------------------------------------------


def is_concrete(value: Any) -> bool:
    """True when the numbers in ``value`` can be read now (it is not a tracer)."""
    return not isinstance(value, jax.core.Tracer)


def first_bad(bad: np.ndarray, arr: np.ndarray) -> str:
    """Where a value check failed: ``"N value(s), first at index (i, ...) (x)"``."""
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    return f"{int(np.sum(bad))} value(s), first at index {idx} ({np.asarray(arr)[idx].item()!r})"


def _label(name: str, fn: str) -> str:
    return f"{fn}: {name}" if fn else name


def _is_real(dtype: Any) -> bool:
    """Integer or floating dtype (bfloat16 included), not bool."""
    dtype = np.dtype(dtype)
    return dtype != np.bool_ and (
        jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.floating)
    )


def _python_to_host(value: Any, name: str) -> Any:
    """Arrays pass; anything else (lists, scalars, objects) becomes a numpy array, a
    ragged list a ValueError and a string or None a TypeError naming ``name``."""
    if isinstance(value, str | bytes) or value is None:
        raise TypeError(f"{name} must be an array of numbers; got {value!r}.")
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return value
    return host_array(value, name, "")


def _shape(value: Any) -> tuple[int, ...]:
    return tuple(value.shape) if hasattr(value, "shape") else tuple(np.shape(value))


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    lo = "-inf" if low is None else repr(low)
    hi = "inf" if high is None else repr(high)
    lb = "(" if low_open or low is None else "["
    hb = ")" if high_open or high is None else "]"
    return f"{lb}{lo}, {hi}{hb}"


# --- value checks of concrete numpy arrays -----------------------------------


def check_finite(arr: np.ndarray, name: str, fn: str = "") -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(
            f"{_label(name, fn)} must be finite; got NaN/inf in {first_bad(bad, arr)}."
        )


def check_unit(value: ArrayLike, name: str, fn: str = "", *, binary: bool = False) -> None:
    """Value check: numeric, finite, in [0, 1] (in {0, 1} if ``binary``); tracers pass.

    Raises:
      TypeError: a non-numeric dtype. ValueError: NaN/inf or values outside.
    """
    if not is_concrete(value):
        return
    if isinstance(value, str | bytes) or value is None:
        raise TypeError(f"{_label(name, fn)} must be an array of numbers; got {value!r}.")
    arr = host_array(value, name, fn)
    if arr.dtype == object or not (_is_real(arr.dtype) or arr.dtype == np.bool_):
        raise TypeError(f"{_label(name, fn)} must be numeric; got dtype {arr.dtype}.")
    if arr.dtype == np.bool_:
        return
    check_finite(arr, name, fn)
    if binary:
        bad = ~np.isin(arr, (0, 1))
        if bad.any():
            raise ValueError(f"{_label(name, fn)} must be 0 or 1; got {first_bad(bad, arr)}.")
        return
    bad = (arr < 0) | (arr > 1)
    if bad.any():
        raise ValueError(
            f"{_label(name, fn)} must lie in [0, 1]; got {first_bad(bad, arr)} outside "
            f"(range given [{arr.min()}, {arr.max()}])."
        )


def check_rows_sum_to_one(arr: np.ndarray, name: str, fn: str = "", atol: float = 1e-4) -> None:
    """Value check: ``|sum(arr, axis=-1) - 1| <= atol`` for every row."""
    sums = np.asarray(arr, dtype=np.float64).sum(axis=-1)
    bad = np.abs(sums - 1.0) > atol
    if bad.any():
        raise ValueError(
            f"{_label(name, fn)} rows must sum to 1 over the last axis (within atol={atol}); "
            f"got {first_bad(bad, sums)} as a row sum."
        )


def check_class_indices(arr: np.ndarray, num_classes: int, name: str, fn: str = "") -> None:
    """Value check: every entry is a class index in ``[0, num_classes)``."""
    bad = (arr < 0) | (arr >= num_classes)
    if bad.any():
        raise ValueError(
            f"{_label(name, fn)} must be class indices in [0, {num_classes}); got "
            f"{first_bad(bad, arr)}, not a class index in [0, {num_classes})."
        )


def host_values(value: Any, arr: jax.Array) -> np.ndarray | None:
    """The values of an input as float64 numpy, or None while they are traced.

    ``value`` is the caller's input, ``arr`` its JAX conversion: under
    ``jax.jit`` a host constant may have been converted to a tracer, so a
    host input is read directly.
    """
    if isinstance(value, np.ndarray | np.generic | int | float):
        return np.asarray(value, dtype=np.float64)
    if is_concrete(value) and is_concrete(arr):
        return np.asarray(arr, dtype=np.float64)
    return None


# --- hyperparameters stored in dataclass fields --------------------------------


def as_float_leaf(value: Any, name: str, owner: str) -> Any:
    """A numeric hyperparameter, checked and made a float32 pytree leaf.

    Python/numpy numbers (and lists) become float32 numpy arrays, so that
    ``2`` and ``2.0`` give the same leaf type and never trigger a recompile;
    concrete JAX arrays become strong float32 JAX arrays on their device.
    Tracers and ``None`` pass unchanged.

    Raises:
      TypeError: a string or another non-numeric object. ValueError: a
        bool, an array of a non-real dtype, or non-finite values.
    """
    if not is_concrete(value) or value is None:
        return value
    if isinstance(value, str | bytes):
        raise TypeError(f"{owner}.{name} must be a real number; got {value!r}.")
    if isinstance(value, jax.Array) and not value.is_fully_addressable:
        # A multi-host global array cannot be read on one process; its values
        # were checked where it was built. Only normalise the dtype.
        if value.dtype != jnp.float32 or value.weak_type:
            return value.astype(jnp.float32)
        return value
    try:
        arr = np.asarray(value)
    except Exception:
        arr = np.asarray(None)  # an object array: a TypeError below
    if arr.dtype == object:
        raise TypeError(f"{owner}.{name} must be a real number; got {value!r}.")
    if isinstance(value, bool) or not _is_real(arr.dtype):
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
    """``obj.name = as_float_leaf(obj.name)`` on a frozen dataclass."""
    value = getattr(obj, name)
    checked = as_float_leaf(value, name, owner)
    if checked is not value:
        object.__setattr__(obj, name, checked)


def check_scalar(obj: Any, name: str, owner: str) -> None:
    """`set_float_leaf`, and the field must be a scalar (not ``None``)."""
    if getattr(obj, name) is None:
        raise TypeError(f"{owner}.{name} must be a real number; got None.")
    set_float_leaf(obj, name, owner)
    value = getattr(obj, name)
    if is_concrete(value) and np.shape(value) != ():
        raise ValueError(f"{owner}.{name} must be a scalar; got shape {np.shape(value)}.")


def check_pass_threshold(obj: Any, owner: str) -> None:
    """``obj.pass_threshold``: a finite scalar in (0, 1] (a rubric item passes at >=)."""
    check_scalar(obj, "pass_threshold", owner)
    value = obj.pass_threshold
    if is_concrete(value) and not 0.0 < float(np.asarray(value)) <= 1.0:
        raise ValueError(
            f"{owner}.pass_threshold must lie in (0, 1] (a rubric item passes when its "
            f"probability is >= pass_threshold); got {float(np.asarray(value))}."
        )


def as_float_vector(value: Any, name: str, owner: str) -> Any:
    """A ``[K]`` vector hyperparameter (e.g. rubric item weights), checked.

    Lists, tuples and numpy arrays become float32 numpy arrays; concrete JAX
    arrays are checked and kept (on their device). Checks: real dtype
    (bfloat16 included), shape ``[K]`` with K >= 1, finite values. Tracers and
    ``None`` pass unchanged; callers add their own range rules.
    """
    if value is None or not is_concrete(value):
        return value
    if isinstance(value, str | bytes):
        raise ValueError(f"{owner}.{name} must be real numbers; got {value!r}.")
    if not isinstance(value, np.ndarray | jax.Array):
        value = host_array(value, name, owner)
    arr = np.asarray(value)
    if not _is_real(arr.dtype):
        raise ValueError(f"{owner}.{name} must be real numbers; got dtype {arr.dtype}.")
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{owner}.{name} must have shape [K] with K >= 1; got shape {arr.shape}.")
    arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{owner}.{name} must be finite; got {arr.tolist()}.")
    return value if isinstance(value, jax.Array) else arr


# --- scalar function arguments --------------------------------------------------


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
    """A scalar hyperparameter argument: a scalar always, finite and in range when concrete.

    Tracers (under ``jax.jit``/``jax.vmap``) pass after the shape check, so
    one compiled function serves every value. Returns Python numbers and JAX
    arrays unchanged, numpy values as numpy arrays (integers as float32).
    """
    if isinstance(value, bool | str | bytes) or value is None:
        raise TypeError(f"{fn}: {name} must be a real number; got {value!r}.")
    if not is_concrete(value):
        if jnp.ndim(value) != 0:
            raise ValueError(f"{fn}: {name} must be a scalar; got shape {jnp.shape(value)}.")
        return value
    try:
        arr = np.asarray(value)
    except Exception as err:
        raise TypeError(f"{fn}: {name} must be a real number; got {value!r}.") from err
    if not _is_real(arr.dtype):
        raise TypeError(f"{fn}: {name} must be a real number; got {value!r}.")
    if arr.ndim != 0:
        raise ValueError(f"{fn}: {name} must be a scalar; got shape {arr.shape}.")
    x = float(arr)
    if not np.isfinite(x):
        raise ValueError(f"{fn}: {name} must be finite; got {x!r}.")
    bad_low = low is not None and (x <= low if low_open else x < low)
    bad_high = high is not None and (x >= high if high_open else x > high)
    if bad_low or bad_high:
        interval = _interval(low, high, low_open, high_open)
        raise ValueError(f"{fn}: {name} must be in {interval}; got {x!r}.")
    if isinstance(value, jax.Array | float | int):
        return value
    return arr.astype(np.float32) if arr.dtype.kind in "iu" else arr


def check_count(value: Any, name: str, fn: str, minimum: int = 1) -> int:
    """A static integer argument (a count, a size, a seed) ``>= minimum``; returns it as int.

    Raises:
      ValueError: a bool, a non-integer, or a value below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{_label(name, fn)} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def check_order(order: ArrayLike, fn: str) -> None:
    """A scoring rule's ``order``: a finite real scalar > 1 (ValueError otherwise)."""
    if isinstance(order, str | bytes | bool) or (
        is_concrete(order) and not _is_real(np.asarray(order).dtype)
    ):
        raise ValueError(f"{fn}: order must be a real scalar > 1; got {order!r}.")
    scalar_hyper(order, "order", fn, low=1.0, low_open=True)


def check_binning(num_bins: int, strategy: str, fn: str) -> None:
    """Static arguments of the binned calibration metrics."""
    if isinstance(num_bins, bool) or not isinstance(num_bins, int | np.integer) or num_bins < 1:
        raise ValueError(f"{fn}: num_bins must be a positive integer; got {num_bins!r}.")
    if strategy not in ("uniform", "quantile"):
        raise ValueError(f"{fn}: strategy must be 'uniform' or 'quantile'; got {strategy!r}.")


# --- array arguments ---------------------------------------------------------------


def host_array(value: Any, name: str, fn: str) -> np.ndarray | jax.Array:
    """A Python list/tuple (or scalar) as an array; ragged nesting raises ValueError.

    A numpy array, unless the list holds JAX arrays (e.g. tracers: a list argument
    inside ``jit`` or ``shard_map`` reaches the function as a list of traced
    scalars), which numpy cannot convert; then a JAX array.
    """
    try:
        if isinstance(value, list | tuple) and any(
            isinstance(leaf, jax.Array) for leaf in jax.tree_util.tree_leaves(value)
        ):
            try:
                return jnp.asarray(value)
            except TypeError as err:  # jax: "Cannot concatenate arrays with shapes ..."
                raise ValueError(str(err)) from err
        return np.asarray(value)
    except ValueError as err:  # numpy: "inhomogeneous shape"
        raise ValueError(
            f"{_label(name, fn)} must be a rectangular array; got a ragged nested "
            f"{type(value).__name__} (rows of different lengths)."
        ) from err


def real_array(value: Any, name: str, fn: str, *, allow_bool: bool = True) -> jax.Array:
    """``value`` as a JAX array of real numbers (integer, floating, bfloat16; bool if
    ``allow_bool``), any shape, without casting; values not checked.

    Raises:
      TypeError: None, a string, an object or complex array. ValueError: a
        ragged nested list.
    """
    if isinstance(value, str | bytes) or value is None:
        raise TypeError(f"{_label(name, fn)} must be an array of real numbers; got {value!r}.")
    dtype = getattr(value, "dtype", None)
    try:
        dtype = None if dtype is None or not hasattr(value, "shape") else np.dtype(dtype)
    except TypeError:  # e.g. a torch dtype
        dtype = None
    if dtype is None:
        value = host_array(value, name, fn)
    dtype = np.dtype(value.dtype)
    if not (_is_real(dtype) or (allow_bool and dtype == np.bool_)):
        raise TypeError(f"{_label(name, fn)} must hold real numbers; got dtype {dtype}.")
    return jnp.asarray(value)


def float_vector(value: Any, name: str, fn: str, ndim: int = 1) -> jax.Array:
    """``value`` as a floating JAX array of rank ``ndim``; finite when concrete."""
    if isinstance(value, str | bytes) or value is None:
        raise TypeError(f"{fn}: {name} must be an array of real numbers; got {value!r}.")
    if isinstance(value, list | tuple):
        value = host_array(value, name, fn)
    dtype = getattr(value, "dtype", None)
    dtype = np.asarray(value).dtype if dtype is None else dtype
    if not _is_real(dtype):
        raise TypeError(f"{fn}: {name} must hold real numbers; got dtype {dtype}.")
    arr = jnp.asarray(value)
    if arr.ndim != ndim:
        expected = "[B]" if ndim == 1 else f"rank {ndim}"
        raise ValueError(
            f"{fn}: {name} must have shape {expected} (rank {ndim}); got shape {arr.shape}."
        )
    return _finite_floats(value, arr, name, fn)


def _finite_floats(value: Any, arr: jax.Array, name: str, fn: str) -> jax.Array:
    """``arr``, the JAX conversion of the real ``value``, as floats (integers become
    float32); checked finite when concrete."""
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        arr = arr.astype(jnp.float32)
    host = host_values(value, arr)
    if host is not None:
        check_finite(host, name, fn)
    return arr


def same_length(fn: str, **arrays: jax.Array) -> None:
    """Raises unless every array has the shape of the first."""
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
    named = {
        "policy_chosen_logps": policy_chosen_logps,
        "policy_rejected_logps": policy_rejected_logps,
        "reference_chosen_logps": reference_chosen_logps,
        "reference_rejected_logps": reference_rejected_logps,
    }
    arrays = {name: float_vector(value, name, fn) for name, value in named.items()}
    same_length(fn, **arrays)
    return tuple(arrays.values())  # type: ignore[return-value]


def bool_labels(
    value: Any,
    name: str,
    fn: str,
    shape: tuple[int, ...],
    meaning: str = "True = desirable",
    of: str = "",
) -> jax.Array:
    """A boolean array of the given shape; integer or float 0/1 values raise."""
    if isinstance(value, list | tuple):
        value = host_array(value, name, fn)
    dtype = getattr(value, "dtype", None)
    if dtype is None or np.dtype(dtype) != np.bool_:
        raise TypeError(
            f"{fn}: {name} must be a boolean array ({meaning}); got dtype "
            f"{dtype if dtype is not None else type(value).__name__}. "
            "Convert 0/1 values with `.astype(bool)`."
        )
    arr = jnp.asarray(value)
    if arr.shape != tuple(shape):
        whose = f"the shape of {of} " if of else "shape "
        raise ValueError(f"{fn}: {name} must have {whose}{tuple(shape)}; got shape {arr.shape}.")
    return arr


def check_mask(mask: Any, shape: tuple[int, ...], fn: str, of: str = "") -> jax.Array:
    """A boolean ``mask`` of ``shape`` (that of the argument ``of``, named in the message)
    that selects at least one element (when concrete)."""
    m = bool_labels(mask, "mask", fn, shape, meaning="True = the element is used", of=of)
    if is_concrete(m) and not bool(np.asarray(m).any()):
        raise ValueError(f"{fn}: mask selects no element.")
    return m


def reference_point_array(value: Any, name: str, size: int, fn: str) -> jax.Array:
    """A real scalar or a ``[B]`` array (``B = size``), as floats; finite when concrete."""
    if isinstance(value, str | bytes | bool) or value is None:
        raise TypeError(f"{fn}: {name} must be a real scalar or a [B] array; got {value!r}.")
    arr = real_array(value, name, fn, allow_bool=False)
    if arr.shape not in ((), (size,)):
        raise ValueError(
            f"{fn}: {name} must be a scalar or have shape [B] = ({size},); got shape {arr.shape}."
        )
    return _finite_floats(value, arr, name, fn)


def check_logits(logits: Any, name: str = "logits", ndim: int | None = None) -> Any:
    """Real-valued logits ``[..., C]`` (or exactly ``ndim`` dims), finite when concrete;
    returns them (lists as numpy)."""
    logits = _python_to_host(logits, name)
    shape = _shape(logits)
    if ndim is not None and len(shape) != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions; got shape {shape}.")
    if len(shape) < 1 or shape[-1] < 1:
        raise ValueError(f"{name} must have shape [..., C] with C >= 1; got shape {shape}.")
    if not is_concrete(logits):
        return logits
    arr = np.asarray(logits)
    if not _is_real(arr.dtype):
        raise TypeError(f"{name} must be a real-valued array; got dtype {arr.dtype}.")
    check_finite(arr, name)
    return logits


def check_probs(
    probs: Any, num_classes: int | None = None, name: str = "probs", atol: float = 1e-3
) -> Any:
    """Class probabilities ``[..., C]``: in [0, 1], rows summing to 1 within ``atol``.

    The default ``atol`` accepts probabilities from a float16/bfloat16 model head.
    Returns them (lists as numpy).
    """
    probs = _python_to_host(probs, name)
    shape = _shape(probs)
    if len(shape) < 1:
        raise ValueError(f"{name} must have shape [..., C]; got a scalar.")
    if num_classes is not None and shape[-1] != num_classes:
        raise ValueError(
            f"{name} must have shape [..., C] with C = {num_classes} (the size of the cost "
            f"matrix); got shape {shape}."
        )
    if not is_concrete(probs) or np.size(probs) == 0:
        return probs
    check_unit(probs, name)
    check_rows_sum_to_one(np.asarray(probs), name, atol=atol)
    return probs


def check_labels(
    labels: Any,
    num_classes: int,
    shape: tuple[int, ...] | None = None,
    name: str = "labels",
    of: str = "",
) -> Any:
    """Integer class indices in ``[0, num_classes)``, optionally of a given shape (that of
    the argument ``of``, named in the message); returns them (lists as numpy)."""
    labels = _python_to_host(labels, name)
    got = _shape(labels)
    if shape is not None and got != tuple(shape):
        whose = f"the shape of {of} " if of else "shape "
        raise ValueError(f"{name} must have {whose}{tuple(shape)}; got shape {got}.")
    dtype = np.dtype(labels.dtype) if hasattr(labels, "dtype") else np.asarray(labels).dtype
    if dtype.kind not in "iub":
        raise TypeError(f"{name} must hold integer class indices; got dtype {dtype}.")
    if is_concrete(labels):
        check_class_indices(np.asarray(labels), num_classes, name)
    return labels


def check_scores(scores: Any, name: str = "scores") -> np.ndarray:
    """1-D finite real scores ``[N]`` (N >= 1), returned as float64 numpy (eager only)."""
    if isinstance(scores, str | bytes) or scores is None:
        raise TypeError(f"{name} must be a real-valued array; got {scores!r}.")
    arr = host_array(scores, name, "")
    if arr.ndim != 1 or arr.shape[0] < 1:
        raise ValueError(f"{name} must have shape [N] with N >= 1; got shape {arr.shape}.")
    if not (_is_real(arr.dtype) or arr.dtype == np.bool_):
        raise TypeError(f"{name} must be a real-valued array; got dtype {arr.dtype}.")
    arr = arr.astype(np.float64)
    check_finite(arr, name)
    return arr


# --- scoring-rule forecasts ---------------------------------------------------------


def check_forecast_shapes(
    probs: jax.Array, outcome: jax.Array, fn: str, *, binary: bool = False
) -> tuple[int, ...]:
    """Static checks of a scoring rule's arguments; returns the shape of its scores.

    Multiclass: ``probs [..., C]`` with C >= 2, integer ``outcome`` of shape
    ``probs.shape[:-1]``. Binary: ``p`` and ``y`` of broadcastable shapes.
    """
    if binary:
        try:
            return tuple(jnp.broadcast_shapes(probs.shape, outcome.shape))
        except ValueError:
            raise ValueError(
                f"{fn}: p and y must have broadcastable shapes; got {probs.shape} and "
                f"{outcome.shape}."
            ) from None
    if probs.ndim < 1 or probs.shape[-1] < 2:
        raise ValueError(
            f"{fn}: probs must have shape [..., C] with C >= 2; got shape {probs.shape}."
        )
    if outcome.shape != probs.shape[:-1]:
        raise ValueError(
            f"{fn}: outcome must have shape probs.shape[:-1] = {list(probs.shape[:-1])}; "
            f"got shape {outcome.shape}."
        )
    if not jnp.issubdtype(outcome.dtype, jnp.integer):
        raise TypeError(
            f"{fn}: outcome must hold integer class indices; got dtype {outcome.dtype}."
        )
    return tuple(outcome.shape)
