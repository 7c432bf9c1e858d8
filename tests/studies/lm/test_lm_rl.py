"""The LM lab's GRPO loop: loss aggregation, one compile per arm structure, learning.

The default run checks the loss aggregations against numpy and that arms
differing in objective weights and every traced hyperparameter share one
compiled program. The slow tests train: the warm start reaches the answer
format, the loop learns a trivial reward, and `train` keeps the arms of a
seed on one start and one random stream across compiled groups.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reward_design as rd
from reward_design_studies import lm
from reward_design_studies.lm.loop import _step_keys
from reward_design_studies.lm.rl import aggregate_loss

TASK = lm.MixtureTask(num_classes=3, dim=2, levels=6)
TINY = lm.Policy(
    lm.TransformerConfig(
        vocab_size=TASK.tokenizer.size,
        max_len=TASK.prompt_len + TASK.completion_len,
        width=16,
        depth=1,
        heads=2,
        mlp_ratio=2,
    )
)


def test_aggregate_loss_matches_numpy():
    rng = np.random.default_rng(0)
    per_token = rng.normal(size=(5, 6)).astype(np.float32)
    mask = rng.random((5, 6)) < 0.6
    mask[3] = False  # a sequence with no counted token (padding)
    per_token[~mask] = np.nan  # never reaches the loss
    got = aggregate_loss(per_token, mask)
    lm_ = np.where(mask, per_token, 0.0)
    seqs = [i for i in range(5) if mask[i].any()]
    np.testing.assert_allclose(got["token_mean"], lm_.sum() / mask.sum(), rtol=1e-6)
    seq_mean = np.mean([lm_[i].sum() / mask[i].sum() for i in seqs])
    np.testing.assert_allclose(got["seq_mean"], seq_mean, rtol=1e-6)
    np.testing.assert_allclose(got["seq_sum"], lm_.sum() / (len(seqs) * 6), rtol=1e-6)


def _objective(correct: float, brier: float):
    return rd.compose(correct=rd.terms.Correctness(correct), brier=rd.terms.Brier(brier))


def test_arms_with_different_objectives_and_hyperparameters_share_one_compile():
    config = lm.RLConfig(num_prompts=4, group_size=4, steps=2, eval_every=2, fast_compile=True)
    prog = lm.rl.Programs(TINY, TASK, config)  # a fresh trace counter
    judge = TASK.judge()
    first = [
        lm.make_arm(_objective(1.0, 1.0), judge),
        lm.make_arm(_objective(1.0, 1.0), judge),  # the same arm: the same numbers
    ]
    second = [
        lm.make_arm(
            _objective(2.0, 0.5), judge, estimator="grpo", loss="token_mean", learning_rate=3e-3
        ),
        lm.make_arm(
            _objective(1.0, 0.0),
            judge,
            estimator="rloo",
            loss="seq_mean",
            kl_coef=0.1,
            temperature=0.8,
            max_grad_norm=0.5,
            group_size=3,
            num_prompts=2,
        ),
    ]
    params = jax.vmap(TINY.init)(jnp.stack([lm.seed_keys(0).init] * 2))
    keys = _step_keys(jnp.stack([lm.seed_keys(0).train] * 2), jnp.arange(2))
    outputs = []
    for arms in (first, second):
        arm = jax.tree_util.tree_map(lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]), *arms)
        (new, _), metrics = prog.chunk(arm, params, params, prog.init_opt(params), keys)
        outputs.append((new, metrics))
    assert prog.chunk_traces == 1
    (same, m_same), (diff, m_diff) = outputs
    for leaf in jax.tree_util.tree_leaves(same):
        np.testing.assert_array_equal(leaf[0], leaf[1])
    assert any(not np.allclose(leaf[0], leaf[1]) for leaf in jax.tree_util.tree_leaves(diff))
    np.testing.assert_array_equal(m_same["reward"][0], m_same["reward"][1])
    assert m_diff["kl"].shape == (2, 2) and np.all(np.isfinite(m_diff["loss"]))
    assert set(m_diff) == {
        "reward", "reward/correct", "reward/brier", "correct", "confidence", "judge/format",
        "judge/success_probability", "judge/bayes_answer", "length", "truncated", "loss",
        "kl", "entropy", "grad_norm", "in_update", "groups_with_signal",
    }  # fmt: skip
    assert np.all((m_diff["truncated"] >= 0) & (m_diff["truncated"] <= 1))


def test_make_arm_and_train_reject_bad_input():
    with pytest.raises(ValueError, match="estimator must be one of"):
        lm.make_arm(_objective(1, 1), TASK.judge(), estimator="ppo")
    with pytest.raises(ValueError, match="loss must be one of"):
        lm.make_arm(_objective(1, 1), TASK.judge(), loss="mean")
    with pytest.raises(ValueError, match="kl_coef"):
        lm.make_arm(_objective(1, 1), TASK.judge(), kl_coef=-1.0)
    with pytest.raises(ValueError, match="multiple of eval_every"):
        lm.RLConfig(steps=10, eval_every=3)
    arm = lm.make_arm(_objective(1, 1), TASK.judge(), kl_coef=0.1)
    with pytest.raises(ValueError, match="RLConfig.kl is False"):
        lm.train(TINY, TASK, [arm], seeds=[0], config=lm.RLConfig(kl=False))
    with pytest.raises(ValueError, match="exceeds RLConfig.group_size"):
        big = lm.make_arm(_objective(1, 1), TASK.judge(), group_size=16)
        lm.train(TINY, TASK, [big], seeds=[0], config=lm.RLConfig(group_size=8))


# ------------------------------------------------------------------- slow
SMALL = lm.Policy(
    lm.TransformerConfig(
        vocab_size=TASK.tokenizer.size,
        max_len=TASK.prompt_len + TASK.completion_len,
        width=32,
        depth=2,
        heads=2,
    )
)


@pytest.mark.slow
def test_warm_start_reaches_the_format_on_heldout_prompts():
    ws = lm.warm_start(SMALL, TASK, [0, 1], steps=200, batch_size=64, learning_rate=3e-3)
    loss = np.asarray(ws.loss)
    assert loss[:, -20:].mean() < 0.5 * loss[:, :5].mean()
    config = lm.RLConfig(eval_samples=4, eval_temperature=1.0)
    arm = lm.make_arm(_objective(1, 1), TASK.judge())
    batch = lm.heldout_batch(TASK, 64)
    before, _ = lm.evaluate(
        SMALL,
        TASK,
        arm,
        lm.init_params(SMALL, [0, 1]),
        seeds=[0, 1],
        config=config,
        eval_batch=batch,
    )
    init = lm.init_params(SMALL, [0, 1])
    after, tokens = lm.evaluate(
        SMALL,
        TASK,
        arm,
        ws.params,
        seeds=[0, 1],
        config=config,
        eval_batch=batch,
        reference_params=init,
    )
    assert before["judge/format"].mean() < 0.05
    assert after["judge/format"].mean() > 0.9  # sampled at temperature 1
    assert tokens.shape == (2, 64, 4, TASK.completion_len)
    # The evaluation's KL to the reference, by direct computation for seed 1.
    seed1 = [jax.tree_util.tree_map(lambda x: x[1], p) for p in (ws.params, init)]
    flat = tokens[1].reshape(-1, TASK.completion_len)
    prompts = np.repeat(np.asarray(batch.tokens), 4, axis=0)
    lp, lp0 = (
        np.asarray(jax.jit(SMALL.completion_log_softmax)(p, prompts, flat), np.float64)
        for p in seed1
    )
    per_token = np.sum(np.exp(lp) * (lp - lp0), axis=-1) * np.asarray(lm.completion_mask(flat))
    np.testing.assert_allclose(after["kl"][1].reshape(-1), per_token.sum(1), rtol=1e-3, atol=1e-3)


@pytest.mark.slow
def test_loop_learns_a_trivial_reward():
    target = TASK.tokenizer.id("A0")
    judge = lm.TokenJudge(target)
    objective = rd.compose(correct=rd.terms.Correctness())
    config = lm.RLConfig(num_prompts=16, group_size=8, steps=60, eval_every=20, eval_samples=4)
    arm = lm.make_arm(objective, judge, learning_rate=3e-3, estimator="grpo")
    (run,) = lm.train(SMALL, TASK, [arm], seeds=[0, 1], config=config, eval_prompts=64)
    curve = run.curve("correct")  # [S, E]: share of completions writing the token
    assert curve.shape == (2, 4)
    assert np.all(curve[:, -1] > 0.9) and np.all(curve[:, -1] > curve[:, 0] + 0.3)


@pytest.mark.slow
def test_train_keeps_one_start_and_one_stream_across_compiled_groups():
    judge = TASK.judge()
    config = lm.RLConfig(
        num_prompts=8, group_size=4, steps=4, eval_every=2, eval_samples=2, fast_compile=True
    )
    ws = lm.warm_start(SMALL, TASK, [0, 1], steps=50, batch_size=32, fast_compile=True)
    a = lm.make_arm(_objective(1.0, 1.0), judge)
    b = lm.make_arm(_objective(1.0, 0.0), judge, kl_coef=0.05)
    # a with an extra zero term: another pytree structure (a second group), same rewards
    a2 = lm.make_arm(
        rd.compose(
            correct=rd.terms.Correctness(), brier=rd.terms.Brier(), zero=rd.terms.Brier(0.0)
        ),
        judge,
    )
    prog = lm.programs(SMALL, TASK, config)
    before = prog.chunk_traces
    runs = lm.train(
        SMALL,
        TASK,
        [a, b, a2],
        seeds=[0, 1],
        config=config,
        init_params=ws.params,
        eval_prompts=32,
    )
    assert prog.chunk_traces - before == 2  # {a, b} and {a2}
    for run in runs:
        np.testing.assert_array_equal(run.init_fingerprint, runs[0].init_fingerprint)
        assert list(run.eval_steps) == [0, 2, 4]
        assert run.train_metrics["reward"].shape == (2, 4)
        assert run.final["correct"].shape == (2, 32, 2)
    np.testing.assert_array_equal(runs[0].final_tokens, runs[2].final_tokens)
    np.testing.assert_array_equal(runs[0].final["correct"], runs[2].final["correct"])
    np.testing.assert_array_equal(runs[0].evals[0]["correct"], runs[1].evals[0]["correct"])
    assert not np.array_equal(runs[0].final_tokens, runs[1].final_tokens)
