"""Isotonic calibration: identical to scikit-learn's IsotonicRegression."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

import reward_design as rd

P = rd.posthoc


def _sklearn(x, y, w=None):
    return IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(x, y, sample_weight=w)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("ties", [False, True])
def test_equals_sklearn(seed, ties):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 800))
    x = rng.normal(size=n)
    if ties:
        x = np.round(x, 1)  # many tied scores
    y = (rng.random(n) < 1 / (1 + np.exp(-1.5 * x))).astype(int)
    w = rng.uniform(0.0, 2.0, size=n) if seed % 2 else None
    ours = P.IsotonicCalibration().fit(x, y, sample_weight=w)
    ref = _sklearn(x, y, w)
    np.testing.assert_allclose(ours.X_thresholds_, ref.X_thresholds_, rtol=0, atol=0)
    np.testing.assert_allclose(ours.y_thresholds_, ref.y_thresholds_, rtol=1e-12, atol=1e-12)
    # inside, between steps (linear interpolation) and outside the range (clip)
    grid = np.concatenate([np.linspace(x.min() - 1, x.max() + 1, 997), x])
    np.testing.assert_allclose(np.asarray(ours(grid)), ref.predict(grid), atol=1e-7)


def test_float32_near_ties_are_pooled_as_sklearn_does():
    # scikit-learn keeps float32 scores in float32 and treats scores closer than 1e-6 as
    # one score; adjacent float32 values with different labels are pooled to 0.5
    x = np.array([0.1, 0.5, np.nextafter(np.float32(0.5), np.float32(1)), 0.9], np.float32)
    y = np.array([0, 0, 1, 1])
    ours = P.IsotonicCalibration().fit(x, y)
    ref = _sklearn(x, y)
    np.testing.assert_allclose(np.asarray(ours(x)), [0.0, 0.5, 0.5, 1.0], atol=1e-6)
    np.testing.assert_allclose(np.asarray(ours(x)), ref.predict(x), atol=1e-6)
    np.testing.assert_array_equal(ours.X_thresholds_, ref.X_thresholds_)
    # float64 scores that close stay distinct, in both
    x64 = np.array([0.1, 0.5, np.nextafter(0.5, 1.0), 0.9])
    np.testing.assert_allclose(np.asarray(ours.fit(x64, y)(x64)), _sklearn(x64, y).predict(x64))


def test_pav_matches_definition():
    # the isotonic fit minimises squared error among non-decreasing sequences; check on a
    # tiny case against the closed form
    y = np.array([1.0, 3.0, 2.0, 2.0, 0.0, 5.0])
    fit = P.pool_adjacent_violators(y, np.ones(6))
    np.testing.assert_allclose(fit, [1.0, 1.75, 1.75, 1.75, 1.75, 5.0])
    assert np.all(np.diff(fit) >= 0)


def test_constant_and_single_point():
    iso = P.IsotonicCalibration().fit(np.full(5, 0.3), np.array([0, 1, 1, 0, 1]))
    np.testing.assert_allclose(np.asarray(iso(np.array([-1.0, 0.3, 2.0]))), 0.6, rtol=1e-6)
    ref = _sklearn(np.full(5, 0.3), np.array([0, 1, 1, 0, 1]))
    np.testing.assert_allclose(ref.predict(np.array([-1.0, 0.3, 2.0])), 0.6)


def test_jit_path_agrees():
    rng = np.random.default_rng(9)
    x = rng.uniform(size=300)
    y = (rng.random(300) < x).astype(int)
    iso = P.IsotonicCalibration().fit(x, y)
    grid = jnp.linspace(-0.2, 1.2, 301)
    np.testing.assert_allclose(
        np.asarray(jax.jit(iso.__call__)(grid)), np.asarray(iso(np.asarray(grid))), atol=1e-6
    )


def test_errors():
    with pytest.raises(ValueError, match="labels must be binary"):
        P.IsotonicCalibration().fit(np.zeros(3), np.array([0.5, 1, 0]))
    with pytest.raises(ValueError, match="sample_weight must be finite"):
        P.IsotonicCalibration().fit(np.zeros(3), np.array([0, 1, 0]), sample_weight=[1, -1, 1])
