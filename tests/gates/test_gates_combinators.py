"""Essential, Not/And/Or and function gates against numpy truth tables; jit; no recompiles."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reward_design as rd
from reward_design.gates import (
    AllOf,
    And,
    AtLeast,
    Essential,
    FunctionGate,
    Gated,
    Not,
    Or,
    WeightedThreshold,
    gate_from_fn,
    rubric_passes,
)


def _valid(r):
    return np.ones(np.shape(r.correct), bool) if r.mask is None else np.asarray(r.mask)


def _passes(r, pt=0.5):
    rubric = np.asarray(r.rubric)
    return rubric if rubric.dtype == bool else rubric >= pt


@pytest.mark.parametrize("probabilities", [False, True])
@pytest.mark.parametrize("indices", [[0], [1, 3], [3, 0, 2], [0, 1, 2, 3]])
def test_essential_without_rest(make_batch, indices, probabilities):
    r = make_batch(seed=len(indices), k=4, probabilities=probabilities)
    got = np.asarray(Essential(indices)(r))
    np.testing.assert_array_equal(got, _passes(r)[..., indices].all(-1) & _valid(r))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_essential_with_rest(make_batch, seed):
    r = make_batch(seed=seed, k=6)
    ess = [1, 4]
    others = [0, 2, 3, 5]
    passes = _passes(r)
    base = passes[..., ess].all(-1)
    got = np.asarray(Essential(ess, rest=AtLeast(2))(r))
    np.testing.assert_array_equal(got, base & (passes[..., others].sum(-1) >= 2) & _valid(r))
    w = np.array([1.0, 0.5, 2.0, -1.0], np.float32)  # over items 0, 2, 3, 5 in order
    got = np.asarray(Essential(ess, rest=WeightedThreshold(w, 1.25))(r))
    score = passes[..., others].astype(np.float64) @ w
    np.testing.assert_array_equal(got, base & (score >= 1.25) & _valid(r))


def test_essential_probability_thresholds_separately():
    # item 0 essential, item 1 handled by rest with its own pass_threshold
    rubric = np.array([[[0.6, 0.6], [0.6, 0.8], [0.4, 0.9]]], np.float32)
    r = rd.Rollouts(correct=np.zeros((1, 3)), rubric=rubric)
    gate = Essential([0], rest=AllOf(pass_threshold=0.7), pass_threshold=0.5)
    np.testing.assert_array_equal(np.asarray(gate(r)), [[False, True, False]])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_combinators_truth_table(make_batch, seed):
    r = make_batch(seed=seed, probabilities=True)
    p, v = _passes(r), _valid(r)
    a, b = AtLeast(2), Essential([1])
    ta = (p.sum(-1) >= 2) & v
    tb = p[..., 1] & v
    tc = p.all(-1) & v
    np.testing.assert_array_equal(np.asarray(Not(a)(r)), ~ta & v)
    np.testing.assert_array_equal(np.asarray(And(a, b)(r)), ta & tb)
    np.testing.assert_array_equal(np.asarray(Or(a, b)(r)), (ta | tb) & v)
    np.testing.assert_array_equal(np.asarray(And([a, b, AllOf()])(r)), ta & tb & tc)
    np.testing.assert_array_equal(np.asarray(Or(gates=[a, b])(r)), ta | tb)
    # operators
    np.testing.assert_array_equal(np.asarray((a & b)(r)), ta & tb)
    np.testing.assert_array_equal(np.asarray((a | ~b)(r)), (ta | ~tb) & v)
    np.testing.assert_array_equal(np.asarray((~(a | b))(r)), ~(ta | tb) & v)
    # De Morgan, and a masked-out member is never accepted, not even by Not
    np.testing.assert_array_equal(np.asarray(Not(And(a, b))(r)), np.asarray(Or(~a, ~b)(r)))
    assert not (np.asarray(Not(AtLeast(0))(r))).any()
    assert not (np.asarray(Not(AllOf())(r)) & ~v).any()


def test_function_gate_and_params(make_batch):
    r = make_batch(seed=3)

    def correct_and_any(rollouts, params):
        return (jnp.asarray(rollouts.correct) > params["c"]) & jnp.any(
            rubric_passes(rollouts), axis=-1
        )

    gate = FunctionGate(correct_and_any, params={"c": 0.5})
    want = (np.asarray(r.correct) > 0.5) & _passes(r).any(-1) & _valid(r)
    np.testing.assert_array_equal(np.asarray(gate(r)), want)
    chex.clear_trace_counter()
    fn = jax.jit(chex.assert_max_traces(lambda g, rollouts: g(rollouts), n=1))
    for c in [0.5, -1.0, 2.0]:
        got = fn(gate.replace(params={"c": jnp.float32(c)}), r)
        want = (np.asarray(r.correct) > c) & _passes(r).any(-1) & _valid(r)
        np.testing.assert_array_equal(np.asarray(got), want)
    # gate_from_fn, and plain functions wherever a gate is expected
    plain = lambda rollouts: jnp.asarray(rollouts.correct) > 0.5  # noqa: E731
    g1 = gate_from_fn(plain)
    np.testing.assert_array_equal(np.asarray(g1(r)), (np.asarray(r.correct) > 0.5) & _valid(r))
    combined = And(plain, AllOf())
    np.testing.assert_array_equal(
        np.asarray(jax.jit(lambda g: g(r))(combined)),
        (np.asarray(r.correct) > 0.5) & _passes(r).all(-1) & _valid(r),
    )
    gated = Gated(plain, rd.compose(tokens=rd.terms.TokenReward()), on_reject="drop")
    out = jax.jit(lambda g: g(r))(gated)
    np.testing.assert_array_equal(
        np.asarray(out.accepted), (np.asarray(r.correct) > 0.5) & _valid(r)
    )


def test_combinators_jit_no_recompile(make_batch):
    r = make_batch(seed=4, probabilities=True)
    chex.clear_trace_counter()
    fn = jax.jit(chex.assert_max_traces(lambda g, rollouts: g(rollouts), n=1))
    for k, t, pt in [(1, 0.5, 0.5), (2, 1.5, 0.3), (3, 2.5, 0.8)]:
        gate = Essential([0], rest=AtLeast(k, pass_threshold=pt)) | ~WeightedThreshold(
            [1.0, 1.0, 1.0, 1.0], t, pass_threshold=pt
        )
        got = fn(gate, r)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(gate(r)))
        p = _passes(r, pt)
        want_rest = (_passes(r)[..., 0] & (p[..., 1:].sum(-1) >= k)) | ~(p.sum(-1) >= t)
        np.testing.assert_array_equal(np.asarray(got), want_rest & _valid(r))
