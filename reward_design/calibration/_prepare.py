"""`prepare`: the calibration metrics' inputs as flat, weighted float vectors (private)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from reward_design._checks import check_mask, check_unit


def prepare(
    confidence: ArrayLike,
    correct: ArrayLike,
    mask: ArrayLike | None,
    fn: str,
    *,
    binary_correct: bool = False,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Flattened float ``(confidence, correct, weight)``; ``weight`` is the mask as 0/1.

    Checks (docs/concepts.md): ``confidence`` in [0, 1] and ``correct`` in
    [0, 1] (in {0, 1} if ``binary_correct``) when concrete; same non-empty
    shape and a boolean ``mask`` of that shape always.
    """
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
        w = check_mask(mask, c.shape, fn, of="confidence").astype(jnp.float32)
    dtype = jnp.float32
    if jnp.issubdtype(c.dtype, jnp.floating):
        dtype = jnp.promote_types(c.dtype, jnp.float32)
    return (
        c.reshape(-1).astype(dtype),
        y.reshape(-1).astype(dtype),
        w.reshape(-1).astype(dtype),
    )
