"""Forecasts and outcomes as the scoring rules compute with them, and `validate_forecast`.

The rules' argument checks are static (shapes and dtypes, ``reward_design._checks``),
so they run under ``jax.jit`` too; the values are never checked by the rules:
`validate_forecast` (public as ``rd.scoring_rules.validate_forecast``) checks
them eagerly, with the helpers of ``reward_design._checks``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from reward_design._checks import (
    _is_real,
    check_class_indices,
    check_forecast_shapes,
    check_rows_sum_to_one,
    check_unit,
    is_concrete,
    real_array,
)


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


def validate_forecast(
    forecast: ArrayLike,
    outcome: ArrayLike | None = None,
    *,
    binary: bool = False,
    atol: float = 1e-4,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Checks a forecast (and outcome) for a scoring rule; returns them as numpy arrays.

    The scoring rules themselves are jittable and never branch on values;
    call this once where forecasts enter your code (it raises instead of
    clipping).

    Multiclass (``binary=False``): ``forecast`` is ``[..., C]`` probabilities
    with ``C >= 2``, every entry in [0, 1] and each row summing to 1 within
    ``atol``; ``outcome`` is ``[...]`` integer class indices in ``[0, C)``.

    Binary (``binary=True``): ``forecast`` is ``[...]`` probabilities of the
    outcome 1, in [0, 1]; ``outcome`` has the same shape with values in
    {0, 1} (bool, integer, or float 0.0/1.0).

    Args:
      forecast: the probabilities (first argument of every scoring rule).
      outcome: the observed outcomes, or None to check the forecast only.
      binary: which of the two layouts above.
      atol: tolerance on ``|sum_k p_k - 1|`` (multiclass only). The default
        1e-4 accepts float32 softmax outputs.

    Returns:
      ``(forecast, outcome)`` as numpy arrays (``outcome`` None if not given).

    Raises:
      TypeError: non-numeric input, or a non-integer multiclass outcome.
      ValueError: naming the argument, the expected shape or range and what
        was given: a traced input, NaN/inf, probabilities outside [0, 1],
        rows not summing to 1, fewer than two classes, mismatched shapes,
        outcomes out of range.
    """
    if not is_concrete(forecast):
        raise ValueError(
            "validate_forecast must be called eagerly, outside jax.jit/vmap; forecast is a tracer."
        )
    check_unit(forecast, "forecast probabilities")
    p = np.asarray(forecast)
    p = p.astype(np.float32) if p.dtype == np.bool_ else p
    if not binary:
        if p.ndim < 1 or p.shape[-1] < 2:
            raise ValueError(
                f"forecast must have shape [..., C] with C >= 2 classes; got shape {p.shape}. "
                "For probabilities of a binary event use binary=True."
            )
        check_rows_sum_to_one(p, "forecast", atol=atol)
    if outcome is None:
        return p, None
    if not is_concrete(outcome):
        raise ValueError(
            "validate_forecast must be called eagerly, outside jax.jit/vmap; outcome is a tracer."
        )
    y = np.asarray(outcome)
    if y.dtype == object or not (_is_real(y.dtype) or y.dtype == np.bool_):
        raise TypeError(f"outcome must be a numeric array; got dtype {y.dtype}.")
    expected_shape = p.shape if binary else p.shape[:-1]
    if y.shape != expected_shape:
        layout = "[...] like forecast" if binary else "[...] = forecast.shape[:-1]"
        raise ValueError(
            f"outcome must have shape {layout} = {list(expected_shape)}; got shape {y.shape}."
        )
    if binary:
        check_unit(y, "outcome", binary=True)
        return p, y
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"outcome must hold integer class indices; got dtype {y.dtype}.")
    check_class_indices(y, p.shape[-1], "outcome")
    return p, y
