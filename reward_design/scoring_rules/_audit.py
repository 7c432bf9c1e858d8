"""`audit_confidence_reward`: does a confidence reward make stated confidence honest?"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from reward_design.scoring_rules._choice_audit import run_answer_choice
from reward_design.scoring_rules._estimator_audit import (
    estimator_audit,
    estimator_fixed_points,
    success_grid,
)
from reward_design.scoring_rules._expected_audit import expected_reward_audit
from reward_design.scoring_rules._policy_model import check_policy_model
from reward_design.scoring_rules._probe import check_reward_fn, check_seed
from reward_design.scoring_rules._report import IncentiveReport, answer_choice_verdict

__all__ = ["IncentiveReport", "audit_confidence_reward"]

ESTIMATORS = (None, "grpo", "dr_grpo", "rloo")


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
    analysis (docs/scoring-rules.md): for success probability q the expected reward of
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
    ``scale_rewards="group"``; ``"dr_grpo"``; ``"rloo"``; the formulas of
    `rd.advantages` with its defaults, as in training) the trainer follows advantages,
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
    passes the one-answer analysis and fails the answer-choice one. At
    G = 128 the whole estimator audit takes 4-7 s (up to 14 s beside other
    jobs) and 0.73 GB peak on a 2-core CPU, compilation included
    (docs/scoring-rules.md, "How the estimator audits are computed").

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
      TypeError: ``reward_fn`` is not callable, or fails when called on
        arrays (e.g. Python ``if``/``math.log`` on its arguments: the message
        names the jax.numpy form).
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
    if estimator is not None:
        check_policy_model(group_size, exploration, num_samples, "audit_confidence_reward")
        check_seed(seed, "audit_confidence_reward")
    check_reward_fn(reward_fn, "audit_confidence_reward", traced=estimator is not None)
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
        return expected_reward_audit(reward_fn, grid, num_confidences, rtol, tol)

    # the one-answer audit, then the answer-choice audit on the same table
    success_grid(q)  # checked before the table is computed
    table = estimator_fixed_points(
        reward_fn,
        estimator,
        group_size=int(group_size),
        exploration=float(exploration),
        num_samples=num_samples,
        seed=seed,
    )
    report = estimator_audit(
        reward_fn,
        estimator,
        group_size=group_size,
        exploration=exploration,
        q=q,
        num_samples=num_samples,
        tolerance=0.03 if tolerance is None else float(tolerance),
        seed=seed,
        table=table,
    )
    if not answer_choice:
        return report
    choice = run_answer_choice(
        reward_fn,
        estimator,
        group_size=int(group_size),
        exploration=float(exploration),
        q=None,
        choice=None,
        confidence="both",
        num_samples=min(int(num_samples), 4096),
        seed=seed,
        table=table,
    )
    verdict = answer_choice_verdict(choice.preserving, choice.worst, choice.drift)
    return dataclasses.replace(
        report, answer_choice=choice, summary=report.summary + " Answer choice: " + verdict
    )
