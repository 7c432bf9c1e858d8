"""audit_confidence_reward: the expected-reward analysis (closed forms) and estimator audits."""

import jax.numpy as jnp
import numpy as np
import pytest

import reward_design as rd
from reward_design._jax_compat import enable_x64
from reward_design.scoring_rules._policy_model import group_moments

sr = rd.scoring_rules


def rlcr(c, y):
    return y - sr.brier_binary(c, y)


def correctness(c, y):
    return y + 0.0 * c


def test_rlcr_is_calibrated_and_accuracy_preserving_with_value_q_squared():
    report = sr.audit_confidence_reward(rlcr)
    assert report.calibrated and report.weakly_calibrated and report.accuracy_preserving
    assert report.strictly_calibrated
    np.testing.assert_allclose(report.value, report.q**2, atol=1e-12)
    np.testing.assert_allclose(report.optimal_confidence, report.q, atol=1e-12)
    np.testing.assert_allclose(report.optimal_interval[:, 0], report.q, atol=1e-3)
    np.testing.assert_allclose(report.optimal_interval[:, 1], report.q, atol=1e-3)
    np.testing.assert_allclose(report.accuracy_gradient[1:-1], 2 * report.q[1:-1], atol=1e-3)
    assert "calibrated" in report.summary and "NOT" not in report.summary
    custom = sr.audit_confidence_reward(rlcr, q=[0.9, 0.1, 0.5])
    np.testing.assert_allclose(custom.q, [0.1, 0.5, 0.9])
    np.testing.assert_allclose(custom.value, [0.01, 0.25, 0.81], atol=1e-12)


def test_correctness_alone_is_only_weakly_calibrated():
    report = sr.audit_confidence_reward(correctness)
    assert report.weakly_calibrated and not report.calibrated and report.accuracy_preserving
    np.testing.assert_allclose(report.value, report.q, atol=1e-12)
    np.testing.assert_allclose(report.optimal_interval, np.tile([0.0, 1.0], (101, 1)))
    assert "weakly calibrated only" in report.summary


def test_brier_without_correctness_is_not_accuracy_preserving():
    report = sr.audit_confidence_reward(lambda c, y: -sr.brier_binary(c, y))
    assert report.calibrated and not report.accuracy_preserving
    np.testing.assert_allclose(report.value, -report.q * (1 - report.q), atol=1e-12)


def test_unbounded_log_score_handles_infinities_and_breaks_accuracy():
    # RLCR: correctness plus an unbounded rule is not accuracy-preserving.
    report = sr.audit_confidence_reward(lambda c, y: y - sr.log_binary(c, y))
    q = report.q
    with np.errstate(divide="ignore", invalid="ignore"):
        ref = q + np.where(q > 0, q * np.log(q), 0) + np.where(q < 1, (1 - q) * np.log(1 - q), 0)
    np.testing.assert_allclose(report.value, ref, atol=1e-12)
    assert report.calibrated and not report.accuracy_preserving
    assert np.all(np.isfinite(report.value))


def test_improper_confidence_reward_is_flagged():
    # y + 0.5 c (2y - 1): linear in c, so the optimum is c = 1 if q > 1/2 and c = 0 if q < 1/2.
    report = sr.audit_confidence_reward(lambda c, y: y + 0.5 * c * (2 * y - 1))
    assert not report.calibrated and not report.weakly_calibrated
    q, opt = report.q, report.optimal_confidence
    np.testing.assert_array_equal(opt[q < 0.5], 0.0)
    np.testing.assert_array_equal(opt[q > 0.5], 1.0)
    assert "NOT calibrated" in report.summary
    # a tiny bias moves the optimum off q: not even weakly calibrated
    biased = sr.audit_confidence_reward(lambda c, y: rlcr(c, y) + 0.05 * c)
    assert not biased.weakly_calibrated
    np.testing.assert_allclose(biased.optimal_confidence[10:-10], biased.q[10:-10] + 0.025)


def test_errors():
    with pytest.raises(ValueError, match="estimator must be one of"):
        sr.audit_confidence_reward(rlcr, estimator="ppo")
    with pytest.raises(ValueError, match="NaN"):
        sr.audit_confidence_reward(lambda c, y: jnp.where(c > 0.5, jnp.nan, y))
    with pytest.raises(ValueError, match="elementwise"):
        sr.audit_confidence_reward(lambda c, y: jnp.sum(y))
    with pytest.raises(ValueError, match="group_size"):
        sr.audit_confidence_reward(rlcr, "grpo", group_size=1)
    with pytest.raises(ValueError, match="exploration"):
        sr.audit_confidence_reward(rlcr, "grpo", exploration=0.0)
    with pytest.raises(ValueError, match=r"q must be"):
        sr.audit_confidence_reward(rlcr, "rloo", q=[0.0, 0.5])
    with pytest.raises(ValueError, match=r"q must hold"):
        sr.audit_confidence_reward(rlcr, q=[0.5, 1.5])
    # under an estimator a NaN reward used to end in "argmin of an empty sequence"
    with pytest.raises(ValueError, match="finite rewards"):
        sr.audit_confidence_reward(
            lambda c, y: jnp.where(c > 0.9, jnp.nan, rlcr(c, y)), "dr_grpo", num_samples=64
        )


# ------------------------------------------------------------------ estimators
Q = np.array([0.1, 0.3, 0.5, 0.7, 0.9])


def _smoothed_optimum(q, s, num_m=4001):
    """Independent reference: argmax_m E_eps[q R(c,1) + (1-q) R(c,0)], c = sigmoid(m + s eps),
    by Gauss-Hermite quadrature; returned as the mean confidence E[c] there."""
    x, w = np.polynomial.hermite_e.hermegauss(80)
    w = w / w.sum()
    m = np.linspace(-6, 6, num_m)[:, None]
    c = 1 / (1 + np.exp(-(m + s * x[None, :])))
    j = (q * (1 - (c - 1) ** 2) + (1 - q) * (-(c**2))) @ w
    k = int(np.argmax(j))
    return float(c[k] @ w)


def test_dr_grpo_and_rloo_follow_the_smoothed_expected_reward():
    dr = sr.audit_confidence_reward(rlcr, "dr_grpo", q=Q, group_size=8, num_samples=4096)
    rl = sr.audit_confidence_reward(rlcr, "rloo", q=Q, group_size=8, num_samples=4096)
    ref = np.array([_smoothed_optimum(q, 0.25) for q in Q])
    np.testing.assert_allclose(dr.optimal_confidence, ref, atol=0.01)
    # RLOO advantages are G/(G-1) times Dr. GRPO's: same zeros, same Monte Carlo draws
    np.testing.assert_allclose(rl.optimal_confidence, dr.optimal_confidence, atol=1e-6)
    assert dr.calibrated and dr.accuracy_preserving and rl.calibrated
    assert all(len(f) == 1 for f in dr.fixed_points)


def _numpy_grpo_drift(m, q, s, g, n, seed):
    """Independent Monte Carlo of E[sum_j A_j eps_j] / s with numpy GRPO advantages."""
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal((n, g))
    y = (rng.uniform(size=(n, g)) < q).astype(float)
    c = 1 / (1 + np.exp(-(m + s * eps)))
    r = y - (c - y) ** 2
    a = (r - r.mean(1, keepdims=True)) / (r.std(1, ddof=1, keepdims=True) + 1e-6)
    return float(np.mean(np.sum(a * eps, 1)) / s)


def test_grpo_std_scaling_pushes_confidence_to_the_extremes():
    report = sr.audit_confidence_reward(rlcr, "grpo", q=Q, group_size=8, num_samples=4096)
    assert not report.calibrated and report.accuracy_preserving
    opt = report.optimal_confidence
    assert opt[0] < 0.02 and opt[-1] > 0.98  # q = 0.1 -> ~0, q = 0.9 -> ~1
    assert abs(opt[2] - 0.5) < 0.03  # symmetric point stays
    # independent check of the direction at c = q = 0.9: the update raises confidence
    drift = _numpy_grpo_drift(np.log(9.0), 0.9, 0.25, 8, 200_000, seed=1)
    assert drift > 0.5


def test_correctness_alone_gives_no_confidence_gradient_under_estimators():
    report = sr.audit_confidence_reward(correctness, "dr_grpo", q=Q, num_samples=512)
    assert report.weakly_calibrated and not report.calibrated and report.accuracy_preserving
    np.testing.assert_allclose(report.optimal_interval, np.tile([0.0, 1.0], (len(Q), 1)))


def test_fixed_point_table_is_jit_vectorised_and_deterministic():
    # same reward, estimator and shapes as the audit above: compiled once, reused
    a = sr.estimator_fixed_points(rlcr, "dr_grpo", group_size=8, num_samples=4096)
    b = sr.estimator_fixed_points(rlcr, "dr_grpo", group_size=8, num_samples=4096)
    np.testing.assert_array_equal(a.drift, b.drift)
    assert a.drift.shape == (9, 97) and a.mean_confidence.shape == (97,)
    # all-correct and all-wrong groups: correctness is constant, only Brier moves confidence
    # up (k = G) or down (k = 0) everywhere on the grid
    assert np.all(a.drift[-1] > 0) and np.all(a.drift[0] < 0)
    # Dr. GRPO advantages sum to zero in every group
    np.testing.assert_allclose(a.total_advantage, 0.0, atol=1e-9)


def _hermite_expectations(reward, m, s, nodes=80):
    """E[R(c, y)] and E[R(c, y) eps] for c = sigmoid(m + s eps), eps ~ N(0, 1), by
    Gauss-Hermite quadrature; each [2 (y = 1, 0), M]."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    c = 1.0 / (1.0 + np.exp(-(m[:, None] + s * x[None, :])))
    out = []
    for y in (1.0, 0.0):
        r = np.asarray(reward(jnp.asarray(c), jnp.full(c.shape, y)), dtype=np.float64)
        out.append((r @ w, (r * x) @ w))
    return np.array([o[0] for o in out]), np.array([o[1] for o in out])


@pytest.mark.parametrize("estimator, factor", [("dr_grpo", 1.0), ("rloo", 6 / 5)])
def test_dr_grpo_and_rloo_tables_match_closed_forms(estimator, factor):
    """Dr. GRPO centres the rewards only, so given k correct of G each row is linear in
    one sample's expectations: drift = (1 - 1/G) (k E[r1 eps] + (G - k) E[r0 eps]) / s,
    correct advantage = k (G - k) / G (E[r1] - E[r0]); RLOO is G/(G - 1) times that."""
    g, s = 6, 0.25
    tab = sr.estimator_fixed_points(rlcr, estimator, group_size=g, num_samples=1 << 15)
    (e1, e0), (x1, x0) = _hermite_expectations(rlcr, tab.m, s)
    k = np.arange(g + 1)[:, None]
    drift = factor * (1 - 1 / g) * (k * x1 + (g - k) * x0) / s
    correct = factor * k * (g - k) / g * (e1 - e0)
    # Monte Carlo error with 2^15 draws: about 0.4% of the largest drift, 4e-5 otherwise
    scale = np.abs(drift).max()
    np.testing.assert_allclose(tab.drift, drift, atol=0.015 * scale)
    np.testing.assert_allclose(tab.correct_advantage, correct, atol=3e-4)
    np.testing.assert_allclose(tab.mean_reward, (k * e1 + (g - k) * e0) / g, atol=1e-4)
    np.testing.assert_allclose(tab.total_advantage, 0.0, atol=1e-9)


@pytest.mark.parametrize("estimator", ["grpo", "dr_grpo", "rloo"])
def test_group_moments_match_rd_advantages(estimator):
    """Private helper's own contract: `group_moments` (the audits' estimator arithmetic
    from per-segment sums) gives the advantages `rd.advantages` computes on whole groups."""
    rng = np.random.default_rng(0)
    g, counts = 7, (3, 0, 4)  # an empty segment too
    rewards = rng.normal(size=(5, g)) * 0.1 + 3.0  # a large offset: the shift must hold up
    rewards[4] = 2.5  # a constant group: GRPO's std is 0
    with enable_x64(True):
        adv = np.asarray(getattr(rd.advantages, estimator)(jnp.asarray(rewards)))
        edges = np.cumsum((0,) + counts)
        segments = []
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            block = rewards[:, lo:hi]
            ref = rewards[:, 0] + 0.01  # any reference near the rewards
            d = block - ref[:, None]
            segments.append((hi - lo, ref, d.sum(1), (d * d).sum(1)))
        mean, factor, centred = group_moments(segments, estimator, g)
        mean, factor = np.asarray(mean), np.broadcast_to(np.asarray(factor), mean.shape)
        centred = [np.asarray(c) for c in centred]
    np.testing.assert_allclose(mean, rewards.mean(1), rtol=1e-12)
    np.testing.assert_allclose(factor[:, None] * (rewards - mean[:, None]), adv, atol=1e-9)
    for (lo, hi), cen in zip(zip(edges[:-1], edges[1:], strict=True), centred, strict=True):
        np.testing.assert_allclose(
            factor * cen, adv[:, lo:hi].sum(1), atol=1e-9, err_msg=f"segment {lo}:{hi}"
        )


def test_a_second_estimator_audit_of_the_same_reward_compiles_nothing():
    """The audits' programs are compiled once per reward function, estimator and shapes:
    the reward is traced (called from Python) the first time only."""
    calls = []

    def traced(c, y):
        calls.append(1)
        return rlcr(c, y)

    first = sr.audit_confidence_reward(traced, "grpo", group_size=4, num_samples=256)
    n = len(calls)
    again = sr.audit_confidence_reward(traced, "grpo", group_size=4, num_samples=256)
    assert n > 0 and len(calls) == n
    np.testing.assert_array_equal(first.optimal_confidence, again.optimal_confidence)
    np.testing.assert_array_equal(first.answer_choice.drift, again.answer_choice.drift)


def _branchy(c, y):  # a reward written for one float at a time
    if c > 0.5:
        return y
    return 0.0


def _math_log(c, y):
    import math

    return y + math.log(c)


@pytest.mark.parametrize("reward", [_branchy, _math_log])
def test_a_scalar_reward_is_a_one_line_type_error_naming_the_fix(reward):
    SR = rd.scoring_rules
    calls = [
        lambda: SR.audit_confidence_reward(reward),
        lambda: SR.audit_confidence_reward(reward, "grpo", num_samples=64),
        lambda: SR.estimator_fixed_points(reward, "rloo", num_samples=64),
        lambda: SR.answer_choice_audit(reward, "dr_grpo", num_samples=64),
    ]
    for call in calls:
        with pytest.raises(TypeError, match="receives arrays.*jnp.where.*jnp.log") as info:
            call()
        assert "\n" not in str(info.value)


def test_audit_argument_errors_name_the_argument():
    SR = rd.scoring_rules

    def rlcr(c, y):
        return y - (c - y) ** 2

    with pytest.raises(ValueError, match="group_size must be an integer >= 2"):
        SR.audit_confidence_reward(rlcr, "grpo", group_size=1)
    with pytest.raises(ValueError, match="exploration must be in"):
        SR.estimator_fixed_points(rlcr, "grpo", exploration="wide")
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        SR.answer_choice_audit(rlcr, "grpo", seed="0")
    with pytest.raises(ValueError, match="num_grid must be an integer >= 2"):
        SR.estimator_fixed_points(rlcr, "grpo", num_grid=1)
    with pytest.raises(ValueError, match="must be elementwise"):
        SR.audit_confidence_reward(lambda c, y: jnp.sum(c * y))


def test_a_drift_that_starts_with_no_signal_then_turns_negative_settles_at_the_left_end():
    # A clipped log score under Dr. GRPO at G = 4: at q = 0.05 the drift is ~0 for the
    # lowest confidences (the clip) and negative above, so training settles at the left
    # end. This used to find no stable zero and fail inside numpy ("argmin of an empty
    # sequence").
    def reward(c, y):
        return y - rd.scoring_rules.log_binary(jnp.clip(c, 0.01, 0.99), y)

    rep = rd.scoring_rules.audit_confidence_reward(
        reward, "dr_grpo", group_size=4, num_samples=32, answer_choice=False
    )
    assert np.all(np.isfinite(rep.optimal_confidence))
    assert rep.optimal_interval[0][0] < 0.05  # the left end is among the fixed points at q = 0.05
