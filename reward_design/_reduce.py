"""Reductions over a short last axis that fuse with their neighbours.

Group statistics reduce over G (samples per prompt, typically 4-64) and
gates over K (rubric items). XLA compiles ``jnp.sum(x, axis=-1)`` to a
reduce op, and a reduce whose result is broadcast back (``x - mean``)
usually ends a fusion: every such step materialises a ``[P, G]``
intermediate in memory, and on a GPU launches another kernel. For a short,
static last axis we instead add the columns pairwise (``x[..., 0] + x[..., 1]
+ ...``): plain elementwise ops that XLA fuses with their producers and
consumers into one loop. The benchmark (``reward-design bench``) measures
the effect; results are identical up to float rounding (pairwise order).

Above `UNROLL_MAX` items the ordinary reduce is used.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

__all__ = ["UNROLL_MAX", "last_sum", "last_max", "last_all", "last_any", "last_dot"]

UNROLL_MAX = 64


def _pairwise(
    x: jax.Array,
    op: Callable[[jax.Array, jax.Array], jax.Array],
    fallback: Callable[..., jax.Array],
    keepdims: bool,
) -> jax.Array:
    n = x.shape[-1]
    if n == 0 or n > UNROLL_MAX:
        return fallback(x, axis=-1, keepdims=keepdims)
    cols = [x[..., i : i + 1] for i in range(n)]
    while len(cols) > 1:
        paired = [op(cols[i], cols[i + 1]) for i in range(0, len(cols) - 1, 2)]
        if len(cols) % 2:
            paired.append(cols[-1])
        cols = paired
    out = cols[0]
    return out if keepdims else out[..., 0]


def last_sum(x: jax.Array, keepdims: bool = False) -> jax.Array:
    """``jnp.sum(x, axis=-1)`` (bool inputs count as int32)."""
    x = jnp.asarray(x)
    if x.dtype == jnp.bool_:
        x = x.astype(jnp.int32)
    return _pairwise(x, jnp.add, jnp.sum, keepdims)


def last_max(x: jax.Array, keepdims: bool = False) -> jax.Array:
    """``jnp.max(x, axis=-1)``."""
    return _pairwise(jnp.asarray(x), jnp.maximum, jnp.max, keepdims)


def last_all(x: jax.Array, keepdims: bool = False) -> jax.Array:
    """``jnp.all(x, axis=-1)`` for boolean ``x``."""
    return _pairwise(jnp.asarray(x, dtype=bool), jnp.logical_and, jnp.all, keepdims)


def last_any(x: jax.Array, keepdims: bool = False) -> jax.Array:
    """``jnp.any(x, axis=-1)`` for boolean ``x``."""
    return _pairwise(jnp.asarray(x, dtype=bool), jnp.logical_or, jnp.any, keepdims)


def last_dot(x: jax.Array, w: jax.Array) -> jax.Array:
    """``x @ w`` for a vector ``w`` matching the last axis of ``x``."""
    x = jnp.asarray(x)
    w = jnp.asarray(w)
    if x.shape[-1] > UNROLL_MAX:
        # HIGHEST: TF32 matmuls on GPUs would round rubric scores near a threshold.
        return jnp.matmul(x, w, precision=jax.lax.Precision.HIGHEST)
    return last_sum(x * w)
