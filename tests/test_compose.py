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
    # components are 0 on masked-out members, like the total
    np.testing.assert_allclose(out.components["correct"], np.where(r.mask, c, 0.0))
    np.testing.assert_allclose(out.components["brier"], np.where(r.mask, b, 0.0), rtol=1e-6)
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
    chex.clear_trace_counter()

    @jax.jit
    @chex.assert_max_traces(n=1)
    def total(objective, rollouts):
        return objective(rollouts).total

    for w in [0.0, 0.5, 1.0, 4.0]:
        obj = rd.compose(correct=terms.Correctness(weight=1.0 + w), brier=terms.Brier(weight=w))
        expected = np.where(r.mask, (1 + w) * r.correct - w * (r.confidence - r.correct) ** 2, 0.0)
        np.testing.assert_allclose(total(obj, r), expected, rtol=1e-5, atol=1e-6)


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


def test_masked_out_nan_and_garbage_reach_neither_outputs_nor_gradients():
    """Padding may hold NaN/inf (unvalidated arrays inside a jitted step): the
    outputs and the gradients (w.r.t. inputs and weights) must equal those of
    the same batch with clean padding."""
    rng = np.random.default_rng(3)
    p, g, k, t = 3, 4, 2, 5
    mask = rng.uniform(size=(p, g)) > 0.3
    mask[:, 0] = True
    mask[0, 1:] = False
    clean = dict(
        correct=rng.integers(0, 2, (p, g)).astype(np.float32),
        confidence=rng.uniform(size=(p, g)).astype(np.float32),
        rubric=rng.uniform(size=(p, g, k)).astype(np.float32),
        token_rewards=rng.normal(size=(p, g, t)).astype(np.float32),
    )
    dirty = {name: value.copy() for name, value in clean.items()}
    dirty["correct"][~mask] = np.nan
    dirty["confidence"][~mask] = np.inf
    dirty["rubric"][~mask] = np.nan
    dirty["token_rewards"][~mask] = -np.inf

    def objective(w):
        return rd.compose(
            correct=terms.Correctness(),
            brier=terms.Brier(weight=w),
            log=terms.ScoringRuleTerm(rule=lambda q, y: -jnp.log(jnp.where(y > 0, q, 1 - q))),
            rubric=terms.RubricScore(),
            tokens=terms.TokenReward(normalize=True),
        )

    def loss(w, conf, tok, fields):
        r = rd.Rollouts(**{**fields, "confidence": conf, "token_rewards": tok}, mask=mask)
        out = objective(w)(r)
        return jnp.sum(out.total), out

    grad = jax.jit(jax.grad(loss, argnums=(0, 1, 2), has_aux=True))
    (g_clean, out_clean) = grad(0.7, clean["confidence"], clean["token_rewards"], clean)
    (g_dirty, out_dirty) = grad(0.7, dirty["confidence"], dirty["token_rewards"], dirty)
    np.testing.assert_array_equal(out_dirty.total, out_clean.total)
    assert np.all(np.asarray(out_dirty.total)[~mask] == 0)
    for name in out_clean.components:
        np.testing.assert_array_equal(out_dirty.components[name], out_clean.components[name])
        assert np.all(np.isfinite(out_dirty.components[name]))
    for a, b in zip(g_dirty, g_clean, strict=True):
        assert np.all(np.isfinite(np.asarray(a)))
        np.testing.assert_allclose(a, b, rtol=1e-6)
    # reference gradient w.r.t. the Brier weight: -sum over valid members of (c - y)^2
    c, y = clean["confidence"], clean["correct"]
    np.testing.assert_allclose(g_dirty[0], -np.sum(((c - y) ** 2)[mask]), rtol=1e-5)


def test_components_survive_tree_maps_with_non_numeric_leaves():
    """JAX rebuilds components without re-running their checks (bools, ints, None as leaves)."""
    obj = rd.compose(correct=terms.Correctness(), brier=terms.Brier(weight=0.5))
    finite = jax.tree_util.tree_map(lambda x: bool(np.isfinite(x)), obj)
    assert jax.tree_util.tree_leaves(finite) == [True, True]
    # a vmap in_axes tree that batches only the Brier weight
    in_axes = jax.tree_util.tree_map_with_path(
        lambda path, _: 0 if "brier" in jax.tree_util.keystr(path) else None, obj
    )
    r = _rollouts()
    batched = obj.replace_term("brier", terms.Brier(weight=jnp.array([0.0, 1.0, 2.0])))
    out = jax.vmap(lambda o: o(r).total, in_axes=(in_axes,))(batched)
    for i, w in enumerate([0.0, 1.0, 2.0]):
        ref = rd.compose(correct=terms.Correctness(), brier=terms.Brier(weight=w))(r).total
        np.testing.assert_allclose(out[i], ref, rtol=1e-6)
    # a user-facing replace still validates
    with pytest.raises(ValueError, match="Brier.weight must be finite"):
        terms.Brier().replace(weight=float("nan"))
