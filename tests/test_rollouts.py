"""Rollouts: construction, pytree behaviour and every validate() error path."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reward_design as rd


def _valid(p=3, g=4, k=5, t=6, seed=0):
    rng = np.random.default_rng(seed)
    return dict(
        correct=rng.integers(0, 2, (p, g)).astype(np.float32),
        confidence=rng.uniform(size=(p, g)).astype(np.float32),
        rubric=rng.integers(0, 2, (p, g, k)).astype(bool),
        token_rewards=rng.normal(size=(p, g, t)).astype(np.float32),
        token_mask=rng.uniform(size=(p, g, t)) > 0.3,
        mask=np.ones((p, g), bool),
    )


def test_lists_become_arrays_and_shape():
    r = rd.Rollouts(correct=[[1, 0], [0, 1], [1, 1]], confidence=[[0.5, 0.5]] * 3)
    assert isinstance(r.correct, np.ndarray)
    assert r.shape == (3, 2) and r.num_prompts == 3 and r.group_size == 2
    assert r.validate() is r


def test_valid_mask_defaults_to_all_true():
    r = rd.Rollouts(correct=np.zeros((2, 3)))
    np.testing.assert_array_equal(r.valid_mask, np.ones((2, 3), bool))
    m = np.array([[True, False, True], [True, True, True]])
    np.testing.assert_array_equal(rd.Rollouts(correct=np.zeros((2, 3)), mask=m).valid_mask, m)


def test_is_a_pytree_with_none_fields_skipped():
    fields = _valid()
    r = rd.Rollouts(correct=fields["correct"], confidence=fields["confidence"])
    leaves = jax.tree_util.tree_leaves(r)
    assert len(leaves) == 2
    doubled = jax.tree_util.tree_map(lambda x: x * 2, r)
    np.testing.assert_allclose(doubled.confidence, fields["confidence"] * 2)
    out = jax.jit(lambda r: r.correct + r.confidence)(r)
    np.testing.assert_allclose(out, fields["correct"] + fields["confidence"], rtol=1e-6)


def test_full_rollouts_validate():
    rd.Rollouts(**_valid()).validate()


def test_bool_correct_is_accepted():
    rd.Rollouts(correct=np.array([[True, False]])).validate()


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(correct=np.zeros(4)), r"correct must have shape \[P, G\]"),
        (dict(correct=np.zeros((0, 4))), "non-empty"),
        (dict(correct=np.array([["a", "b"]])), "correct must be a numeric"),
        (dict(correct=np.full((3, 4), np.nan)), "correct must be finite"),
        (dict(correct=np.full((3, 4), 2.0)), r"correct must lie in \[0, 1\]"),
        (dict(confidence=np.zeros((3, 5))), r"confidence must have shape \[P, G\]"),
        (dict(confidence=np.full((3, 4), 1.5)), r"confidence must lie in \[0, 1\]"),
        (dict(confidence=np.full((3, 4), -0.1)), r"confidence must lie in \[0, 1\]"),
        (dict(confidence=np.full((3, 4), np.inf)), "confidence must be finite"),
        (dict(rubric=np.zeros((3, 4), bool)), r"rubric must have shape \[P, G, K\]"),
        (dict(rubric=np.zeros((3, 5, 2), bool)), r"rubric must have shape \[P, G, K\]"),
        (dict(rubric=np.zeros((3, 4, 0), bool)), "at least one item"),
        (dict(rubric=np.full((3, 4, 2), 1.2)), r"rubric must lie in \[0, 1\]"),
        (dict(token_rewards=np.zeros((3, 4))), r"token_rewards must have shape \[P, G, T\]"),
        (dict(token_rewards=np.full((3, 4, 6), np.nan)), "token_rewards must be finite"),
        (dict(token_mask=np.ones((3, 4, 7), bool)), "token_mask must have shape"),
        (dict(token_mask=np.ones((3, 4, 6))), "token_mask must be a boolean"),
        (dict(mask=np.ones((3, 4))), "mask must be a boolean"),
        (dict(mask=np.ones((4, 3), bool)), r"mask must have shape \[P, G\]"),
    ],
)
def test_validate_errors_name_the_field(change, match):
    fields = _valid()
    fields.update(change)
    with pytest.raises(ValueError, match=match):
        rd.Rollouts(**fields).validate()


def test_token_mask_without_token_rewards():
    fields = _valid()
    fields["token_rewards"] = None
    with pytest.raises(ValueError, match="token_mask was given without token_rewards"):
        rd.Rollouts(**fields).validate()


def test_empty_groups_rejected_unless_allowed():
    fields = _valid()
    fields["mask"][1] = False
    with pytest.raises(ValueError, match="no valid member"):
        rd.Rollouts(**fields).validate()
    rd.Rollouts(**fields).validate(allow_empty_groups=True)


def test_error_message_reports_what_was_given():
    with pytest.raises(ValueError, match=r"first at index \(0, 1\) \(1.5\)"):
        rd.Rollouts(correct=[[0, 1]], confidence=[[0.5, 1.5]]).validate()


def test_validate_inside_jit_is_refused():
    r = rd.Rollouts(correct=jnp.zeros((2, 2)))

    @jax.jit
    def f(r):
        r.validate()
        return r.correct

    with pytest.raises(ValueError, match="eagerly"):
        f(r)


def test_bfloat16_fields_validate_and_are_checked():
    r = rd.Rollouts(
        correct=jnp.ones((2, 2), jnp.bfloat16), confidence=jnp.full((2, 2), 0.5, jnp.bfloat16)
    )
    r.validate()
    out = rd.compose(c=rd.terms.Correctness(), b=rd.terms.Brier())(r)
    assert out.total.dtype == jnp.float32
    np.testing.assert_allclose(out.total, 1 - 0.25)
    bad = r.replace(confidence=jnp.full((2, 2), 1.5, jnp.bfloat16))
    with pytest.raises(ValueError, match=r"confidence must lie in \[0, 1\]"):
        bad.validate()
