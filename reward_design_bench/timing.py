"""Interleaved timing: every implementation of a row is timed round after round.

On a shared machine a slow spell (another process, a frequency change)
would favour whichever implementation happened to be timed outside it.
`interleaved` therefore visits the functions in turn, ``rounds`` times, a
few calls each per round (rotating which goes first), and keeps every
call's time; `summarize` reduces those samples to a median and a spread.
Ratios between implementations are ratios of medians.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = ["interleaved", "summarize", "time_once", "calls_per_round"]


def time_once(fn: Callable[[], Any]) -> float:
    """Seconds of one call of ``fn`` (which must block until its result is ready)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def calls_per_round(seconds: float, round_budget_s: float = 2e-3, max_calls: int = 8) -> int:
    """How many calls a function taking ``seconds`` gets per round: enough to fill
    ``round_budget_s`` (more samples for fast functions), at least 1, at most ``max_calls``."""
    if seconds <= 0 or not math.isfinite(seconds):
        return max_calls
    return int(min(max_calls, max(1, math.ceil(round_budget_s / seconds))))


def interleaved(
    fns: Mapping[str, Callable[[], Any]],
    rounds: int,
    warmup: int = 1,
    round_budget_s: float = 2e-3,
    max_calls: int = 8,
) -> dict[str, list[float]]:
    """Per-call seconds of each function, the functions visited in turn for ``rounds`` rounds.

    Args:
      fns: ``{name: fn}``; each ``fn()`` must block until its result is ready
        (``block_until_ready`` for JAX).
      rounds: rounds of the visit; each function is called
        `calls_per_round` times per round (from its last warm-up call's time).
      warmup: untimed calls of each function first (compilation, caches).
      round_budget_s, max_calls: see `calls_per_round`.

    Returns:
      ``{name: [seconds per call, ...]}``, at least ``rounds`` samples each.

    Raises:
      ValueError: if ``rounds < 1`` or ``fns`` is empty.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1; got {rounds}.")
    if not fns:
        raise ValueError("fns must name at least one function; got none.")
    names = list(fns)
    per_round = {}
    for name in names:
        seconds = float("inf")
        for _ in range(max(warmup, 1)):
            seconds = time_once(fns[name])
        per_round[name] = calls_per_round(seconds, round_budget_s, max_calls)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            fn = fns[name]
            for _ in range(per_round[name]):
                samples[name].append(time_once(fn))
    return samples


def summarize(samples: list[float]) -> dict[str, float]:
    """``{"median", "min", "q1", "q3", "max", "n"}`` of per-call seconds.

    ``q1``/``q3`` are the quartiles: ``(q3 - q1) / median`` is the spread the
    table shows.
    """
    if not samples:
        raise ValueError("samples must hold at least one time; got none.")
    a = np.asarray(samples, dtype=np.float64)
    q1, median, q3 = np.percentile(a, [25, 50, 75])
    return {
        "median": float(median),
        "min": float(a.min()),
        "q1": float(q1),
        "q3": float(q3),
        "max": float(a.max()),
        "n": int(a.size),
    }
