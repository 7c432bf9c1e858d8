"""Independent float64 numpy references shared by several test modules."""

import numpy as np


def np_advantages(rewards, mask, estimator="grpo", eps=1e-6, ddof=1):
    """Per-group advantages written from the estimators' definitions; 0 outside ``mask``.

    GRPO: ``(r - mean) / (std + eps)`` with ``std`` over ``n - ddof`` (0 when
    ``n <= ddof``); Dr. GRPO: ``r - mean``; RLOO: ``n / (n - 1) (r - mean)``
    (0 for a lone member).
    """
    rewards = np.asarray(rewards, np.float64)
    out = np.zeros_like(rewards)
    for i in range(rewards.shape[0]):
        idx = np.flatnonzero(mask[i])
        if idx.size == 0:
            continue
        r = rewards[i, idx]
        centred = r - r.mean()
        n = idx.size
        if estimator == "grpo":
            std = np.sqrt(np.sum(centred**2) / (n - ddof)) if n > ddof else 0.0
            out[i, idx] = centred / (std + eps)
        elif estimator == "dr_grpo":
            out[i, idx] = centred
        else:
            out[i, idx] = n / (n - 1) * centred if n > 1 else 0.0
    return out
