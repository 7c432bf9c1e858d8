"""`validate_forecast`: the eager boundary check for scoring-rule inputs.

The scoring rules themselves are jittable and never branch on values; call
this once where forecasts enter your code (it raises instead of clipping).
"""

from __future__ import annotations

import jax
import numpy as np
from jax.typing import ArrayLike

__all__ = ["validate_forecast"]


def _concrete(value: ArrayLike, name: str) -> np.ndarray:
    if isinstance(value, jax.core.Tracer):
        raise ValueError(
            f"validate_forecast must be called eagerly, outside jax.jit/vmap; {name} is a tracer."
        )
    arr = np.asarray(value)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must be a numeric array; got dtype {arr.dtype}.")
    return arr


def _first_bad(bad: np.ndarray, arr: np.ndarray) -> str:
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    return f"{int(bad.sum())} value(s), first at index {idx} ({arr[idx]!r})"


def validate_forecast(
    forecast: ArrayLike,
    outcome: ArrayLike | None = None,
    *,
    binary: bool = False,
    atol: float = 1e-4,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Checks a forecast (and outcome) for a scoring rule; returns them as numpy arrays.

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
        was given: NaN/inf, probabilities outside [0, 1], rows not summing to
        1, fewer than two classes, mismatched shapes, outcomes out of range.
    """
    p = _concrete(forecast, "forecast")
    if p.dtype == np.bool_:
        p = p.astype(np.float32)
    bad = ~np.isfinite(p)
    if bad.any():
        raise ValueError(f"forecast must be finite; got NaN/inf in {_first_bad(bad, p)}.")
    bad = (p < 0) | (p > 1)
    if bad.any():
        raise ValueError(
            f"forecast probabilities must lie in [0, 1]; got {_first_bad(bad, p)} outside "
            f"(range given [{p.min()}, {p.max()}])."
        )
    if not binary:
        if p.ndim < 1 or p.shape[-1] < 2:
            raise ValueError(
                f"forecast must have shape [..., C] with C >= 2 classes; got shape {p.shape}. "
                "For probabilities of a binary event use binary=True."
            )
        sums = p.sum(axis=-1)
        bad = np.abs(sums - 1.0) > atol
        if bad.any():
            raise ValueError(
                f"forecast rows must sum to 1 (within atol={atol}); got {_first_bad(bad, sums)} "
                "as a row sum."
            )
    if outcome is None:
        return p, None
    y = _concrete(outcome, "outcome")
    expected_shape = p.shape if binary else p.shape[:-1]
    if y.shape != expected_shape:
        layout = "[...] like forecast" if binary else "[...] = forecast.shape[:-1]"
        raise ValueError(
            f"outcome must have shape {layout} = {list(expected_shape)}; got shape {y.shape}."
        )
    if binary:
        if y.dtype != np.bool_:
            bad = ~np.isin(y, (0, 1))
            if bad.any():
                raise ValueError(f"outcome must be 0 or 1; got {_first_bad(bad, y)}.")
        return p, y
    if not (np.issubdtype(y.dtype, np.integer)):
        raise TypeError(f"outcome must hold integer class indices; got dtype {y.dtype}.")
    num_classes = p.shape[-1]
    bad = (y < 0) | (y >= num_classes)
    if bad.any():
        raise ValueError(
            f"outcome must be a class index in [0, {num_classes}); got {_first_bad(bad, y)}."
        )
    return p, y
