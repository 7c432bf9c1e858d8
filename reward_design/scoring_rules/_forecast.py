"""Forecasts and outcomes as the scoring rules compute with them (private).

The argument checks are static (shapes and dtypes, ``reward_design._checks``),
so they run under ``jax.jit`` too; the values are never checked here
(`validate_forecast` does that eagerly).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from reward_design._checks import check_forecast_shapes


def as_float(x: ArrayLike) -> jax.Array:
    """``x`` as a floating JAX array (bool/int become float32)."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    return x


def multiclass(probs: ArrayLike, outcome: ArrayLike, fn: str) -> tuple[jax.Array, jax.Array]:
    """``(probs [..., C] float, one-hot outcome [..., C])``."""
    p = as_float(probs)
    y = jnp.asarray(outcome)
    check_forecast_shapes(p, y, fn)
    return p, jax.nn.one_hot(y, p.shape[-1], dtype=p.dtype)


def outcome_prob(p: jax.Array, onehot: jax.Array) -> jax.Array:
    """``p_y``, the forecast probability of the outcome, ``[...]``.

    Selected with ``where`` rather than ``sum(p * onehot)``: the product would
    send ``0 * inf = NaN`` into the gradient of the other classes whenever the
    rule's derivative in ``p_y`` is infinite (``log`` at ``p_y = 0``,
    ``power``/``pseudospherical`` of order < 2 at ``p_y = 0``).
    """
    return jnp.sum(jnp.where(onehot > 0, p, jnp.zeros_like(p)), axis=-1)


def binary(p: ArrayLike, y: ArrayLike, fn: str) -> tuple[jax.Array, jax.Array]:
    """``(p, y)`` as floats broadcast together."""
    p = as_float(p)
    y = jnp.asarray(y)
    shape = check_forecast_shapes(p, y, fn, binary=True)
    return jnp.broadcast_to(p, shape), jnp.broadcast_to(y.astype(p.dtype), shape)
