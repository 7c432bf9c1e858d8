"""Input handling shared by the calibration metrics (private).

Checks run eagerly when the inputs are concrete; under ``jax.jit`` (tracers)
only shapes are checked, nothing branches on values.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

STRATEGIES = ("uniform", "quantile")


def _is_tracer(x) -> bool:
    return isinstance(x, jax.core.Tracer)


def _first_bad(bad: np.ndarray, arr: np.ndarray) -> str:
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    return f"{int(bad.sum())} value(s), first at index {idx} ({arr[idx]!r})"


def check_static(num_bins: int, strategy: str, fn: str) -> None:
    if isinstance(num_bins, bool) or not isinstance(num_bins, int | np.integer) or num_bins < 1:
        raise ValueError(f"{fn}: num_bins must be a positive integer; got {num_bins!r}.")
    if strategy not in STRATEGIES:
        raise ValueError(f"{fn}: strategy must be 'uniform' or 'quantile'; got {strategy!r}.")


def check_unit(x: ArrayLike, name: str, fn: str, *, binary: bool = False) -> None:
    """Eager value check: finite, in [0, 1] (or in {0, 1} if ``binary``)."""
    if _is_tracer(x):
        return
    arr = np.asarray(x)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{fn}: {name} must be numeric; got dtype {arr.dtype}.")
    if arr.dtype == np.bool_:
        return
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"{fn}: {name} must be finite; got NaN/inf in {_first_bad(bad, arr)}.")
    if binary:
        bad = ~np.isin(arr, (0, 1))
        if bad.any():
            raise ValueError(f"{fn}: {name} must be 0 or 1; got {_first_bad(bad, arr)}.")
        return
    bad = (arr < 0) | (arr > 1)
    if bad.any():
        raise ValueError(
            f"{fn}: {name} must lie in [0, 1]; got {_first_bad(bad, arr)} outside "
            f"(range given [{arr.min()}, {arr.max()}])."
        )


def prepare(
    confidence: ArrayLike,
    correct: ArrayLike,
    mask: ArrayLike | None,
    fn: str,
    *,
    binary_correct: bool = False,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Flattened float ``(confidence, correct, weight)``; ``weight`` is the mask as 0/1."""
    check_unit(confidence, "confidence", fn)
    check_unit(correct, "correct", fn, binary=binary_correct)
    c = jnp.asarray(confidence)
    y = jnp.asarray(correct)
    if c.shape != y.shape:
        raise ValueError(
            f"{fn}: confidence and correct must have the same shape; got {c.shape} and {y.shape}."
        )
    if c.size == 0:
        raise ValueError(f"{fn}: confidence must be non-empty; got shape {c.shape}.")
    if mask is None:
        w = jnp.ones(c.shape, dtype=jnp.float32)
    else:
        m = jnp.asarray(mask)
        if m.shape != c.shape:
            raise ValueError(
                f"{fn}: mask must have the shape of confidence {c.shape}; got {m.shape}."
            )
        if m.dtype != jnp.bool_:
            raise ValueError(f"{fn}: mask must be boolean; got dtype {m.dtype}.")
        if not _is_tracer(m) and not np.asarray(m).any():
            raise ValueError(f"{fn}: mask selects no element.")
        w = m.astype(jnp.float32)
    dtype = jnp.float32
    if jnp.issubdtype(c.dtype, jnp.floating):
        dtype = jnp.promote_types(c.dtype, jnp.float32)
    return (
        c.reshape(-1).astype(dtype),
        y.reshape(-1).astype(dtype),
        w.reshape(-1).astype(dtype),
    )
