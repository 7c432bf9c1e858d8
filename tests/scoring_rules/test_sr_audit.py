"""audit_confidence_reward: the expected-reward analysis (closed forms) and estimator audits."""

import jax.numpy as jnp
import numpy as np
import pytest

import reward_design as rd

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
