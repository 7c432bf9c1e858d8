"""The binary Bayes threshold p*."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import reward_design as rd

P = rd.posthoc


def test_known_values():
    assert float(P.binary_threshold(1.0 - np.eye(2))) == pytest.approx(0.5)
    # a false negative k times as costly as a false positive: p* = 1 / (1 + k)
    for k in (2.0, 5.0, 19.0):
        assert float(P.binary_threshold(P.binary_cost_matrix(1.0, k))) == pytest.approx(
            1 / (1 + k), rel=1e-6
        )


@pytest.mark.parametrize("seed", range(5))
def test_threshold_agrees_with_bayes_decision(seed):
    rng = np.random.default_rng(seed)
    for _ in range(20):
        cost = rng.uniform(-2.0, 5.0, size=(2, 2))
        a = cost[0, 1] - cost[0, 0]
        b = cost[1, 0] - cost[1, 1]
        if a + b <= 0.1:
            continue
        p1 = rng.uniform(size=400)
        probs = np.stack([1 - p1, p1], axis=1)
        t = float(P.binary_threshold(cost))
        np.testing.assert_allclose(t, a / (a + b), rtol=1e-5)
        d = np.asarray(P.bayes_decision(probs, cost))
        clear = np.abs(p1 - t) > 1e-5
        np.testing.assert_array_equal(d[clear], (p1 >= t)[clear].astype(int))


def test_row_shifts_do_not_move_the_threshold():
    cost = np.array([[0.0, 1.0], [3.0, 0.0]])
    shifted = cost + np.array([[2.0], [-1.5]])
    assert float(P.binary_threshold(shifted)) == pytest.approx(float(P.binary_threshold(cost)))


def test_differentiable_and_jittable():
    chex.clear_trace_counter()
    f = jax.jit(chex.assert_max_traces(P.binary_threshold, n=1))
    c1 = jnp.array([[0.0, 1.0], [4.0, 0.0]])
    c2 = jnp.array([[0.0, 2.0], [3.0, 0.5]])
    assert float(f(c1)) == pytest.approx(0.2)
    assert float(f(c2)) == pytest.approx(2.0 / 4.5, rel=1e-6)
    # d p* / d c_fp = b / (a + b)^2 with a = c_fp - c_tn, b = c_fn - c_tp
    g = jax.grad(P.binary_threshold)(c1)
    assert float(g[0, 1]) == pytest.approx(4.0 / 25.0, rel=1e-5)
    check_grads(P.binary_threshold, (c2,), order=1, modes=["rev"], eps=1e-2)


def test_degenerate_costs_raise():
    with pytest.raises(ValueError, match="c_fp - c_tn \\+ c_fn - c_tp > 0"):
        P.binary_threshold(np.array([[1.0, 0.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"\[2, 2\]"):
        P.binary_threshold(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="finite"):
        P.binary_threshold(np.array([[0.0, np.nan], [1.0, 0.0]]))
