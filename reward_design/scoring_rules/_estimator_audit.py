"""Where does a confidence reward drive stated confidence under GRPO, Dr. GRPO or RLOO?

The one-answer policy model (`estimator_fixed_points`): the expected update is
an exact sum over the number k of correct samples and a common-random-number
Monte Carlo average over the exploration noise. `estimator_audit` finds where
it settles for each success probability.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from scipy.stats import binom

from reward_design._jax_compat import enable_x64
from reward_design.scoring_rules._policy_model import (
    antithetic_noise,
    check_estimator,
    check_policy_model,
    group_moments,
    pair_mean,
)
from reward_design.scoring_rules._probe import check_reward_fn, check_seed
from reward_design.scoring_rules._report import (
    IncentiveReport,
    drift_tolerance,
    estimator_summary,
)

__all__ = ["FixedPointTable", "estimator_audit", "estimator_fixed_points", "success_grid"]

# Grid points m per step of the table's loop over m: batch x samples <= this
# (a few MB of running sums, so the loop's vectors stay in cache).
_BATCH_ELEMENTS = 1 << 15


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
    advantages ``A = estimator(r)`` for the group (the formulas of
    `rd.advantages.grpo`, ``dr_grpo`` and ``rloo`` with their defaults, as in
    training), and REINFORCE moves m along
    ``sum_j A_j d/dm log N(logit c_j; m, s^2) = sum_j A_j eps_j / s``.

    Its expectation given k correct samples is the same for every
    arrangement of them (the estimators are permutation-equivariant), so the
    expectation over correctness is an exact sum over k with binomial
    weights, ``g(m; q) = sum_k Binom(k; G, q) drift[k, m]``; the expectation
    over eps is Monte Carlo with ``num_samples`` antithetic draws shared by
    every k and m (common random numbers, so ``g`` is smooth in m). The
    policy settles where g crosses zero from + to -. The groups of every k
    are formed from one draw by running sums over the members, so the cost
    is O(M x samples x G) (M = ``num_grid``): about 2 s at G = 128 with the
    defaults on a 2-core CPU, plus about 1 s compiling once per reward
    function and shapes (docs/scoring-rules.md).

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
    fn = "estimator_fixed_points"
    check_estimator(estimator, fn)
    check_policy_model(group_size, exploration, num_samples, fn)
    check_seed(seed, fn)
    if isinstance(num_grid, bool) or not isinstance(num_grid, int | np.integer) or num_grid < 2:
        raise ValueError(f"{fn}: num_grid must be an integer >= 2; got {num_grid!r}.")
    if isinstance(logit_range, bool | str | bytes) or not (
        np.ndim(logit_range) == 0 and np.isfinite(logit_range) and logit_range > 0
    ):
        raise ValueError(f"{fn}: logit_range must be a finite number > 0; got {logit_range!r}.")
    check_reward_fn(reward_fn, fn, traced=True)
    g = int(group_size)
    with enable_x64(True):
        eps = antithetic_noise(seed, num_samples, g)
        m_grid = jnp.linspace(-logit_range, logit_range, num_grid, dtype=jnp.float64)
        batch = max(1, _BATCH_ELEMENTS // eps.shape[0])
        out = _tabulate(reward_fn, estimator, batch, eps.T, m_grid, jnp.float64(exploration))
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


@partial(jax.jit, static_argnums=(0, 1, 2))
def _tabulate(reward_fn, estimator, batch, eps_t, m_grid, s):
    """Per m: the table's five rows; compiled once per (reward_fn, estimator, shapes).

    ``eps_t``: ``[G, S]`` noise, member-major. In the group with k correct,
    members j < k are the correct ones (segment 0 of `group_moments`) and the
    others wrong (segment 1). A loop over k = 0..G carries the running sums
    over j < k of both rewards (segment 1's sums are totals minus running
    sums) and evaluates member k's rewards as it goes, so no ``[G, S]``
    array but the noise is ever stored. The sums are shifted by the rewards
    at ``c = sigmoid(m)``, near every sample's.
    """
    g, num = eps_t.shape
    dtype = eps_t.dtype
    eps_total = jnp.sum(eps_t, axis=0)

    def rewards(m, e):
        c = jax.nn.sigmoid(m + s * e)
        r1 = jnp.asarray(reward_fn(c, jnp.ones_like(c)), dtype=dtype)
        r0 = jnp.asarray(reward_fn(c, jnp.zeros_like(c)), dtype=dtype)
        return c, r1, r0

    def per_m(m):
        _, ref1, ref0 = rewards(m, jnp.zeros((), dtype))
        c, _, r0 = rewards(m, eps_t)
        d0 = r0 - ref0
        total0 = (jnp.sum(d0, 0), jnp.sum(d0 * d0, 0), jnp.sum(d0 * eps_t, 0))

        def step(carry, x):
            # sums over j < k: (d, d^2, d eps) of the right and the wrong reward, and eps
            right, before, eps_right = carry
            k, e = x
            wrong = [t - b for t, b in zip(total0, before, strict=True)]  # over j >= k
            segments = [(k, ref1, right[0], right[1]), (g - k, ref0, wrong[0], wrong[1])]
            mean, factor, (cen_right, cen_wrong) = group_moments(segments, estimator, g)
            # sum_j (r_j - mean) eps_j, segment by segment: sum (d_j + ref - mean) eps_j
            weighted = (
                right[2]
                + wrong[2]
                + (ref1 - mean) * eps_right
                + (ref0 - mean) * (eps_total - eps_right)
            )
            out = (
                factor * weighted / s,
                factor * cen_right,
                factor * (cen_right + cen_wrong),
                mean,
            )
            _, r1_k, r0_k = rewards(m, e)  # member k joins the running sums
            d1, d0 = r1_k - ref1, r0_k - ref0
            carry = (
                (right[0] + d1, right[1] + d1 * d1, right[2] + d1 * e),
                (before[0] + d0, before[1] + d0 * d0, before[2] + d0 * e),
                eps_right + e,
            )
            return carry, tuple(pair_mean(x) for x in out)

        zero = jnp.zeros(num, dtype)
        ks = jnp.arange(g + 1, dtype=dtype)
        members = jnp.pad(eps_t, ((0, 1), (0, 0)))  # row G: never joins a reported sum
        _, rows = jax.lax.scan(step, ((zero,) * 3, (zero,) * 3, zero), (ks, members))
        return (*rows, jnp.mean(c))

    # batches of m (the last one padded: lax.map's own remainder would compile twice)
    num_m = m_grid.shape[0]
    padded = jnp.pad(m_grid, (0, -num_m % batch), mode="edge").reshape(-1, batch)
    out = jax.lax.map(jax.vmap(per_m), padded)
    return tuple(x.reshape((-1,) + x.shape[2:])[:num_m] for x in out)


def _interp(values: np.ndarray, i: int, t: float) -> float:
    return float(values[i] + t * (values[min(i + 1, len(values) - 1)] - values[i]))


def success_grid(q) -> np.ndarray:
    """The estimator audit's grid of q: ``q`` checked, or 0.05, 0.10, ..., 0.95 if None."""
    qs = np.linspace(0.05, 0.95, 19) if q is None else np.asarray(q, dtype=np.float64).ravel()
    if qs.size == 0 or not np.all((qs > 0) & (qs < 1)):
        raise ValueError(
            f"audit_confidence_reward: q must be a non-empty grid of values in (0, 1); got {qs}."
        )
    return qs


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
    table: FixedPointTable | None = None,
) -> IncentiveReport:
    """The one-answer estimator audit of `audit_confidence_reward` (see its docstring);
    the report's ``answer_choice`` is None.

    ``table``: an `estimator_fixed_points` table already computed with these
    arguments (reused instead of recomputed).
    """
    check_policy_model(group_size, exploration, num_samples, "audit_confidence_reward")
    qs = success_grid(q)

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
    gtol = drift_tolerance(table.drift)

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
        roots = []  # (index, t): a stable zero between grid points index and index + 1
        first = int(np.flatnonzero(np.abs(d) > gtol)[0])
        if d[first] < -gtol:
            # negative from the left end, or after a no-signal stretch there: the
            # confidence drifts down to the left end, which is stable
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
        acc.append(_interp(acc_m[i], j, t))
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
    summary = estimator_summary(
        estimator=estimator,
        group_size=int(group_size),
        exploration=float(exploration),
        q=qs,
        optimal=optimal,
        calibrated=bool(strict_all),
        weak=bool(weak_all),
        first_bad=first_bad,
        accuracy=acc,
        accuracy_preserving=bool(acc_all),
        gtol=gtol,
    )
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
    )
