"""Gated (floor vs drop), GroupFilter and their effect on GRPO advantages, vs numpy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import export

import reward_design as rd
from reward_design.compose import RewardOutput
from reward_design.gates import AllOf, AtLeast, Gated, GroupFilter, WeightedThreshold


def _valid(r):
    return np.ones(np.shape(r.correct), bool) if r.mask is None else np.asarray(r.mask)


def _tokens_total(r):
    return np.where(_valid(r), np.asarray(r.token_rewards, np.float64).sum(-1), 0.0)


def _np_group_keep(rewards, accepted, signal, min_accepted, drop_degenerate, atol):
    keep = np.zeros(rewards.shape[0], bool)
    too_few = np.zeros_like(keep)
    degenerate = np.zeros_like(keep)
    for i in range(rewards.shape[0]):
        too_few[i] = accepted[i].sum() < min_accepted
        vals = rewards[i][signal[i]]
        if drop_degenerate:
            degenerate[i] = vals.size < 2 or vals.max() - vals.min() <= atol
        keep[i] = not too_few[i] and not degenerate[i]
    return keep, too_few, degenerate


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_floor_semantics_and_grpo(make_batch, np_grpo, seed):
    r = make_batch(seed=seed)
    inner = rd.compose(tokens=rd.terms.TokenReward())
    gated = Gated(AllOf(), inner, on_reject="floor", floor=-1.5)
    out, adv_mask = gated.evaluate(r)
    valid = _valid(r)
    verdict = np.asarray(r.rubric).all(-1) & valid
    want_total = np.where(valid & ~verdict, -1.5, _tokens_total(r))
    np.testing.assert_allclose(np.asarray(out.total), want_total, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(out.accepted), verdict)
    np.testing.assert_array_equal(np.asarray(adv_mask), valid)
    # rejection is a low reward inside the group: advantages over the valid members
    adv = rd.advantages.grpo(out.total, mask=r.valid_mask)
    np.testing.assert_allclose(np.asarray(adv), np_grpo(want_total, valid), rtol=1e-4, atol=1e-4)
    # the all-fail group (row 1) is all floor, so every advantage there is 0
    np.testing.assert_allclose(np.asarray(adv)[1], 0.0, atol=1e-6)
    # components stay the inner ones (0 on masked-out members, as in rd.compose)
    np.testing.assert_allclose(
        np.asarray(out.components["tokens"]),
        np.where(valid, np.asarray(r.token_rewards).sum(-1), 0.0),
        rtol=1e-6,
        atol=1e-6,
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_drop_semantics_and_grpo(make_batch, np_grpo, seed):
    r = make_batch(seed=seed)
    gated = Gated(AtLeast(3), rd.compose(tokens=rd.terms.TokenReward()), on_reject="drop")
    out, adv_mask = gated.evaluate(r)
    valid = _valid(r)
    verdict = (np.asarray(r.rubric).sum(-1) >= 3) & valid
    np.testing.assert_allclose(np.asarray(out.total), _tokens_total(r), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(out.accepted), verdict)
    np.testing.assert_array_equal(np.asarray(adv_mask), verdict)
    adv = np.asarray(rd.advantages.grpo(out.total, mask=out.accepted))
    np.testing.assert_allclose(adv, np_grpo(_tokens_total(r), verdict), rtol=1e-4, atol=1e-4)
    # rejected members get 0 and do not move the statistics of the others:
    # same advantages as a batch that never contained them
    assert np.all(adv[~verdict] == 0.0)
    for i in range(adv.shape[0]):
        kept = np.flatnonzero(verdict[i])
        if kept.size:
            sub = np_grpo(_tokens_total(r)[i : i + 1, kept], np.ones((1, kept.size), bool))
            np.testing.assert_allclose(adv[i, kept], sub[0], rtol=1e-4, atol=1e-4)


def test_floor_and_drop_differ_on_a_mixed_group(np_grpo):
    # one group, 4 members: two pass (inner reward 1.0, 0.0), two fail (inner 5.0, 3.0)
    rubric = np.array([[[True], [True], [False], [False]]])
    tokens = np.array([[[1.0], [0.0], [5.0], [3.0]]], np.float32)
    r = rd.Rollouts(correct=np.zeros((1, 4)), rubric=rubric, token_rewards=tokens).validate()
    inner = rd.compose(tokens=rd.terms.TokenReward())
    floor_out = Gated(AllOf(), inner, on_reject="floor", floor=0.0)(r)
    drop_out = Gated(AllOf(), inner, on_reject="drop")(r)
    np.testing.assert_allclose(np.asarray(floor_out.total), [[1.0, 0.0, 0.0, 0.0]])
    np.testing.assert_allclose(np.asarray(drop_out.total), [[1.0, 0.0, 5.0, 3.0]])
    a_floor = np.asarray(rd.advantages.grpo(floor_out.total, mask=r.valid_mask))
    a_drop = np.asarray(rd.advantages.grpo(drop_out.total, mask=drop_out.accepted))
    # floor: mean 0.25, std (ddof=1) 0.5 -> (1 - .25)/.5 = 1.5, others -0.5
    np.testing.assert_allclose(a_floor, [[1.5, -0.5, -0.5, -0.5]], atol=1e-5)
    # drop: group {1, 0}: mean 0.5, std sqrt(0.5) -> +-0.7071; rejected 0
    s = np.sqrt(0.5)
    np.testing.assert_allclose(a_drop, [[0.5 / s, -0.5 / s, 0.0, 0.0]], atol=1e-5)
    # ungated, the hacked rollouts (failing the rubric, high dense reward) would win
    a_dense = np.asarray(rd.advantages.grpo(inner(r).total))
    assert a_dense[0, 2] > 0 and a_dense[0, 3] > 0


@pytest.mark.parametrize("on_reject", ["floor", "drop"])
@pytest.mark.parametrize("min_accepted", [0, 1, 2, 3])
@pytest.mark.parametrize("drop_degenerate", [True, False])
def test_group_filter_in_gated(make_batch, on_reject, min_accepted, drop_degenerate):
    r = make_batch(seed=min_accepted + 7, g=6)
    # correctness rewards make ties (degenerate groups) common
    inner = rd.compose(correct=rd.terms.Correctness())
    gf = GroupFilter(min_accepted=min_accepted, drop_degenerate=drop_degenerate)
    gated = Gated(AtLeast(2), inner, on_reject=on_reject, floor=-1.0, group_filter=gf)
    out, adv_mask = gated.evaluate(r)
    valid = _valid(r)
    passed = (np.asarray(r.rubric).sum(-1) >= 2) & valid
    correct = np.where(valid, np.asarray(r.correct, np.float64), 0.0)
    if on_reject == "floor":
        total = np.where(valid & ~passed, -1.0, correct)
        signal = valid
    else:
        total = correct
        signal = passed
    keep, too_few, degenerate = _np_group_keep(
        total, passed, signal, min_accepted, drop_degenerate, 1e-6
    )
    np.testing.assert_allclose(np.asarray(out.total), total, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(out.accepted), passed & keep[:, None])
    np.testing.assert_array_equal(np.asarray(adv_mask), signal & keep[:, None])
    p = valid.shape[0]
    stats = {k: float(v) for k, v in out.stats.items()}
    assert stats["gate/pass_rate"] == pytest.approx(passed.sum() / valid.sum())
    assert stats["gate/rollouts_kept"] == pytest.approx(
        (passed & keep[:, None]).sum() / valid.sum()
    )
    assert stats["gate/rollouts_in_update"] == pytest.approx(
        (signal & keep[:, None]).sum() / valid.sum()
    )
    assert stats["gate/groups_kept"] == pytest.approx(
        (keep & (signal & keep[:, None]).any(1)).sum() / p
    )
    assert stats["gate/groups_below_min"] == pytest.approx(too_few.sum() / p)
    assert stats["gate/groups_degenerate"] == pytest.approx(degenerate.sum() / p)


def test_group_filter_degenerate_rule_and_tolerance():
    rewards = np.array(
        [
            [1.0, 1.0, 1.0, 0.0],  # accepted members 0..2 equal -> degenerate
            [1.0, 0.0, 1.0, 1.0],  # accepted spread 1 -> kept
            [0.5, 0.5 + 1e-7, 0.2, 0.0],  # spread 1e-7 <= atol -> degenerate
            [0.3, 0.9, 0.0, 0.0],  # only one accepted member -> degenerate
            [0.3, 0.9, 0.0, 0.0],  # no accepted member -> too few (and degenerate)
        ],
        np.float32,
    )
    accepted = np.array(
        [
            [1, 1, 1, 0],
            [1, 1, 1, 0],
            [1, 1, 0, 0],
            [0, 1, 0, 0],
            [0, 0, 0, 0],
        ],
        bool,
    )
    keep, too_few, degenerate = GroupFilter().verdicts(rewards, accepted)
    np.testing.assert_array_equal(np.asarray(keep), [False, True, False, False, False])
    np.testing.assert_array_equal(np.asarray(too_few), [False, False, False, False, True])
    np.testing.assert_array_equal(np.asarray(degenerate), [True, False, True, True, True])
    # a tighter tolerance keeps the near-tie; min_accepted=0 stops "too few"
    keep2 = GroupFilter(min_accepted=0, atol=1e-9).keep(rewards, accepted)
    np.testing.assert_array_equal(np.asarray(keep2), [False, True, True, False, False])
    # without drop_degenerate only the count matters
    keep3 = GroupFilter(min_accepted=2, drop_degenerate=False).keep(rewards, accepted)
    np.testing.assert_array_equal(np.asarray(keep3), [True, True, True, False, False])
    filtered = GroupFilter()(rewards, accepted)
    np.testing.assert_array_equal(np.asarray(filtered), accepted & np.asarray(keep)[:, None])


@pytest.mark.parametrize("seed", [0, 1])
def test_group_filter_random_vs_numpy(seed):
    rng = np.random.default_rng(seed)
    rewards = rng.integers(0, 3, size=(40, 5)).astype(np.float32)
    accepted = rng.uniform(size=(40, 5)) < 0.6
    for m in [0, 1, 2, 4]:
        keep, too_few, degenerate = GroupFilter(min_accepted=m).verdicts(rewards, accepted)
        want = _np_group_keep(rewards, accepted, accepted, m, True, 1e-6)
        for got, ref in zip((keep, too_few, degenerate), want, strict=True):
            np.testing.assert_array_equal(np.asarray(got), ref)


def test_inner_accepted_is_respected(make_batch):
    r = make_batch(seed=4)
    rng = np.random.default_rng(0)
    inner_acc = rng.uniform(size=r.shape) < 0.7
    base = rd.compose(tokens=rd.terms.TokenReward())

    def inner(rollouts):
        out = base(rollouts)
        return RewardOutput(
            total=out.total,
            components=out.components,
            accepted=out.accepted & inner_acc,
            stats={"gate/pass_rate": 0.123, "mine": 1.0},
        )

    valid = _valid(r)
    passed = np.asarray(r.rubric).any(-1) & valid & inner_acc
    for mode in ["floor", "drop"]:
        out, adv_mask = Gated(AtLeast(1), inner, on_reject=mode, floor=-2.0).evaluate(r)
        np.testing.assert_array_equal(np.asarray(out.accepted), passed)
        if mode == "floor":
            # only the gate's own rejections are floored; inner rejections are excluded
            want = np.where(valid & inner_acc & ~passed, -2.0, _tokens_total(r))
            np.testing.assert_array_equal(np.asarray(adv_mask), valid & inner_acc)
        else:
            want = _tokens_total(r)
            np.testing.assert_array_equal(np.asarray(adv_mask), passed)
        np.testing.assert_allclose(np.asarray(out.total), want, rtol=1e-6, atol=1e-6)
        # inner stats are kept, renamed on a clash
        assert float(out.stats["inner/gate/pass_rate"]) == pytest.approx(0.123)
        assert float(out.stats["mine"]) == 1.0


def test_nested_gated(make_batch):
    r = make_batch(seed=9)
    inner = Gated(AtLeast(1), rd.compose(tokens=rd.terms.TokenReward()), on_reject="drop")
    outer = Gated(AllOf(), inner, on_reject="drop")
    out = outer(r)
    valid = _valid(r)
    np.testing.assert_array_equal(np.asarray(out.accepted), np.asarray(r.rubric).all(-1) & valid)
    assert "inner/gate/rollouts_kept" in out.stats and "gate/rollouts_kept" in out.stats


def test_dense_and_gated_are_one_line_swaps(make_batch):
    r = make_batch(seed=11, probabilities=True)
    w = np.array([2.0, 1.0, 1.0, 0.5], np.float32)
    dense = rd.compose(rubric=rd.terms.RubricScore(w), tokens=rd.terms.TokenReward())
    gated = Gated(AllOf(), rd.compose(tokens=rd.terms.TokenReward()))
    valid = _valid(r)
    rubric = np.asarray(r.rubric, np.float64)
    for objective in (dense, gated):
        out = objective(r)
        assert isinstance(out, RewardOutput)
        adv = rd.advantages.grpo(out.total, mask=out.accepted)
        assert adv.shape == r.shape
    np.testing.assert_allclose(
        np.asarray(dense(r).total),
        np.where(valid, rubric @ w / w.sum() + _tokens_total(r), 0.0),
        rtol=1e-5,
        atol=1e-5,
    )
    verdict = (rubric >= 0.5).all(-1) & valid
    np.testing.assert_allclose(
        np.asarray(gated(r).total),
        np.where(verdict, _tokens_total(r), 0.0),
        rtol=1e-5,
        atol=1e-5,
    )


def test_gated_jit_matches_and_does_not_recompile(make_batch):
    r = make_batch(seed=12, probabilities=True)
    inner = rd.compose(tokens=rd.terms.TokenReward(), correct=rd.terms.Correctness())
    traces = []

    @jax.jit
    def fn(g, rollouts):
        traces.append(g.on_reject)  # runs once per trace
        return g.evaluate(rollouts)

    rng = np.random.default_rng(0)
    for mode in ["floor", "drop"]:
        for _ in range(3):
            gated = Gated(
                WeightedThreshold(rng.uniform(0, 2, 4), rng.uniform(0, 3), rng.uniform(0.2, 0.8)),
                inner.replace_term("tokens", rd.terms.TokenReward(weight=rng.uniform())),
                on_reject=mode,
                floor=rng.normal(),
                group_filter=GroupFilter(min_accepted=int(rng.integers(0, 3)), atol=1e-3),
            )
            jit_out, jit_mask = fn(gated, r)
            out, mask = gated.evaluate(r)
            # jit fuses the sums differently: equal to float32 rounding of the O(1) terms
            np.testing.assert_allclose(
                np.asarray(jit_out.total), np.asarray(out.total), rtol=1e-6, atol=1e-6
            )
            np.testing.assert_array_equal(np.asarray(jit_out.accepted), np.asarray(out.accepted))
            np.testing.assert_array_equal(np.asarray(jit_mask), np.asarray(mask))
            for key, value in out.stats.items():
                assert float(jit_out.stats[key]) == pytest.approx(float(value))
    # one trace per static structure (on_reject), none for changed numbers
    assert traces == ["floor", "drop"]


@pytest.mark.parametrize("on_reject", ["floor", "drop"])
@pytest.mark.parametrize("estimator", ["grpo", "dr_grpo", "rloo"])
def test_advantages_are_evaluate_then_the_estimator(make_batch, np_grpo, on_reject, estimator):
    r = make_batch(seed=13)
    gf = GroupFilter(min_accepted=1, drop_degenerate=False)
    inner = rd.compose(tokens=rd.terms.TokenReward())
    tokens = np.asarray(r.token_rewards, np.float64)
    reorder_bound = 2 * (tokens.shape[-1] - 1) * 2.0**-24 * np.abs(tokens).sum(-1)
    for gate in (AllOf(), AtLeast(2), WeightedThreshold(np.ones(4), 2.0)):
        for group_filter in (None, gf):
            gated = Gated(gate, inner, on_reject, floor=-1.0, group_filter=group_filter)
            out, adv = jax.jit(lambda g, rr: g.advantages(rr, estimator))(gated, r)
            ref_out, mask = gated.evaluate(r)
            ref = getattr(rd.advantages, estimator)(ref_out.total, mask=mask)
            np.testing.assert_allclose(np.asarray(adv), np.asarray(ref), rtol=1e-6, atol=1e-6)
            np.testing.assert_array_equal(np.asarray(out.accepted), np.asarray(ref_out.accepted))
            # jit fuses the masked token sum into the gate's program and may add the 5
            # float32 tokens in another order (it does under jax 0.7.0): the totals agree to
            # the reordering bound 2 (n - 1) u sum|x|, u = 2^-24, not bit for bit
            diff = np.abs(np.asarray(out.total) - np.asarray(ref_out.total))
            assert np.all(diff <= reorder_bound), (diff.max(), reorder_bound.max())
            assert set(out.stats) == set(ref_out.stats)
    # against numpy for the plain case: GRPO over the accepted members ("drop")
    if on_reject == "drop" and estimator == "grpo":
        gated = Gated(AtLeast(2), rd.compose(tokens=rd.terms.TokenReward()), "drop")
        _, adv = gated.advantages(r)
        passed = (np.asarray(r.rubric).sum(-1) >= 2) & _valid(r)
        want = np_grpo(_tokens_total(r), passed)
        np.testing.assert_allclose(np.asarray(adv), want, rtol=1e-4, atol=1e-4)


def test_advantages_pass_estimator_options_and_take_functions(make_batch):
    r = make_batch(seed=14)
    gated = Gated(AllOf(), rd.compose(tokens=rd.terms.TokenReward()), on_reject="drop")
    out, mask = gated.evaluate(r)
    for kwargs in ({"eps": 0.25}, {"ddof": 0}, {"scale": "batch"}, {"eps": jnp.full((8, 1), 0.1)}):
        _, adv = gated.advantages(r, "grpo", **kwargs)
        ref = rd.advantages.grpo(out.total, mask=mask, **kwargs)
        np.testing.assert_array_equal(np.asarray(adv), np.asarray(ref))
    _, adv = gated.advantages(r, lambda total, mask: jnp.where(mask, total, -7.0))
    np.testing.assert_array_equal(np.asarray(adv), np.where(mask, out.total, -7.0))


def test_advantages_are_one_program_on_every_backend(make_batch):
    """No platform-specific branch and no custom call: the program is plain XLA."""
    r = make_batch(seed=15, ragged=False)
    gated = Gated(AllOf(), rd.compose(tokens=rd.terms.TokenReward()), on_reject="drop")
    fn = jax.jit(lambda rr: gated.advantages(rr)[1])
    for platforms in (["cpu"], ["cuda"], ["tpu"]):
        text = export.export(fn, platforms=platforms)(r).mlir_module()
        assert "custom_call" not in text


def test_advantages_bad_input(make_batch):
    r = make_batch(seed=16)
    gated = Gated(AllOf(), rd.compose(tokens=rd.terms.TokenReward()), on_reject="drop")
    with pytest.raises(ValueError, match="estimator must be one of"):
        gated.advantages(r, "ppo")
    with pytest.raises(TypeError, match="estimator must be a name or a function"):
        gated.advantages(r, 3)
    with pytest.raises(ValueError, match="exceeds the number of rubric items"):
        Gated(AtLeast(k=9), rd.compose(tokens=rd.terms.TokenReward()), "drop").advantages(r)
