"""The confidence-reward audits' reports: dataclasses and the text of their summaries.

The bottom of the audits' import chain (numpy only): the audits fill these
dataclasses with data, and the summary text is written here from their fields,
so no audit ever reads another's text.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = [
    "AnswerChoiceReport",
    "IncentiveReport",
    "answer_choice_verdict",
    "drift_tolerance",
    "estimator_label",
    "expected_reward_summary",
    "estimator_summary",
]

_LABELS = {"grpo": "GRPO (std-scaled)", "dr_grpo": "Dr. GRPO", "rloo": "RLOO"}


def estimator_label(estimator: str) -> str:
    """The estimator's name in summaries: ``"GRPO (std-scaled)"``, ``"Dr. GRPO"``, ``"RLOO"``."""
    return _LABELS[estimator]


@dataclasses.dataclass(frozen=True)
class AnswerChoiceReport:
    """What `answer_choice_audit` found.

    Attributes:
      preserving: the expected update of the choice logit is positive for
        every confidence state, answer pair and choice probability on the
        grid: the trainer always moves the policy towards the better answer.
      states: the confidence states audited, from ``"calibrated"`` (each
        answer stated with its success probability) and ``"fixed_point"``
        (with the confidence the estimator drives it to).
      q_low, q_high: ``[N]`` success probabilities of the worse and the
        better answer of each pair.
      confidence_low, confidence_high: ``[len(states), N]`` the (median)
        confidence stated with each answer in each state.
      choice: ``[M]`` probabilities that the policy picks the better answer.
      drift: ``[len(states), N, M]`` expected update of the choice logit,
        ``E[sum_j A_j (h_j - pi)]`` (h_j = 1 if sample j took the better
        answer; positive: towards the better answer).
      worst: ``(state, q_low, q_high, pi, drift)`` at the smallest drift.
      summary: a short human-readable verdict.
      estimator: ``"grpo"``, ``"dr_grpo"`` or ``"rloo"``.
      group_size: G.
      exploration: logit-space std of the stated confidence.
      num_samples: noise samples per correctness/choice pattern actually used.
    """

    preserving: bool
    states: tuple
    q_low: np.ndarray
    q_high: np.ndarray
    confidence_low: np.ndarray
    confidence_high: np.ndarray
    choice: np.ndarray
    drift: np.ndarray
    worst: tuple
    summary: str
    estimator: str
    group_size: int
    exploration: float
    num_samples: int

    def drift_in(self, state: str) -> np.ndarray:
        """``[N, M]`` drift in one confidence state."""
        if state not in self.states:
            raise ValueError(
                f"drift_in: state must be one of {self.states} (the states audited); got {state!r}."
            )
        return self.drift[self.states.index(state)]

    def __str__(self) -> str:
        return self.summary


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
    answer_choice: AnswerChoiceReport | None = None

    @property
    def strictly_calibrated(self) -> bool:
        """Alias of `calibrated`: c = q is the unique optimum."""
        return self.calibrated

    def __str__(self) -> str:
        return self.summary


# ----------------------------------------------------------------------- text


def _fmt(x: float) -> str:
    return f"{x:.3f}"


def expected_reward_summary(
    *,
    q: np.ndarray,
    calibrated: bool,
    weak: bool,
    spread: np.ndarray,
    truthful_ok: np.ndarray,
    interval: np.ndarray,
    closest: np.ndarray,
    lost: np.ndarray,
    value: np.ndarray,
    increasing: np.ndarray,
) -> str:
    """The expected-reward audit's summary from its tables (``interval``: ``[Q, 2]``;
    ``lost``: reward lost by stating q; ``increasing``: ``[Q - 1]`` V grows to the next q)."""
    lo, hi = interval[:, 0], interval[:, 1]
    if calibrated:
        first = f"calibrated: c = q is the unique optimum for all {len(q)} q in [0, 1]"
    elif weak:
        i = int(np.argmax(spread))
        first = (
            f"weakly calibrated only: c = q is optimal but so is every c in "
            f"[{_fmt(lo[i])}, {_fmt(hi[i])}] at q = {_fmt(q[i])}"
        )
    else:
        i = int(np.argmax(~truthful_ok))
        first = (
            f"NOT calibrated: at q = {_fmt(q[i])} the optimal confidence is "
            f"{_fmt(closest[i])} (optimal set [{_fmt(lo[i])}, {_fmt(hi[i])}]), "
            f"reward lost by stating q: {lost[i]:.3g}"
        )
    if np.all(increasing):
        second = f"accuracy-preserving: V(q) increases from {_fmt(value[0])} to {_fmt(value[-1])}"
    else:
        i = int(np.argmax(~increasing))
        second = (
            f"NOT accuracy-preserving: V(q) does not increase between q = {_fmt(q[i])} "
            f"(V = {value[i]:.4g}) and q = {_fmt(q[i + 1])} (V = {value[i + 1]:.4g})"
        )
    return f"expected reward: {first}; {second}."


def estimator_summary(
    *,
    estimator: str,
    group_size: int,
    exploration: float,
    q: np.ndarray,
    optimal: np.ndarray,
    calibrated: bool,
    weak: bool,
    first_bad: tuple | None,
    accuracy: np.ndarray,
    accuracy_preserving: bool,
    gtol: float,
) -> str:
    """The one-answer estimator audit's summary from its tables (``first_bad``: ``(q,
    what happens there)`` at the first q that is not calibrated)."""
    head = f"{estimator_label(estimator)}, G={group_size}, exploration {exploration:g}: "
    if calibrated:
        err = np.max(np.abs(optimal - q))
        parts = [f"calibrated: a single stable point within {err:.3f} of q for all {len(q)} q"]
    else:
        qb, what = first_bad
        kind = "weakly calibrated only" if weak else "NOT calibrated"
        parts = [f"{kind}: at q = {qb:.2f} {what}"]
        parts.append(f"max |c* - q| = {np.max(np.abs(optimal - q)):.3f}")
    if accuracy_preserving:
        parts.append("accuracy-preserving: correct answers gain advantage at every q")
    else:
        ib = int(np.argmax(~(accuracy > gtol)))
        parts.append(
            f"NOT accuracy-preserving: at q = {q[ib]:.2f} the expected update of the success "
            f"logit is {accuracy[ib]:.3g}"
        )
    return head + "; ".join(parts) + "."


def drift_tolerance(drift: np.ndarray) -> float:
    """Below this an expected update counts as no push (a relative 1e-9 of the largest)."""
    scale = float(np.max(np.abs(drift))) if np.size(drift) else 0.0
    return 1e-9 * max(scale, 1e-30) + 1e-12


def answer_choice_verdict(preserving: bool, worst: tuple, drift: np.ndarray) -> str:
    """The answer-choice verdict (one sentence, no head) from ``worst = (state, q_low,
    q_high, pi, drift)`` at the smallest drift and the whole ``drift`` table."""
    state, q_lo, q_hi, pi, smallest = worst
    where = state.replace("_", " ")
    if preserving:
        return (
            f"preserving: the better answer gains at every pair and choice probability "
            f"(smallest update {smallest:.3g}, {where} confidences, q = {q_lo:g} vs "
            f"{q_hi:g}, pi = {pi:g})."
        )
    if smallest < -drift_tolerance(drift):
        push = "is pushed towards the worse one"
    else:
        push = "gets no push towards the better one"
    return (
        f"NOT preserving: with {where} confidences, choosing between answers right with "
        f"q = {q_lo:g} and {q_hi:g}, a policy that picks the better one with "
        f"probability {pi:g} {push} (expected update {smallest:.3g})."
    )
