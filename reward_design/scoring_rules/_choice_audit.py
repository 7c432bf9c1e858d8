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

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import gammaln

from reward_design._jax_compat import enable_x64
from reward_design.scoring_rules._estimator_audit import (
    FixedPointTable,
    estimator_audit,
    estimator_fixed_points,
)
from reward_design.scoring_rules._policy_model import (
    antithetic_noise,
    check_estimator,
    check_policy_model,
    group_moments,
)
from reward_design.scoring_rules._probe import check_reward_fn, check_seed
from reward_design.scoring_rules._report import (
    AnswerChoiceReport,
    answer_choice_verdict,
    drift_tolerance,
    estimator_label,
)

__all__ = ["AnswerChoiceReport", "answer_choice_audit", "run_answer_choice"]

DEFAULT_Q = (0.02, 0.1, 0.25, 0.5, 0.75, 0.9)
DEFAULT_CHOICE = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
# Noise samples per pattern are capped at max(2, _WORK // (patterns x G)): a G^4
# bound that once bounded memory, kept so that results do not change with the
# faster computation (which costs patterns x samples per pair).
_WORK = 1 << 23
_CHUNK = 1 << 14  # groups (patterns x noise samples) per step of the loop over samples
_LOGIT_LIMIT = 6.0  # the confidence range of `estimator_fixed_points`' grid


def _patterns(group_size: int) -> np.ndarray:
    """``[P, 4]`` counts of (better & right, better & wrong, worse & right, worse & wrong),
    every composition of G, in lexicographic order."""
    a, b, c = np.meshgrid(*(np.arange(group_size + 1),) * 3, indexing="ij")
    a, b, c = a.ravel(), b.ravel(), c.ravel()
    keep = a + b + c <= group_size
    a, b, c = a[keep], b[keep], c[keep]
    return np.stack([a, b, c, group_size - a - b - c], axis=1).astype(np.int64)


def _multinomial_weights(
    counts: np.ndarray, probs: np.ndarray, log_coef: np.ndarray | None = None
) -> np.ndarray:
    """``[..., P]`` multinomial pmf of each pattern under ``probs [..., 4]``.

    ``log_coef``: ``[P]`` the log multinomial coefficients of ``counts``, when
    the caller has them (they depend on the patterns only).
    """
    if log_coef is None:
        g = counts.sum(axis=1)[0]
        log_coef = gammaln(g + 1) - gammaln(counts + 1).sum(axis=1)  # [P]
    probs = np.asarray(probs, dtype=np.float64)
    zero = probs <= 0
    logp = np.log(np.where(zero, 1.0, probs))  # [..., 4]; 0 * log(0) counts as 0
    log_w = log_coef + logp @ counts.T.astype(np.float64)
    # a kind of sample that cannot occur: patterns that hold one have weight 0
    impossible = zero.astype(np.float64) @ (counts > 0).T.astype(np.float64) > 0
    return np.where(impossible, 0.0, np.exp(log_w))


@partial(jax.jit, static_argnums=(0, 1))
def _tabulate(reward_fn, estimator, bounds, eps, weight, logits, s):
    """Per answer pair: ``E[sum_{better} A]`` and ``E[sum A]`` for every pattern.

    bounds: ``[3, P]`` the pattern's members of kind t (as in `_patterns`)
    are ``j`` with ``b[t - 1] <= j < b[t]`` (``b[-1] = 0``, ``b[3] = G``);
    eps: ``[C, G, K]`` noise in C chunks of K samples; weight: ``[C, K]``
    each sample's weight in the expectation (0 for padding); logits:
    ``[N, 2]`` confidence logits (better, worse). Each kind's rewards are
    summed over its block of members from running sums over the members
    (`group_moments`); chunks keep the ``[P, K]`` arrays in cache.
    """
    dtype = eps.dtype
    g = eps.shape[1]
    right = jnp.asarray([1.0, 0.0, 1.0, 0.0], dtype=dtype)[:, None, None]
    edges = jnp.concatenate([jnp.zeros_like(bounds[:1]), bounds, jnp.full_like(bounds[:1], g)])
    n = (edges[1:] - edges[:-1]).astype(dtype)[:, :, None]  # [4, P, 1]

    def per_chunk(m, sums, chunk):
        e, w = chunk  # [G, K], [K]
        c = jax.nn.sigmoid(m + s * e[None])  # [4, G, K]: member j as each kind
        r = jnp.asarray(reward_fn(c, jnp.broadcast_to(right, c.shape)), dtype=dtype)
        ref = jnp.mean(r, axis=1, keepdims=True)  # [4, 1, K]
        d = r - ref
        terms = jnp.stack([d, d * d], axis=2)  # [4, G, 2, K]
        prefix = jnp.pad(jnp.cumsum(terms, axis=1), ((0, 0), (1, 0), (0, 0), (0, 0)))
        # at each inner edge, the running sums of the two kinds it separates (row gathers)
        at = [prefix[t : t + 2, bounds[t]] for t in range(3)]  # [2 kinds, P, 2, K] each
        seg = [
            at[0][0],
            at[1][0] - at[0][1],
            at[2][0] - at[1][1],
            prefix[3, -1:] - at[2][1],
        ]  # per kind [P, 2, K]: the shifted sum and sum of squares over its block
        segments = [(n[t], ref[t], seg[t][:, 0], seg[t][:, 1]) for t in range(4)]
        _, factor, centred = group_moments(segments, estimator, g)
        better = factor * (centred[0] + centred[1])  # [P, K]
        total = better + factor * (centred[2] + centred[3])
        return (sums[0] + better @ w, sums[1] + total @ w), None

    def per_pair(lg):
        m = jnp.stack([lg[0], lg[0], lg[1], lg[1]])[:, None, None]
        zero = jnp.zeros(bounds.shape[1], dtype)
        sums, _ = jax.lax.scan(partial(per_chunk, m), (zero, zero), (eps, weight))
        return sums

    return jax.lax.map(per_pair, logits)


def _settling_logits(reward_fn, estimator, qs, group_size, exploration, seed, table):
    """``[Q]`` logit means m at which the one-answer audit's policy settles, per q.

    The one-answer audit reports each settling point as the mean stated
    confidence ``E[sigmoid(m + s eps)]``; it is mapped back to m through the
    same table (the mean confidence is increasing in m), so the policy audited
    here is the settling policy itself, not one centred on logit(mean).
    """
    if table is None:
        table = estimator_fixed_points(
            reward_fn, estimator, group_size=group_size, exploration=exploration, seed=seed
        )
    report = estimator_audit(
        reward_fn,
        estimator,
        group_size=group_size,
        exploration=exploration,
        q=qs,
        num_samples=8192,
        tolerance=0.03,
        seed=seed,
        table=table,
    )
    return np.interp(report.optimal_confidence, table.mean_confidence, table.m)


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
    group's rewards into advantages `A` (the formulas of `rd.advantages`, as
    in training), and REINFORCE moves the choice logit by
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
        was used). Each pattern's rewards are summed from running sums over
        the members, so an answer pair costs patterns x samples, not x G as
        well: the whole audit at G = 128 takes about 5 s and 0.7 GB peak on a
        2-core CPU (docs/scoring-rules.md).
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
    return run_answer_choice(
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


def run_answer_choice(
    reward_fn: Callable,
    estimator: str,
    *,
    group_size: int,
    exploration: float,
    q,
    choice,
    confidence: str,
    num_samples: int,
    seed: int,
    table: FixedPointTable | None,
) -> AnswerChoiceReport:
    """`answer_choice_audit`; ``table``: the one-answer audit's `FixedPointTable`
    for these arguments when the caller has it (else computed here)."""
    fn = "answer_choice_audit"
    if not callable(reward_fn):
        raise TypeError(f"{fn}: reward_fn must be callable; got {reward_fn!r}.")
    check_estimator(estimator, fn)
    check_policy_model(group_size, exploration, num_samples, fn)
    check_seed(seed, fn)
    check_reward_fn(reward_fn, fn, traced=True)
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
    edges = np.cumsum(counts[:, :3], axis=1).T  # [3, P]: where each kind's block ends
    cap = max(2, _WORK // (len(counts) * g))
    used = min(int(num_samples), cap)

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

    with enable_x64(True):  # the same antithetic noise for every state, pattern and pair
        eps = np.asarray(antithetic_noise(seed, used, g))  # [S, G]
    # chunks of K samples with P x K about _CHUNK groups; the last one padded with weight 0
    num = eps.shape[0]
    k = min(num, max(2, _CHUNK // len(counts)))
    pad = -num % k
    chunks = np.concatenate([eps, np.zeros((pad, g))]).reshape(-1, k, g).transpose(0, 2, 1)
    weight = np.concatenate([np.full(num, 1.0 / num), np.zeros(pad)]).reshape(-1, k)
    better_sums, total_sums, conf_lo, conf_hi = [], [], [], []
    for state in states:
        if state == "fixed_point":
            logit = _settling_logits(reward_fn, estimator, qs, g, float(exploration), seed, table)
        else:
            logit = np.log(qs) - np.log1p(-qs)
        logit = np.clip(logit, -_LOGIT_LIMIT, _LOGIT_LIMIT)
        logits = np.stack([logit[hi_idx], logit[lo_idx]], axis=1)  # [N, 2] (better, worse)
        with enable_x64(True):
            better_sum, total_sum = _tabulate(
                reward_fn,
                estimator,
                jnp.asarray(edges, dtype=jnp.int32),
                jnp.asarray(chunks),
                jnp.asarray(weight),
                jnp.asarray(logits),
                jnp.float64(exploration),
            )
            better_sum, total_sum = np.asarray(better_sum), np.asarray(total_sum)  # [N, P]
        if not (np.all(np.isfinite(better_sum)) and np.all(np.isfinite(total_sum))):
            raise ValueError(
                f"{fn}: the advantages are NaN/inf for some answer pair; reward_fn must "
                "return finite rewards for confidences in (0, 1)."
            )
        better_sums.append(better_sum)
        total_sums.append(total_sum)
        sig = 1.0 / (1.0 + np.exp(-logit))
        conf_lo.append(sig[lo_idx])
        conf_hi.append(sig[hi_idx])

    log_coef = gammaln(g + 1) - gammaln(counts + 1).sum(axis=1)
    drift = np.empty((len(states), len(q_lo), len(pis)))  # [states, N, M]
    for i in range(len(q_lo)):  # one pair's [M, P] weights at a time
        w = _multinomial_weights(counts, probs[i], log_coef)
        for k in range(len(states)):
            drift[k, i] = w @ better_sums[k][i] - pis * (w @ total_sums[k][i])
    i, n, k = np.unravel_index(int(np.argmin(drift)), drift.shape)
    worst = (states[i], float(q_lo[n]), float(q_hi[n]), float(pis[k]), float(drift[i, n, k]))
    preserving = bool(np.all(drift > drift_tolerance(drift)))
    head = f"{estimator_label(estimator)}, G={g}, answer choice: "
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
        summary=head + answer_choice_verdict(preserving, worst, drift),
        estimator=estimator,
        group_size=g,
        exploration=float(exploration),
        num_samples=num,
    )
