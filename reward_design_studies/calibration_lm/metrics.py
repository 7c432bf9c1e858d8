"""The LM calibration study's held-out metrics and residual-ECE diagnostics, per seed.

Inputs are the lab's evaluation dicts (``{name: [S, P, G]}``, see
`reward_design_studies.lm.ArmRun.evals`): ``confidence`` (the stated
confidence, 0 when out of format), ``judge/outcome`` (y: in format and
right), ``judge/success_probability`` (q of the answer given, 0 when out of
format) and ``judge/format``. Every completion counts (one out of format is
a wrong answer stated with confidence 0).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

__all__ = [
    "METRICS",
    "DIAGNOSTICS",
    "arrays",
    "ece",
    "auroc",
    "seed_metrics",
    "ece_floor",
    "ece_oracle",
    "curves",
    "confidence_by_q",
]

METRICS = (
    "accuracy",
    "ece",
    "brier",
    "auroc",
    "mean_confidence",
    "overconfidence",
    "abs_gap_to_q",
    "format",
)
"""Held-out metrics of sampled completions (per seed):

* ``accuracy``: mean y; ``ece``: uniform-bin ECE of confidence vs y;
  ``brier``: mean ``(c - y)^2``; ``auroc``: confidence as a detector of y;
* ``mean_confidence``; ``overconfidence`` = mean confidence - accuracy;
* ``abs_gap_to_q``: mean ``|c - q(a | x)|`` (0: calibrated and resolving);
* ``format``: share of completions in format.
"""

DIAGNOSTICS = (
    "ece_floor",
    "ece_oracle",
    "conf_sd_given_xa",
    "conf_slope_on_q",
    "ece_late_change",
)
"""Where residual ECE comes from (pre-registered, docs/studies/calibration-lm.md):

* ``ece_floor``: ECE of the arm's own confidences with outcomes redrawn as
  Bernoulli(c), i.e. of a perfectly calibrated predictor at the same N
  (the estimator's noise floor);
* ``ece_oracle``: ECE of the confidence level nearest q(a | x) against the
  observed y (calibrated and resolving, on the same samples);
* ``conf_sd_given_xa``: mean standard deviation of the policy's confidence
  distribution given (x, a) (`lm.slot_distribution`; ~0: collapsed head);
* ``conf_slope_on_q``: least-squares slope of the expected confidence given
  (x, a) on q (1: tracks q; 0: ignores it);
* ``ece_late_change``: ECE at the end minus ECE at three quarters of
  training (< 0: still improving, i.e. optimisation-limited).
"""


def arrays(evals: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(confidence, y, q, in_format)`` of one evaluation, each ``[S, N]`` float64."""

    def get(name):
        v = np.asarray(evals[name], dtype=np.float64)
        return v.reshape(v.shape[0], -1)

    return (
        get("confidence"),
        get("judge/outcome"),
        get("judge/success_probability"),
        get("judge/format"),
    )


def ece(confidence: np.ndarray, y: np.ndarray, num_bins: int) -> float:
    """Uniform-bin ECE (`rd.calibration.expected_calibration_error`)."""
    from reward_design import calibration as cal

    c = np.asarray(confidence, np.float32)
    return float(cal.expected_calibration_error(c, np.asarray(y, np.float32), num_bins=num_bins))


def auroc(score: np.ndarray, y: np.ndarray) -> float:
    """`rd.calibration.auroc` of the score as a detector of y; NaN if one class is absent."""
    from reward_design import calibration as cal

    y = np.asarray(y, np.float32)
    if y.min() == y.max():
        return float("nan")
    return float(cal.auroc(np.asarray(score, np.float32), y))


def seed_metrics(evals: dict[str, np.ndarray], num_bins: int) -> dict[str, list[float]]:
    """`METRICS` per seed of one evaluation."""
    c, y, q, fmt = arrays(evals)
    out: dict[str, list[float]] = {m: [] for m in METRICS}
    for s in range(c.shape[0]):
        out["accuracy"].append(float(y[s].mean()))
        out["ece"].append(ece(c[s], y[s], num_bins))
        out["brier"].append(float(np.mean((c[s] - y[s]) ** 2)))
        out["auroc"].append(auroc(c[s], y[s]))
        out["mean_confidence"].append(float(c[s].mean()))
        out["overconfidence"].append(float(c[s].mean() - y[s].mean()))
        out["abs_gap_to_q"].append(float(np.abs(c[s] - q[s]).mean()))
        out["format"].append(float(fmt[s].mean()))
    return out


def ece_floor(
    evals: dict[str, np.ndarray], num_bins: int, draws: int, seed: int = 0
) -> list[float]:
    """Per seed: mean over ``draws`` of the ECE of the arm's confidences against
    outcomes redrawn as Bernoulli(confidence) (a calibrated predictor at the same N)."""
    c, _, _, _ = arrays(evals)
    rng = np.random.default_rng(seed)
    out = []
    for s in range(c.shape[0]):
        vals = [ece(c[s], rng.random(c[s].shape) < c[s], num_bins) for _ in range(draws)]
        out.append(float(np.mean(vals)))
    return out


def ece_oracle(evals: dict[str, np.ndarray], num_bins: int, levels: int) -> list[float]:
    """Per seed: ECE of the confidence level nearest q(a | x) (0 out of format) against y."""
    _, y, q, _ = arrays(evals)
    stated = np.round(q * (levels - 1)) / (levels - 1)
    return [ece(stated[s], y[s], num_bins) for s in range(y.shape[0])]


def curves(evals: list[dict[str, np.ndarray]], steps: np.ndarray, num_bins: int) -> dict:
    """Held-out accuracy, ECE, mean confidence and overconfidence at each evaluation."""
    names = ("accuracy", "ece", "mean_confidence", "overconfidence")
    per = {n: [] for n in names}
    for e in evals:
        m = seed_metrics(e, num_bins)
        for n in names:
            per[n].append(m[n])
    out: dict[str, Any] = {"step": [int(s) for s in steps]}
    for n in names:
        arr = np.asarray(per[n]).T  # [S, E]
        out[n] = {"mean": arr.mean(axis=0).tolist(), "per_seed": arr.tolist()}
    return out


def confidence_by_q(evals: dict[str, np.ndarray], edges: np.ndarray) -> dict[str, Any]:
    """Mean stated confidence per bin of q (in-format completions; per seed and pooled)."""
    c, _, q, fmt = arrays(evals)
    nb = len(edges) - 1
    idx = np.clip(np.digitize(q, edges[1:-1]), 0, nb - 1)
    per_seed = np.full((c.shape[0], nb), np.nan)
    counts = np.zeros((c.shape[0], nb))
    q_sum = np.zeros(nb)
    for s in range(c.shape[0]):
        for b in range(nb):
            sel = (idx[s] == b) & (fmt[s] > 0.5)
            counts[s, b] = sel.sum()
            q_sum[b] += q[s][sel].sum()
            if sel.any():
                per_seed[s, b] = c[s][sel].mean()
    total = counts.sum(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pooled = np.nanmean(per_seed, axis=0)
        q_mean = np.where(total > 0, q_sum / np.maximum(total, 1), np.nan)
    return {
        "q_edges": edges.tolist(),
        "q_mean": q_mean.tolist(),
        "confidence_mean": pooled.tolist(),
        "confidence_per_seed": per_seed.tolist(),
        "count": total.tolist(),
    }
