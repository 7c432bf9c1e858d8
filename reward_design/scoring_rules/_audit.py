"""`audit_confidence_reward`: does a confidence reward make stated confidence honest?"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["IncentiveReport", "audit_confidence_reward"]

ESTIMATORS = (None, "grpo", "dr_grpo", "rloo")


@dataclasses.dataclass(frozen=True)
class IncentiveReport:
    """What `audit_confidence_reward` found, as tables over a grid of success probabilities.

    Attributes:
      calibrated: for every q on the grid, the optimal stated confidence is q
        (within ``tolerance``) and unique. Without an estimator: c = q is the
        unique maximiser of the expected reward. With one: the expected
        policy-gradient update of the confidence has a single stable zero and
        it lies within ``tolerance`` of q.
      weakly_calibrated: without an estimator, c = q is *one of* the
        maximisers for every q; with one, some stable zero lies within
        ``tolerance`` of q.
      accuracy_preserving: without an estimator, the optimal value V(q) is
        strictly increasing; with one, the expected policy-gradient update of
        the success logit is positive at every stable zero (so the policy
        keeps gaining from being right).
      q: ``[Q]`` the success probabilities audited.
      optimal_confidence: ``[Q]`` the optimal stated confidence: without an
        estimator, the maximiser closest to q; with one, the mean stated
        confidence at the stable zero closest to q (0/1 if the update pushes
        confidence to a boundary).
      value: ``[Q]`` without an estimator, ``V(q) = max_c q R(c,1) +
        (1-q) R(c,0)``; with one, the expected reward at the reported zero.
      optimal_interval: ``[Q, 2]`` the smallest and largest (near-)optimal
        confidence (maximisers, or stable zeros).
      accuracy_gradient: ``[Q]`` dV/dq (finite differences) without an
        estimator; with one, ``E[sum_j A_j (y_j - q)]``, the expected update
        of the success logit at the reported zero.
      summary: a short human-readable verdict.
      estimator: None, "grpo", "dr_grpo" or "rloo".
      group_size: G (estimator audits).
      exploration: the policy's exploration scale (estimator audits).
      tolerance: the calibration tolerance on |c* - q|.
      fixed_points: per q, the array of stable zeros (as mean confidence);
        estimator audits only, else None.
      answer_choice: estimator audits with ``answer_choice=True``: the
        `AnswerChoiceReport` of `answer_choice_audit` (does the trainer keep
        moving a policy that chooses between a better and a worse answer
        towards the better one?); else None. ``accuracy_preserving`` above
        is the one-answer analysis and does not include it.
    """

    calibrated: bool
    weakly_calibrated: bool
    accuracy_preserving: bool
    q: np.ndarray
    optimal_confidence: np.ndarray
    value: np.ndarray
    optimal_interval: np.ndarray
    accuracy_gradient: np.ndarray
    summary: str
    estimator: str | None = None
    group_size: int | None = None
    exploration: float | None = None
    tolerance: float = 0.0
    fixed_points: tuple | None = None
    answer_choice: Any = None

    @property
    def strictly_calibrated(self) -> bool:
        """Alias of `calibrated` (DESIGN.md's name): c = q is the unique optimum."""
        return self.calibrated

    def __str__(self) -> str:
        return self.summary


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


def _fmt(x: float) -> str:
    return f"{x:.3f}"


def _expected_reward_audit(reward_fn, q_grid, num_c, rtol, tolerance) -> IncentiveReport:
    with jax.enable_x64(True):
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
        dv = np.diff(value)
        grad = np.gradient(value, q) if np.all(np.isfinite(value)) else np.full_like(q, np.nan)
    accuracy = bool(np.all(dv > vtol))

    parts = []
    if calibrated:
        parts.append(f"calibrated: c = q is the unique optimum for all {len(q)} q in [0, 1]")
    elif weak:
        i = int(np.argmax(spread))
        parts.append(
            f"weakly calibrated only: c = q is optimal but so is every c in "
            f"[{_fmt(lo[i])}, {_fmt(hi[i])}] at q = {_fmt(q[i])}"
        )
    else:
        i = int(np.argmax(~truthful_ok))
        parts.append(
            f"NOT calibrated: at q = {_fmt(q[i])} the optimal confidence is "
            f"{_fmt(closest[i])} (optimal set [{_fmt(lo[i])}, {_fmt(hi[i])}]), "
            f"reward lost by stating q: {value[i] - truthful[i]:.3g}"
        )
    if accuracy:
        parts.append(
            f"accuracy-preserving: V(q) increases from {_fmt(value[0])} to {_fmt(value[-1])}"
        )
    else:
        i = int(np.argmax(~(dv > vtol)))
        parts.append(
            f"NOT accuracy-preserving: V(q) does not increase between q = {_fmt(q[i])} "
            f"(V = {value[i]:.4g}) and q = {_fmt(q[i + 1])} (V = {value[i + 1]:.4g})"
        )
    return IncentiveReport(
        calibrated=calibrated,
        weakly_calibrated=weak,
        accuracy_preserving=accuracy,
        q=q,
        optimal_confidence=optimal,
        value=value,
        optimal_interval=np.stack([lo, hi], axis=1),
        accuracy_gradient=grad,
        summary="expected reward: " + "; ".join(parts) + ".",
        estimator=None,
        tolerance=tolerance,
    )


def audit_confidence_reward(
    reward_fn: Callable,
    estimator: str | None = None,
    *,
    group_size: int = 8,
    exploration: float = 0.25,
    q: np.ndarray | None = None,
    num_q: int = 101,
    num_confidences: int = 2001,
    num_samples: int = 8192,
    tolerance: float | None = None,
    rtol: float = 1e-9,
    seed: int = 0,
    answer_choice: bool = True,
) -> IncentiveReport:
    """Audits a confidence reward ``reward_fn(confidence, correct) -> reward`` (elementwise).

    **Without an estimator** (``estimator=None``), the expected-reward
    analysis of DESIGN.md: for success probability q the expected reward of
    stating c is ``J(c; q) = q R(c, 1) + (1 - q) R(c, 0)`` (a term whose
    probability is 0 contributes 0, so rewards that are -inf at the boundary,
    like the log score, are handled). On a grid of ``num_q`` values of q and
    ``num_confidences`` values of c (float64): *calibrated* if c = q is
    optimal and every near-optimal c (``J >= V - rtol * scale``, scale the
    largest finite |R|) lies within ``tolerance`` (default 0.01) of q;
    *weakly calibrated* if c = q is optimal; *accuracy-preserving* if
    ``V(q) = max_c J(c; q)`` strictly increases between grid points.
    Correctness alone is accuracy-preserving but only weakly calibrated;
    correctness - Brier (RLCR) is both, with V(q) = q^2.

    **Under a training estimator** (``"grpo"``: TRL's default
    ``scale_rewards="group"``; ``"dr_grpo"``; ``"rloo"``; all computed by
    `rd.advantages` exactly as in training) the trainer follows advantages,
    not the expected reward. Policy model (see `estimator_fixed_points`): a
    question with success probability q; G = ``group_size`` samples, each
    correct independently with probability q and stating confidence
    ``c_j = sigmoid(m + s eps_j)``, ``eps_j ~ N(0, 1)``, s = ``exploration``
    (logit-space exploration noise, independent of correctness). The
    expected update of m is ``g(m) = E[sum_j A_j eps_j] / s``; its stable
    zeros (g crosses from + to -) are where training settles. *calibrated*
    means a single stable zero whose mean stated confidence is within
    ``tolerance`` (default 0.03, which absorbs the O(s^2) bias of the noise
    model and the Monte Carlo error) of q, for every q on the grid (default
    0.05, 0.10, ..., 0.95); *accuracy-preserving* means the expected update
    of the success logit, ``E[sum_j A_j (y_j - q)]``, is positive there.
    That model has one success probability per question, so it cannot see a
    policy that picks between answers of different success probability;
    with ``answer_choice=True`` (default) the report also carries
    `answer_choice_audit`'s verdict on exactly that (``report.answer_choice``,
    and a sentence in the summary). Std-scaled GRPO with correctness + Brier
    passes the one-answer analysis and fails the answer-choice one.

    Args:
      reward_fn: ``reward_fn(confidence, correct) -> reward``, elementwise,
        confidence in [0, 1], correct in {0, 1} (as floats); jax.numpy code.
        E.g. ``lambda c, y: y - rd.scoring_rules.brier_binary(c, y)``.
      estimator: None, ``"grpo"``, ``"dr_grpo"`` or ``"rloo"``.
      group_size: G, samples per question (estimator audits).
      exploration: s, the logit-space standard deviation of the stated
        confidence (estimator audits).
      q: optional grid of success probabilities (sorted; values in [0, 1]
        without an estimator, in (0, 1) with one).
      num_q: grid size over [0, 1] when ``q`` is None (``estimator=None``).
      num_confidences: grid size of c over [0, 1] (``estimator=None``).
      num_samples: Monte Carlo samples of the exploration noise per
        correctness pattern (estimator audits; antithetic, common across m).
      tolerance: calibration tolerance on |c* - q| (see above for defaults).
      rtol: relative tolerance for ties in expected reward (``estimator=None``).
      seed: seed of the Monte Carlo noise (estimator audits).
      answer_choice: estimator audits: also run `answer_choice_audit` (same
        G, exploration, seed and fixed-point table; its own default q and pi
        grids, not ``q``; at most 4096 noise samples; a few seconds more).

    Returns:
      `IncentiveReport`.

    Raises:
      ValueError: unknown estimator, bad sizes, a non-elementwise reward, or
        a reward that returns NaN.

    References:
      Damani et al., "Beyond Binary Rewards: Training LMs to Reason About
      Their Uncertainty" (RLCR), arXiv 2507.16806.
      Shao et al., "DeepSeekMath" (GRPO), arXiv 2402.03300.
      Liu et al., "Understanding R1-Zero-Like Training: A Critical
      Perspective" (Dr. GRPO), arXiv 2503.20783.
    """
    if not callable(reward_fn):
        raise TypeError(f"audit_confidence_reward: reward_fn must be callable; got {reward_fn!r}.")
    if estimator not in ESTIMATORS:
        raise ValueError(
            f"audit_confidence_reward: estimator must be one of {ESTIMATORS}; got {estimator!r}."
        )
    if estimator is None:
        for name, v, least in (("num_q", num_q, 3), ("num_confidences", num_confidences, 3)):
            if isinstance(v, bool) or not isinstance(v, int) or v < least:
                raise ValueError(
                    f"audit_confidence_reward: {name} must be an integer >= {least}; got {v!r}."
                )
        tol = 0.01 if tolerance is None else float(tolerance)
        if q is None:
            grid = np.linspace(0.0, 1.0, num_q)
        else:
            grid = np.unique(np.asarray(q, dtype=np.float64).ravel())
            if grid.size < 2 or not np.all((grid >= 0) & (grid <= 1)):
                raise ValueError(
                    "audit_confidence_reward: q must hold at least two distinct values in "
                    f"[0, 1]; got {q!r}."
                )
        return _expected_reward_audit(reward_fn, grid, num_confidences, rtol, tol)

    from reward_design.scoring_rules._estimator_audit import estimator_audit

    return estimator_audit(
        reward_fn,
        estimator,
        group_size=group_size,
        exploration=exploration,
        q=q,
        num_samples=num_samples,
        tolerance=0.03 if tolerance is None else float(tolerance),
        seed=seed,
        answer_choice=answer_choice,
    )
