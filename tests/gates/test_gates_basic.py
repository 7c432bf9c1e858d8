"""AllOf / AtLeast / WeightedThreshold against numpy truth tables; jit; no recompiles."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reward_design as rd
from reward_design.gates import AllOf, AtLeast, WeightedThreshold


def _passes(r, pass_threshold=0.5):
    rubric = np.asarray(r.rubric)
    return rubric if rubric.dtype == bool else rubric >= pass_threshold


def _valid(r):
    return np.ones(np.shape(r.correct), bool) if r.mask is None else np.asarray(r.mask)


@pytest.mark.parametrize("probabilities", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_all_of_truth_table(make_batch, seed, probabilities):
    r = make_batch(seed=seed, probabilities=probabilities)
    got = np.asarray(AllOf()(r))
    want = _passes(r).all(axis=-1) & _valid(r)
    np.testing.assert_array_equal(got, want)
    # the all-pass group accepts every valid member, the all-fail group none
    np.testing.assert_array_equal(got[0], _valid(r)[0])
    assert not got[1].any()
    # masked-out members are never accepted
    assert not (got & ~_valid(r)).any()


@pytest.mark.parametrize("probabilities", [False, True])
@pytest.mark.parametrize("k", [0, 1, 2, 3, 4])
def test_at_least_truth_table(make_batch, k, probabilities):
    r = make_batch(seed=10 + k, probabilities=probabilities)
    got = np.asarray(AtLeast(k)(r))
    want = (_passes(r).sum(axis=-1) >= k) & _valid(r)
    np.testing.assert_array_equal(got, want)


def test_at_least_k_equals_num_items_is_all_of(make_batch):
    r = make_batch(seed=3)
    np.testing.assert_array_equal(np.asarray(AtLeast(4)(r)), np.asarray(AllOf()(r)))


@pytest.mark.parametrize("probabilities", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_weighted_threshold_truth_table(make_batch, seed, probabilities):
    r = make_batch(seed=20 + seed, probabilities=probabilities)
    rng = np.random.default_rng(seed)
    w = rng.uniform(-1.0, 3.0, size=4).astype(np.float32)
    # thresholds drawn away from every achievable weighted sum, so float32
    # rounding cannot flip a comparison
    sums = np.array([w[list(s)].sum() for s in _subsets(4)])
    t = float(rng.uniform(sums.min(), sums.max()))
    while np.min(np.abs(sums - t)) < 1e-3:
        t += 1e-2
    got = np.asarray(WeightedThreshold(w, t)(r))
    score = _passes(r).astype(np.float64) @ w.astype(np.float64)
    np.testing.assert_array_equal(got, (score >= t) & _valid(r))


def _subsets(k):
    for bits in range(2**k):
        yield [i for i in range(k) if bits >> i & 1]


def test_weighted_threshold_ties_pass_despite_rounding():
    # 5 x 0.2 == 1.0 exactly in arithmetic; float32 sums may land just below
    r = rd.Rollouts(correct=np.zeros((1, 2)), rubric=np.array([[[1] * 5, [1, 1, 1, 1, 0]]], bool))
    got = np.asarray(WeightedThreshold([0.2] * 5, 1.0)(r))
    np.testing.assert_array_equal(got, [[True, False]])


def test_probability_threshold_boundary_and_trace():
    rubric = np.array([[[0.5, 0.49], [0.7, 0.3]]], np.float32)  # P=1, G=2, K=2
    r = rd.Rollouts(correct=np.zeros((1, 2)), rubric=rubric)
    # default 0.5: p == threshold passes
    np.testing.assert_array_equal(np.asarray(AtLeast(1)(r)), [[True, True]])
    np.testing.assert_array_equal(np.asarray(AllOf()(r)), [[False, False]])
    np.testing.assert_array_equal(np.asarray(AllOf(pass_threshold=0.3)(r)), [[True, True]])
    np.testing.assert_array_equal(np.asarray(AtLeast(1, pass_threshold=0.6)(r)), [[False, True]])
    # boolean rubrics ignore pass_threshold
    rb = rd.Rollouts(correct=np.zeros((1, 2)), rubric=rubric >= 0.5)
    np.testing.assert_array_equal(
        np.asarray(AllOf(pass_threshold=1.0)(rb)), np.asarray(AllOf()(rb))
    )


def test_gates_match_under_jit(make_batch):
    r = make_batch(seed=5, probabilities=True)
    gates = [AllOf(), AtLeast(2), WeightedThreshold([1.0, 2.0, 0.5, 1.0], 2.2)]
    fn = jax.jit(lambda gate, rollouts: gate(rollouts))
    for gate in gates:
        np.testing.assert_array_equal(np.asarray(fn(gate, r)), np.asarray(gate(r)))


def test_no_recompile_when_hyperparameters_change(make_batch):
    r = make_batch(seed=6, probabilities=True)
    chex.clear_trace_counter()
    fn = jax.jit(chex.assert_max_traces(lambda gate, rollouts: gate(rollouts), n=1))
    for k in [1, 2, 3, 4]:
        for pt in [0.3, 0.5, 0.9]:
            got = fn(AtLeast(k, pass_threshold=pt), r)
            np.testing.assert_array_equal(
                np.asarray(got), (_passes(r, pt).sum(-1) >= k) & _valid(r)
            )

    chex.clear_trace_counter()
    fn_w = jax.jit(chex.assert_max_traces(lambda gate, rollouts: gate(rollouts), n=1))
    rng = np.random.default_rng(0)
    for _ in range(4):
        w = rng.uniform(0, 2, size=4)
        t = rng.uniform(0, 4)
        fn_w(WeightedThreshold(w, t, pass_threshold=rng.uniform(0.2, 0.8)), r)


def test_vmap_over_threshold(make_batch):
    r = make_batch(seed=7)
    ks = jnp.arange(5, dtype=jnp.float32)
    got = jax.vmap(lambda k: AtLeast(k)(r))(ks)
    for i, k in enumerate(range(5)):
        np.testing.assert_array_equal(np.asarray(got[i]), (_passes(r).sum(-1) >= k) & _valid(r))


@pytest.mark.parametrize(
    "weights",
    [
        np.array([1.0, 2.0, -0.5, 1.0], dtype=jnp.bfloat16),  # numpy (ml_dtypes) bfloat16
        jnp.array([1.0, 2.0, -0.5, 1.0], dtype=jnp.bfloat16),
        jnp.array([1, 2, 0, 1]),
    ],
)
def test_weighted_threshold_accepts_bfloat16_and_integer_weights(make_batch, weights):
    # bfloat16 weights used to be rejected as "not real numbers" (numpy dtype kind "V")
    r = make_batch(seed=31)
    w = np.asarray(weights, dtype=np.float64)
    got = np.asarray(WeightedThreshold(weights, 2.25)(r))
    np.testing.assert_array_equal(got, (_passes(r).astype(np.float64) @ w >= 2.25) & _valid(r))


def test_reachable_from_rd():
    assert rd.gates.AllOf is AllOf
    assert "Gated" in rd.gates.__all__
