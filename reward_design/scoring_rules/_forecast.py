"""Forecasts and outcomes as the scoring rules compute with them (private).

The argument checks are static (shapes and dtypes, ``reward_design._checks``),
so they run under ``jax.jit`` too; the values are never checked here
(`validate_forecast` does that eagerly).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from reward_design._checks import check_forecast_shapes, real_array


def as_float(x: ArrayLike, name: str = "x", fn: str = "") -> jax.Array:
    """``x`` as a floating JAX array (bool/int become float32); TypeError/ValueError
    naming ``name`` for what is not an array of real numbers."""
    x = real_array(x, name, fn)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    return x


def multiclass(probs: ArrayLike, outcome: ArrayLike, fn: str) -> tuple[jax.Array, jax.Array]:
    """``(probs [..., C] float, one-hot outcome [..., C])``."""
    p = as_float(probs, "probs", fn)
    y = real_array(outcome, "outcome", fn)
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
    p = as_float(p, "p", fn)
    y = real_array(y, "y", fn)
    shape = check_forecast_shapes(p, y, fn, binary=True)
    return jnp.broadcast_to(p, shape), jnp.broadcast_to(y.astype(p.dtype), shape)
