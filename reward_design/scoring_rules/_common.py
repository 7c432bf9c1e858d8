"""Shared helpers for the scoring-rule modules (private)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from reward_design._reduce import items_sum


def as_float(x: ArrayLike) -> jax.Array:
    """``x`` as a floating JAX array (bool/int become float32)."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    return x


def multiclass(probs: ArrayLike, outcome: ArrayLike, fn: str) -> tuple[jax.Array, jax.Array]:
    """``(probs [..., C] float, one-hot outcome [..., C])``; shape checks only (no values)."""
    p = as_float(probs)
    y = jnp.asarray(outcome)
    if p.ndim < 1 or p.shape[-1] < 2:
        raise ValueError(f"{fn}: probs must have shape [..., C] with C >= 2; got shape {p.shape}.")
    if y.shape != p.shape[:-1]:
        raise ValueError(
            f"{fn}: outcome must have shape probs.shape[:-1] = {list(p.shape[:-1])}; "
            f"got shape {y.shape}."
        )
    if not jnp.issubdtype(y.dtype, jnp.integer):
        raise TypeError(f"{fn}: outcome must hold integer class indices; got dtype {y.dtype}.")
    return p, jax.nn.one_hot(y, p.shape[-1], dtype=p.dtype)


def outcome_prob(p: jax.Array, onehot: jax.Array) -> jax.Array:
    """``p_y``, the forecast probability of the outcome, ``[...]``.

    Selected with ``where`` rather than ``sum(p * onehot)``: the product would
    send ``0 * inf = NaN`` into the gradient of the other classes whenever the
    rule's derivative in ``p_y`` is infinite (``log`` at ``p_y = 0``,
    ``power``/``pseudospherical`` of order < 2 at ``p_y = 0``).
    """
    return items_sum(jnp.where(onehot > 0, p, jnp.zeros_like(p)))


def binary(p: ArrayLike, y: ArrayLike, fn: str) -> tuple[jax.Array, jax.Array]:
    """``(p, y)`` as floats broadcast together; shape checks only."""
    p = as_float(p)
    y = jnp.asarray(y)
    try:
        shape = jnp.broadcast_shapes(p.shape, y.shape)
    except ValueError:
        raise ValueError(
            f"{fn}: p and y must have broadcastable shapes; got {p.shape} and {y.shape}."
        ) from None
    return jnp.broadcast_to(p, shape), jnp.broadcast_to(y.astype(p.dtype), shape)


def check_order(order: ArrayLike, fn: str) -> None:
    """Eager check ``order > 1`` when the value is concrete (tracers pass)."""
    if isinstance(order, jax.core.Tracer):
        return
    arr = np.asarray(order)
    if arr.dtype.kind not in "iuf" or arr.ndim != 0:
        raise ValueError(f"{fn}: order must be a real scalar; got {order!r}.")
    if not np.isfinite(arr) or arr <= 1:
        raise ValueError(f"{fn}: order must be a finite number > 1; got {order!r}.")
