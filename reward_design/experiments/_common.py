"""Shared plumbing for the studies: confidence intervals, result files, seeds.

Every study reports per-seed numbers and a mean with a confidence interval;
the helpers here make those computations identical across studies.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

__all__ = [
    "metric_summary",
    "mean_ci",
    "paired_difference_ci",
    "bootstrap_ci",
    "write_json",
    "run_metadata",
    "resolve_out_dir",
]


def mean_ci(values: Sequence[float], level: float = 0.95) -> dict[str, float]:
    """Mean and Student-t confidence interval over seeds.

    Returns:
      ``{"mean", "low", "high", "std", "n"}``; with one value the interval is
      the point itself (and ``std`` is 0).
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"values must be a non-empty 1-D sequence; got shape {x.shape}.")
    mean = float(x.mean())
    if x.size == 1:
        return {"mean": mean, "low": mean, "high": mean, "std": 0.0, "n": 1}
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, df=x.size - 1) * std / np.sqrt(x.size))
    return {"mean": mean, "low": mean - half, "high": mean + half, "std": std, "n": int(x.size)}


def metric_summary(per_seed: Sequence[float], level: float = 0.95) -> dict[str, Any]:
    """The studies' JSON cell: ``{"mean", "ci95": [low, high], "per_seed": [...]}``."""
    ci = mean_ci(per_seed, level)
    return {
        "mean": ci["mean"],
        "ci95": [ci["low"], ci["high"]],
        "per_seed": [float(v) for v in per_seed],
    }


def paired_difference_ci(
    a: Sequence[float], b: Sequence[float], level: float = 0.95
) -> dict[str, float]:
    """Mean of ``a - b`` over paired seeds, with a t interval and a two-sided p-value."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must be paired (same shape); got {a.shape} and {b.shape}.")
    out = mean_ci(a - b, level)
    diff = a - b
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))), 1e-300)
    # Differences at rounding level make the t statistic meaningless (scipy warns of
    # catastrophic cancellation); report no p-value then.
    if a.size > 1 and np.std(diff) > 1e-12 * scale:
        out["p_value"] = float(stats.ttest_rel(a, b).pvalue)
    else:
        out["p_value"] = float("nan")
    return out


def bootstrap_ci(
    values: np.ndarray,
    statistic=np.mean,
    num_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """Percentile bootstrap interval of ``statistic`` over the first axis of ``values``."""
    x = np.asarray(values)
    if x.shape[0] == 0:
        raise ValueError("values must not be empty.")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.shape[0], size=(num_resamples, x.shape[0]))
    boot = np.array([statistic(x[i]) for i in idx])
    alpha = (1 - level) / 2
    return {
        "estimate": float(statistic(x)),
        "low": float(np.quantile(boot, alpha)),
        "high": float(np.quantile(boot, 1 - alpha)),
    }


def run_metadata(config: dict[str, Any]) -> dict[str, Any]:
    """What to store beside results: config, versions, machine, time."""
    import jax

    return {
        "config": config,
        "jax_version": jax.__version__,
        "jax_backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "python": platform.python_version(),
        "machine": platform.platform(),
        "cpu_count": os.cpu_count(),
        "timestamp_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _to_jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if hasattr(obj, "__array__"):
        return _to_jsonable(np.asarray(obj))
    if isinstance(obj, float) and not np.isfinite(obj):
        return None if np.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Writes ``data`` (numpy/JAX arrays allowed) as indented JSON; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_to_jsonable(data), indent=2, sort_keys=False) + "\n")
    return path


def resolve_out_dir(out: str | os.PathLike | None, study: str) -> Path:
    """``out`` or ``results/<study>`` under the current directory; created."""
    path = Path(out) if out else Path("results") / study
    path.mkdir(parents=True, exist_ok=True)
    return path
