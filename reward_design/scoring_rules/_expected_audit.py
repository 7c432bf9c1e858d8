"""The expected-reward audit: which confidence maximises ``q R(c, 1) + (1 - q) R(c, 0)``?"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from reward_design._jax_compat import enable_x64
from reward_design.scoring_rules._report import IncentiveReport, expected_reward_summary

__all__ = ["evaluate_reward", "expected", "expected_reward_audit"]


def evaluate_reward(reward_fn: Callable, confidence: jax.Array, correct: float) -> np.ndarray:
    """``reward_fn(confidence, correct)`` as a float64 numpy array, with shape/NaN checks."""
    y = jnp.full(confidence.shape, correct, dtype=confidence.dtype)
    out = np.asarray(reward_fn(confidence, y), dtype=np.float64)
    if out.shape != confidence.shape:
        raise ValueError(
            "audit_confidence_reward: reward_fn(confidence, correct) must be elementwise; "
            f"for inputs of shape {confidence.shape} it returned shape {out.shape}."
        )
    bad = np.isnan(out)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"audit_confidence_reward: reward_fn returned NaN at confidence="
            f"{float(confidence[i])}, correct={correct}."
        )
    return out


def expected(q: np.ndarray, r1: np.ndarray, r0: np.ndarray) -> np.ndarray:
    """``q r1 + (1 - q) r0`` with ``0 * (-inf) = 0`` (outcomes that cannot happen)."""
    with np.errstate(invalid="ignore"):
        a = np.where(q > 0, q * r1, 0.0)
        b = np.where(q < 1, (1 - q) * r0, 0.0)
    return a + b


def expected_reward_audit(
    reward_fn: Callable, q_grid: np.ndarray, num_c: int, rtol: float, tolerance: float
) -> IncentiveReport:
    """The ``estimator=None`` branch of `audit_confidence_reward` (see its docstring)."""
    with enable_x64(True):
        c = jnp.linspace(0.0, 1.0, num_c, dtype=jnp.float64)
        qs = jnp.asarray(q_grid, dtype=jnp.float64)
        fn = jax.jit(reward_fn)
        try:
            r1, r0 = evaluate_reward(fn, c, 1.0), evaluate_reward(fn, c, 0.0)
            t1, t0 = evaluate_reward(fn, qs, 1.0), evaluate_reward(fn, qs, 0.0)
        except jax.errors.JAXTypeError:  # not traceable: evaluate eagerly
            r1, r0 = evaluate_reward(reward_fn, c, 1.0), evaluate_reward(reward_fn, c, 0.0)
            t1, t0 = evaluate_reward(reward_fn, qs, 1.0), evaluate_reward(reward_fn, qs, 0.0)
    c, q = np.asarray(c), np.asarray(qs)
    finite = np.concatenate([r1, r0])
    finite = finite[np.isfinite(finite)]
    scale = float(np.max(np.abs(finite))) if finite.size else 1.0
    vtol = rtol * max(scale, 1e-30)

    j = expected(q[:, None], r1[None, :], r0[None, :])  # [Q, C]
    truthful = expected(q, t1, t0)
    value = np.maximum(j.max(axis=1), truthful)
    with np.errstate(invalid="ignore"):
        near = j >= value[:, None] - vtol
    lo = np.where(near, c[None, :], np.inf).min(axis=1)
    hi = np.where(near, c[None, :], -np.inf).max(axis=1)
    truthful_ok = truthful >= value - vtol
    dist = np.where(near, np.abs(c[None, :] - q[:, None]), np.inf)
    closest = c[np.argmin(dist, axis=1)]
    optimal = np.where(truthful_ok, q, closest)
    weak = bool(np.all(truthful_ok))
    spread = np.maximum(np.abs(lo - q), np.abs(hi - q))
    calibrated = bool(weak and np.all(spread <= tolerance))
    with np.errstate(invalid="ignore"):
        increasing = np.diff(value) > vtol
        grad = np.gradient(value, q) if np.all(np.isfinite(value)) else np.full_like(q, np.nan)
    interval = np.stack([lo, hi], axis=1)
    summary = expected_reward_summary(
        q=q,
        calibrated=calibrated,
        weak=weak,
        spread=spread,
        truthful_ok=truthful_ok,
        interval=interval,
        closest=closest,
        lost=value - truthful,
        value=value,
        increasing=increasing,
    )
    return IncentiveReport(
        calibrated=calibrated,
        weakly_calibrated=weak,
        accuracy_preserving=bool(np.all(increasing)),
        q=q,
        optimal_confidence=optimal,
        value=value,
        optimal_interval=interval,
        accuracy_gradient=grad,
        summary=summary,
        estimator=None,
        tolerance=tolerance,
    )
