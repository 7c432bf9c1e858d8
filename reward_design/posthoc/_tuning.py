"""Empirical threshold tuning on a validation split for a binary cost matrix."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from reward_design._checks import check_scores
from reward_design.posthoc._cost import validate_cost_matrix
from reward_design.posthoc._platt import check_binary_targets

__all__ = ["TunedThreshold", "tune_threshold"]


class TunedThreshold(NamedTuple):
    """Result of `tune_threshold`.

    Attributes:
      threshold: decide 1 iff ``score >= threshold`` (may be -inf or +inf).
      mean_cost: mean realised cost of that rule on the validation data.
    """

    threshold: float
    mean_cost: float


def tune_threshold(
    scores: Any, labels: Any, cost: Any, *, sample_weight: Any = None
) -> TunedThreshold:
    """The threshold on ``scores`` with the lowest mean realised cost on validation data.

    The empirical counterpart of `binary_threshold`: instead of trusting
    calibrated probabilities and p*, search every cut of the validation
    scores. With sorted distinct scores u_1 < ... < u_K, the rule
    "decide 1 iff s >= t" takes K + 1 distinct forms on the data; for each,

        cost(t) = FP c_fp + TN c_tn + FN c_fn + TP c_tp,

    from cumulative label counts, in O(N log N). The returned threshold is
    the midpoint of the best gap (u_{k-1} + u_k) / 2, -inf if deciding 1
    everywhere is best, +inf if deciding 0 everywhere is. Ties between cuts
    go to the lowest threshold. Works with any monotone score (probabilities,
    logits, decision functions). scikit-learn's ``TunedThresholdClassifierCV``
    does the same search on a grid and with cross-validation.

    Args:
      scores: ``[N]`` validation scores, higher means class 1.
      labels: ``[N]`` binary validation labels.
      cost: ``[2, 2]`` binary cost matrix ``[[c_tn, c_fp], [c_fn, c_tp]]``.
      sample_weight: optional ``[N]`` non-negative weights.

    Returns:
      `TunedThreshold` (threshold, mean_cost).

    Raises:
      ValueError / TypeError: bad scores, labels, weights or cost matrix.

    References:
      Elkan, "The Foundations of Cost-Sensitive Learning", IJCAI 2001.
    """
    s = check_scores(scores)
    y = check_binary_targets(labels, s.shape[0])
    validate_cost_matrix(cost, num_classes=2)
    c = np.asarray(cost, dtype=np.float64)
    if sample_weight is None:
        w = np.ones_like(s)
    else:
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.shape != s.shape or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(
                f"sample_weight must be finite, >= 0, not all 0, with shape {s.shape}; "
                f"got shape {w.shape}."
            )
    order = np.argsort(s, kind="stable")
    s, y, w = s[order], y[order], w[order]
    uniq, starts = np.unique(s, return_index=True)
    pos = np.add.reduceat(w * y, starts)
    neg = np.add.reduceat(w * (1.0 - y), starts)
    # Cut k (k = 0..K) decides 1 for the distinct scores u_k, ..., u_{K-1}.
    tp = np.concatenate([np.cumsum(pos[::-1])[::-1], [0.0]])
    fp = np.concatenate([np.cumsum(neg[::-1])[::-1], [0.0]])
    n1, n0 = pos.sum(), neg.sum()
    total = fp * c[0, 1] + (n0 - fp) * c[0, 0] + (n1 - tp) * c[1, 0] + tp * c[1, 1]
    k = int(np.argmin(total))
    if k == 0:
        threshold = -np.inf
    elif k == uniq.shape[0]:
        threshold = np.inf
    else:
        threshold = 0.5 * (uniq[k - 1] + uniq[k])
    return TunedThreshold(float(threshold), float(total[k] / w.sum()))
