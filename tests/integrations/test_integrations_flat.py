"""Flat <-> [P, G] adapters vs numpy references of TRL's and verl's grouping."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reward_design as rd
from reward_design.integrations import flat


def _verl_grpo_reference(scores, uids, eps=1e-6):
    """verl's GRPO outcome advantage (groups of >= 2): per uid, (r - mean) / (std + eps).

    ``torch.std`` is unbiased (ddof=1), as in verl's ``compute_grpo_outcome_advantage``.
    """
    out = np.zeros_like(scores, dtype=np.float64)
    for uid in set(uids):
        idx = [i for i, u in enumerate(uids) if u == uid]
        if len(idx) < 2:
            continue
        r = scores[idx].astype(np.float64)
        out[idx] = (r - r.mean()) / (r.std(ddof=1) + eps)
    return out


def test_group_size_layout_is_trl_prompt_major_view():
    rewards = np.arange(12, dtype=np.float32)
    index = flat.flat_index(group_size=4, num_samples=12)
    assert index.shape == (3, 4)
    grouped = flat.to_grouped(rewards, index)
    np.testing.assert_array_equal(grouped, rewards.reshape(3, 4))  # TRL: view(-1, G)
    np.testing.assert_array_equal(flat.to_flat(grouped, index), rewards)


def test_flat_advantages_match_trl_group_scaling():
    rng = np.random.default_rng(0)
    g = 4
    rewards = rng.normal(size=5 * g).astype(np.float32)
    got = flat.flat_advantages(rewards, group_size=g, eps=1e-4)
    view = rewards.reshape(-1, g).astype(np.float64)
    # TRL: (r - mean) / (std + 1e-4) with torch's unbiased std, repeated per group.
    expected = (view - view.mean(1, keepdims=True)) / (view.std(1, ddof=1, keepdims=True) + 1e-4)
    np.testing.assert_allclose(got, expected.reshape(-1), rtol=1e-4, atol=1e-5)


@given(
    st.lists(st.sampled_from(["u0", "u1", "u2", "u3"]), min_size=2, max_size=24),
    st.integers(0, 2**31 - 1),
)
@settings(max_examples=6)  # each new [P, G] shape compiles once
def test_shuffled_group_ids_round_trip_and_match_verl_grpo(uids, seed):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=len(uids)).astype(np.float32)
    index = flat.flat_index(np.asarray(uids, dtype=object))
    grouped = np.asarray(flat.to_grouped(scores, index))
    # Each row holds exactly one uid's scores, in flat order; padding is masked.
    for p, uid in enumerate(index.group_ids):
        members = [s for s, u in zip(scores, uids, strict=True) if u == uid]
        np.testing.assert_array_equal(grouped[p][index.mask[p]], members)
        assert index.mask[p].sum() == len(members)
    np.testing.assert_array_equal(flat.to_flat(grouped, index), scores)
    # First-appearance order of groups.
    assert list(index.group_ids) == list(dict.fromkeys(uids))

    adv = np.asarray(flat.flat_advantages(scores, group_ids=uids))
    counts = {u: uids.count(u) for u in uids}
    big = [i for i, u in enumerate(uids) if counts[u] >= 2]
    ref = _verl_grpo_reference(scores, uids)
    np.testing.assert_allclose(adv[big], ref[big], rtol=1e-3, atol=1e-4)
    # Singleton groups carry no learning signal here (verl would pass r through).
    singles = [i for i, u in enumerate(uids) if counts[u] == 1]
    np.testing.assert_array_equal(adv[singles], 0.0)


def test_rollouts_from_flat_ragged_and_objective_round_trip():
    uids = np.array([7, 7, 3, 7, 3, 9])
    correct = np.array([1, 0, 1, 1, 0, 1], np.float32)
    conf = np.array([0.9, 0.2, 0.6, 0.8, 0.1, 0.5], np.float32)
    rubric = np.array([[1, 0], [0, 0], [1, 1], [1, 1], [0, 1], [1, 0]], bool)
    r, index = flat.rollouts_from_flat(correct, conf, rubric, group_ids=uids)
    assert r.shape == (3, 3)
    np.testing.assert_array_equal(r.mask, [[1, 1, 1], [1, 1, 0], [1, 0, 0]])
    assert np.asarray(r.rubric).shape == (3, 3, 2)
    objective = rd.compose(correct=rd.terms.Correctness(), brier=rd.terms.Brier())
    out = objective(r)
    total_flat = np.asarray(flat.to_flat(out.total, index))
    np.testing.assert_allclose(total_flat, correct - (conf - correct) ** 2, rtol=1e-6)
    adv = np.asarray(flat.to_flat(rd.advantages.grpo(out.total, mask=out.accepted), index))
    ref = _verl_grpo_reference(total_flat, list(uids))
    np.testing.assert_allclose(adv[:5], ref[:5], rtol=1e-4, atol=1e-5)
    assert adv[5] == 0.0  # uid 9 is alone


def test_token_rewards_and_even_groups_have_no_mask():
    tok = np.arange(8 * 3, dtype=np.float32).reshape(8, 3)
    tmask = tok % 2 == 0
    r, index = flat.rollouts_from_flat(
        np.ones(8), token_rewards=tok, token_mask=tmask, group_size=4
    )
    assert r.mask is None and np.asarray(r.token_rewards).shape == (2, 4, 3)
    np.testing.assert_array_equal(np.asarray(r.token_mask).reshape(8, 3), tmask)


def test_flat_advantages_mask_and_estimators():
    rewards = np.array([1.0, 0.0, 1.0, 5.0, 2.0, 0.0], np.float32)
    keep = np.array([True, True, True, False, True, True])
    got = np.asarray(
        flat.flat_advantages(rewards, group_size=3, mask=keep, estimator=rd.advantages.dr_grpo)
    )
    np.testing.assert_allclose(got, [1 / 3, -2 / 3, 1 / 3, 0.0, 1.0, -1.0], rtol=1e-6)
    rloo = np.asarray(flat.flat_advantages(rewards, group_size=3, estimator=rd.advantages.rloo))
    np.testing.assert_allclose(rloo[:3], [0.5, -1.0, 0.5], rtol=1e-6)


def test_gathers_run_under_jit():
    index = flat.flat_index(["b", "a", "b", "a"])
    x = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    grouped = jax.jit(lambda v: flat.to_grouped(v, index))(x)
    np.testing.assert_array_equal(grouped, [[1.0, 3.0], [2.0, 4.0]])
    np.testing.assert_array_equal(jax.jit(lambda g: flat.to_flat(g, index))(grouped), x)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="exactly one of group_ids"):
        flat.flat_index()
    with pytest.raises(ValueError, match="exactly one of group_ids"):
        flat.flat_index([0, 0], group_size=2)
    with pytest.raises(ValueError, match="group_size must be a positive integer"):
        flat.flat_index(group_size=0, num_samples=4)
    with pytest.raises(ValueError, match="group_size must be a positive integer"):
        flat.flat_index(group_size=2.0, num_samples=4)
    with pytest.raises(ValueError, match="multiple of group_size=3"):
        flat.flat_index(group_size=3, num_samples=4)
    with pytest.raises(ValueError, match=r"shape \[N\]"):
        flat.flat_index(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="comparable"):
        flat.flat_index(np.array([1, "a"], dtype=object))
    index = flat.flat_index(group_size=2, num_samples=4)
    with pytest.raises(ValueError, match="N = 4"):
        flat.to_grouped(np.zeros(3), index)
    with pytest.raises(ValueError, match=r"\[P, G, ...\] = \[2, 2\]"):
        flat.to_flat(np.zeros((4,)), index)
    with pytest.raises(ValueError, match="Rollouts.confidence must lie in"):
        flat.rollouts_from_flat(np.ones(4), np.full(4, 1.5), group_size=2)
    with pytest.raises(ValueError, match="mask must be a boolean"):
        flat.flat_advantages(np.zeros(4), group_size=2, mask=np.ones(4))


def test_field_errors_name_the_field():
    # a field of the wrong length is named (not "values")
    with pytest.raises(ValueError, match=r"rollouts_from_flat: confidence must have shape \[N"):
        flat.rollouts_from_flat([1.0, 0.0, 1.0, 0.0], confidence=[0.5, 0.5, 0.5], group_size=2)
    with pytest.raises(ValueError, match="rollouts_from_flat: rubric must have shape"):
        flat.rollouts_from_flat(np.ones(4), rubric=np.ones((3, 2), bool), group_size=2)
    with pytest.raises(ValueError, match=r"correct must have shape \[N\] with N >= 1"):
        flat.rollouts_from_flat(np.ones((2, 2)), group_size=2)
    with pytest.raises(ValueError, match="correct must be a rectangular array"):
        flat.rollouts_from_flat([[1.0], [1.0, 0.0]], group_size=1)
    with pytest.raises(TypeError, match="flat_advantages: rewards must hold real numbers"):
        flat.flat_advantages(np.array(["a", "b"]), group_size=2)
    with pytest.raises(TypeError, match="flat_advantages: estimator must be a function"):
        flat.flat_advantages(np.zeros(4), group_size=2, estimator="grpo")
    with pytest.raises(TypeError, match="estimator_kwargs must be hashable"):
        flat.flat_advantages(np.zeros(4), group_size=2, eps=np.zeros(1))
    with pytest.raises(TypeError, match="to_grouped: index must be a FlatIndex"):
        flat.to_grouped(np.zeros(4), {"rows": [0]})
    with pytest.raises(TypeError, match="num_samples must be an integer"):
        flat.flat_index(group_size=2, num_samples="4")


def test_cpu_torch_tensors_are_accepted_without_conversion_by_the_caller():
    torch = pytest.importorskip("torch")
    rewards = torch.tensor([1.0, 0.0, 0.5, 0.5])
    adv = flat.flat_advantages(rewards, group_size=2, estimator=rd.advantages.dr_grpo)
    np.testing.assert_allclose(adv, [0.5, -0.5, 0.0, 0.0])
    r, _ = flat.rollouts_from_flat(torch.tensor([1, 0, 1, 1]), group_size=2)
    np.testing.assert_array_equal(np.asarray(r.correct), [[1, 0], [1, 1]])
