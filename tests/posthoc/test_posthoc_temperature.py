"""Temperature scaling."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import reward_design as rd

P = rd.posthoc


def _sample(rng, n, c, temperature, scale=3.0):
    logits = rng.normal(size=(n, c)) * scale
    probs = np.exp(log_softmax(logits / temperature, axis=1))
    labels = (probs.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    return logits, labels


@pytest.fixture(scope="module")
def synthetic():
    rng = np.random.default_rng(0)
    return _sample(rng, 20_000, 5, temperature=2.5)


@pytest.fixture(scope="module")
def fitted(synthetic):
    return P.TemperatureScaling().fit(*synthetic)


def test_recovers_known_temperature(fitted):
    assert fitted.temperature_ == pytest.approx(2.5, rel=0.05)
    assert fitted.n_classes_ == 5


def test_matches_scipy_mle(synthetic, fitted):
    logits, labels = synthetic

    def nll(t):
        return -np.mean(log_softmax(logits / t, axis=1)[np.arange(len(labels)), labels])

    ref = minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded", options={"xatol": 1e-6})
    cal = fitted
    assert cal.temperature_ == pytest.approx(ref.x, rel=1e-3)
    assert cal.nll_ == pytest.approx(ref.fun, rel=1e-4)


def test_sharpening_direction():
    # logits that are too soft (true T = 0.5) need T < 1
    # same shape as `synthetic`, so the compiled L-BFGS fit is reused
    logits, labels = _sample(np.random.default_rng(1), 20_000, 5, temperature=0.5, scale=1.0)
    assert P.TemperatureScaling().fit(logits, labels).temperature_ == pytest.approx(0.5, rel=0.1)


def test_call_is_softmax_over_t_and_keeps_argmax(synthetic, fitted):
    logits, _ = synthetic
    cal = fitted
    probs = np.asarray(cal(logits))
    ref = np.exp(log_softmax(logits / cal.temperature_, axis=1))
    np.testing.assert_allclose(probs, ref, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(probs.argmax(1), logits.argmax(1))
    jitted = jax.jit(cal.__call__)
    # jit vs eager may differ in the last float32 bits (fusion order; seen on an H100)
    np.testing.assert_allclose(np.asarray(jitted(jnp.asarray(logits))), probs, rtol=1e-5)
    # calibrated probabilities plug straight into the Bayes decision
    assert P.bayes_decision(probs, 1 - np.eye(5)).shape == (20_000,)


def test_sklearn_protocol_and_errors(synthetic):
    cal = P.TemperatureScaling(max_iter=50)
    assert clone(cal).get_params() == {"max_iter": 50, "tol": 1e-6}
    with pytest.raises(NotFittedError):
        cal(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"logits must have 2 dimensions"):
        cal.fit(np.zeros(5), np.zeros(5, int))
    with pytest.raises(ValueError, match=r"labels must have the shape of logits .*\(4,\)"):
        cal.fit(np.zeros((4, 3)), np.zeros(3, int))
    with pytest.raises(ValueError, match=r"labels must be class indices in \[0, 3\)"):
        cal.fit(np.zeros((4, 3)), np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="logits must be finite"):
        cal.fit(np.full((4, 3), np.inf), np.zeros(4, int))
    cal = P.TemperatureScaling().fit(*synthetic)  # compiled already by `fitted`
    with pytest.raises(ValueError, match=r"logits must have shape \[..., 5\]"):
        cal(np.zeros((2, 4)))
