"""Bayes decisions, expected / realised cost, utility, reject option."""

import itertools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reward_design as rd

P = rd.posthoc


def _brute_force(probs, cost):
    """Loops over examples and decisions; ties to the lowest index."""
    n, c = probs.shape
    out = np.empty(n, dtype=np.int64)
    for k in range(n):
        best, best_cost = -1, np.inf
        for j in range(cost.shape[1]):
            r = sum(probs[k, i] * cost[i, j] for i in range(c))
            if r < best_cost - 1e-12:
                best, best_cost = j, r
        out[k] = best
    return out


@pytest.mark.parametrize("num_classes", [2, 3, 5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bayes_decision_matches_brute_force_on_random_costs(num_classes, seed):
    rng = np.random.default_rng(seed)
    cost = rng.uniform(-1.0, 5.0, size=(num_classes, num_classes))
    probs = rng.dirichlet(np.ones(num_classes) * 0.7, size=300)
    got = np.asarray(P.bayes_decision(probs, cost))
    ref = _brute_force(probs, cost)
    # float32 vs float64 may flip near-ties; everything else must agree exactly
    risks = probs @ cost
    srt = np.sort(risks, axis=1)
    clear = srt[:, 1] - srt[:, 0] > 1e-5
    np.testing.assert_array_equal(got[clear], ref[clear])
    assert clear.mean() > 0.95
    # and the chosen decision is never worse than any other by more than rounding
    chosen = risks[np.arange(len(got)), got]
    assert np.all(chosen <= risks.min(axis=1) + 1e-5)


def test_bayes_decision_minimises_mean_realised_cost_over_all_rules():
    # Among every deterministic rule on a small finite input set, the Bayes rule
    # has the lowest expected realised cost (enumerate all C^K rules).
    rng = np.random.default_rng(3)
    cost = rng.uniform(0.0, 3.0, size=(3, 3))
    probs = rng.dirichlet(np.ones(3), size=4)
    bayes = np.asarray(P.bayes_decision(probs, cost))
    per_rule = []
    for rule in itertools.product(range(3), repeat=4):
        per_rule.append(sum(probs[k] @ cost[:, rule[k]] for k in range(4)))
    bayes_value = sum(probs[k] @ cost[:, bayes[k]] for k in range(4))
    assert bayes_value <= min(per_rule) + 1e-6


def test_expected_cost_is_mean_realised_cost_under_sampling():
    rng = np.random.default_rng(4)
    cost = rng.uniform(0.0, 2.0, size=(3, 3))
    p = np.array([0.2, 0.5, 0.3])
    labels = rng.choice(3, size=200_000, p=p)
    for d in range(3):
        decisions = np.full_like(labels, d)
        mc = float(np.mean(np.asarray(P.realized_cost(decisions, labels, cost))))
        exact = float(P.expected_cost(p, cost)[d])
        assert abs(mc - exact) < 0.01
    np.testing.assert_allclose(float(P.bayes_risk(p, cost)), float(np.min(p @ cost)), rtol=1e-6)


def test_realized_cost_and_utility_index_the_matrix():
    cost = np.array([[0.0, 1.0, 2.0], [3.0, 0.0, 4.0], [5.0, 6.0, 0.0]])
    y = np.array([0, 1, 2, 2])
    d = np.array([2, 0, 1, 2])
    np.testing.assert_array_equal(np.asarray(P.realized_cost(d, y, cost)), [2.0, 3.0, 6.0, 0.0])
    np.testing.assert_array_equal(np.asarray(P.utility(d, y, cost)), [-2.0, -3.0, -6.0, -0.0])


def test_chow_reject_rule():
    # 0-1 cost with reject cost r: reject iff max_j p_j < 1 - r (Chow 1970).
    rng = np.random.default_rng(5)
    probs = rng.dirichlet(np.ones(4), size=2000)
    r = 0.35
    cost = 1.0 - np.eye(4)
    d = np.asarray(P.bayes_decision(probs, cost, reject_cost=r))
    pmax = probs.max(axis=1)
    clear = np.abs(pmax - (1 - r)) > 1e-5
    expect = np.where(pmax < 1 - r, 4, probs.argmax(axis=1))
    np.testing.assert_array_equal(d[clear], expect[clear])
    assert 0.05 < np.mean(d == 4) < 0.95
    # realised cost of a rejection is the reject cost
    y = rng.integers(0, 4, size=2000)
    rc = np.asarray(P.realized_cost(d, y, cost, reject_cost=r))
    np.testing.assert_allclose(rc[d == 4], r)
    np.testing.assert_allclose(rc[d != 4], (d != y)[d != 4].astype(float))


def test_class_cost_decision_is_weighted_argmax():
    rng = np.random.default_rng(6)
    w = np.array([1.0, 4.0, 2.0])
    probs = rng.dirichlet(np.ones(3), size=1000)
    d = np.asarray(P.bayes_decision(probs, P.cost_matrix_from_class_costs(w)))
    wp = probs * w
    srt = np.sort(wp, axis=1)
    clear = srt[:, -1] - srt[:, -2] > 1e-5
    np.testing.assert_array_equal(d[clear], wp.argmax(axis=1)[clear])


def test_batched_shapes():
    rng = np.random.default_rng(7)
    probs = rng.dirichlet(np.ones(3), size=(4, 5))
    cost = rng.uniform(size=(3, 3))
    assert P.bayes_decision(probs, cost).shape == (4, 5)
    assert P.expected_cost(probs, cost).shape == (4, 5, 3)
    # (a reject cost may not undercut every decision of a truth: 1.0 >= each row's minimum)
    assert P.expected_cost(probs, cost, reject_cost=1.0).shape == (4, 5, 4)
    flat = np.asarray(P.bayes_decision(probs.reshape(20, 3), cost))
    np.testing.assert_array_equal(np.asarray(P.bayes_decision(probs, cost)).ravel(), flat)


def test_jit_compiles_once_across_cost_values():
    chex.clear_trace_counter()
    f = jax.jit(chex.assert_max_traces(P.bayes_decision, n=1))
    rng = np.random.default_rng(8)
    probs = jnp.asarray(rng.dirichlet(np.ones(3), size=64), dtype=jnp.float32)
    for seed in range(4):
        cost = jnp.asarray(np.random.default_rng(seed).uniform(size=(3, 3)), dtype=jnp.float32)
        np.testing.assert_array_equal(
            np.asarray(f(probs, cost)), np.asarray(P.bayes_decision(probs, cost))
        )
    chex.clear_trace_counter()
    g = jax.jit(chex.assert_max_traces(P.realized_cost, n=1))
    y = jnp.asarray(rng.integers(0, 3, size=64))
    d = jnp.asarray(rng.integers(0, 3, size=64))
    for seed in range(3):
        cost = jnp.asarray(np.random.default_rng(seed).uniform(size=(3, 3)), dtype=jnp.float32)
        np.testing.assert_allclose(np.asarray(g(d, y, cost)), np.asarray(cost)[y, d])


def test_reject_cost_is_traced_under_jit():
    chex.clear_trace_counter()
    f = jax.jit(chex.assert_max_traces(lambda p, c, r: P.bayes_decision(p, c, reject_cost=r), n=1))
    p = jnp.asarray([[0.55, 0.45]])
    c = jnp.asarray([[0.0, 1.0], [1.0, 0.0]])
    assert int(f(p, c, 0.3)[0]) == 2
    assert int(f(p, c, 0.5)[0]) == 0


@pytest.mark.parametrize(
    "probs, cost, match",
    [
        (np.full((4, 3), 1 / 3), np.zeros((2, 2)), r"probs must have shape \[..., C\] with C = 2"),
        (np.full((4, 2), 0.5), np.zeros((2, 3)), "square"),
        (np.full((4, 2), 0.5), np.array([[0.0, np.nan], [1.0, 0.0]]), "finite"),
        (np.array([[0.7, 0.7]]), np.zeros((2, 2)), "sum to 1"),
        (np.array([[1.5, -0.5]]), np.zeros((2, 2)), r"\[0, 1\]"),
        (np.array([[np.nan, 0.5]]), np.zeros((2, 2)), "probs must be finite"),
    ],
)
def test_bad_input_raises(probs, cost, match):
    with pytest.raises(ValueError, match=match):
        P.bayes_decision(probs, cost)


def test_bad_labels_and_decisions_raise():
    cost = np.zeros((3, 3))
    with pytest.raises(ValueError, match=r"labels must be class indices in \[0, 3\)"):
        P.realized_cost(np.array([0, 1]), np.array([0, 3]), cost)
    with pytest.raises(ValueError, match=r"decisions must be class indices in \[0, 3\)"):
        P.realized_cost(np.array([0, 3]), np.array([0, 1]), cost)
    # with a reject option decision C is allowed
    assert P.realized_cost(np.array([0, 3]), np.array([0, 1]), cost, reject_cost=1.0).shape == (2,)
    with pytest.raises(ValueError, match=r"decisions must have the shape of labels \(2,\)"):
        P.realized_cost(np.array([0, 1, 2]), np.array([0, 1]), cost)
    with pytest.raises(TypeError, match="labels must hold integer"):
        P.realized_cost(np.array([0, 1]), np.array([0.0, 1.0]), cost)
