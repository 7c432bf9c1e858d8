"""Group-relative advantages vs per-group numpy references (masks, ragged groups)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from reward_design import advantages as adv


def _ref(rewards, mask, kind, eps=1e-6, ddof=1):
    """Loops over groups with numpy: the independent reference."""
    out = np.zeros_like(rewards, dtype=np.float64)
    for i in range(rewards.shape[0]):
        idx = np.flatnonzero(mask[i])
        r = rewards[i, idx].astype(np.float64)
        n = r.size
        if n == 0:
            continue
        if kind == "grpo":
            std = np.std(r, ddof=ddof) if n > ddof else 0.0
            out[i, idx] = (r - r.mean()) / (std + eps)
        elif kind == "dr_grpo":
            out[i, idx] = r - r.mean()
        elif kind == "rloo":
            if n > 1:
                out[i, idx] = [r[j] - np.delete(r, j).mean() for j in range(n)]
    return out


def _data(seed=0, p=7, g=6):
    rng = np.random.default_rng(seed)
    rewards = rng.normal(size=(p, g)).astype(np.float32)
    mask = rng.uniform(size=(p, g)) > 0.3
    mask[0] = False  # empty group
    mask[1] = False
    mask[1, 2] = True  # single valid member
    rewards[2] = 0.7  # constant group
    mask[2] = True
    return rewards, mask


@pytest.mark.parametrize("kind", ["grpo", "dr_grpo", "rloo"])
@pytest.mark.parametrize("jit", [False, True])
def test_matches_reference_with_ragged_masks(kind, jit):
    rewards, mask = _data()
    fn = getattr(adv, kind)
    if jit:
        fn = jax.jit(fn)
    got = np.asarray(fn(rewards, mask))
    np.testing.assert_allclose(got, _ref(rewards, mask, kind), rtol=1e-5, atol=1e-5)
    assert np.all(np.isfinite(got))
    assert np.all(got[~mask] == 0)
    assert np.all(got[:3] == 0)  # empty, single-member and constant groups


@pytest.mark.parametrize("kind", ["grpo", "dr_grpo", "rloo"])
def test_no_mask_means_all_valid(kind):
    rewards, _ = _data(seed=3)
    fn = getattr(adv, kind)
    np.testing.assert_allclose(fn(rewards), fn(rewards, np.ones(rewards.shape, bool)), atol=1e-6)


def test_grpo_ddof_and_eps():
    rewards, mask = _data(seed=1)
    for ddof in (0, 1):
        np.testing.assert_allclose(
            adv.grpo(rewards, mask, eps=0.1, ddof=ddof),
            _ref(rewards, mask, "grpo", eps=0.1, ddof=ddof),
            rtol=1e-5,
            atol=1e-5,
        )


def test_grpo_scale_modes():
    rewards, mask = _data(seed=2)
    np.testing.assert_allclose(adv.grpo(rewards, mask, scale="none"), adv.dr_grpo(rewards, mask))
    valid = rewards[mask].astype(np.float64)
    centred = _ref(rewards, mask, "dr_grpo")
    expected = centred / (np.std(valid, ddof=1) + 1e-6)
    np.testing.assert_allclose(adv.grpo(rewards, mask, scale="batch"), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="scale must be"):
        adv.grpo(rewards, mask, scale="token")


def test_rloo_identity():
    # RLOO advantage = n / (n - 1) * (r - mean) for full groups of size n.
    rewards = np.random.default_rng(5).normal(size=(4, 8))
    np.testing.assert_allclose(
        adv.rloo(rewards), 8 / 7 * (rewards - rewards.mean(1, keepdims=True)), rtol=1e-5, atol=1e-5
    )


def test_group_statistics_match_numpy():
    rewards = np.random.default_rng(6).normal(size=(5, 9)).astype(np.float32)
    np.testing.assert_allclose(adv.group_mean(rewards)[:, 0], rewards.mean(1), rtol=1e-5)
    np.testing.assert_allclose(adv.group_std(rewards)[:, 0], rewards.std(1, ddof=1), rtol=1e-5)


def test_gradients_are_finite_on_constant_groups():
    rewards = jnp.ones((2, 4))
    g = jax.grad(lambda r: jnp.sum(adv.grpo(r) * jnp.arange(4.0)))(rewards)
    assert np.all(np.isfinite(np.asarray(g)))


@pytest.mark.parametrize(
    "kind, kwargs",
    [
        ("grpo", {}),
        ("grpo", {"scale": "batch"}),
        ("grpo", {"scale": "none"}),
        ("dr_grpo", {}),
        ("rloo", {}),
    ],
)
def test_nan_in_masked_members_reaches_neither_values_nor_gradients(kind, kwargs):
    rewards, mask = _data(seed=4)
    dirty = rewards.copy()
    dirty[~mask] = np.nan
    fn = getattr(adv, kind)

    def loss(r):
        return jnp.sum(fn(r, mask, **kwargs) * jnp.arange(1.0, 7.0))

    np.testing.assert_array_equal(fn(dirty, mask, **kwargs), fn(rewards, mask, **kwargs))
    g_dirty = np.asarray(jax.grad(loss)(jnp.asarray(dirty)))
    g_clean = np.asarray(jax.grad(loss)(jnp.asarray(rewards)))
    assert np.all(np.isfinite(g_dirty))
    np.testing.assert_allclose(g_dirty, g_clean, rtol=1e-5, atol=1e-6)
    assert np.all(g_dirty[~mask] == 0)


@pytest.mark.parametrize("stat", ["group_mean", "group_std"])
def test_group_statistics_ignore_nan_in_masked_members(stat):
    rewards, mask = _data(seed=5)
    dirty = rewards.copy()
    dirty[~mask] = np.nan
    fn = getattr(adv, stat)
    np.testing.assert_array_equal(fn(dirty, mask), fn(rewards, mask))
    g = np.asarray(jax.grad(lambda r: jnp.sum(fn(r, mask)))(jnp.asarray(dirty)))
    assert np.all(np.isfinite(g))
    assert np.all(g[~mask] == 0)


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.zeros(4),), r"rewards must have shape \[P, G\]"),
        ((np.zeros((2, 3)), np.ones((3, 2), bool)), "mask must have the shape"),
        ((np.zeros((2, 3)), np.ones((2, 3))), "mask must be boolean"),
    ],
)
@pytest.mark.parametrize("kind", ["grpo", "dr_grpo", "rloo"])
def test_bad_input(kind, args, match):
    with pytest.raises(ValueError, match=f"{kind}: {match}"):
        getattr(adv, kind)(*args)


@pytest.mark.parametrize(
    "args, error, match",
    [
        (([["a", "b"]],), TypeError, "rewards must hold real numbers; got dtype <U1"),
        (([[1.0, 2.0], [1.0]],), ValueError, "rewards must be a rectangular array"),
        ((None,), TypeError, "rewards must be an array of real numbers"),
        ((np.zeros((1, 2), complex),), TypeError, "rewards must hold real numbers"),
        ((np.zeros((1, 2)), [[True], [False, True]]), ValueError, "mask must be a rectangular"),
        ((np.zeros((1, 2)), "mask"), ValueError, "mask must be a boolean array"),
    ],
)
@pytest.mark.parametrize("kind", ["grpo", "dr_grpo", "rloo", "group_mean", "group_std"])
def test_bad_rewards_and_masks_are_named(kind, args, error, match):
    with pytest.raises(error, match=f"{kind}: {match}"):
        getattr(adv, kind)(*args)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(eps=-1.0), ValueError, r"grpo: eps must be in \[0.0, inf\)"),
        (dict(eps="small"), TypeError, "grpo: eps must be a real number"),
        (dict(ddof=0.5), ValueError, "grpo: ddof must be a non-negative integer"),
        (dict(scale=None), ValueError, "grpo: scale must be"),
        (dict(axis_name=3), TypeError, "grpo: axis_name must be a mesh axis name"),
    ],
)
def test_grpo_options_are_checked(kwargs, error, match):
    with pytest.raises(error, match=match):
        adv.grpo(np.zeros((2, 3)), **kwargs)


@given(
    rewards=hnp.arrays(
        np.float32,
        (3, 5),
        elements=st.floats(-100, 100, width=32, allow_nan=False),
    ),
    mask=hnp.arrays(bool, (3, 5)),
)
def test_properties_zero_mean_and_shift_invariance(rewards, mask):
    for kind in ("dr_grpo", "rloo", "grpo"):
        fn = getattr(adv, kind)
        a = np.asarray(fn(rewards, mask), dtype=np.float64)
        # advantages sum to zero within each group, and ignore a constant shift
        np.testing.assert_allclose((a * mask).sum(1), 0.0, atol=1e-2)
        shifted = np.asarray(fn(rewards + np.float32(3.0), mask), dtype=np.float64)
        if kind != "grpo":
            np.testing.assert_allclose(shifted, a, atol=1e-3)


@pytest.mark.parametrize("kind", ["grpo", "dr_grpo", "rloo"])
def test_half_precision_rewards_are_computed_in_float32(kind):
    rewards, mask = _data(seed=4)
    half = jnp.asarray(rewards, jnp.bfloat16)
    got = getattr(adv, kind)(half, mask)
    assert got.dtype == jnp.float32
    ref = _ref(np.asarray(half.astype(jnp.float32)), mask, kind)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def _grpo_float64(rewards, mask, eps=1e-6):
    r64 = rewards.astype(np.float64)
    n = mask.sum(1, keepdims=True)
    mean = np.where(mask, r64, 0).sum(1, keepdims=True) / np.maximum(n, 1)
    var = np.where(mask, (r64 - mean) ** 2, 0).sum(1, keepdims=True) / np.maximum(n - 1, 1)
    return np.where(mask & (n > 1), (r64 - mean) / (np.sqrt(var) + eps), 0.0)


@pytest.mark.parametrize("offset", [0.0, 1e3, 1e5])
def test_grpo_is_accurate_for_large_offsets(offset):
    """The group statistics run on rewards shifted by a group member, so a large common
    offset costs no precision against a float64 two-pass reference computed from the
    same float32 rewards."""
    rng = np.random.default_rng(3)
    spread = rng.uniform(0.01, 1.0, size=(64, 1))
    rewards = (offset + spread * rng.normal(size=(64, 8))).astype(np.float32)
    mask = rng.uniform(size=(64, 8)) < 0.8
    got = np.asarray(adv.grpo(jnp.asarray(rewards), mask=jnp.asarray(mask)))
    np.testing.assert_allclose(got, _grpo_float64(rewards, mask), atol=2e-6, rtol=2e-6)


@pytest.mark.parametrize("group_size", [8, 64, 100, 256])
def test_grpo_accuracy_with_an_outlier_at_the_top(group_size):
    """The worst case of the member shift: the largest member is far from the rest.
    The two-pass group variance keeps the advantages within a few ulps of the largest
    one, whatever the group size."""
    rng = np.random.default_rng(group_size)
    rewards = (0.5 + 1e-3 * rng.normal(size=(128, group_size))).astype(np.float32)
    rewards[:, 0] += 1.0
    mask = np.ones_like(rewards, dtype=bool)
    expected = _grpo_float64(rewards, mask)
    got = np.asarray(adv.grpo(jnp.asarray(rewards), mask=jnp.asarray(mask)))
    assert np.abs(got - expected).max() <= 8 * 2.0**-24 * np.abs(expected).max()


def test_rloo_lone_member_has_zero_gradient():
    """A lone valid member's advantage is identically 0, so is its gradient."""
    rewards = jnp.asarray([[0.3, 0.9, 0.1], [0.5, 0.2, 0.8]], jnp.float32)
    mask = jnp.asarray([[True, False, False], [True, True, True]])
    g = np.asarray(jax.grad(lambda r: jnp.sum(adv.rloo(r, mask) * jnp.arange(1.0, 4.0)))(rewards))
    assert np.all(g[0] == 0)
    # full group of 3: dA_j/dr_i = 3/2 (delta_ij - 1/3), weights 1, 2, 3
    np.testing.assert_allclose(g[1], 1.5 * (np.arange(1.0, 4.0) - 2.0), rtol=1e-6)


@pytest.mark.parametrize("estimator", [adv.grpo, adv.dr_grpo, adv.rloo])
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_a_non_finite_valid_reward_is_not_hidden(estimator, bad):
    """Every estimator lets a valid member's non-finite reward show (lone or not),
    ignores non-finite masked-out rewards, and leaves other groups untouched."""
    rewards = np.array(
        [[bad, 0.0, 0.0], [bad, 1.0, 2.0], [1.0, 2.0, bad], [3.0, 0.0, 0.0]], np.float32
    )
    mask = np.array([[True, False, False], [True, True, False], [True, True, False], [True] * 3])
    out = np.asarray(estimator(rewards, mask=mask))
    assert not np.isfinite(out[0, 0]) and np.all(out[0, 1:] == 0)  # lone member
    assert not np.all(np.isfinite(out[1, :2])) and out[1, 2] == 0
    clean = np.asarray(estimator(rewards[2:3, :2], mask=mask[2:3, :2]))
    np.testing.assert_array_equal(out[2, :2], clean[0])  # masked-out bad reward: no effect
    assert out[2, 2] == 0
    np.testing.assert_array_equal(out[3], np.asarray(estimator(rewards[3:], mask=mask[3:]))[0])
