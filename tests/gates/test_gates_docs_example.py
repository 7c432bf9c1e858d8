"""The worked example of docs/gates.md: every number there, recomputed."""

import numpy as np
import pytest

import reward_design as rd


@pytest.fixture
def example():
    rubric = np.array(
        [
            [[1, 1, 1], [1, 1, 0], [0, 1, 1], [1, 1, 1]],
            [[0, 1, 1], [1, 0, 1], [0, 0, 1], [1, 1, 0]],
        ],
        bool,
    )
    tokens = np.array([[0.6, 0.9, 0.8, 0.2], [0.7, 0.3, 0.9, 0.5]], np.float32)[..., None]
    r = rd.Rollouts(correct=np.zeros((2, 4)), rubric=rubric, token_rewards=tokens).validate()
    inner = rd.compose(tokens=rd.terms.TokenReward())
    return r, inner


def test_dense_column(example, np_grpo):
    r, _ = example
    dense = rd.compose(rubric=rd.terms.RubricScore(), tokens=rd.terms.TokenReward())
    out = dense(r)
    want = np.array([[1.6, 1.5667, 1.4667, 1.2], [1.3667, 0.9667, 1.2333, 1.1667]])
    np.testing.assert_allclose(np.asarray(out.total), want, atol=1e-3)
    adv = np.asarray(rd.advantages.grpo(out.total))
    np.testing.assert_allclose(adv[0], [0.781, 0.598, 0.046, -1.425], atol=1e-3)
    np.testing.assert_allclose(adv[1], [1.1, -1.3, 0.3, -0.1], atol=1e-3)
    np.testing.assert_allclose(adv, np_grpo(want, np.ones((2, 4), bool)), atol=2e-3)


def test_floor_and_drop_columns(example):
    r, inner = example
    floor = rd.gates.Gated(rd.gates.AllOf(), inner, on_reject="floor")
    drop = rd.gates.Gated(rd.gates.AllOf(), inner, on_reject="drop")
    fo, do = floor(r), drop(r)
    np.testing.assert_allclose(np.asarray(fo.total), [[0.6, 0, 0, 0.2], [0, 0, 0, 0]], atol=1e-6)
    np.testing.assert_allclose(
        np.asarray(do.total), [[0.6, 0.9, 0.8, 0.2], [0.7, 0.3, 0.9, 0.5]], atol=1e-6
    )
    af = np.asarray(rd.advantages.grpo(fo.total, mask=r.valid_mask))
    ad = np.asarray(rd.advantages.grpo(do.total, mask=do.accepted))
    np.testing.assert_allclose(af, [[1.414, -0.707, -0.707, 0.0], [0, 0, 0, 0]], atol=1e-3)
    np.testing.assert_allclose(ad, [[0.707, 0, 0, -0.707], [0, 0, 0, 0]], atol=1e-3)
    assert float(fo.stats["gate/pass_rate"]) == 0.25
    assert float(fo.stats["gate/groups_kept"]) == 1.0
    assert float(do.stats["gate/groups_kept"]) == 0.5


@pytest.mark.parametrize("mode", ["floor", "drop"])
def test_group_filter_paragraph(example, mode):
    r, inner = example
    gated = rd.gates.Gated(
        rd.gates.AllOf(), inner, on_reject=mode, group_filter=rd.gates.GroupFilter()
    )
    out = gated(r)
    assert float(out.stats["gate/groups_below_min"]) == 0.5
    assert float(out.stats["gate/groups_degenerate"]) == 0.5
    assert float(out.stats["gate/groups_kept"]) == 0.5
    if mode == "floor":
        assert float(out.stats["gate/rollouts_in_update"]) == 0.5
