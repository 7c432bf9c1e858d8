"""Review check: the gating study's advantages against an independent numpy computation.

The GRPO step of `_gating_train` takes ``(out, mask) = evaluate_objective(objective, rollouts)``
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
from reward_design.experiments import _gating_env as genv
from reward_design.experiments import gating
from reward_design.experiments._gating_train import TrainConfig, evaluate_objective, get_trainer

P, G = 12, 4


def _numpy_advantages(arm: str, checks: np.ndarray, token_sum: np.ndarray) -> np.ndarray:
    passed = checks[..., 0] & checks[..., 1]  # the Essential([0, 1]) gate
    if arm == "dense":
        w = genv.ITEM_WEIGHTS.astype(np.float64)
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


@pytest.mark.parametrize("arm", gating.ARMS)
def test_study_advantages_match_numpy(arm):
    trainer = get_trainer(TrainConfig(num_prompts=P, group_size=G, fast_compile=True))
    env = genv.make_env(jax.random.key(3), P)
    rng = np.random.default_rng(0)
    ref = np.asarray(env.reference)
    # per prompt a mix of the reference, light and heavy corruption
    rate = rng.choice([0.0, 0.1, 0.3, 1.0], size=(P, G, 1))
    tokens = np.where(
        rng.random((P, G, genv.SEQ_LEN)) < rate, rng.integers(0, 14, (P, G, 8)), ref[:, None]
    )
    after = np.cumsum(tokens == genv.EOS, axis=-1) > 0
    tokens = np.where(
        np.concatenate([np.zeros((P, G, 1), bool), after[..., :-1]], -1), genv.EOS, tokens
    )
    tokens = jnp.asarray(tokens, jnp.int32)
    checks = genv.rubric_checks(tokens, env.answer[:, None])
    rollouts = trainer._rollouts(tokens, env, checks)

    out, mask = evaluate_objective(gating.make_objective(arm), rollouts)
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
