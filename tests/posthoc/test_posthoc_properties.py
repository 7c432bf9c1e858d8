"""Hypothesis properties of the decision rules (invariances that decision theory implies)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import reward_design as rd

P = rd.posthoc

_SETTINGS = settings(max_examples=30, deadline=None)


@st.composite
def problems(draw):
    c = draw(st.sampled_from([2, 3, 4]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    cost = rng.uniform(-3.0, 3.0, size=(c, c))
    probs = rng.dirichlet(np.ones(c), size=16)
    return probs, cost, rng


def _clear(probs, cost, margin=1e-4):
    srt = np.sort(probs @ cost, axis=1)
    return srt[:, 1] - srt[:, 0] > margin


@_SETTINGS
@given(problems(), st.floats(0.1, 10.0))
def test_invariant_to_row_shifts_and_positive_scaling(problem, scale):
    probs, cost, rng = problem
    shifted = scale * cost + rng.uniform(-5, 5, size=(cost.shape[0], 1))
    clear = _clear(probs, cost) & _clear(probs, shifted)
    a = np.asarray(P.bayes_decision(probs, cost))
    b = np.asarray(P.bayes_decision(probs, shifted))
    np.testing.assert_array_equal(a[clear], b[clear])


@_SETTINGS
@given(problems())
def test_bayes_decision_has_the_lowest_expected_cost(problem):
    probs, cost, _ = problem
    d = np.asarray(P.bayes_decision(probs, cost))
    risks = np.asarray(P.expected_cost(probs, cost))
    chosen = risks[np.arange(len(d)), d]
    assert np.all(chosen <= risks.min(axis=1) + 1e-5)
    np.testing.assert_allclose(np.asarray(P.bayes_risk(probs, cost)), chosen, rtol=1e-6, atol=1e-6)


@_SETTINGS
@given(st.floats(0.01, 10.0), st.floats(0.01, 10.0), st.floats(-5, 5), st.floats(-5, 5))
def test_threshold_in_unit_interval_for_positive_regrets(r_fp, r_fn, c_tn, c_tp):
    cost = P.binary_cost_matrix(c_fp=c_tn + r_fp, c_fn=c_tp + r_fn, c_tn=c_tn, c_tp=c_tp)
    t = float(P.binary_threshold(cost))
    assert 0.0 < t < 1.0
    np.testing.assert_allclose(t, r_fp / (r_fp + r_fn), rtol=1e-4)


@_SETTINGS
@given(st.integers(0, 2**31 - 1), st.floats(-3.0, 3.0))
def test_proxy_tune_with_identical_experts_is_base(seed, alpha):
    rng = np.random.default_rng(seed)
    base, other = rng.normal(size=(2, 3, 8))
    got = np.asarray(P.proxy_tune(base, other, other, alpha))
    ref = base - base.max(-1, keepdims=True)
    ref = ref - np.log(np.exp(ref).sum(-1, keepdims=True))
    np.testing.assert_allclose(got, ref, atol=1e-5)
