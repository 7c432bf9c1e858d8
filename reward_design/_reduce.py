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

A third concern is CPU-only: XLA:CPU hands an add-reduce whose operand is
computed (``x * w``, ``where(mask, x, 0)``, a dtype conversion) to a library
kernel that needs the operand written to fresh memory first. The float
item sums (`items_sum`, `items_dot`, `items_masked_sum`) therefore lower,
on CPU only (`jax.lax.platform_dependent`), to reduce ops XLA:CPU compiles
as one loop with the operand fused in; custom JVPs keep them differentiable.

``reward-design bench`` measures the effect (docs/performance.md). Results
are identical up to float rounding (pairwise order). Above `UNROLL_MAX`
items the ordinary reduce is used for group statistics too.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "UNROLL_MAX",
    "accumulation_dtype",
    "last_sum",
    "last_max",
    "items_all",
    "items_sum",
    "items_dot",
    "items_masked_sum",
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


def accumulation_dtype(dtype) -> jnp.dtype:
    """The dtype a float sum accumulates in: float32 for half precision, else ``dtype``."""
    return jnp.dtype(jnp.float32) if jnp.finfo(dtype).bits < 32 else jnp.dtype(dtype)


def items_all(x: jax.Array) -> jax.Array:
    """``jnp.all(x, axis=-1)`` as one reduce op (read once; see module docstring)."""
    return jnp.all(jnp.asarray(x, dtype=bool), axis=-1)


def items_sum(x: jax.Array) -> jax.Array:
    """``jnp.sum(x, axis=-1)`` as one reduce op (bool inputs count as int32).

    Pass a boolean ``x`` as it is, not converted to float: an integer count
    compiles to one loop, while on CPU a float sum of a converted input
    first writes the converted ``[..., K]`` floats to fresh memory.
    """
    x = jnp.asarray(x)
    if x.dtype == jnp.bool_:
        return jnp.sum(x.astype(jnp.int32), axis=-1)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        return jnp.sum(x, axis=-1)
    if accumulation_dtype(x.dtype) != x.dtype:
        # half precision is summed in float32 (as jnp.sum does) and rounded once
        return items_sum(x.astype(jnp.float32)).astype(x.dtype)
    # float: one loop on CPU, with any producer (a dtype conversion) fused in
    return jax.lax.platform_dependent(x, cpu=_loop_sum, default=lambda v: jnp.sum(v, axis=-1))


def _add_via_max_min(a: jax.Array, b: jax.Array) -> jax.Array:
    # Equal to a + b bit for bit ({max, min} = {a, b}, and + commutes), but not an
    # `add` reducer, so XLA:CPU compiles the reduce as its own loop, with the
    # elementwise producer fused in, instead of handing it to a library kernel
    # that needs the producer written to memory first.
    return jnp.maximum(a, b) + jnp.minimum(a, b)


@jax.custom_jvp
def _loop_sum(v: jax.Array) -> jax.Array:
    return jax.lax.reduce(v, jnp.zeros((), v.dtype), _add_via_max_min, (v.ndim - 1,))


@_loop_sum.defjvp
def _loop_sum_jvp(primals, tangents):
    (v,), (dv,) = primals, tangents
    return _loop_sum(v), jnp.sum(dv, axis=-1)  # linear; jnp.sum is transposable


def _dot_by_loop(x: jax.Array, w: jax.Array) -> jax.Array:
    return _loop_sum(x.astype(w.dtype) * w)


def _dot_by_reduce(x: jax.Array, w: jax.Array) -> jax.Array:
    return jnp.sum(x.astype(w.dtype) * w, axis=-1)


def items_dot(x: jax.Array, w: jax.Array) -> jax.Array:
    """``x @ w`` for a vector ``w`` matching the last axis of ``x`` (bool ``x`` counts as 0/1).

    Computed as an exact float sum of products, never as a matmul: TF32
    matmuls on GPUs would round rubric scores near a threshold. One reduce
    op either way, so the result is materialised once and not recomputed by
    each consumer. On CPU the reduce is written so that XLA:CPU compiles it
    as one loop with the product fused in (`_loop_sum`): ``jnp.sum(x * w,
    -1)`` is handed to a library reduction kernel that cannot take the
    product, so the ``[..., K]`` float products were first written to fresh
    memory (seven times slower at ``[10^6, 8]``). The form is chosen when
    the program is lowered (`jax.lax.platform_dependent`).
    """
    x = jnp.asarray(x)
    w = jnp.asarray(w)
    if w.dtype == jnp.bool_ or not jnp.issubdtype(w.dtype, jnp.floating):
        w = w.astype(jnp.float32)
    if accumulation_dtype(w.dtype) != w.dtype:
        # half-precision weights: products summed in float32, rounded once
        return items_dot(x, w.astype(jnp.float32)).astype(w.dtype)
    return jax.lax.platform_dependent(x, w, cpu=_dot_by_loop, default=_dot_by_reduce)


def _add_pairs(a, b):
    return a[0] + b[0], a[1] + b[1]


@jax.custom_jvp
def _masked_sum_count(values: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    acc = accumulation_dtype(values.dtype)
    total, count = jax.lax.reduce(
        (jnp.where(mask, values, 0).astype(acc), mask.astype(jnp.int32)),
        (jnp.zeros((), acc), jnp.zeros((), jnp.int32)),
        _add_pairs,
        (values.ndim - 1,),
    )
    return total.astype(values.dtype), count


@_masked_sum_count.defjvp
def _masked_sum_count_jvp(primals, tangents):
    values, mask = primals
    d_values, _ = tangents
    out = _masked_sum_count(values, mask)
    # The sum is linear in `values`; written with jnp.sum so reverse mode can
    # transpose it (a variadic reduce has no transpose rule).
    d_total = jnp.sum(jnp.where(mask, d_values, 0), axis=-1).astype(values.dtype)
    return out, (d_total, np.zeros(out[1].shape, jax.dtypes.float0))


def _where_sum_count(values: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    acc = accumulation_dtype(values.dtype)
    total = jnp.sum(jnp.where(mask, values, 0).astype(acc), axis=-1)
    return total.astype(values.dtype), jnp.sum(mask, axis=-1, dtype=jnp.int32)


def items_masked_sum(values: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(sum of values where mask, number of True in mask)`` over the last axis, in one pass.

    For the ``[..., T]`` token axis. The form is chosen per platform when the
    program is lowered (`jax.lax.platform_dependent`), from measurements at
    ``[10^6, 32]`` (docs/performance.md):

    * CPU: one variadic (sum, count) reduce, which XLA:CPU compiles to a
      single loop that reads ``values`` and ``mask`` once. The plain
      ``jnp.sum(jnp.where(mask, values, 0), -1)`` is handed by XLA:CPU to a
      library reduction kernel that cannot take the ``where``, so a masked
      copy of ``values`` is first written to fresh memory: four times slower.
    * Elsewhere (GPU, TPU): ``jnp.sum(jnp.where(...))``, which XLA fuses into
      one reduction kernel; there the variadic reduce is 1.4-1.6x slower.

    Masked entries reach neither the value nor the gradient, even if they
    hold NaN or inf. Half-precision values are summed in float32 and the sum
    is returned in their dtype.

    Returns:
      ``(total, count)``: ``[...]`` in the dtype of ``values``, and ``[...]`` int32.
    """
    values = jnp.asarray(values)
    mask = jnp.asarray(mask, dtype=bool)
    return jax.lax.platform_dependent(values, mask, cpu=_masked_sum_count, default=_where_sum_count)
