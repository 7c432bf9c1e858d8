"""answer_choice_audit against closed forms (Dr. GRPO, RLOO) and brute-force numpy Monte Carlo."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import multinomial

import reward_design as rd
from reward_design.scoring_rules._choice_audit import _multinomial_weights, _patterns

sr = rd.scoring_rules


def rlcr(c, y):
    return y - sr.brier_binary(c, y)


def binary(c, y):
    return y + 0.0 * c


def _expected_reward(reward, q, conf, s, nodes=80):
    """E over eps ~ N(0, 1) and y ~ Bernoulli(q) of reward(sigmoid(logit(conf) + s eps), y),
    by Gauss-Hermite quadrature (independent of the audit's Monte Carlo)."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    m = np.log(conf) - np.log1p(-conf)
    c = 1.0 / (1.0 + np.exp(-(m + s * x)))
    r1 = np.asarray(reward(jnp.asarray(c), jnp.ones(c.shape)), dtype=np.float64)
    r0 = np.asarray(reward(jnp.asarray(c), jnp.zeros(c.shape)), dtype=np.float64)
    return float(np.sum(w * (q * r1 + (1 - q) * r0)))


def test_patterns_and_weights_match_scipy():
    """Private helpers' own contract: the patterns are every composition of G into the
    four kinds of sample, and their weights the multinomial pmf (scipy)."""
    counts = _patterns(5)
    assert counts.shape == (56, 4) and np.all(counts.sum(1) == 5)  # C(5 + 3, 3)
    assert len({tuple(r) for r in counts}) == len(counts)
    p = np.array([[0.1, 0.2, 0.3, 0.4], [0.5, 0.0, 0.25, 0.25]])
    w = _multinomial_weights(counts, p)
    for i in range(2):
        np.testing.assert_allclose(w[i], multinomial.pmf(counts, 5, p[i]), rtol=1e-10, atol=1e-15)
        assert w[i].sum() == pytest.approx(1.0)
    np.testing.assert_array_equal(_patterns(1), np.eye(4, dtype=int)[::-1])  # lexicographic
    big = _patterns(40)
    assert big.shape == (12341, 4) and np.all(big.sum(1) == 40)  # C(43, 3)


def test_binary_reward_dr_grpo_and_rloo_closed_form():
    """Correctness alone: rewards do not depend on the noise, so the drift is exact:
    Dr. GRPO (G - 1) pi (1 - pi) (q_high - q_low); RLOO G/(G - 1) times that."""
    g = 6
    for est, factor in (("dr_grpo", g - 1), ("rloo", g)):
        rep = sr.answer_choice_audit(binary, est, group_size=g, confidence="calibrated")
        pi = rep.choice[None, :]
        expected = factor * pi * (1 - pi) * (rep.q_high - rep.q_low)[:, None]
        np.testing.assert_allclose(rep.drift_in("calibrated"), expected, rtol=1e-9, atol=1e-12)
        assert rep.preserving


@pytest.mark.parametrize("state", ["calibrated", "fixed_point"])
def test_rlcr_dr_grpo_closed_form_with_noisy_confidences(state):
    """Dr. GRPO: drift = (G - 1) pi (1 - pi) (E[r | better] - E[r | worse]), the expected
    rewards at the stated confidences computed by quadrature."""
    g, s = 4, 0.25
    rep = sr.answer_choice_audit(rlcr, "dr_grpo", group_size=g, exploration=s, confidence=state)
    i = rep.states.index(state)
    gap = np.array(
        [
            _expected_reward(rlcr, qh, ch, s) - _expected_reward(rlcr, ql, cl, s)
            for ql, qh, cl, ch in zip(
                rep.q_low, rep.q_high, rep.confidence_low[i], rep.confidence_high[i], strict=True
            )
        ]
    )
    pi = rep.choice[None, :]
    expected = (g - 1) * pi * (1 - pi) * gap[:, None]
    np.testing.assert_allclose(rep.drift[i], expected, rtol=0.03, atol=2e-4)
    assert rep.preserving  # Brier: E[r | a] ~ q_a^2 at calibrated confidences


def _brute_force_grpo_drift(reward, q_low, q_high, c_low, c_high, pi, g, s, n, seed):
    """Sample whole groups (choice, correctness, noise) and apply std-scaled GRPO in numpy."""
    rng = np.random.default_rng(seed)
    better = rng.uniform(size=(n, g)) < pi
    y = (rng.uniform(size=(n, g)) < np.where(better, q_high, q_low)).astype(np.float64)
    m = np.where(better, np.log(c_high / (1 - c_high)), np.log(c_low / (1 - c_low)))
    c = 1.0 / (1.0 + np.exp(-(m + s * rng.normal(size=(n, g)))))
    r = np.asarray(reward(jnp.asarray(c), jnp.asarray(y)), dtype=np.float64)
    a = (r - r.mean(1, keepdims=True)) / (r.std(1, ddof=1, keepdims=True) + 1e-6)
    upd = np.sum(a * (better - pi), axis=1)
    return upd.mean(), upd.std(ddof=1) / np.sqrt(n)


def test_grpo_with_brier_pushes_towards_the_surely_wrong_answer():
    """The calibration study's failure: std-scaled GRPO + Brier is NOT answer-choice
    preserving, while correctness alone under GRPO and Brier under Dr. GRPO are."""
    g, s = 8, 0.25
    rep = sr.answer_choice_audit(rlcr, "grpo", group_size=g, exploration=s)
    assert not rep.preserving and "NOT preserving" in rep.summary
    state, ql, qh, pi, drift = rep.worst
    assert drift < 0 and ql == pytest.approx(0.02)
    i = rep.states.index(state)
    n = int(np.flatnonzero((rep.q_low == ql) & (rep.q_high == qh))[0])
    cl, ch = rep.confidence_low[i, n], rep.confidence_high[i, n]
    mean, se = _brute_force_grpo_drift(rlcr, ql, qh, cl, ch, pi, g, s, 200_000, seed=1)
    assert mean < 0
    assert abs(mean - drift) < 4 * se + 0.02 * abs(drift)
    # a preserving cell agrees too (the better answer far better)
    k = int(np.flatnonzero(rep.choice == 0.5)[0])
    n2 = int(np.flatnonzero((rep.q_low == 0.1) & (rep.q_high == 0.9))[0])
    mean2, se2 = _brute_force_grpo_drift(
        rlcr,
        0.1,
        0.9,
        rep.confidence_low[0, n2],
        rep.confidence_high[0, n2],
        0.5,
        g,
        s,
        100_000,
        seed=2,
    )
    assert abs(mean2 - rep.drift[0, n2, k]) < 4 * se2 + 0.02 * abs(mean2)
    assert sr.answer_choice_audit(binary, "grpo", group_size=g).preserving
    assert sr.answer_choice_audit(rlcr, "dr_grpo", group_size=g).preserving


def test_estimator_audit_reports_answer_choice():
    rep = sr.audit_confidence_reward(rlcr, "grpo", group_size=4, num_samples=2048)
    assert rep.accuracy_preserving  # the one-answer analysis passes ...
    assert rep.answer_choice is not None and not rep.answer_choice.preserving  # ... this does not
    assert "Answer choice: NOT preserving" in rep.summary
    off = sr.audit_confidence_reward(
        rlcr, "dr_grpo", group_size=4, num_samples=2048, answer_choice=False
    )
    assert off.answer_choice is None and "Answer choice" not in off.summary
    assert sr.audit_confidence_reward(rlcr).answer_choice is None  # expected-reward audit


def test_fixed_point_state_is_the_one_answer_settling_policy():
    """Fixed-point state: each answer is stated by the policy the one-answer audit settles
    at, i.e. with mean confidence E[sigmoid(m + s eps)] equal to that audit's c* (checked by
    quadrature); an estimator audit reuses its own table and gets the same drift."""
    g, s = 4, 0.25
    rep = sr.answer_choice_audit(rlcr, "dr_grpo", group_size=g, exploration=s)
    one = sr.audit_confidence_reward(rlcr, "dr_grpo", group_size=g, exploration=s, q=rep_q(rep))
    star = dict(zip(one.q, one.optimal_confidence, strict=True))
    x, w = np.polynomial.hermite_e.hermegauss(80)
    w = w / w.sum()
    i = rep.states.index("fixed_point")
    for qa, median in ((rep.q_low, rep.confidence_low[i]), (rep.q_high, rep.confidence_high[i])):
        m = np.log(median) - np.log1p(-median)
        mean = (w[None, :] / (1.0 + np.exp(-(m[:, None] + s * x[None, :])))).sum(axis=1)
        # (a policy centred on logit(c*) instead would be off by up to 3e-3 here)
        np.testing.assert_allclose(mean, [star[v] for v in qa], atol=6e-4)
    np.testing.assert_array_equal(one.answer_choice.drift, rep.drift)


def rep_q(rep):
    return np.unique(np.concatenate([rep.q_low, rep.q_high]))


def test_errors():
    with pytest.raises(ValueError, match="estimator"):
        sr.answer_choice_audit(rlcr, "ppo")
    with pytest.raises(ValueError, match="group_size"):
        sr.answer_choice_audit(rlcr, "grpo", group_size=1)
    with pytest.raises(ValueError, match="exploration"):
        sr.answer_choice_audit(rlcr, "grpo", exploration=0.0)
    with pytest.raises(ValueError, match="q must"):
        sr.answer_choice_audit(rlcr, "grpo", q=[0.5])
    with pytest.raises(ValueError, match="q must"):
        sr.answer_choice_audit(rlcr, "grpo", q=[0.0, 0.5])
    with pytest.raises(ValueError, match="choice must"):
        sr.answer_choice_audit(rlcr, "grpo", choice=[1.0])
    with pytest.raises(ValueError, match="confidence must"):
        sr.answer_choice_audit(rlcr, "grpo", confidence="trained")
    with pytest.raises(TypeError, match="callable"):
        sr.answer_choice_audit(0.5, "grpo")
    with pytest.raises(ValueError, match="num_samples"):
        sr.answer_choice_audit(rlcr, "grpo", num_samples=np.int64(1))
    rep = sr.answer_choice_audit(binary, "dr_grpo", group_size=2, confidence="calibrated")
    with pytest.raises(ValueError, match="state must be one of"):
        rep.drift_in("fixed_point")
    small = sr.answer_choice_audit(
        binary, "dr_grpo", group_size=2, confidence="calibrated", num_samples=np.int64(4)
    )
    assert small.num_samples == 4
    flat = sr.answer_choice_audit(lambda c, y: 0.0 * (c + y), "grpo", group_size=2)
    assert not flat.preserving and np.all(flat.drift == 0)
    assert "gets no push towards the better one" in flat.summary
    with pytest.raises(ValueError, match="NaN/inf"):
        sr.answer_choice_audit(
            lambda c, y: jnp.where(c > 0.5, jnp.inf, 0.0) + y,
            "dr_grpo",
            group_size=2,
            confidence="calibrated",
        )
