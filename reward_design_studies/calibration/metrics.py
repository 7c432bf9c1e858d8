"""The calibration study's metrics on held-out samples, per seed.

`final_metrics` gives the `METRICS` of an arm's final evaluation, `curves`
the held-out accuracy, ECE and mean confidence at every evaluation, and
`confidence_by_q` the mean stated confidence per bin of the known success
probability ``q`` of the sampled answer.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .training import ArmRun

__all__ = ["METRICS", "final_metrics", "curves", "confidence_by_q"]

METRICS = (
    "accuracy",
    "ece",
    "brier",
    "auroc",
    "mean_confidence",
    "overconfidence",
    "abs_gap_to_q",
    "surely_wrong",
    "brier_reliability",
    "brier_resolution",
)
"""Per-arm metrics on held-out questions (sampled answers and confidences):

* ``accuracy``: fraction of sampled answers that are right;
* ``ece``: 15-bin uniform expected calibration error of confidence vs correctness;
* ``brier``: mean ``(confidence - correct)^2``;
* ``auroc``: confidence as a detector of correct answers;
* ``mean_confidence``;
* ``overconfidence``: ``mean_confidence - accuracy``;
* ``abs_gap_to_q``: mean ``|confidence - q(a | x)|``, distance from the known
  success probability of the answer given (0 for a perfectly calibrated,
  perfectly resolving policy);
* ``surely_wrong``: fraction of sampled answers whose known success
  probability is below 0.05 (answers the policy can be *sure* are wrong;
  diagnostic added after the quick run showed accuracy collapsing under
  std-scaled GRPO);
* ``brier_reliability`` / ``brier_resolution``: Murphy's decomposition
  ``brier = reliability - resolution + uncertainty`` with one bin per
  confidence level (exact on the 21-level grid): reliability is the
  calibration error, resolution how much the stated confidence separates
  easy from hard answers.
"""


@functools.cache
def _metric_fns(num_bins: int):
    from reward_design import calibration as cal

    ece = jax.jit(jax.vmap(functools.partial(cal.expected_calibration_error, num_bins=num_bins)))
    return ece


def final_metrics(run: ArmRun, num_bins: int, num_levels: int) -> dict[str, list[float]]:
    from reward_design import calibration as cal
    from reward_design.scoring_rules import brier_binary

    correct, conf, q = run.final
    out: dict[str, list[float]] = {m: [] for m in METRICS}
    for s in range(correct.shape[0]):
        c, y, qs = conf[s], correct[s], q[s]
        out["accuracy"].append(float(y.mean()))
        out["ece"].append(float(cal.expected_calibration_error(c, y, num_bins=num_bins)))
        out["brier"].append(float(jnp.mean(brier_binary(c, y))))
        try:
            out["auroc"].append(float(cal.auroc(c, y)))
        except ValueError:  # every answer right (or wrong): AUROC undefined
            out["auroc"].append(float("nan"))
        out["mean_confidence"].append(float(c.mean()))
        out["overconfidence"].append(float(c.mean() - y.mean()))
        out["abs_gap_to_q"].append(float(np.abs(c - qs).mean()))
        out["surely_wrong"].append(float((qs < 0.05).mean()))
        dec = cal.brier_decomposition(c, y, num_bins=num_levels)
        out["brier_reliability"].append(float(dec.reliability))
        out["brier_resolution"].append(float(dec.resolution))
    return out


def curves(run: ArmRun, num_bins: int) -> dict[str, Any]:
    ece_fn = _metric_fns(num_bins)
    acc, ece, conf = [], [], []
    for correct, c, _ in run.evals:
        acc.append(correct.mean(axis=1))
        ece.append(
            np.asarray(ece_fn(jnp.asarray(c, jnp.float32), jnp.asarray(correct, jnp.float32)))
        )
        conf.append(c.mean(axis=1))
    out: dict[str, Any] = {"step": run.eval_steps.tolist()}
    for name, values in (("accuracy", acc), ("ece", ece), ("mean_confidence", conf)):
        arr = np.stack(values, axis=1)  # [S, E]
        out[name] = {"mean": arr.mean(axis=0).tolist(), "per_seed": arr.tolist()}
    return out


def _nanmean_over_seeds(per_seed: np.ndarray) -> np.ndarray:
    """Mean over seeds ignoring NaN; NaN (without a warning) where no seed has a sample."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(per_seed, axis=0)


def confidence_by_q(run: ArmRun, edges: np.ndarray) -> dict[str, Any]:
    """Mean stated confidence per bin of the known success probability q (per seed)."""
    correct, conf, q = run.final
    nb = len(edges) - 1
    idx = np.clip(np.digitize(q, edges[1:-1]), 0, nb - 1)
    per_seed = np.full((conf.shape[0], nb), np.nan)
    counts = np.zeros((conf.shape[0], nb))
    for s in range(conf.shape[0]):
        for b in range(nb):
            sel = idx[s] == b
            counts[s, b] = sel.sum()
            if sel.any():
                per_seed[s, b] = conf[s][sel].mean()
    q_mean = np.array([q[idx == b].mean() if (idx == b).any() else np.nan for b in range(nb)])
    return {
        "q_edges": edges.tolist(),
        "q_mean": q_mean.tolist(),
        "confidence_mean": _nanmean_over_seeds(per_seed).tolist(),
        "confidence_per_seed": per_seed.tolist(),
        "count": counts.sum(axis=0).tolist(),
    }
