"""The gating study's advantages against an independent numpy computation.

Each GRPO step of the study takes ``(out, mask) = evaluate_objective(objective, rollouts)``
and ``rd.advantages.grpo(out.total, mask=mask)``. For ``Gated(on_reject="floor")`` the
members that enter the group statistics are *every* valid member of a kept group (the
floored rejections included), not ``out.accepted``; with ``"drop"`` only the accepted ones.
Here both, and the dense arm, are recomputed from the rubric and token rewards in numpy.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reward_design as rd
from reward_design_studies.gating import ARMS
from reward_design_studies.gating.environment import EOS, SEQ_LEN, VOCAB, make_env, make_rollouts
from reward_design_studies.gating.objectives import make_objective
from reward_design_studies.gating.rubric import ITEM_WEIGHTS, rubric_checks
from reward_design_studies.gating.training import evaluate_objective

P, G = 12, 4


def _numpy_advantages(arm: str, checks: np.ndarray, token_sum: np.ndarray) -> np.ndarray:
    passed = checks[..., 0] & checks[..., 1]  # the Essential([0, 1]) gate
    if arm == "dense":
        w = ITEM_WEIGHTS.astype(np.float64)
        total = checks.astype(np.float64) @ w / w.sum() + token_sum
        members = np.ones_like(passed)
    else:
        total = np.where(passed, token_sum, 0.0) if arm == "gated_floor" else token_sum
        signal = np.ones_like(passed) if arm == "gated_floor" else passed
        # GroupFilter(min_accepted=1, drop_degenerate=True)
        keep = np.array(
            [passed[i].any() and np.ptp(total[i][signal[i]]) > 1e-9 for i in range(total.shape[0])]
        )
        members = signal & keep[:, None]
    adv = np.zeros_like(total)
    for i in range(total.shape[0]):
        x = total[i][members[i]]
        if x.size:
            sd = x.std(ddof=1) if x.size > 1 else 0.0
            adv[i][members[i]] = (x - x.mean()) / (sd + 1e-6)
    return adv


def _responses(reference: np.ndarray) -> np.ndarray:
    """Per prompt a mix of the reference, light and heavy corruption; EOS-padded."""
    rng = np.random.default_rng(0)
    rate = rng.choice([0.0, 0.1, 0.3, 1.0], size=(P, G, 1))
    noise = rng.integers(0, VOCAB, (P, G, SEQ_LEN))
    tokens = np.where(rng.random((P, G, SEQ_LEN)) < rate, noise, reference[:, None])
    after = np.cumsum(tokens == EOS, axis=-1) > 0
    pad = np.concatenate([np.zeros((P, G, 1), bool), after[..., :-1]], -1)
    return np.where(pad, EOS, tokens)


@pytest.mark.parametrize("arm", ARMS)
def test_study_advantages_match_numpy(arm):
    env = make_env(jax.random.key(3), P)
    tokens = jnp.asarray(_responses(np.asarray(env.reference)), jnp.int32)
    checks = rubric_checks(tokens, env.answer[:, None])
    rollouts = make_rollouts(tokens, env, checks)

    out, mask = evaluate_objective(make_objective(arm), rollouts)
    adv = np.asarray(rd.advantages.grpo(out.total, mask=mask))
    token_sum = np.asarray(rollouts.token_rewards, np.float64).sum(-1)
    expected = _numpy_advantages(arm, np.asarray(checks), token_sum)
    np.testing.assert_allclose(adv, expected, atol=2e-5)

    passed = np.asarray(checks[..., 0] & checks[..., 1])
    assert 0 < passed.sum() < passed.size  # the case is not degenerate
    if arm == "gated_floor":
        # floored rejections in kept groups carry (negative) advantage: the mask is
        # Gated.evaluate's, not out.accepted
        rejected_in_update = np.asarray(mask) & ~passed
        assert rejected_in_update.any()
        assert np.all(adv[rejected_in_update] < 0)


def test_rollouts_carry_the_judged_checks_and_the_token_signal():
    env = make_env(jax.random.key(5), P)
    tokens = jnp.asarray(_responses(np.asarray(env.reference)), jnp.int32)
    judged = ~rubric_checks(tokens, env.answer[:, None])  # any [P, G, K] verdicts
    r = make_rollouts(tokens, env, judged)
    np.testing.assert_array_equal(np.asarray(r.rubric), np.asarray(judged, np.float32))
    np.testing.assert_array_equal(np.asarray(r.correct), np.asarray(judged[..., 0], np.float32))
    # token signal: agreement with the prompt's reference on tokens up to the first EOS
    tok, ref = np.asarray(tokens), np.asarray(env.reference)
    first_eos = np.where((tok == EOS).any(-1), (tok == EOS).argmax(-1), SEQ_LEN)
    valid = np.arange(SEQ_LEN) <= first_eos[..., None]
    np.testing.assert_array_equal(np.asarray(r.token_mask), valid)
    want = ((tok == ref[:, None]) & valid) / SEQ_LEN
    np.testing.assert_allclose(np.asarray(r.token_rewards), want, rtol=1e-7)
