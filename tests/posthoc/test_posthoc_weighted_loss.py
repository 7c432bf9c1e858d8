"""Utility-weighted cross-entropy vs a numpy reference."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import reward_design as rd

P = rd.posthoc


def _numpy_reference(logits, labels, cost):
    c = cost.shape[0]
    w = np.array([np.mean([cost[i, j] for j in range(c) if j != i]) - cost[i, i] for i in range(c)])
    num = den = 0.0
    per = []
    for z, y in zip(logits, labels, strict=True):
        m = z.max()
        logp = z - m - np.log(np.sum(np.exp(z - m)))
        per.append(w[y] * -logp[y])
        num += w[y] * -logp[y]
        den += w[y]
    return w, np.array(per), num / den


@pytest.mark.parametrize("seed", range(3))
def test_matches_numpy_reference(seed):
    rng = np.random.default_rng(seed)
    c = 4
    cost = rng.uniform(0.0, 5.0, size=(c, c))
    np.fill_diagonal(cost, rng.uniform(-0.5, 0.0, size=c))
    logits = rng.normal(size=(50, c)) * 2
    labels = rng.integers(0, c, size=50)
    w, per, total = _numpy_reference(logits, labels, cost)
    np.testing.assert_allclose(np.asarray(P.utility_weights(cost)), w, rtol=1e-5)
    np.testing.assert_allclose(
        np.asarray(P.utility_weighted_cross_entropy_per_example(logits, labels, cost)),
        per,
        rtol=1e-5,
    )
    assert float(P.utility_weighted_cross_entropy(logits, labels, cost)) == pytest.approx(
        total, rel=1e-5
    )


def test_symmetric_cost_gives_plain_cross_entropy():
    rng = np.random.default_rng(1)
    logits = jnp.asarray(rng.normal(size=(3, 7, 5)), dtype=jnp.float32)
    labels = jnp.asarray(rng.integers(0, 5, size=(3, 7)))
    import optax

    ref = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    got = P.utility_weighted_cross_entropy(logits, labels, 3.0 * (1 - np.eye(5)))
    assert float(got) == pytest.approx(float(ref), rel=1e-6)


def test_binary_weights():
    # [[c_tn, c_fp], [c_fn, c_tp]]: w_0 = c_fp - c_tn, w_1 = c_fn - c_tp
    np.testing.assert_allclose(
        np.asarray(P.utility_weights(P.binary_cost_matrix(c_fp=1.0, c_fn=9.0, c_tp=-1.0))),
        [1.0, 10.0],
    )


def test_gradients():
    rng = np.random.default_rng(2)
    cost = rng.uniform(0.5, 3.0, size=(3, 3))
    np.fill_diagonal(cost, 0.0)
    cost = jnp.asarray(cost)
    logits = jnp.asarray(rng.normal(size=(6, 3)))
    labels = jnp.asarray(rng.integers(0, 3, size=6))

    @jax.jit
    def loss(z):
        return P.utility_weighted_cross_entropy(z, labels, cost)

    @jax.jit
    def per(z):
        return P.utility_weighted_cross_entropy_per_example(z, labels, cost)

    check_grads(loss, (logits,), order=1, modes=["rev"], eps=1e-2, atol=1e-2, rtol=1e-2)
    check_grads(per, (logits,), order=1, modes=["fwd", "rev"], eps=1e-2, atol=1e-2, rtol=1e-2)
    # closed form: dL/dz_n = w_{y_n} (softmax(z_n) - onehot(y_n)) / sum_m w_{y_m}
    w = np.asarray(P.utility_weights(cost))[np.asarray(labels)]
    sm = np.asarray(jax.nn.softmax(logits))
    expect = w[:, None] * (sm - np.eye(3)[np.asarray(labels)]) / w.sum()
    np.testing.assert_allclose(np.asarray(jax.grad(loss)(logits)), expect, rtol=1e-4, atol=1e-6)


def test_jit_compiles_once_across_costs():
    chex.clear_trace_counter()
    f = jax.jit(chex.assert_max_traces(P.utility_weighted_cross_entropy, n=1))
    rng = np.random.default_rng(3)
    logits = jnp.asarray(rng.normal(size=(8, 3)), dtype=jnp.float32)
    labels = jnp.asarray(rng.integers(0, 3, size=8))
    for s in range(3):
        cost = np.random.default_rng(s).uniform(0.5, 2, size=(3, 3))
        np.fill_diagonal(cost, 0.0)
        cost = jnp.asarray(cost, jnp.float32)
        assert float(f(logits, labels, cost)) == pytest.approx(
            float(P.utility_weighted_cross_entropy(logits, labels, cost)), rel=1e-6
        )


def test_zero_weight_batch_gives_zero():
    cost = np.array([[0.0, 0.0], [1.0, 0.0]])  # class 0 mistakes are free: w = [0, 1]
    assert float(P.utility_weighted_cross_entropy(np.zeros((3, 2)), np.zeros(3, int), cost)) == 0.0


def test_bad_input_raises():
    logits = np.zeros((4, 3))
    labels = np.zeros(4, dtype=int)
    with pytest.raises(ValueError, match=r"cost must have shape \[3, 3\]"):
        P.utility_weighted_cross_entropy(logits, labels, np.ones((2, 2)))
    with pytest.raises(ValueError, match="must be >= 0"):
        P.utility_weighted_cross_entropy(logits, labels, np.eye(3))
    with pytest.raises(ValueError, match=r"labels must have the shape of logits .*\(4,\)"):
        P.utility_weighted_cross_entropy(logits, np.zeros(5, int), 1 - np.eye(3))
    with pytest.raises(ValueError, match="labels must be class indices"):
        P.utility_weighted_cross_entropy(logits, np.full(4, 3), 1 - np.eye(3))
    with pytest.raises(ValueError, match="logits must be finite"):
        P.utility_weighted_cross_entropy(np.full((4, 3), np.nan), labels, 1 - np.eye(3))


def test_population_minimiser_is_reweighted_posterior():
    # At a single input whose labels have frequencies p, the weighted CE is minimised by
    # q_i = w_i p_i / sum_j w_j p_j: the gradient vanishes there and nowhere else.
    cost = np.array([[0.0, 1.0, 1.0], [4.0, 0.0, 4.0], [2.0, 2.0, 0.0]])
    counts = np.array([20, 50, 30])
    labels = jnp.asarray(np.repeat(np.arange(3), counts))
    w = np.asarray(P.utility_weights(cost))
    q = w * counts / np.sum(w * counts)

    def loss(z):
        return P.utility_weighted_cross_entropy(jnp.broadcast_to(z, (100, 3)), labels, cost)

    g = jax.grad(loss)(jnp.asarray(np.log(q), jnp.float32))
    np.testing.assert_allclose(np.asarray(g), 0.0, atol=1e-6)
    g_plain = jax.grad(loss)(jnp.asarray(np.log(counts / 100.0), jnp.float32))
    assert np.max(np.abs(np.asarray(g_plain))) > 1e-2
    # so in the binary case argmax q is the Bayes decision at p* = w_0 / (w_0 + w_1)
    binary = np.asarray(P.binary_cost_matrix(c_fp=1.0, c_fn=4.0))
    w0, w1 = np.asarray(P.utility_weights(binary))
    assert w0 / (w0 + w1) == pytest.approx(float(P.binary_threshold(binary)))
