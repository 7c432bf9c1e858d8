"""compose(): totals, components, masks, single compilation and vmap sweeps."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reward_design as rd
from reward_design import terms


def _rollouts(seed=0, ragged=True):
    rng = np.random.default_rng(seed)
    p, g = 6, 4
    mask = rng.uniform(size=(p, g)) > 0.3 if ragged else np.ones((p, g), bool)
    mask[:, 0] = True
    return rd.Rollouts(
        correct=rng.integers(0, 2, (p, g)).astype(np.float32),
        confidence=rng.uniform(size=(p, g)).astype(np.float32),
        mask=mask,
    ).validate()


def test_total_is_sum_of_components_and_zero_when_masked():
    r = _rollouts()
    out = rd.compose(correct=terms.Correctness(), brier=terms.Brier(weight=0.5))(r)
    c = np.asarray(r.correct)
    b = -0.5 * (np.asarray(r.confidence) - c) ** 2
    np.testing.assert_allclose(out.components["correct"], c)
    np.testing.assert_allclose(out.components["brier"], b, rtol=1e-6)
    np.testing.assert_allclose(out.total, np.where(r.mask, c + b, 0.0), rtol=1e-6)
    np.testing.assert_array_equal(out.accepted, r.mask)
    assert out.stats == {}


def test_plain_function_terms_and_mapping_form():
    r = _rollouts(ragged=False)

    def length_penalty(rollouts):
        return -0.1 * jnp.ones(rollouts.shape)

    obj = rd.compose({"my term": length_penalty}, correct=terms.Correctness())
    out = jax.jit(lambda o, r: o(r))(obj, r)
    np.testing.assert_allclose(out.total, np.asarray(r.correct) - 0.1, rtol=1e-6)
    assert set(out.components) == {"my term", "correct"}


def test_bad_compositions():
    with pytest.raises(ValueError, match="at least one term"):
        rd.compose()
    with pytest.raises(TypeError, match="must be callable"):
        rd.compose(x=3)
    with pytest.raises(ValueError, match="given twice"):
        rd.compose({"a": terms.Correctness()}, a=terms.Brier())
    bad = rd.compose(bad=lambda r: jnp.zeros(3))
    with pytest.raises(ValueError, match=r"term 'bad' returned shape \(3,\)"):
        bad(_rollouts())


def test_compiles_once_across_hyperparameter_values():
    r = _rollouts()

    @jax.jit
    @chex.assert_max_traces(n=1)
    def total(objective, rollouts):
        return objective(rollouts).total

    for w in [0.0, 0.5, 1.0, 4.0]:
        obj = rd.compose(correct=terms.Correctness(weight=1.0 + w), brier=terms.Brier(weight=w))
        expected = np.where(r.mask, (1 + w) * r.correct - w * (r.confidence - r.correct) ** 2, 0.0)
        np.testing.assert_allclose(total(obj, r), expected, rtol=1e-5, atol=1e-6)
    assert total._cache_size() == 1


def test_vmap_sweep_over_a_weight_matches_separate_calls():
    r = _rollouts()
    weights = jnp.array([0.25, 0.5, 1.0, 2.0, 4.0])

    def total_for(w):
        return rd.compose(correct=terms.Correctness(), brier=terms.Brier(weight=w))(r).total

    swept = jax.jit(jax.vmap(total_for))(weights)
    assert swept.shape == (5, 6, 4)
    for i, w in enumerate(weights):
        np.testing.assert_allclose(swept[i], total_for(float(w)), rtol=1e-6)


def test_vmap_over_objective_pytree():
    r = _rollouts()
    objs = rd.compose(
        correct=terms.Correctness(weight=jnp.ones(3)), brier=terms.Brier(jnp.arange(3.0))
    )
    out = jax.vmap(lambda o: o(r).total)(objs)
    for i in range(3):
        ref = rd.compose(correct=terms.Correctness(), brier=terms.Brier(weight=float(i)))(r).total
        np.testing.assert_allclose(out[i], ref, rtol=1e-6)


def test_replace_term():
    r = _rollouts()
    obj = rd.compose(correct=terms.Correctness())
    obj2 = obj.replace_term("brier", terms.Brier())
    assert set(obj2(r).components) == {"correct", "brier"}
    assert set(obj(r).components) == {"correct"}
