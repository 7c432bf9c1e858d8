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


# ------------------------------------------- checks of objectives, terms and gates
def _objective():
    return rd.compose(correct=rd.terms.Correctness(), brier=rd.terms.Brier())


_OWNERS = {
    "Objective": lambda r: _objective()(r),
    "Brier": lambda r: rd.terms.Brier()(r),
    "RubricScore": lambda r: rd.terms.RubricScore()(r),
    "AllOf": lambda r: rd.gates.AllOf()(r),
    "Gated": lambda r: rd.gates.Gated(rd.gates.AllOf(), _objective()).advantages(r),
}


@pytest.mark.parametrize("owner", list(_OWNERS))
@pytest.mark.parametrize(
    "change, match",
    [
        (dict(confidence=np.full((3, 4), 1.5)), r"Rollouts.confidence must lie in \[0, 1\]"),
        (dict(confidence=np.full((3, 4), np.nan)), "Rollouts.confidence must be finite"),
        (dict(rubric=np.full((3, 4, 5), 1.7)), r"Rollouts.rubric must lie in \[0, 1\]"),
        (dict(correct=np.full((3, 4), 2.0)), r"Rollouts.correct must lie in \[0, 1\]"),
    ],
)
def test_eager_calls_check_the_values_of_unvalidated_rollouts(owner, change, match):
    fields = _valid()
    fields["rubric"] = fields["rubric"].astype(np.float32)
    fields.update(change)
    with pytest.raises(ValueError, match=f"{owner}: {match}"):
        _OWNERS[owner](rd.Rollouts(**fields))


@pytest.mark.parametrize("owner", list(_OWNERS))
@pytest.mark.parametrize(
    "change, match",
    [
        (dict(confidence=np.zeros((3, 5))), r"Rollouts.confidence must have shape \[P, G\]"),
        (dict(rubric=np.zeros((3, 4), bool)), r"Rollouts.rubric must have shape \[P, G, K\]"),
        (dict(mask=np.ones((3, 4))), "Rollouts.mask must be a boolean array"),
        (dict(token_mask=np.ones((3, 4, 6))), "Rollouts.token_mask must be a boolean array"),
        (dict(correct=np.array([["a"] * 4] * 3)), "Rollouts.correct must be a numeric"),
    ],
)
def test_static_rollout_checks_run_eagerly_and_under_jit(owner, change, match):
    fields = _valid()
    fields.update(change)
    r = rd.Rollouts(**fields)
    with pytest.raises(ValueError, match=match):
        _OWNERS[owner](r)
    if owner != "Gated" and np.asarray(fields["correct"]).dtype.kind != "U":
        with pytest.raises(ValueError, match=match):
            jax.jit(_OWNERS[owner])(r)


@pytest.mark.parametrize("owner", [*_OWNERS, "rubric_passes", "require_field"])
def test_rollouts_argument_must_be_rollouts(owner):
    calls = dict(
        _OWNERS,
        rubric_passes=lambda r: rd.gates.rubric_passes(r),
        require_field=lambda r: rd.terms.require_field(r, "correct", "MyTerm"),
    )
    with pytest.raises(TypeError, match="rollouts must be a reward_design.Rollouts; got dict"):
        calls[owner]({"correct": [[1.0, 0.0]]})


def test_ragged_lists_are_named():
    with pytest.raises(ValueError, match="Rollouts.correct must be a rectangular array"):
        rd.Rollouts(correct=[[1.0, 0.0], [1.0]])
    with pytest.raises(ValueError, match="Rollouts.confidence must be a rectangular array"):
        rd.Rollouts(correct=[[1.0, 0.0]], confidence=[[0.5], [0.5, 0.5]])


def test_masks_are_boolean_everywhere():
    # A float mask is not cast (0.3 is not "valid"): the same error in every entry point.
    r = rd.Rollouts(
        correct=[[1.0, 0.0, 1.0]],
        confidence=[[0.5, 0.5, 0.5]],
        rubric=np.ones((1, 3, 2), bool),
        mask=np.array([[1.0, 0.3, 0.0]]),
    )
    gated = rd.gates.Gated(rd.gates.AllOf(), _objective())
    for call in (lambda: r.valid_mask, lambda: _objective()(r), lambda: gated.advantages(r)):
        with pytest.raises(ValueError, match="mask must be a boolean array"):
            call()
    with pytest.raises(ValueError, match="mask must be boolean"):
        rd.advantages.grpo(np.ones((1, 3)), mask=np.array([[1.0, 0.3, 0.0]]))


def test_masked_out_members_may_hold_anything_eagerly():
    # padding is never read: NaN or out-of-range values there pass the eager checks
    r = rd.Rollouts(
        correct=np.array([[1.0, np.nan]]),
        confidence=np.array([[0.8, 7.0]]),
        token_rewards=np.array([[[1.0, np.inf], [np.nan, np.nan]]]),
        token_mask=np.array([[[True, False], [True, True]]]),
        mask=np.array([[True, False]]),
    )
    out = rd.compose(c=rd.terms.Correctness(), b=rd.terms.Brier(), t=rd.terms.TokenReward())(r)
    np.testing.assert_allclose(np.asarray(out.total), [[1.0 - 0.04 + 1.0, 0.0]], rtol=1e-6)
    with pytest.raises(ValueError, match="must be finite"):
        r.validate()  # validate() checks every member, padding included


def test_under_jit_values_are_used_as_written_and_counted_on_request():
    r = rd.Rollouts(
        correct=np.array([[1.0, 0.0, 1.0]]),
        confidence=np.array([[1.5, np.nan, 0.5]]),
        mask=np.array([[True, True, True]]),
    )
    plain = jax.jit(lambda r: _objective()(r))(r)
    # Brier of a confidence of 1.5 is computed as written; NaN propagates
    np.testing.assert_allclose(np.asarray(plain.total)[0, [0, 2]], [1 - 0.25, 1 - 0.25])
    assert np.isnan(np.asarray(plain.total)[0, 1]) and plain.stats == {}
    counting = rd.compose(c=rd.terms.Correctness(), b=rd.terms.Brier(), count_invalid=True)
    out = jax.jit(lambda r: counting(r))(r)
    assert int(out.stats["input/invalid_rollouts"]) == 2
    masked = r.replace(mask=np.array([[True, False, True]]))
    assert int(jax.jit(lambda r: counting(r))(masked).stats["input/invalid_rollouts"]) == 1
    # eagerly the same rollouts raise; valid ones give a count of 0 (same output structure)
    with pytest.raises(ValueError, match="Rollouts.confidence"):
        counting(r)
    good = rd.Rollouts(correct=np.array([[1.0, 0.0]]), confidence=np.array([[0.9, 0.1]]))
    assert int(counting(good).stats["input/invalid_rollouts"]) == 0
    # and through a gate: the inner objective's count is in the gated stats
    gated = rd.gates.Gated(lambda r: jnp.ones((1, 3), bool), counting)
    assert int(jax.jit(lambda r: gated(r))(r).stats["input/invalid_rollouts"]) == 2


def test_invalid_members_counts_each_field():
    from reward_design.rollouts import invalid_members

    r = rd.Rollouts(
        correct=np.array([[1.0, 0.0, 1.0, 1.0]]),
        rubric=np.array([[[0.5], [1.2], [0.5], [0.5]]]),
        token_rewards=np.array([[[0.0, np.nan], [0.0, 0.0], [np.inf, 0.0], [0.0, 0.0]]]),
        token_mask=np.array([[[True, False], [True, True], [True, True], [True, True]]]),
    )
    np.testing.assert_array_equal(np.asarray(invalid_members(r)), [[False, True, True, False]])


def test_each_top_level_call_checks_values_once(monkeypatch):
    from reward_design import rollouts as rollouts_module

    calls = []
    original = rollouts_module._check_values
    monkeypatch.setattr(
        rollouts_module, "_check_values", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    r = rd.Rollouts(**_valid())
    dense = rd.compose(c=rd.terms.Correctness(), b=rd.terms.Brier(), s=rd.terms.RubricScore())
    gated = rd.gates.Gated(rd.gates.AllOf() & rd.gates.AtLeast(1), dense)
    gated.advantages(r)
    assert len(calls) == 1
    jax.jit(lambda r: gated(r))(r)  # traced: no value checks
    assert len(calls) == 1
