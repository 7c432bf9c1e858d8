"""The calibration study's incentive audit: what `audit_confidence_reward` predicts per arm.

`audit_arm` runs the two audits of an arm's reward (the expected-reward
audit, and the audit under the arm's estimator and group size), and
`compare_with_training` adds the trained confidence per ``q`` bin beside the
prediction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jax.numpy as jnp
import numpy as np

from reward_design.rollouts import Rollouts

from .arms import ArmSpec, family_objective

if TYPE_CHECKING:
    from .config import CalibrationConfig

__all__ = [
    "reward_fn",
    "audit_arm",
    "compare_with_training",
    "with_trained_confidence",
    "verdict_record",
    "fixed_point_record",
]


def reward_fn(spec: ArmSpec, config: CalibrationConfig) -> Callable:
    """The arm's objective as ``reward(confidence, correct) -> total`` (any broadcast shape)."""
    objective = family_objective(spec.brier, spec.log, config.log_eps)

    def reward(confidence, correct):
        c = jnp.asarray(confidence, jnp.float32)
        y = jnp.asarray(correct, jnp.float32)
        c, y = jnp.broadcast_arrays(c, y)
        shape = c.shape
        out = objective(Rollouts(correct=y.reshape(-1, 1), confidence=c.reshape(-1, 1)))
        return out.total.reshape(shape)

    return reward


def audit_arm(spec: ArmSpec, config: CalibrationConfig, q_grid: np.ndarray) -> dict[str, Any]:
    """What `rd.scoring_rules.audit_confidence_reward` predicts for this arm.

    Two audits of the arm's reward: the expected-reward audit (no
    estimator: is c = q optimal, is V(q) increasing?) and the audit under the
    arm's estimator and group size (where does the expected policy-gradient
    update of the stated confidence vanish?). The second is the prediction
    that training is compared with.
    """
    from reward_design.scoring_rules import audit_confidence_reward

    reward = reward_fn(spec, config)
    plain = audit_confidence_reward(reward)
    under = audit_confidence_reward(
        reward,
        estimator=spec.estimator,
        group_size=spec.group_size,
        exploration=config.audit_exploration,
        q=q_grid,
        num_samples=config.audit_samples,
        # The study's audit column is the one-answer analysis it was registered with;
        # the answer-choice check (added after this study) is in docs/studies/calibration.md.
        answer_choice=False,
    )
    return {
        **fixed_point_record(under),
        "estimator": spec.estimator,
        "group_size": spec.group_size,
        "exploration": config.audit_exploration,
        "expected_reward": verdict_record(plain),
    }


def verdict_record(report: Any) -> dict[str, Any]:
    """An audit report's verdicts and summary, JSON-ready."""
    return {
        "calibrated": bool(report.calibrated),
        "weakly_calibrated": bool(report.weakly_calibrated),
        "accuracy_preserving": bool(report.accuracy_preserving),
        "summary": report.summary,
    }


def fixed_point_record(report: Any) -> dict[str, Any]:
    """`verdict_record` plus the predicted confidence per ``q``, JSON-ready."""
    interval = np.asarray(report.optimal_interval, dtype=float)
    return {
        **verdict_record(report),
        "q": np.asarray(report.q, dtype=float).tolist(),
        "optimal_confidence": np.asarray(report.optimal_confidence, dtype=float).tolist(),
        "optimal_interval": interval.tolist(),
        # Correctness alone: the update of the confidence is zero everywhere, so every
        # confidence is a fixed point and training cannot be compared with one number.
        "any_confidence_is_optimal": bool(np.all(interval[:, 1] - interval[:, 0] > 0.5)),
    }


def compare_with_training(
    audit: dict[str, Any], by_q: dict[str, Any], q_grid: np.ndarray
) -> dict[str, Any]:
    """`with_trained_confidence`, plus the trained confidence's gap to ``q`` itself.

    ``by_q`` is the arm's `metrics.confidence_by_q`; the gap is averaged like
    the gap to the prediction.
    """
    out = with_trained_confidence(audit, by_q)
    trained = np.asarray(by_q["confidence_mean"], dtype=float)
    w = np.asarray(by_q["count"], dtype=float)
    ok = np.isfinite(trained) & (w > 0)
    out["mean_abs_gap_trained_vs_q"] = float(
        np.average(np.abs(trained[ok] - q_grid[ok]), weights=w[ok])
    )
    return out


def with_trained_confidence(audit: dict[str, Any], by_q: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``audit`` with the trained confidence per ``q`` bin and its gap to c*(q).

    ``by_q`` is the arm's ``confidence_by_q``. The gap is averaged over the
    bins with samples, weighted by their counts; it is ``None`` when every
    confidence is optimal (correctness alone) or no bin has a sample.
    """
    out = dict(audit)
    trained = np.asarray(by_q["confidence_mean"], dtype=float)
    pred = np.asarray(out["optimal_confidence"])
    w = np.asarray(by_q["count"], dtype=float)
    ok = np.isfinite(trained) & (w > 0)
    out["trained_confidence"] = trained.tolist()
    out["mean_abs_gap_trained_vs_predicted"] = (
        None
        if out["any_confidence_is_optimal"] or not ok.any()
        else float(np.average(np.abs(trained[ok] - pred[ok]), weights=w[ok]))
    )
    return out
