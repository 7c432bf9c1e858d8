"""KTO's recommended class-weight range for imbalanced desirable/undesirable data.

The KTO paper recommends choosing the class weights so that

  1 <= (lambda_D * n_D) / (lambda_U * n_U) <= 4/3,

i.e. the desirable class gets as much total weight as the undesirable one, or
up to a third more. `check_kto_weights` computes the ratio, the range each
weight should lie in when the other is kept, and warns outside the range.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import NamedTuple

import jax
import numpy as np

from reward_design._checks import is_concrete

__all__ = ["KTOWeightCheck", "check_kto_weights", "KTO_WEIGHT_RATIO_RANGE"]

#: The paper's recommended range of lambda_D n_D / (lambda_U n_U).
KTO_WEIGHT_RATIO_RANGE: tuple[float, float] = (1.0, 4.0 / 3.0)


class KTOWeightCheck(NamedTuple):
    """Result of `check_kto_weights`.

    Attributes:
      ratio: ``desirable_weight * num_desirable / (undesirable_weight * num_undesirable)``
        (``inf`` when the denominator is 0).
      in_range: whether ``ratio`` lies in [1, 4/3].
      desirable_weight_range: ``(low, high)`` for lambda_D with lambda_U kept:
        ``[n_U lambda_U / n_D, (4/3) n_U lambda_U / n_D]`` (``None`` if n_D = 0).
      undesirable_weight_range: ``(low, high)`` for lambda_U with lambda_D kept:
        ``[(3/4) n_D lambda_D / n_U, n_D lambda_D / n_U]`` (``None`` if n_U = 0).
    """

    ratio: float
    in_range: bool
    desirable_weight_range: tuple[float, float] | None
    undesirable_weight_range: tuple[float, float] | None


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 0:
        raise ValueError(f"check_kto_weights: {name} must be an integer >= 0; got {value!r}.")
    return int(value)


def _weight(value: object, name: str) -> float:
    if isinstance(value, np.ndarray | np.generic | jax.Array) and np.ndim(value) == 0:
        if np.dtype(value.dtype).kind in "iuf" and is_concrete(value):
            value = float(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"check_kto_weights: {name} must be a real number >= 0; got {value!r}.")
    x = float(value)
    if not math.isfinite(x) or x < 0:
        raise ValueError(f"check_kto_weights: {name} must be finite and >= 0; got {value!r}.")
    return x


def check_kto_weights(
    num_desirable: int,
    num_undesirable: int,
    desirable_weight: float = 1.0,
    undesirable_weight: float = 1.0,
    *,
    warn: bool = True,
) -> KTOWeightCheck:
    """Checks ``lambda_D n_D / (lambda_U n_U)`` against KTO's recommended [1, 4/3].

    Emits a ``UserWarning`` (when ``warn``) naming the ratio and the ranges
    that would fix it, for either weight, when the ratio is outside the
    range. This is an eager, host-side check: call it once on the dataset's
    class counts, not inside a compiled step.

    TRL's ``KTOTrainer`` runs the same check on the training set (with 1.33
    for 4/3 and rounded bounds) but only when the two counts differ; this
    function also flags unequal weights on balanced data, which the paper's
    range excludes as well.

    Args:
      num_desirable: n_D, the number of desirable examples.
      num_undesirable: n_U, the number of undesirable examples.
      desirable_weight: lambda_D >= 0.
      undesirable_weight: lambda_U >= 0.
      warn: emit the warning when out of range.

    Returns:
      `KTOWeightCheck` with the ratio, ``in_range`` and the recommended
      ranges for each weight.

    Raises:
      ValueError: negative or non-integer counts, both counts 0, or negative
        or non-finite weights.

    References:
      Ethayarajh et al., "KTO: Model Alignment as Prospect Theoretic
      Optimization", arXiv 2402.01306, section 4.2 ("Data imbalance").
    """
    n_d = _count(num_desirable, "num_desirable")
    n_u = _count(num_undesirable, "num_undesirable")
    if n_d == 0 and n_u == 0:
        raise ValueError("check_kto_weights: num_desirable and num_undesirable are both 0.")
    w_d = _weight(desirable_weight, "desirable_weight")
    w_u = _weight(undesirable_weight, "undesirable_weight")
    low, high = KTO_WEIGHT_RATIO_RANGE
    num = w_d * n_d
    den = w_u * n_u
    if den > 0:
        ratio = num / den
    else:
        ratio = math.inf if num > 0 else math.nan
    in_range = bool(low <= ratio <= high)
    d_range = (w_u * n_u / n_d * low, w_u * n_u / n_d * high) if n_d > 0 else None
    u_range = (w_d * n_d / n_u / high, w_d * n_d / n_u / low) if n_u > 0 else None
    if warn and not in_range:
        fixes = []
        if d_range is not None and d_range[1] > 0:
            fixes.append(f"desirable_weight in [{d_range[0]:.4g}, {d_range[1]:.4g}]")
        if u_range is not None and u_range[1] > 0:
            fixes.append(f"undesirable_weight in [{u_range[0]:.4g}, {u_range[1]:.4g}]")
        advice = (
            (" or ".join(fixes) + " (one of them, not both)")
            if fixes
            else ("data with both desirable and undesirable examples")
        )
        warnings.warn(
            f"KTO class weights out of the recommended range: desirable_weight * num_desirable / "
            f"(undesirable_weight * num_undesirable) = {w_d:g} * {n_d} / ({w_u:g} * {n_u}) = "
            f"{ratio:.4g}, outside [1, 4/3]. Use {advice}.",
            UserWarning,
            stacklevel=2,
        )
    return KTOWeightCheck(
        ratio=ratio,
        in_range=in_range,
        desirable_weight_range=d_range,
        undesirable_weight_range=u_range,
    )
