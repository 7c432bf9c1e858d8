"""Statistics shared by the studies: intervals over seeds and the JSON cells.

Every study reports per-seed numbers, a mean with a Student-t 95% interval,
and paired differences between arms; the functions here make those
computations identical across studies.

Two JSON cells come out of them:

* an arm's metric, `metric_summary`: ``{"mean", "ci95": [low, high], "per_seed": [...]}``;
* a paired comparison, `paired_difference_ci`:
  ``{"mean", "low", "high", "std", "n", "p_value"}`` of ``a - b`` over seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "mean_ci",
    "metric_summary",
    "curve_summaries",
    "paired_difference_ci",
    "bootstrap_ci",
    "summarise_arms",
    "compare_arms",
]


def _t_quantile(q: float, df: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(q, df=df))


def mean_ci(values: Sequence[float], level: float = 0.95) -> dict[str, float]:
    """Mean and Student-t confidence interval over seeds.

    Args:
      values: one number per seed, a non-empty 1-D sequence.
      level: coverage of the interval, in (0, 1).

    Returns:
      ``{"mean", "low", "high", "std", "n"}``; with one value the interval is
      the point itself (and ``std`` is 0).
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level!r}.")
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"values must be a non-empty 1-D sequence; got shape {x.shape}.")
    mean = float(x.mean())
    if x.size == 1:
        return {"mean": mean, "low": mean, "high": mean, "std": 0.0, "n": 1}
    std = float(x.std(ddof=1))
    half = float(_t_quantile(0.5 + level / 2, x.size - 1) * std / np.sqrt(x.size))
    return {"mean": mean, "low": mean - half, "high": mean + half, "std": std, "n": int(x.size)}


def metric_summary(per_seed: Sequence[float], level: float = 0.95) -> dict[str, Any]:
    """An arm's JSON cell: ``{"mean", "ci95": [low, high], "per_seed": [...]}``."""
    ci = mean_ci(per_seed, level)
    return {
        "mean": ci["mean"],
        "ci95": [ci["low"], ci["high"]],
        "per_seed": [float(v) for v in per_seed],
    }


def curve_summaries(per_seed: Sequence[Sequence[float]]) -> list[dict[str, Any]]:
    """A curve's ``[S, E]`` per-seed values -> one `metric_summary` per evaluation."""
    arr = np.asarray(per_seed, dtype=float)
    return [metric_summary(arr[:, e].tolist()) for e in range(arr.shape[1])]


def paired_difference_ci(
    a: Sequence[float], b: Sequence[float], level: float = 0.95
) -> dict[str, float]:
    """Mean of ``a - b`` over paired seeds, with a t interval and a two-sided p-value.

    Returns:
      ``{"mean", "low", "high", "std", "n", "p_value"}``. The p-value is the
      paired t-test's (``scipy.stats.ttest_rel``); it is NaN for one seed or
      when the differences are at rounding level (the t statistic means
      nothing there).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must be paired (same shape); got {a.shape} and {b.shape}.")
    diff = a - b
    out = mean_ci(diff, level)
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))), 1e-300)
    if a.size > 1 and np.std(diff) > 1e-12 * scale:
        from scipy import stats

        out["p_value"] = float(stats.ttest_rel(a, b).pvalue)
    else:
        out["p_value"] = float("nan")
    return out


def bootstrap_ci(
    values: np.ndarray,
    statistic: Callable[[np.ndarray], Any] = np.mean,
    num_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """Percentile bootstrap interval of ``statistic`` over the first axis of ``values``.

    Returns:
      ``{"estimate", "low", "high"}``: the statistic on ``values`` and the
      ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of its resamples.
    """
    x = np.asarray(values)
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"values must have a non-empty first axis; got shape {x.shape}.")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level!r}.")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.shape[0], size=(num_resamples, x.shape[0]))
    boot = np.array([statistic(x[i]) for i in idx])
    alpha = (1 - level) / 2
    return {
        "estimate": float(statistic(x)),
        "low": float(np.quantile(boot, alpha)),
        "high": float(np.quantile(boot, 1 - alpha)),
    }


def summarise_arms(
    per_seed: Mapping[str, Mapping[str, Sequence[float]]], level: float = 0.95
) -> dict[str, dict[str, Any]]:
    """``{arm: {metric: per-seed values}}`` -> ``{arm: {metric: metric_summary}}``."""
    return {
        arm: {metric: metric_summary(values, level) for metric, values in metrics.items()}
        for arm, metrics in per_seed.items()
    }


def compare_arms(
    per_seed: Mapping[str, Mapping[str, Sequence[float]]],
    pairs: Iterable[tuple[str, str]],
    metrics: Iterable[str] | None = None,
    level: float = 0.95,
) -> dict[str, dict[str, dict[str, float]]]:
    """Paired differences ``{"a - b": {metric: paired_difference_ci}}`` for each ``(a, b)``.

    Args:
      per_seed: ``{arm: {metric: per-seed values}}``, seeds in the same order
        for every arm.
      pairs: the ``(a, b)`` arm pairs.
      metrics: the metrics compared (default: every metric of arm ``a``).
    """
    out = {}
    for a, b in pairs:
        for arm in (a, b):
            if arm not in per_seed:
                raise ValueError(f"pairs name arm {arm!r}, which is not in {sorted(per_seed)}.")
        names = list(per_seed[a]) if metrics is None else list(metrics)
        out[f"{a} - {b}"] = {
            m: paired_difference_ci(per_seed[a][m], per_seed[b][m], level) for m in names
        }
    return out
