"""Platt scaling vs scikit-learn's sigmoid calibration and a scipy MLE."""

import jax
import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn.calibration import _sigmoid_calibration
from sklearn.exceptions import NotFittedError

import reward_design as rd

P = rd.posthoc


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    s = rng.normal(size=4000) * 3.0 + 1.0
    y = (rng.random(4000) < 1 / (1 + np.exp(-(0.7 * s - 0.4)))).astype(int)
    return s, y


def test_matches_sklearn_sigmoid_calibration(data):
    s, y = data
    cal = P.PlattScaling().fit(s, y)
    a_ref, b_ref = _sigmoid_calibration(s, y)  # sklearn: P = 1 / (1 + exp(A s + B))
    assert cal.a_ == pytest.approx(-a_ref, rel=1e-4)
    assert cal.b_ == pytest.approx(-b_ref, abs=1e-4)
    grid = np.linspace(-10, 10, 101)
    np.testing.assert_allclose(
        np.asarray(cal(grid)), 1 / (1 + np.exp(a_ref * grid + b_ref)), atol=1e-5
    )


def test_without_prior_correction_is_the_logistic_mle(data):
    s, y = data
    cal = P.PlattScaling(prior_correction=False).fit(s, y)

    def nll(ab):
        z = ab[0] * s + ab[1]
        return np.mean(np.logaddexp(0, z) - y * z)

    ref = minimize(nll, np.zeros(2), method="BFGS", options={"gtol": 1e-10})
    assert cal.a_ == pytest.approx(ref.x[0], rel=1e-3)
    assert cal.b_ == pytest.approx(ref.x[1], abs=1e-3)
    # recovers the generating parameters
    assert cal.a_ == pytest.approx(0.7, abs=0.08)
    assert cal.b_ == pytest.approx(-0.4, abs=0.12)


def test_scale_invariance_and_jit(data):
    s, y = data
    a = P.PlattScaling().fit(s, y)
    b = P.PlattScaling().fit(1000.0 * s + 5.0, y)  # affine change of the score
    grid = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(np.asarray(a(grid)), np.asarray(b(1000.0 * grid + 5.0)), atol=1e-5)
    np.testing.assert_allclose(
        np.asarray(jax.jit(a.__call__)(grid)), np.asarray(a(grid)), rtol=1e-6
    )


def test_errors():
    with pytest.raises(NotFittedError):
        P.PlattScaling()(np.zeros(3))
    with pytest.raises(ValueError, match="labels must be binary"):
        P.PlattScaling().fit(np.zeros(3), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"labels must have shape \(3,\)"):
        P.PlattScaling().fit(np.zeros(3), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"scores must have shape \[N\]"):
        P.PlattScaling().fit(np.zeros((3, 2)), np.array([0, 1, 0]))
    with pytest.raises(ValueError, match="scores must be finite"):
        P.PlattScaling().fit(np.array([0.0, np.nan]), np.array([0, 1]))
