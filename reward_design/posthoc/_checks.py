"""Eager checks of array arguments at the boundary of the post-hoc functions.

Shapes are always static, so shape checks run even under ``jax.jit``; value
checks (range, finiteness, normalisation) run only when the values are
concrete (numpy arrays, Python lists, JAX arrays outside a trace), never on
tracers, so that compiled code pays nothing for them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reward_design._hyper import is_concrete

__all__ = [
    "is_concrete",
    "check_probs",
    "check_labels",
    "check_logits",
    "check_scores",
]

# float32 softmax outputs sum to 1 within ~1e-6 * C; this leaves room for
# probabilities that went through a float16 / bfloat16 model head.
_SUM_TOL = 1e-3


def _shape(value: Any) -> tuple[int, ...]:
    return tuple(np.shape(value)) if not hasattr(value, "shape") else tuple(value.shape)


def check_probs(probs: Any, num_classes: int | None = None, name: str = "probs") -> None:
    """Checks ``probs: [..., C]``: C matches, values in [0, 1], rows sum to 1."""
    shape = _shape(probs)
    if len(shape) < 1:
        raise ValueError(f"{name} must have shape [..., C]; got a scalar.")
    if num_classes is not None and shape[-1] != num_classes:
        raise ValueError(
            f"{name} must have shape [..., C] with C = {num_classes} (the size of the cost "
            f"matrix); got shape {shape}."
        )
    if not is_concrete(probs):
        return
    arr = np.asarray(probs)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real-valued array; got dtype {arr.dtype}.")
    if arr.size == 0:
        return
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got NaN or inf values.")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"{name} must lie in [0, 1]; got values in [{lo:.6g}, {hi:.6g}].")
    sums = arr.sum(axis=-1)
    worst = float(np.max(np.abs(sums - 1.0)))
    if worst > _SUM_TOL:
        raise ValueError(
            f"{name} must sum to 1 over the last axis (tolerance {_SUM_TOL}); "
            f"the worst row sums to {float(sums.flat[np.argmax(np.abs(sums - 1.0))]):.6g}."
        )


def check_labels(
    labels: Any,
    num_classes: int,
    shape: tuple[int, ...] | None = None,
    name: str = "labels",
) -> None:
    """Checks integer class indices in [0, num_classes), optionally of a given shape."""
    got = _shape(labels)
    if shape is not None and got != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}; got shape {got}.")
    dtype = np.dtype(labels.dtype) if hasattr(labels, "dtype") else np.asarray(labels).dtype
    if dtype.kind not in "iub":
        raise TypeError(f"{name} must hold integer class indices; got dtype {dtype}.")
    if not is_concrete(labels):
        return
    arr = np.asarray(labels)
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        raise ValueError(
            f"{name} must be class indices in [0, {num_classes}); "
            f"got values in [{arr.min()}, {arr.max()}]."
        )


def check_logits(logits: Any, name: str = "logits", ndim: int | None = None) -> None:
    """Checks real-valued, finite logits ``[..., C]`` (or exactly ``ndim`` dims)."""
    shape = _shape(logits)
    if ndim is not None and len(shape) != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions; got shape {shape}.")
    if len(shape) < 1 or shape[-1] < 1:
        raise ValueError(f"{name} must have shape [..., C] with C >= 1; got shape {shape}.")
    if not is_concrete(logits):
        return
    arr = np.asarray(logits)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real-valued array; got dtype {arr.dtype}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got NaN or inf values.")


def check_scores(scores: Any, name: str = "scores") -> np.ndarray:
    """Checks 1-D finite real scores ``[N]`` (N >= 1) and returns them as float64 numpy."""
    arr = np.asarray(scores)
    if arr.ndim != 1 or arr.shape[0] < 1:
        raise ValueError(f"{name} must have shape [N] with N >= 1; got shape {arr.shape}.")
    if arr.dtype.kind not in "iufb":
        raise TypeError(f"{name} must be a real-valued array; got dtype {arr.dtype}.")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got NaN or inf values.")
    return arr
