"""Proxy-tuning vs the closed form p ~ p_base * (p_expert / p_anti)^alpha."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from scipy.special import log_softmax, softmax

import reward_design as rd

P = rd.posthoc


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0, 2.0])
def test_closed_form(alpha):
    rng = np.random.default_rng(0)
    base, expert, anti = (rng.normal(size=(4, 6, 11)) * 2 for _ in range(3))
    got = np.asarray(P.proxy_tune(base, expert, anti, alpha=alpha))
    pb, pe, pa = (softmax(a, axis=-1) for a in (base, expert, anti))
    unnorm = pb * (pe / pa) ** alpha
    np.testing.assert_allclose(
        np.exp(got), unnorm / unnorm.sum(-1, keepdims=True), rtol=1e-4, atol=1e-7
    )
    # log-probabilities in, same answer (normalisers cancel)
    got_lp = P.proxy_tune(
        log_softmax(base, -1), log_softmax(expert, -1), log_softmax(anti, -1), alpha
    )
    np.testing.assert_allclose(np.asarray(got_lp), got, atol=1e-5)


def test_alpha_zero_is_base_and_broadcasting():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(2, 5))
    np.testing.assert_allclose(
        np.asarray(P.proxy_tune(base, base * 3, base, alpha=0.0)), log_softmax(base, -1), atol=1e-6
    )
    out = P.proxy_tune(base, rng.normal(size=(5,)), rng.normal(size=(1, 5)))
    assert out.shape == (2, 5)


def test_jit_alpha_is_traced_and_grads():
    chex.clear_trace_counter()
    f = jax.jit(chex.assert_max_traces(P.proxy_tune, n=1))
    rng = np.random.default_rng(2)
    b, e, a = (jnp.asarray(rng.normal(size=(3, 7)), jnp.float32) for _ in range(3))
    for alpha in (0.5, 1.0, 1.5):
        np.testing.assert_allclose(
            np.asarray(f(b, e, a, alpha)), np.asarray(P.proxy_tune(b, e, a, alpha)), atol=1e-6
        )
    check_grads(
        lambda b, e, a, al: P.proxy_tune(b, e, a, al),
        (b, e, a, 0.7),
        order=1,
        modes=["rev"],
        eps=1e-2,
        atol=1e-2,
        rtol=1e-2,
    )


def test_vocab_mismatch_and_bad_input_raise():
    with pytest.raises(ValueError, match="shared vocabulary.*got 5, 6 and 5"):
        P.proxy_tune(np.zeros((2, 5)), np.zeros((2, 6)), np.zeros((2, 5)))
    with pytest.raises(ValueError, match="must broadcast"):
        P.proxy_tune(np.zeros((2, 5)), np.zeros((3, 5)), np.zeros((2, 5)))
    with pytest.raises(ValueError, match="expert_logits must be finite"):
        P.proxy_tune(np.zeros(5), np.full(5, np.nan), np.zeros(5))
    with pytest.raises(ValueError, match="alpha must be a scalar"):
        P.proxy_tune(np.zeros(5), np.zeros(5), np.zeros(5), alpha=np.ones(2))
    with pytest.raises(ValueError, match="alpha must be finite"):
        P.proxy_tune(np.zeros(5), np.zeros(5), np.zeros(5), alpha=np.inf)
