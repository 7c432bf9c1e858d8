"""Where does a confidence reward drive stated confidence under GRPO, Dr. GRPO or RLOO?

The policy model (documented in `estimator_fixed_points`) is small enough to
integrate exactly over correctness patterns and by common-random-number Monte
Carlo over the exploration noise, with the advantages computed by
`rd.advantages` exactly as a trainer computes them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from scipy.stats import binom

from reward_design import advantages as _adv
from reward_design.scoring_rules._audit import IncentiveReport

__all__ = ["FixedPointTable", "estimator_fixed_points", "estimator_audit"]

_ADVANTAGES = {
    "grpo": _adv.grpo,  # scale="group", eps=1e-6, ddof=1: TRL's scale_rewards="group"
    "dr_grpo": _adv.dr_grpo,
    "rloo": _adv.rloo,
}


@dataclasses.dataclass(frozen=True)
class FixedPointTable:
    """Per-pattern Monte Carlo tables over a grid of logit means m (all numpy).

    Attributes:
      m: ``[M]`` grid of the policy's logit mean.
      drift: ``[G + 1, M]`` ``E[sum_j A_j eps_j] / s`` when k of the G samples
        are correct (the expected update of m, given k).
      correct_advantage: ``[G + 1, M]`` ``E[sum_{j correct} A_j]`` given k.
      total_advantage: ``[G + 1, M]`` ``E[sum_j A_j]`` given k.
      mean_reward: ``[G + 1, M]`` ``E[mean_j r_j]`` given k.
      mean_confidence: ``[M]`` ``E[c]`` at each m.
    """

    m: np.ndarray
    drift: np.ndarray
    correct_advantage: np.ndarray
    total_advantage: np.ndarray
    mean_reward: np.ndarray
    mean_confidence: np.ndarray


def estimator_fixed_points(
    reward_fn: Callable,
    estimator: str,
    *,
    group_size: int = 8,
    exploration: float = 0.25,
    num_samples: int = 8192,
    num_grid: int = 97,
    logit_range: float = 6.0,
    seed: int = 0,
) -> FixedPointTable:
    """Tabulates the expected policy-gradient update of the stated confidence.

    Model: one question whose answers are correct with probability q. The
    trainer samples G = ``group_size`` completions; completion j is correct
    (``y_j ~ Bernoulli(q)``, independently) and states the confidence
    ``c_j = sigmoid(m + s eps_j)``, ``eps_j ~ N(0, 1)`` independent of
    ``y_j`` (s = ``exploration``: logit-space exploration noise; m is the
    policy's parameter). Rewards ``r_j = reward_fn(c_j, y_j)`` become
    advantages ``A = estimator(r)`` for the group (`rd.advantages.grpo`,
    ``dr_grpo`` or ``rloo``, exactly as in training), and REINFORCE moves m
    along ``sum_j A_j d/dm log N(logit c_j; m, s^2) = sum_j A_j eps_j / s``.

    Its expectation given k correct samples is the same for every
    arrangement of them (the estimators are permutation-equivariant), so the
    expectation over correctness is an exact sum over k with binomial
    weights, ``g(m; q) = sum_k Binom(k; G, q) drift[k, m]``; the expectation
    over eps is Monte Carlo with ``num_samples`` antithetic draws shared by
    every k and m (common random numbers, so ``g`` is smooth in m). The
    policy settles where g crosses zero from + to -.

    Args:
      reward_fn: ``reward_fn(confidence, correct) -> reward``, elementwise.
      estimator: ``"grpo"``, ``"dr_grpo"`` or ``"rloo"``.
      group_size: G >= 2.
      exploration: s > 0.
      num_samples: Monte Carlo groups per (k, m) (rounded up to even).
      num_grid: M, grid points of m over ``[-logit_range, logit_range]``.
      logit_range: the grid's half-width (6 covers confidences 0.0025 to 0.9975).
      seed: Monte Carlo seed.

    Returns:
      `FixedPointTable`.

    Raises:
      ValueError: unknown estimator, or rewards that make the advantages
        NaN/inf (a reward that is NaN or infinite for some confidence in (0, 1)).
    """
    if estimator not in _ADVANTAGES:
        raise ValueError(
            f"estimator_fixed_points: estimator must be one of {sorted(_ADVANTAGES)}; "
            f"got {estimator!r}."
        )
    g = int(group_size)
    half = (int(num_samples) + 1) // 2
    with jax.enable_x64(True):
        base = jax.random.normal(jax.random.PRNGKey(seed), (half, g), dtype=jnp.float64)
        eps = jnp.concatenate([base, -base], axis=0)  # [S, G], antithetic
        m_grid = jnp.linspace(-logit_range, logit_range, num_grid, dtype=jnp.float64)
        out = _tabulate(reward_fn, estimator, eps, m_grid, jnp.float64(exploration))
        drift, corr, tot, rew, mc = (np.asarray(x) for x in out)
    bad = ~np.all(np.isfinite(drift), axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            "audit_confidence_reward: the advantages are NaN/inf at the policy's mean stated "
            f"confidence {float(mc[i]):.4g} (logit mean m = {float(m_grid[i]):.3g}); "
            "reward_fn must return finite rewards for confidences in (0, 1)."
        )
    return FixedPointTable(
        m=np.asarray(m_grid),
        drift=drift.T,
        correct_advantage=corr.T,
        total_advantage=tot.T,
        mean_reward=rew.T,
        mean_confidence=mc,
    )


@partial(jax.jit, static_argnums=(0, 1))
def _tabulate(reward_fn, estimator, eps, m_grid, s):
    """Per-m Monte Carlo tables; compiled once per (reward_fn, estimator, shapes)."""
    adv = _ADVANTAGES[estimator]
    g = eps.shape[1]
    pattern = (jnp.arange(g)[None, :] < jnp.arange(g + 1)[:, None]).astype(eps.dtype)

    def per_m(m):
        c = jax.nn.sigmoid(m + s * eps)
        r1 = jnp.asarray(reward_fn(c, jnp.ones_like(c)), dtype=eps.dtype)
        r0 = jnp.asarray(reward_fn(c, jnp.zeros_like(c)), dtype=eps.dtype)
        y = pattern[:, None, :]  # [G+1, 1, G]
        r = jnp.where(y > 0, r1[None], r0[None])  # [G+1, S, G]
        a = adv(r.reshape(-1, g)).reshape(r.shape)
        return (
            jnp.mean(jnp.sum(a * eps[None], axis=-1), axis=-1) / s,
            jnp.mean(jnp.sum(a * y, axis=-1), axis=-1),
            jnp.mean(jnp.sum(a, axis=-1), axis=-1),
            jnp.mean(r, axis=(-2, -1)),
            jnp.mean(c),
        )

    return jax.lax.map(per_m, m_grid, batch_size=4)


def _interp(values: np.ndarray, i: int, t: float) -> float:
    return float(values[i] + t * (values[min(i + 1, len(values) - 1)] - values[i]))


def check_policy_model(group_size, exploration, num_samples, fn: str) -> None:
    """Eager checks of the simulated policy's G, exploration scale and noise samples.

    Shared by the one-answer estimator audit and `answer_choice_audit`.
    """
    if (
        isinstance(group_size, bool)
        or not isinstance(group_size, int | np.integer)
        or (group_size < 2)
    ):
        raise ValueError(
            f"{fn}: group_size must be an integer >= 2 (advantages of a single sample are 0); "
            f"got {group_size!r}."
        )
    if not (np.isfinite(exploration) and 0 < exploration <= 3):
        raise ValueError(
            f"{fn}: exploration must be in (0, 3] (logit-space std); got {exploration!r}."
        )
    if (
        isinstance(num_samples, bool)
        or not isinstance(num_samples, int | np.integer)
        or num_samples < 2
    ):
        raise ValueError(f"{fn}: num_samples must be an integer >= 2; got {num_samples!r}.")


def estimator_audit(
    reward_fn: Callable,
    estimator: str,
    *,
    group_size: int,
    exploration: float,
    q: np.ndarray | None,
    num_samples: int,
    tolerance: float,
    seed: int,
    answer_choice: bool = False,
    table: FixedPointTable | None = None,
) -> IncentiveReport:
    """The estimator branch of `audit_confidence_reward` (see its docstring).

    ``table``: an `estimator_fixed_points` table already computed with these
    arguments (reused instead of recomputed).
    """
    check_policy_model(group_size, exploration, num_samples, "audit_confidence_reward")
    qs = np.linspace(0.05, 0.95, 19) if q is None else np.asarray(q, dtype=np.float64).ravel()
    if qs.size == 0 or not np.all((qs > 0) & (qs < 1)):
        raise ValueError(
            f"audit_confidence_reward: q must be a non-empty grid of values in (0, 1); got {qs}."
        )

    if table is None:
        table = estimator_fixed_points(
            reward_fn,
            estimator,
            group_size=int(group_size),
            exploration=float(exploration),
            num_samples=num_samples,
            seed=seed,
        )
    weights = binom.pmf(np.arange(group_size + 1)[None, :], group_size, qs[:, None])  # [Q, G+1]
    drift = weights @ table.drift  # [Q, M]
    value_m = weights @ table.mean_reward
    acc_m = weights @ table.correct_advantage - qs[:, None] * (weights @ table.total_advantage)
    scale = float(np.max(np.abs(table.drift))) if table.drift.size else 0.0
    gtol = 1e-9 * max(scale, 1e-30) + 1e-12

    optimal, value, acc, lo, hi, fixed = [], [], [], [], [], []
    weak_all, strict_all, acc_all = True, True, True
    first_bad: tuple | None = None
    for i, qi in enumerate(qs):
        d = drift[i]
        if np.max(np.abs(d)) <= gtol:  # no signal: every confidence is a fixed point
            pts = np.array([table.mean_confidence[0], table.mean_confidence[-1]])
            optimal.append(qi)
            value.append(float(np.mean(value_m[i])))
            acc.append(float(np.mean(acc_m[i])))
            lo.append(0.0)
            hi.append(1.0)
            fixed.append(pts)
            strict_all = False
            acc_all &= bool(np.all(acc_m[i] > gtol))
            first_bad = first_bad or (qi, "the confidence receives no gradient at all")
            continue
        roots = []  # (index, t, confidence)
        if d[0] < -gtol:
            roots.append((0, 0.0))
        for j in range(len(d) - 1):
            if d[j] > gtol and d[j + 1] <= gtol:
                # a crossing; take the last point still > 0 and the next one <= 0
                t = d[j] / (d[j] - d[j + 1])
                roots.append((j, float(t)))
        if d[-1] > gtol:
            roots.append((len(d) - 1, 0.0))
        conf = np.array([_interp(table.mean_confidence, j, t) for j, t in roots], dtype=np.float64)
        k = int(np.argmin(np.abs(conf - qi)))
        j, t = roots[k]
        optimal.append(float(conf[k]))
        value.append(_interp(value_m[i], j, t))
        a = _interp(acc_m[i], j, t)
        acc.append(a)
        lo.append(float(conf.min()))
        hi.append(float(conf.max()))
        fixed.append(conf)
        near = np.abs(conf - qi) <= tolerance
        weak_all &= bool(near.any())
        ok = bool(len(conf) == 1 and near[0])
        strict_all &= ok
        acc_at_all = [_interp(acc_m[i], jj, tt) for jj, tt in roots]
        acc_all &= bool(np.all(np.asarray(acc_at_all) > gtol))
        if not ok and first_bad is None:
            where = ", ".join(f"{x:.3f}" for x in conf)
            first_bad = (qi, f"training settles at confidence {where}")

    optimal = np.asarray(optimal)
    acc = np.asarray(acc)
    name = {"grpo": "GRPO (std-scaled)", "dr_grpo": "Dr. GRPO", "rloo": "RLOO"}[estimator]
    head = f"{name}, G={group_size}, exploration {exploration:g}: "
    if strict_all:
        err = np.max(np.abs(optimal - qs))
        parts = [f"calibrated: a single stable point within {err:.3f} of q for all {len(qs)} q"]
    else:
        qb, what = first_bad
        kind = "weakly calibrated only" if weak_all else "NOT calibrated"
        parts = [f"{kind}: at q = {qb:.2f} {what}"]
        parts.append(f"max |c* - q| = {np.max(np.abs(optimal - qs)):.3f}")
    if acc_all:
        parts.append("accuracy-preserving: correct answers gain advantage at every q")
    else:
        ib = int(np.argmax(~(acc > gtol)))
        parts.append(
            f"NOT accuracy-preserving: at q = {qs[ib]:.2f} the expected update of the success "
            f"logit is {acc[ib]:.3g}"
        )
    choice_report = None
    summary = head + "; ".join(parts) + "."
    if answer_choice:
        from reward_design.scoring_rules._choice_audit import _answer_choice_audit

        # The fixed-point confidence state comes from this audit's own table
        # (not a second, identical one-answer audit).
        choice_report = _answer_choice_audit(
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
        verdict = choice_report.summary.split("answer choice: ", 1)[1]
        summary += " Answer choice: " + verdict
    return IncentiveReport(
        calibrated=bool(strict_all),
        weakly_calibrated=bool(weak_all),
        accuracy_preserving=bool(acc_all),
        q=qs,
        optimal_confidence=optimal,
        value=np.asarray(value),
        optimal_interval=np.stack([np.asarray(lo), np.asarray(hi)], axis=1),
        accuracy_gradient=acc,
        summary=summary,
        estimator=estimator,
        group_size=int(group_size),
        exploration=float(exploration),
        tolerance=tolerance,
        fixed_points=tuple(fixed),
        answer_choice=choice_report,
    )
