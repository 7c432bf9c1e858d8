"""The LM lab's custom-loss trainer (`fit`) and slot distributions."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from reward_design_studies import lm
from reward_design_studies.lm.warmstart import FAST_COMPILE, supervised_loss

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
TRACES = []


def _weighted_nll(arm, params, reference, key):
    """``arm["w"]`` x the warm-start loss on a minibatch drawn from ``key``."""
    TRACES.append(1)
    del reference
    batch = TASK.sample_prompts(key, 16, "train")
    nll = supervised_loss(TINY, params, batch.tokens, TASK.reference(key, batch))
    return arm["w"] * nll, {"nll": nll}


@pytest.mark.slow
def test_fit_shares_one_compile_start_and_key_stream_across_arms():
    init = lm.init_params(TINY, [0, 1])
    arms = [{"w": 0.0}, {"w": 1.0}, {"w": 2.0}]
    runs = lm.fit(
        _weighted_nll,
        arms,
        init_params=init,
        seeds=[0, 1],
        steps=30,
        learning_rate=3e-3,
        fast_compile=True,
    )
    assert len(TRACES) == 1  # one compile for the three arms
    nll = [r.metrics["nll"] for r in runs]  # [S, steps]
    np.testing.assert_array_equal(nll[0][:, 0], nll[1][:, 0])  # same start, same minibatch
    np.testing.assert_array_equal(nll[0][:, 0], nll[2][:, 0])
    for a, b in zip(
        jax.tree_util.tree_leaves(runs[0].params), jax.tree_util.tree_leaves(init), strict=True
    ):
        np.testing.assert_array_equal(a, b)  # weight 0: no gradient, no move
    assert np.all(nll[1][:, -5:].mean(1) < 0.8 * nll[1][:, :5].mean(1))
    with pytest.raises(ValueError, match="learning_rate"):
        lm.fit(_weighted_nll, arms, init_params=init, seeds=[0], steps=1, learning_rate=0.0)


def test_slot_distribution_equals_prefix_computation():
    params = jax.jit(TINY.init, compiler_options=FAST_COMPILE)(jax.random.key(0))
    fmt = TASK.format

    def run(ids, answer, level):
        prompts = TASK.prompt_tokens(ids)
        comps = fmt.render(answer, level, TASK.completion_len, prompts[:, 1:])
        conf = lm.slot_distribution(TINY, params, fmt, prompts, comps, "confidence")
        ans = lm.slot_distribution(TINY, params, fmt, prompts, comps, "answer")
        return prompts, comps, conf, ans, fmt.parse(comps).reasoning_length

    ids, answer, level = np.array([0, 5, 9, 17, 30, 35]), np.arange(6) % 3, np.arange(6)
    fast_run = jax.jit(run, compiler_options=FAST_COMPILE)
    prompts, comps, conf, ans, reasoning = fast_run(ids, answer, level)
    logits = jax.jit(TINY.logits, compiler_options=FAST_COMPILE)
    values = np.asarray(fmt.confidence_values)
    for b in range(6):
        r = int(reasoning[b])
        for dist, offset, words in ((conf, 3, fmt.confidences), (ans, 1, fmt.answers)):
            prefix = np.concatenate([prompts[b], comps[b, : r + offset]])[None]
            z = np.asarray(logits(params, prefix)[0, -1], np.float64)
            sub = z[TASK.tokenizer.ids(words)] - np.log(np.exp(z - z.max()).sum()) - z.max()
            np.testing.assert_allclose(dist.probs[b], np.exp(sub) / np.exp(sub).sum(), atol=1e-5)
            np.testing.assert_allclose(dist.mass[b], np.exp(sub).sum(), rtol=1e-4)
        p = np.asarray(conf.probs[b])
        np.testing.assert_allclose(conf.mean[b], p @ values, atol=1e-6)
        np.testing.assert_allclose(conf.std[b], np.sqrt(p @ values**2 - (p @ values) ** 2), 1e-4)
    assert np.asarray(conf.valid).all()
    with pytest.raises(ValueError, match="slot must be"):
        lm.slot_distribution(TINY, params, fmt, prompts, comps, "reasoning")
