"""`check_propriety`: a numerical test of (strict) propriety for any scoring rule."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from reward_design._checks import check_count, scalar_hyper
from reward_design._jax_compat import enable_x64

__all__ = ["ProprietyReport", "check_propriety"]


@dataclasses.dataclass(frozen=True)
class ProprietyReport:
    """What `check_propriety` found.

    Attributes:
      proper: no misreport p beat the truthful report q, in expected score,
        by more than the tolerance, for any true distribution q searched.
      strictly_proper: proper, and every misreport at L-infinity distance at
        least ``min_distance`` from q lost by more than the tolerance.
      max_violation: ``max_q [E_q S(q, Y) - min_p E_q S(p, Y)]``, the most any
        misreport gained over the truth (0 when the truth is optimal).
      counterexample: ``(q, p)`` attaining ``max_violation`` when the rule is
        not proper, else None. Probability vectors ``[C]``, or floats (the
        probability of outcome 1) for ``binary=True``.
      tie: ``(q, p)`` with p far from q but (within the tolerance) as good,
        when the rule is proper but not strictly proper, else None.
      min_far_gap: ``min_q min_{p: |p - q|_inf >= min_distance} E_q S(p) - E_q S(q)``,
        the smallest loss of a far misreport (> tolerance for strict rules).
      tolerance: the absolute tolerance used (``rtol * scale``).
      scale: the score scale the tolerance is relative to.
      num_classes: C.
      num_truths: number of true distributions q searched.
    """

    proper: bool
    strictly_proper: bool
    max_violation: float
    counterexample: tuple | None
    tie: tuple | None
    min_far_gap: float
    tolerance: float
    scale: float
    num_classes: int
    num_truths: int

    def __str__(self) -> str:
        kind = (
            "strictly proper"
            if self.strictly_proper
            else ("proper (not strictly)" if self.proper else "NOT proper")
        )
        text = (
            f"{kind} for {self.num_classes} classes ({self.num_truths} true distributions "
            f"searched; max violation {self.max_violation:.3g}, tolerance {self.tolerance:.3g})"
        )
        if self.counterexample is not None:
            q, p = self.counterexample
            text += f"; counterexample q={np.round(q, 4)}, p={np.round(p, 4)}"
        elif self.tie is not None:
            q, p = self.tie
            text += f"; tie q={np.round(q, 4)}, p={np.round(p, 4)}"
        return text


# ----------------------------------------------------------------- search sets
def _simplex_grid(num_classes: int, resolution: int) -> np.ndarray:
    """All vectors with entries k / resolution summing to 1."""
    pts = [
        c
        for c in itertools.product(range(resolution + 1), repeat=num_classes - 1)
        if sum(c) <= resolution
    ]
    pts = np.asarray(pts, dtype=np.float64)
    last = resolution - pts.sum(axis=1, keepdims=True)
    return np.concatenate([pts, last], axis=1) / resolution


def _special_points(num_classes: int) -> np.ndarray:
    eye = np.eye(num_classes)
    pts = [eye, np.full((1, num_classes), 1.0 / num_classes)]
    if num_classes <= 12:  # edge midpoints
        pairs = list(itertools.combinations(range(num_classes), 2))
        pts.append(np.stack([(eye[i] + eye[j]) / 2 for i, j in pairs]))
    return np.concatenate(pts)


def _dirichlet(rng: np.random.Generator, num_classes: int, n: int) -> np.ndarray:
    alphas = np.array([0.2, 0.5, 1.0, 3.0])
    alpha = rng.choice(alphas, size=(n, 1))
    g = rng.gamma(np.broadcast_to(alpha, (n, num_classes)))
    g = np.maximum(g, 1e-300)
    return g / g.sum(axis=1, keepdims=True)


def _truths(num_classes: int, num_truths: int, rng: np.random.Generator) -> np.ndarray:
    if num_classes == 2:
        q1 = np.linspace(0.0, 1.0, max(num_truths, 3))
        return np.stack([1 - q1, q1], axis=1)
    res = {3: 20, 4: 10, 5: 6}.get(num_classes, 0)
    parts = [_special_points(num_classes)]
    if res:
        parts.append(_simplex_grid(num_classes, res))
    parts.append(_dirichlet(rng, num_classes, max(num_truths - sum(len(p) for p in parts), 64)))
    return np.unique(np.concatenate(parts), axis=0)


def _candidates(num_classes: int, num_candidates: int, rng: np.random.Generator) -> np.ndarray:
    if num_classes == 2:
        p1 = np.linspace(0.0, 1.0, max(num_candidates, 3))
        return np.stack([1 - p1, p1], axis=1)
    res = {3: 60, 4: 24, 5: 12, 6: 7}.get(num_classes, 0)
    parts = [_special_points(num_classes)]
    if res:
        parts.append(_simplex_grid(num_classes, res))
    parts.append(
        _dirichlet(rng, num_classes, max(num_candidates - sum(len(p) for p in parts), 256))
    )
    return np.concatenate(parts)


# ------------------------------------------------------------- expected scores
def _scores(rule: Callable, probs: jax.Array, nan_to_inf: bool = True) -> jax.Array:
    """``[N, C]``: the rule's score of each report for each possible outcome.

    NaN scores of misreports become +inf (an invalid report never wins); the
    truthful reports keep NaN (``nan_to_inf=False``) so `check_propriety` can
    raise instead of reporting a meaningless violation.
    """
    n, c = probs.shape
    rep = jnp.repeat(probs, c, axis=0)
    outcome = jnp.tile(jnp.arange(c, dtype=jnp.int32), n)
    out = jnp.asarray(rule(rep, outcome))
    if out.shape != (n * c,):
        raise ValueError(
            f"check_propriety: rule(probs [N, C], outcome [N]) must return [N] scores; for "
            f"N = {n * c} it returned shape {out.shape}."
        )
    out = out.astype(probs.dtype).reshape(n, c)
    return jnp.where(jnp.isnan(out), jnp.inf, out) if nan_to_inf else out


def _expected(q: jax.Array, s: jax.Array) -> jax.Array:
    """``sum_y q_y S_y`` over the last axis with ``0 * inf = 0`` (outcomes of probability 0)."""
    return jnp.sum(jnp.where(q > 0, q * s, 0.0), axis=-1)


def _gap(e: jax.Array, e_true: jax.Array) -> jax.Array:
    """``E(p) - E(q)``, 0 where both are the same infinity."""
    return jnp.where(e == e_true, 0.0, e - e_true)


def _global_eager(rule, q, cands):
    s_c = _scores(rule, cands)
    s_q = _scores(rule, q, nan_to_inf=False)
    e = jax.vmap(lambda qi: _expected(qi, s_c))(q)  # [M, N]
    e_true = _expected(q, s_q)  # [M]
    return _gap(e, e_true[:, None]), e_true, s_c


@partial(jax.jit, static_argnums=(1, 2))
def _proposal_noise(key, shape, dtype):
    """Gaussian directions times heavy-tailed step sizes (rule-independent: compiled once)."""
    k1, k2 = jax.random.split(key)
    noise = jax.random.normal(k1, shape, dtype=dtype)
    # log-uniform step sizes over e^-4..1 reach faces and vertices as well as nearby points
    scale = jnp.exp(jax.random.uniform(k2, shape[:-1] + (1,), dtype=dtype, minval=-4.0, maxval=0.0))
    return noise * scale


def _refine_round_eager(rule, q, e_true, p, gap, noise, sigma, min_dist):
    """One round of random local search for each q: keeps the best of K proposals."""
    m, k, c = noise.shape
    prop = jnp.maximum(p[:, None, :] + noise * sigma, 0.0)
    prop = prop / jnp.maximum(jnp.sum(prop, axis=-1, keepdims=True), 1e-30)
    s = _scores(rule, prop.reshape(m * k, c)).reshape(m, k, c)
    e = _expected(q[:, None, :], s)
    g = _gap(e, e_true[:, None])
    far = jnp.max(jnp.abs(prop - q[:, None, :]), axis=-1) >= min_dist
    g = jnp.where(far, g, jnp.inf)
    best = jnp.argmin(g, axis=1)
    g_best = jnp.take_along_axis(g, best[:, None], axis=1)[:, 0]
    p_best = jnp.take_along_axis(prop, best[:, None, None], axis=1)[:, 0]
    better = g_best < gap
    return jnp.where(better[:, None], p_best, p), jnp.where(better, g_best, gap)


_global = jax.jit(_global_eager, static_argnums=0)
_refine_round = jax.jit(_refine_round_eager, static_argnums=0)


def _refine(rule, q, e_true, p, gap, min_dist, rounds, num_proposals, seed, jit=True):
    key = jax.random.PRNGKey(seed)
    shape = (q.shape[0], num_proposals, q.shape[1])
    for sigma in np.geomspace(0.3, 1e-4, rounds):
        key, sub = jax.random.split(key)
        noise = _proposal_noise(sub, shape, q.dtype)
        step = _refine_round if jit else _refine_round_eager
        p, gap = step(
            rule,
            q,
            e_true,
            p,
            gap,
            noise,
            jnp.asarray(sigma, q.dtype),
            jnp.asarray(min_dist, q.dtype),
        )
    return np.asarray(p), np.asarray(gap)


def check_propriety(
    rule: Callable,
    num_classes: int = 2,
    *,
    binary: bool = False,
    num_truths: int = 201,
    num_candidates: int = 4001,
    rtol: float = 1e-7,
    min_distance: float = 0.1,
    refine_rounds: int = 24,
    num_proposals: int = 64,
    seed: int = 0,
) -> ProprietyReport:
    """Tests numerically whether a scoring rule (a loss) is proper and strictly proper.

    A loss S is proper if ``E_{y~q} S(q, y) <= E_{y~q} S(p, y)`` for every
    true distribution q and report p, strictly proper if equality holds only
    at p = q (Gneiting & Raftery 2007). Expected scores are exact sums over
    the C outcomes (outcomes with ``q_y = 0`` contribute 0 even where S is
    infinite). The search, all vectorised and jitted:

    1. true distributions q: for C = 2 a grid of ``num_truths`` points on
       [0, 1]; for C > 2 vertices, centroid, edge midpoints, a simplex grid
       (C <= 5) and Dirichlet samples (concentrations 0.2 to 3, so some lie
       near the boundary);
    2. reports p: a finer grid / Dirichlet set of about ``num_candidates``
       points, every q scored against every p in one matrix;
    3. adversarial refinement: from the best report found for each q, rounds
       of random local search with step sizes shrinking from 0.3 to 1e-4
       (no gradients, so discontinuous and non-differentiable rules work);
       run once unconstrained (for violations) and once restricted to
       ``|p - q|_inf >= min_distance`` (for ties).

    Precision and tolerances: everything is computed in float64 (inside a
    local 64-bit context, ``jax.enable_x64``; the rule should compute in the dtype of
    its input). With ``scale`` the largest absolute finite score of reports
    whose entries are all >= 1e-3 (so the log score's unbounded tail does not
    inflate it), ``tolerance = rtol * scale``. The rule is called **proper**
    when ``max_violation <= tolerance`` and **strictly proper** when, in
    addition, every report at L-infinity distance >= ``min_distance`` from q
    is worse than the truth by more than ``tolerance``. Strictness is thus
    resolved at ``min_distance``: a rule whose ties are confined to sets of
    width below ``min_distance`` (e.g. a Brier score quantised to steps of
    0.01) is reported strictly proper, and a strictly proper rule that is
    flatter than ``tolerance`` a distance ``min_distance`` away from some q
    (pseudospherical scores of high order near a vertex) is reported as
    proper with ties. A rule that computes in float32 internally has
    rounding errors near 1e-7 * scale; raise ``rtol`` for it. A numerical
    search can miss a violation that lives on a set of tiny measure:
    ``proper=True`` means no violation was found, ``proper=False`` comes
    with a counterexample that was evaluated exactly.

    Args:
      rule: ``rule(probs [N, C], outcome [N]) -> [N]`` losses, written with
        jax.numpy (it is jitted; it may be discontinuous; a rule that cannot
        be traced, e.g. one with Python ``if`` on values, is run eagerly). With
        ``binary=True``: ``rule(p [N], y [N]) -> [N]``, p the probability of 1.
      num_classes: C >= 2 (2 when ``binary``).
      binary: ``rule`` takes the probability of outcome 1 (as `brier_binary`).
      num_truths: number of true distributions (C = 2) / their minimum number.
      num_candidates: number of reports scored against every truth.
      rtol: tolerance relative to the score scale.
      min_distance: L-infinity radius around q outside which ties break
        strictness.
      refine_rounds: rounds of local search.
      num_proposals: proposals per truth and round.
      seed: seed of the random parts (the result is deterministic).

    Returns:
      `ProprietyReport`.

    Raises:
      ValueError: bad arguments, a rule that does not return ``[N]`` scores, or
        one that returns NaN for a truthful report q (for an outcome with
        ``q_y > 0``). NaN scores of misreports count as +inf (never better).

    References:
      Gneiting & Raftery, "Strictly Proper Scoring Rules, Prediction, and
      Estimation", JASA 102(477), 2007.
    """
    if not callable(rule):
        raise TypeError(f"check_propriety: rule must be callable; got {rule!r}.")
    if binary:
        if num_classes != 2:
            raise ValueError(
                f"check_propriety: binary=True needs num_classes=2; got {num_classes}."
            )
        binary_rule = rule

        def rule(probs, outcome):  # noqa: F811 - the multiclass view of a binary rule
            return binary_rule(probs[..., 1], outcome)

    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(
            f"check_propriety: num_classes must be an integer >= 2; got {num_classes!r}."
        )
    fn = "check_propriety"
    min_distance = scalar_hyper(min_distance, "min_distance", fn, low=0.0, high=1.0, low_open=True)
    min_distance = float(min_distance)
    if not min_distance < 1:
        raise ValueError(f"check_propriety: min_distance must be in (0, 1); got {min_distance}.")
    rtol = float(scalar_hyper(rtol, "rtol", fn, low=0.0))
    for name, value, least in (
        ("num_truths", num_truths, 1),
        ("num_candidates", num_candidates, 1),
        ("refine_rounds", refine_rounds, 0),
        ("num_proposals", num_proposals, 1),
        ("seed", seed, 0),
    ):
        check_count(value, name, fn, least)

    _probe_rule(rule, num_classes, binary)
    rng = np.random.default_rng(seed)
    q_np = _truths(num_classes, num_truths, rng)
    c_np = _candidates(num_classes, num_candidates, rng)
    with enable_x64(True):
        return _check(
            rule, q_np, c_np, binary, rtol, min_distance, refine_rounds, num_proposals, seed
        )


def _probe_rule(rule: Callable, num_classes: int, binary: bool) -> None:
    """Calls ``rule`` on two uniform reports first: a rule of the other layout (binary vs
    multiclass) fails here with a message that says which flag to pass."""
    probs = jnp.full((2, num_classes), 1.0 / num_classes, dtype=jnp.float32)
    outcome = jnp.arange(2, dtype=jnp.int32) % num_classes
    layout = "rule(p [N], y [N])" if binary else "rule(probs [N, C], outcome [N])"
    hint = (
        " With binary=True, rule takes the probability of outcome 1 and the outcomes in "
        "{0, 1} (as brier_binary); for a multiclass rule leave binary=False."
        if binary
        else " For a binary rule rule(p, y) (p the probability of outcome 1, as "
        "brier_binary) pass binary=True."
    )
    try:
        out = rule(probs, outcome)
        shape = tuple(jnp.shape(out))
    except Exception as err:  # noqa: BLE001 - the user's rule, reported in one line
        first = (str(err).strip().splitlines() or [""])[0]
        raise ValueError(
            f"check_propriety: {layout} raised {type(err).__name__}: {first}.{hint}"
        ) from err
    if shape != (2,):
        raise ValueError(
            f"check_propriety: {layout} must return [N] scores; for N = 2 it returned shape "
            f"{shape}.{hint}"
        )


def _check(rule, q_np, c_np, binary, rtol, min_distance, refine_rounds, num_proposals, seed):
    num_classes = q_np.shape[1]
    q = jnp.asarray(q_np, dtype=jnp.float64)
    cands = jnp.asarray(c_np, dtype=jnp.float64)
    try:
        gap, e_true, s_c = _global(rule, q, cands)
        jit = True
    except jax.errors.JAXTypeError:
        # the rule branches on values in Python: run the same search without jit (slower)
        gap, e_true, s_c = _global_eager(rule, q, cands)
        jit = False
    gap, e_true, s_c = np.asarray(gap), np.asarray(e_true), np.asarray(s_c)

    if np.any(np.isnan(e_true)):
        i = int(np.flatnonzero(np.isnan(e_true))[0])
        raise ValueError(
            f"check_propriety: the expected score of the truthful report {q_np[i]} is NaN "
            "(the rule returns NaN there for an outcome of positive probability)."
        )

    interior = c_np.min(axis=1) >= 1e-3
    finite = s_c[interior][np.isfinite(s_c[interior])]
    scale = float(np.max(np.abs(finite))) if finite.size else 1.0
    tol = rtol * scale

    def best_refined(gap_allowed, min_dist, seed_):
        """Per truth, the candidate with the least gap, refined at distance >= min_dist."""
        best = np.argmin(gap_allowed, axis=1)
        p0 = c_np[best]
        g0 = gap_allowed[np.arange(len(q_np)), best]
        return _refine(
            rule,
            q,
            jnp.asarray(e_true),
            jnp.asarray(p0, q.dtype),
            jnp.asarray(g0),
            min_dist,
            refine_rounds,
            num_proposals,
            seed_,
            jit,
        )

    # violations: best report per truth, refined
    p_v, g_v = best_refined(gap, 0.0, seed)
    # ties: best report at distance >= min_distance, refined under that constraint
    far = np.max(np.abs(c_np[None, :, :] - q_np[:, None, :]), axis=-1) >= min_distance
    p_t, g_t = best_refined(np.where(far, gap, np.inf), min_distance, seed + 1)

    violation = np.maximum(-g_v, 0.0)
    worst = int(np.argmax(violation))
    max_violation = float(violation[worst])
    proper = bool(max_violation <= tol)
    g_t = np.where(np.isnan(g_t), np.inf, g_t)
    closest = int(np.argmin(g_t))
    min_far_gap = float(g_t[closest])
    strictly = bool(proper and min_far_gap > tol)

    def _fmt(qv, pv):
        if binary:
            return float(qv[1]), float(pv[1])
        return np.asarray(qv, dtype=np.float64), np.asarray(pv, dtype=np.float64)

    return ProprietyReport(
        proper=proper,
        strictly_proper=strictly,
        max_violation=max_violation,
        counterexample=None if proper else _fmt(q_np[worst], p_v[worst]),
        tie=_fmt(q_np[closest], p_t[closest]) if (proper and not strictly) else None,
        min_far_gap=min_far_gap,
        tolerance=float(tol),
        scale=scale,
        num_classes=num_classes,
        num_truths=len(q_np),
    )
