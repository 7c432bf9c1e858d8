"""Does a trainer keep preferring the better answer? The answer-choice audit.

`estimator_audit` models one success probability per question, so it cannot
see a policy that *chooses* between answers of different success probability
and states a different confidence for each. That is the channel through which
std-scaled GRPO with correctness + Brier lost about 20 points of accuracy in
the calibration study (docs/studies/calibration.md): in a group where every
sample is wrong, only the Brier term separates the rewards, std scaling blows
those differences up, and "give an answer you know is wrong and say 0" is
pushed as hard as "be right". This module measures that push.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import gammaln

from reward_design.scoring_rules._estimator_audit import _ADVANTAGES, check_policy_model

__all__ = ["AnswerChoiceReport", "answer_choice_audit"]

DEFAULT_Q = (0.02, 0.1, 0.25, 0.5, 0.75, 0.9)
DEFAULT_CHOICE = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
# Elements (patterns x noise samples x G) per answer pair; bounds time and memory for large G.
_WORK_PER_PAIR = 1 << 23
_LOGIT_LIMIT = 6.0  # the confidence range of `estimator_fixed_points`' grid


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


def _patterns(group_size: int) -> np.ndarray:
    """``[P, 4]`` counts of (better & right, better & wrong, worse & right, worse & wrong)."""
    rows = [
        (a, b, c, group_size - a - b - c)
        for a, b, c in itertools.product(range(group_size + 1), repeat=3)
        if a + b + c <= group_size
    ]
    return np.asarray(rows, dtype=np.int64)


def _multinomial_weights(counts: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """``[..., P]`` multinomial pmf of each pattern under ``probs [..., 4]``."""
    g = counts.sum(axis=1)[0]
    log_coef = gammaln(g + 1) - gammaln(counts + 1).sum(axis=1)  # [P]
    with np.errstate(divide="ignore"):
        logp = np.log(probs)  # [..., 4]
    shape = probs.shape[:-1] + counts.shape  # [..., P, 4]
    cnt = np.broadcast_to(counts, shape)
    terms = np.zeros(shape)
    # 0 * log(0) counts as 0 (a kind of sample that cannot occur and does not)
    np.multiply(cnt, np.broadcast_to(logp[..., None, :], shape), out=terms, where=cnt > 0)
    return np.exp(log_coef + terms.sum(axis=-1))


@partial(jax.jit, static_argnums=(0, 1))
def _tabulate(reward_fn, estimator, categories, eps, logits, s):
    """Per answer pair: ``E[sum_{better} A]`` and ``E[sum A]`` for every pattern.

    categories: ``[P, G]`` category of each member (0..3, as in `_patterns`);
    eps: ``[S, G]`` noise; logits: ``[N, 2]`` confidence logits (better, worse).
    """
    adv = _ADVANTAGES[estimator]
    g = categories.shape[1]
    better = (categories < 2).astype(eps.dtype)  # [P, G]
    right = ((categories == 0) | (categories == 2)).astype(eps.dtype)

    def per_pair(lg):
        m = jnp.where(better > 0, lg[0], lg[1])  # [P, G]
        c = jax.nn.sigmoid(m[:, None, :] + s * eps[None])  # [P, S, G]
        y = jnp.broadcast_to(right[:, None, :], c.shape)
        r = jnp.asarray(reward_fn(c, y), dtype=eps.dtype)
        a = adv(r.reshape(-1, g)).reshape(r.shape)
        return (
            jnp.mean(jnp.sum(a * better[:, None, :], axis=-1), axis=-1),
            jnp.mean(jnp.sum(a, axis=-1), axis=-1),
        )

    return jax.lax.map(per_pair, logits)


def _settling_logits(reward_fn, estimator, qs, group_size, exploration, num_samples, seed, table):
    """``[Q]`` logit means m at which the one-answer audit's policy settles, per q.

    The one-answer audit reports each settling point as the mean stated
    confidence ``E[sigmoid(m + s eps)]``; it is mapped back to m through the
    same table (the mean confidence is increasing in m), so the policy audited
    here is the settling policy itself, not one centred on logit(mean).
    """
    from reward_design.scoring_rules._estimator_audit import (
        estimator_audit,
        estimator_fixed_points,
    )

    if table is None:
        table = estimator_fixed_points(
            reward_fn,
            estimator,
            group_size=group_size,
            exploration=exploration,
            num_samples=num_samples,
            seed=seed,
        )
    report = estimator_audit(
        reward_fn,
        estimator,
        group_size=group_size,
        exploration=exploration,
        q=qs,
        num_samples=num_samples,
        tolerance=0.03,
        seed=seed,
        table=table,
    )
    return np.interp(np.asarray(report.optimal_confidence), table.mean_confidence, table.m)


def answer_choice_audit(
    reward_fn: Callable,
    estimator: str,
    *,
    group_size: int = 8,
    exploration: float = 0.25,
    q: tuple | np.ndarray | None = None,
    choice: tuple | np.ndarray | None = None,
    confidence: str = "both",
    num_samples: int = 4096,
    seed: int = 0,
) -> AnswerChoiceReport:
    """Does training with ``reward_fn`` and ``estimator`` keep favouring the better answer?

    Model: a question has two candidate answers, a better one (correct with
    probability ``q_high``) and a worse one (``q_low < q_high``). The policy
    picks the better answer with probability pi (its choice logit is the
    parameter) and states, with the answer it picked, the confidence
    ``sigmoid(m_a + s eps)``, ``eps ~ N(0, 1)``, s = ``exploration``. The
    trainer samples G = ``group_size`` completions; sample j picks
    ``h_j ~ Bernoulli(pi)``, is correct with the success probability of its
    answer, and gets ``r_j = reward_fn(c_j, y_j)``; the estimator turns the
    group's rewards into advantages `A` (`rd.advantages`, exactly as in
    training), and REINFORCE moves the choice logit by
    ``sum_j A_j (h_j - pi)``. Its expectation (``drift``) is exact over the
    choices and the correctness of the G samples (a sum over the counts of
    the four kinds of sample, with multinomial weights; the estimators are
    permutation-equivariant) and Monte Carlo over the confidence noise
    (antithetic draws shared by every pattern and pair). The reward and
    estimator are *answer-choice preserving* when the drift is positive for
    every pair and pi on the grid.

    Which confidence does the policy state with each answer? Two states are
    audited (``confidence="both"``, default): ``"calibrated"``, each answer
    with its success probability ``q_a`` (where a policy trained first with
    Dr. GRPO or RLOO, or a calibrated one, starts), and ``"fixed_point"``,
    each answer with the confidence the same estimator drives it to for
    that success probability (`audit_confidence_reward`'s reported settling
    point). A policy in training holds confidences between the two (the
    calibration study's std-scaled GRPO policies did), so the verdict needs
    both.

    For Dr. GRPO the drift has a closed form, ``(G - 1) pi (1 - pi)
    (E[r | better] - E[r | worse])`` (RLOO: ``G/(G-1)`` times that), so it is
    positive exactly when the better answer earns the higher expected reward
    at its confidence. Std-scaled GRPO has no such form; with correctness +
    Brier and calibrated confidences it is negative at every pi on the
    default grid when both answers are usually wrong and the worse one
    almost surely (q 0.02 vs 0.1 or 0.25, and 0.1 vs 0.25, at G = 2 to 8):
    the policy is driven towards the knowingly wrong, low-confidence answer
    from any starting choice probability (at G = 32 only once it picks
    that answer at least half the time: pi <= 0.5 for q 0.02 vs 0.1).

    Args:
      reward_fn: ``reward_fn(confidence, correct) -> reward``, elementwise,
        jax.numpy code.
      estimator: ``"grpo"``, ``"dr_grpo"`` or ``"rloo"``.
      group_size: G >= 2.
      exploration: s in (0, 3].
      q: success probabilities in (0, 1); every pair of distinct values is
        audited (default 0.02, 0.1, 0.25, 0.5, 0.75, 0.9).
      choice: probabilities pi in (0, 1) of picking the better answer
        (default 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95).
      confidence: ``"both"``, ``"calibrated"`` or ``"fixed_point"``.
      num_samples: noise samples per pattern (rounded up to even), capped at
        ``max(2, 2^23 // (patterns x G))`` (patterns = C(G + 3, 3)): 541 at
        G = 16, 40 at G = 32, 2 from G = 64 (``report.num_samples`` says what
        was used). The cap keeps patterns x samples x G under 2^23 per pair
        up to G = 69; beyond, memory grows about as G^4 (about 4 GB at G = 128).
      seed: seed of the noise.

    Returns:
      `AnswerChoiceReport`.

    Raises:
      ValueError: bad arguments, or rewards that make the advantages NaN/inf.

    References:
      Damani et al., "Beyond Binary Rewards: Training LMs to Reason About
      Their Uncertainty" (RLCR), arXiv 2507.16806.
      Liu et al., "Understanding R1-Zero-Like Training: A Critical
      Perspective" (Dr. GRPO), arXiv 2503.20783.
    """
    return _answer_choice_audit(
        reward_fn,
        estimator,
        group_size=group_size,
        exploration=exploration,
        q=q,
        choice=choice,
        confidence=confidence,
        num_samples=num_samples,
        seed=seed,
        table=None,
    )


def _answer_choice_audit(
    reward_fn,
    estimator,
    *,
    group_size,
    exploration,
    q,
    choice,
    confidence,
    num_samples,
    seed,
    table,
) -> AnswerChoiceReport:
    """`answer_choice_audit`; ``table``: the one-answer audit's `FixedPointTable`
    for these arguments when the caller has it (else computed here)."""
    fn = "answer_choice_audit"
    if not callable(reward_fn):
        raise TypeError(f"{fn}: reward_fn must be callable; got {reward_fn!r}.")
    if estimator not in _ADVANTAGES:
        raise ValueError(
            f"{fn}: estimator must be one of {sorted(_ADVANTAGES)}; got {estimator!r}."
        )
    check_policy_model(group_size, exploration, num_samples, fn)
    if confidence not in ("both", "calibrated", "fixed_point"):
        raise ValueError(
            f"{fn}: confidence must be 'both', 'calibrated' or 'fixed_point'; got {confidence!r}."
        )
    states = ("calibrated", "fixed_point") if confidence == "both" else (confidence,)
    qs = np.unique(np.asarray(DEFAULT_Q if q is None else q, dtype=np.float64).ravel())
    if qs.size < 2 or not np.all((qs > 0) & (qs < 1)):
        raise ValueError(f"{fn}: q must hold at least two distinct values in (0, 1); got {q!r}.")
    pis = np.asarray(DEFAULT_CHOICE if choice is None else choice, dtype=np.float64).ravel()
    if pis.size == 0 or not np.all((pis > 0) & (pis < 1)):
        raise ValueError(
            f"{fn}: choice must be a non-empty grid of values in (0, 1); got {choice!r}."
        )

    g = int(group_size)
    counts = _patterns(g)  # [P, 4]
    categories = np.stack([np.repeat(np.arange(4), row) for row in counts])  # [P, G]
    cap = max(2, _WORK_PER_PAIR // (len(counts) * g))
    half = (min(int(num_samples), cap) + 1) // 2

    lo_idx, hi_idx = np.triu_indices(len(qs), k=1)
    q_lo, q_hi = qs[lo_idx], qs[hi_idx]
    probs = np.stack(
        [
            pis[None, :] * q_hi[:, None],
            pis[None, :] * (1 - q_hi[:, None]),
            (1 - pis[None, :]) * q_lo[:, None],
            (1 - pis[None, :]) * (1 - q_lo[:, None]),
        ],
        axis=-1,
    )  # [N, M, 4]
    weights = _multinomial_weights(counts, probs)  # [N, M, P]

    with jax.enable_x64(True):  # the same antithetic noise for every state, pattern and pair
        base = jax.random.normal(jax.random.PRNGKey(seed), (half, g), dtype=jnp.float64)
        eps = jnp.concatenate([base, -base], axis=0)
    drifts, conf_lo, conf_hi = [], [], []
    for state in states:
        if state == "fixed_point":
            logit = _settling_logits(
                reward_fn, estimator, qs, g, float(exploration), 8192, seed, table
            )
        else:
            logit = np.log(qs) - np.log1p(-qs)
        logit = np.clip(logit, -_LOGIT_LIMIT, _LOGIT_LIMIT)
        logits = np.stack([logit[hi_idx], logit[lo_idx]], axis=1)  # [N, 2] (better, worse)
        with jax.enable_x64(True):
            better_sum, total_sum = _tabulate(
                reward_fn,
                estimator,
                jnp.asarray(categories),
                eps,
                jnp.asarray(logits),
                jnp.float64(exploration),
            )
            better_sum, total_sum = np.asarray(better_sum), np.asarray(total_sum)  # [N, P]
        if not (np.all(np.isfinite(better_sum)) and np.all(np.isfinite(total_sum))):
            raise ValueError(
                f"{fn}: the advantages are NaN/inf for some answer pair; reward_fn must "
                "return finite rewards for confidences in (0, 1)."
            )
        drifts.append(
            np.einsum("nmp,np->nm", weights, better_sum)
            - pis[None, :] * np.einsum("nmp,np->nm", weights, total_sum)
        )
        sig = 1.0 / (1.0 + np.exp(-logit))
        conf_lo.append(sig[lo_idx])
        conf_hi.append(sig[hi_idx])

    drift = np.stack(drifts)  # [S, N, M]
    scale = float(np.max(np.abs(drift)))
    tol = 1e-9 * max(scale, 1e-30) + 1e-12
    i, n, k = np.unravel_index(int(np.argmin(drift)), drift.shape)
    worst = (states[i], float(q_lo[n]), float(q_hi[n]), float(pis[k]), float(drift[i, n, k]))
    preserving = bool(np.all(drift > tol))
    name = {"grpo": "GRPO (std-scaled)", "dr_grpo": "Dr. GRPO", "rloo": "RLOO"}[estimator]
    head = f"{name}, G={g}, answer choice: "
    where = worst[0].replace("_", " ")
    if preserving:
        verdict = (
            f"preserving: the better answer gains at every pair and choice probability "
            f"(smallest update {worst[4]:.3g}, {where} confidences, q = {worst[1]:g} vs "
            f"{worst[2]:g}, pi = {worst[3]:g})"
        )
    else:
        verdict = (
            f"NOT preserving: with {where} confidences, choosing between answers right with "
            f"q = {worst[1]:g} and {worst[2]:g}, a policy that picks the better one with "
            f"probability {worst[3]:g} "
            + (
                "is pushed towards the worse one"
                if worst[4] < -tol
                else "gets no push towards the better one"
            )
            + f" (expected update {worst[4]:.3g})"
        )
    return AnswerChoiceReport(
        preserving=preserving,
        states=states,
        q_low=q_lo,
        q_high=q_hi,
        confidence_low=np.stack(conf_lo),
        confidence_high=np.stack(conf_hi),
        choice=pis,
        drift=drift,
        worst=worst,
        summary=head + verdict + ".",
        estimator=estimator,
        group_size=g,
        exploration=float(exploration),
        num_samples=2 * half,
    )
