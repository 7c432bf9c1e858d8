"""Hypothesis properties: masked-out members never matter; vmap sweeps the floor."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import reward_design as rd
from reward_design.gates import AllOf, AtLeast, Essential, Gated, GroupFilter, WeightedThreshold

GATES = [
    AllOf(),
    AtLeast(2),
    WeightedThreshold([1.0, -0.5, 2.0], 1.0),
    Essential([2], rest=AtLeast(1)),
    ~AtLeast(3) | Essential([0]),
]


@st.composite
def batches(draw):
    # fixed shapes: eager JAX ops then reuse their compiled kernels across examples
    p, g = 3, 4
    rubric = draw(hnp.arrays(bool, (p, g, 3)))
    tokens = draw(
        hnp.arrays(np.float32, (p, g, 1), elements=st.sampled_from([0.0, 0.25, 0.5, 1.0]))
    )
    mask = draw(hnp.arrays(bool, (p, g)))
    noise_rubric = draw(hnp.arrays(bool, (p, g, 3)))
    noise_tokens = draw(hnp.arrays(np.float32, (p, g, 1), elements=st.floats(-5, 5, width=32)))
    return rubric, tokens, mask, noise_rubric, noise_tokens


@given(
    batches(),
    st.sampled_from(range(len(GATES))),
    st.sampled_from(["floor", "drop"]),
    st.booleans(),
)
def test_masked_out_members_never_matter(batch, gate_index, mode, use_filter):
    rubric, tokens, mask, noise_rubric, noise_tokens = batch
    gated = Gated(
        GATES[gate_index],
        rd.compose(tokens=rd.terms.TokenReward()),
        on_reject=mode,
        floor=-1.0,
        group_filter=GroupFilter(min_accepted=1) if use_filter else None,
    )
    correct = np.zeros(mask.shape, np.float32)
    clean = rd.Rollouts(correct=correct, rubric=rubric, token_rewards=tokens, mask=mask)
    # same batch, arbitrary garbage in the masked-out members
    noisy = rd.Rollouts(
        correct=correct,
        rubric=np.where(mask[..., None], rubric, noise_rubric),
        token_rewards=np.where(mask[..., None], tokens, noise_tokens),
        mask=mask,
    )
    (a, am), (b, bm) = gated.evaluate(clean), gated.evaluate(noisy)
    np.testing.assert_array_equal(np.asarray(a.accepted), np.asarray(b.accepted))
    np.testing.assert_array_equal(np.asarray(am), np.asarray(bm))
    assert not (np.asarray(a.accepted) & ~mask).any()
    assert not (np.asarray(am) & ~mask).any()
    np.testing.assert_array_equal(np.asarray(a.total)[mask], np.asarray(b.total)[mask])
    adv_a = rd.advantages.grpo(a.total, mask=am)
    adv_b = rd.advantages.grpo(b.total, mask=bm)
    np.testing.assert_allclose(np.asarray(adv_a), np.asarray(adv_b), atol=1e-6)
    for key in a.stats:
        assert float(a.stats[key]) == float(b.stats[key])


def test_vmap_sweeps_floor_without_recompiling(make_batch):
    r = make_batch(seed=1)
    gated = Gated(AllOf(), rd.compose(tokens=rd.terms.TokenReward()), on_reject="floor")
    floors = jnp.array([-2.0, -1.0, 0.0])
    totals = jax.vmap(lambda f: gated.replace(floor=f)(r).total)(floors)
    valid = np.asarray(r.valid_mask)
    rejected = valid & ~np.asarray(r.rubric).all(-1)
    for i, f in enumerate([-2.0, -1.0, 0.0]):
        np.testing.assert_array_equal(np.asarray(totals[i])[rejected], f)
        np.testing.assert_array_equal(
            np.asarray(totals[i])[~rejected], np.asarray(gated(r).total)[~rejected]
        )
