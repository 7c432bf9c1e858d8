"""Reductions over a short last axis, in the form that compiles best for each use.

Two kinds of reduction occur in a reward step, and they want opposite forms:

* **Group statistics** (``last_*``) reduce an already computed ``[P, G]``
  array over G (samples per prompt, typically 4-64) and broadcast the result
  back (``r - mean``). XLA compiles ``jnp.sum(x, axis=-1)`` to a reduce op
  that ends a fusion, and on CPU a reduce over a short minor axis is
  compiled to a slow scalar loop. For a short, static last axis we add the
  columns pairwise instead (``x[..., 0] + x[..., 1] + ...``): elementwise ops
  over strided columns that XLA vectorises and fuses with their consumers.
* **Item reductions** (``items_*``) reduce a large *input* such as the
  ``[P, G, K]`` rubric over K. Here the pairwise form is harmful: its ops
  are cheap, so XLA duplicates them into every consumer fusion and each
  consumer reads the whole ``[P, G, K]`` input again (four times in a gated
  GRPO step). A real reduce op is materialised once as a ``[P, G]`` result
  that is 1/K of the input's size.

``reward-design bench`` measures the effect (docs/performance.md). Results
are identical up to float rounding (pairwise order). Above `UNROLL_MAX`
items the ordinary reduce is used for group statistics too.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

__all__ = [
    "UNROLL_MAX",
    "last_sum",
    "last_max",
    "items_all",
    "items_sum",
    "items_dot",
]

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


def items_all(x: jax.Array) -> jax.Array:
    """``jnp.all(x, axis=-1)`` as one reduce op (read once; see module docstring)."""
    return jnp.all(jnp.asarray(x, dtype=bool), axis=-1)


def items_sum(x: jax.Array) -> jax.Array:
    """``jnp.sum(x, axis=-1)`` as one reduce op (bool inputs count as int32)."""
    x = jnp.asarray(x)
    if x.dtype == jnp.bool_:
        x = x.astype(jnp.int32)
    return jnp.sum(x, axis=-1)


def items_dot(x: jax.Array, w: jax.Array) -> jax.Array:
    """``x @ w`` for a vector ``w`` matching the last axis of ``x``, as one reduce op.

    Computed as an exact float32 sum of products, never as a matmul: TF32
    matmuls on GPUs would round rubric scores near a threshold.
    """
    x = jnp.asarray(x)
    w = jnp.asarray(w)
    return jnp.sum(x * w, axis=-1)
