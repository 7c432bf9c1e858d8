"""Prospect-theory value and probability-weighting functions vs numpy references.

The references are written here in numpy from the published formulas:
Tversky and Kahneman, "Advances in Prospect Theory: Cumulative Representation
of Uncertainty" (1992), eq. (5) for the value function and eq. (6) for the
weighting function; the KTO paper (Ethayarajh et al., arXiv 2402.01306,
eq. (1)) quotes the same value function with alpha = 0.88, lambda = 2.25.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import reward_design as rd

halos = rd.halos


def _jgrad(fun, **kwargs):
    """jax.grad, compiled once (faster than op-by-op under a loaded CPU)."""
    return jax.jit(jax.grad(fun, **kwargs))


def np_kt_value(z, alpha_gain=0.88, alpha_loss=0.88, lam=2.25):
    z = np.asarray(z, dtype=np.float64)
    return np.where(z >= 0, np.abs(z) ** alpha_gain, -lam * np.abs(z) ** alpha_loss)


def np_weighting(p, g):
    p = np.asarray(p, dtype=np.float64)
    return p**g / (p**g + (1 - p) ** g) ** (1 / g)


Z = np.array([-5.0, -2.0, -1.0, -0.3, -1e-3, 0.0, 1e-3, 0.3, 1.0, 2.0, 5.0], np.float32)


@pytest.mark.parametrize("jit", [False, True])
def test_kt_value_matches_numpy(jit):
    """Tversky & Kahneman (1992) eq. (5), defaults alpha = 0.88, lambda = 2.25."""
    f = jax.jit(halos.kahneman_tversky_value) if jit else halos.kahneman_tversky_value
    np.testing.assert_allclose(f(Z), np_kt_value(Z), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(f(Z, 0.5, 1.7), np_kt_value(Z, 0.5, 0.5, 1.7), rtol=1e-5)


def test_kt_value_asymmetric_form():
    got = halos.kahneman_tversky_value(Z, loss_aversion=2.0, alpha_gain=0.7, alpha_loss=0.95)
    np.testing.assert_allclose(got, np_kt_value(Z, 0.7, 0.95, 2.0), rtol=1e-5, atol=1e-7)
    # alpha_gain alone overrides alpha on the gain side only.
    got = halos.kahneman_tversky_value(Z, alpha=0.6, alpha_gain=0.9)
    np.testing.assert_allclose(got, np_kt_value(Z, 0.9, 0.6, 2.25), rtol=1e-5, atol=1e-7)


def test_kt_value_pytree_matches_function():
    v = halos.KahnemanTverskyValue(alpha_gain=0.8, alpha_loss=0.9, loss_aversion=1.5)
    np.testing.assert_allclose(v(Z), np_kt_value(Z, 0.8, 0.9, 1.5), rtol=1e-5, atol=1e-7)


def test_kt_value_gradient_closed_form():
    """d/dz z^a = a z^(a-1) (gains), lambda a (-z)^(a-1) (losses); 0 returned at z = 0."""
    z = np.array([-3.0, -0.5, 0.0, 0.5, 3.0], np.float32)
    grad = jax.vmap(_jgrad(lambda x: halos.kahneman_tversky_value(x, 0.88, 2.25)))(z)
    za = np.abs(z.astype(np.float64))
    with np.errstate(divide="ignore"):
        expected = np.where(z > 0, 0.88 * za**-0.12, np.where(z < 0, 2.25 * 0.88 * za**-0.12, 0.0))
    np.testing.assert_allclose(grad, expected, rtol=1e-5)
    assert np.all(np.isfinite(grad))


def test_kt_value_gradient_wrt_hyperparameters():
    """d/dalpha z^alpha = z^alpha log z; d/dlambda of -lambda (-z)^alpha = -(-z)^alpha."""
    z = jnp.array([-2.0, 0.0, 3.0])
    d_alpha = _jgrad(lambda a: halos.kahneman_tversky_value(z, a, 2.25).sum())(0.88)
    d_lam = _jgrad(lambda lam: halos.kahneman_tversky_value(z, 0.88, lam).sum())(2.25)
    expected_alpha = 3.0**0.88 * np.log(3.0) - 2.25 * 2.0**0.88 * np.log(2.0)
    np.testing.assert_allclose(d_alpha, expected_alpha, rtol=1e-5)
    np.testing.assert_allclose(d_lam, -(2.0**0.88), rtol=1e-5)


def test_kt_value_no_recompile_when_hyperparameters_change():
    # A fresh function: jit wrappers of the same function share one cache.
    chex.clear_trace_counter()
    f = jax.jit(chex.assert_max_traces(halos.kahneman_tversky_value, n=1))
    for alpha, lam in [(0.88, 2.25), (0.5, 1.0), (1.0, 3.0)]:
        np.testing.assert_allclose(f(Z, alpha, lam), np_kt_value(Z, alpha, alpha, lam), rtol=1e-5)
    chex.clear_trace_counter()
    g = jax.jit(chex.assert_max_traces(lambda v, z: v(z), n=1))
    for a, lam in [(0.88, 2.25), (0.6, 1.1)]:
        g(halos.KahnemanTverskyValue(alpha_gain=a, alpha_loss=a, loss_aversion=lam), Z)


def test_kt_value_vmap_sweeps_loss_aversion():
    lams = jnp.array([1.0, 2.25, 4.0])
    got = jax.vmap(lambda lam: halos.kahneman_tversky_value(Z, 0.88, lam))(lams)
    expected = np.stack([np_kt_value(Z, 0.88, 0.88, float(lam)) for lam in lams])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


@given(
    x=st.floats(0.0, 50.0),
    alpha=st.floats(0.1, 1.0),
    lam=st.floats(0.5, 5.0),
)
def test_kt_value_loss_aversion_law(x, alpha, lam):
    """With one alpha, v(-x) = -lambda v(x): losses loom lambda times larger than gains."""
    v = halos.kahneman_tversky_value(jnp.array([x, -x], jnp.float32), alpha, lam)
    np.testing.assert_allclose(v[1], -lam * v[0], rtol=1e-4, atol=1e-6)


@given(
    a=st.floats(-20.0, 20.0),
    b=st.floats(-20.0, 20.0),
    alpha_gain=st.floats(0.1, 1.0),
    alpha_loss=st.floats(0.1, 1.0),
)
def test_kt_value_is_nondecreasing(a, b, alpha_gain, alpha_loss):
    lo, hi = min(a, b), max(a, b)
    v = halos.kahneman_tversky_value(
        jnp.array([lo, hi], jnp.float32), alpha_gain=alpha_gain, alpha_loss=alpha_loss
    )
    assert float(v[0]) <= float(v[1]) + 1e-6


@pytest.mark.parametrize("gamma", [0.61, 0.69, 1.0, 0.4])
def test_probability_weighting_matches_numpy(gamma):
    """Tversky & Kahneman (1992) eq. (6): w(p) = p^g / (p^g + (1-p)^g)^(1/g)."""
    p = np.array([0.0, 1e-4, 0.01, 0.1, 0.34, 0.5, 0.9, 0.99, 1.0], np.float32)
    expected = np_weighting(p, gamma)
    np.testing.assert_allclose(halos.probability_weighting(p, gamma), expected, rtol=2e-5)
    np.testing.assert_allclose(
        jax.jit(halos.probability_weighting)(p, gamma), expected, rtol=2e-5, atol=1e-7
    )


def test_probability_weighting_inverse_s_shape():
    """g < 1 over-weights small and under-weights large probabilities; g = 1 is the identity."""
    p = jnp.linspace(0.0, 1.0, 101)
    np.testing.assert_allclose(halos.probability_weighting(p, 1.0), p, atol=1e-6)
    w = np.asarray(halos.probability_weighting(p, 0.61))
    assert np.all(w[1:10] > np.asarray(p[1:10]))
    assert np.all(w[50:100] < np.asarray(p[50:100]))


def test_probability_weighting_gradients_finite_at_endpoints():
    g = jax.vmap(_jgrad(lambda p: halos.probability_weighting(p, 0.61)))(
        jnp.array([0.0, 0.2, 0.5, 1.0])
    )
    assert np.all(np.isfinite(g))
    # Interior derivative vs a central finite difference of the numpy formula.
    h = 1e-5
    fd = (np_weighting(0.2 + h, 0.61) - np_weighting(0.2 - h, 0.61)) / (2 * h)
    np.testing.assert_allclose(g[1], fd, rtol=1e-3)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="alpha must be in"):
        halos.kahneman_tversky_value(Z, alpha=0.0)
    with pytest.raises(ValueError, match="loss_aversion must be in"):
        halos.kahneman_tversky_value(Z, loss_aversion=-1.0)
    with pytest.raises(ValueError, match="alpha_loss must be in"):
        halos.kahneman_tversky_value(Z, alpha_loss=-0.5)
    with pytest.raises(ValueError, match="alpha must be a scalar"):
        halos.kahneman_tversky_value(Z, alpha=np.array([0.5, 0.6]))
    with pytest.raises(TypeError, match="z must hold real numbers"):
        halos.kahneman_tversky_value(np.array([True, False]))
    with pytest.raises(ValueError, match=r"p must be probabilities in \[0, 1\]"):
        halos.probability_weighting(np.array([0.2, 1.5]))
    with pytest.raises(ValueError, match=r"p must be probabilities in \[0, 1\]"):
        halos.probability_weighting(np.array([np.nan]))
    with pytest.raises(ValueError, match="gamma must be in"):
        halos.probability_weighting(0.5, gamma=0.0)
    with pytest.raises(ValueError, match="loss_aversion must be a scalar > 0"):
        halos.KahnemanTverskyValue(loss_aversion=0.0)
    with pytest.raises(ValueError, match="must be finite"):
        halos.KahnemanTverskyValue(alpha_gain=float("nan"))
