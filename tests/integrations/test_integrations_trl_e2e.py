"""End to end: TRL's GRPOTrainer trains a tiny random model on CPU with our reward.

Needs the optional ``trl`` extra (trl, transformers, datasets and the CPU
build of torch); skipped cleanly without it. Nothing is downloaded: the
model is a randomly initialised 1-layer GPT-2 and the tokenizer a word-level
vocabulary built here. Some vocabulary entries are whole answer/confidence
fragments, so that a random policy emits a mix of valid, invalid, correct and
wrong completions within three tokens.
"""

from __future__ import annotations

import numpy as np
import pytest

import reward_design as rd
from reward_design.integrations import exact_match, parse_answer_confidence

pytestmark = pytest.mark.slow

_WORDS = [
    "[PAD]",
    "[UNK]",
    "[EOS]",
    "what",
    "is",
    "two",
    "plus",
    "<answer>4</answer><confidence>0.9</confidence>",
    "<answer>4</answer><confidence>0.3</confidence>",
    "<answer>5</answer><confidence>0.8</confidence>",
    "<answer>5</answer>",
    "<answer>4</answer>",
    "hmm",
    "<confidence>0.6</confidence>",
    "<confidence>7</confidence>",
]


def _tiny_model_and_tokenizer():
    tokenizers = pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    vocab = {w: i for i, w in enumerate(_WORDS)}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]"
    )
    config = transformers.GPT2Config(
        vocab_size=len(_WORDS),
        n_positions=32,
        n_embd=16,
        n_layer=1,
        n_head=2,
        bos_token_id=vocab["[EOS]"],
        eos_token_id=vocab["[EOS]"],
        pad_token_id=vocab["[PAD]"],
    )
    return transformers.GPT2LMHeadModel(config), tokenizer


def _objective_on_completions(objective, completions, truth):
    """Independent recomputation: parse, match, JAX objective on [N, 1] arrays."""
    parsed = [parse_answer_confidence(c) for c in completions]
    valid = np.array([a is not None and p is not None for a, p in parsed])
    correct = np.array(
        [
            float(exact_match(a, truth)) if v else 0.0
            for (a, _), v in zip(parsed, valid, strict=True)
        ],
        np.float32,
    )
    conf = np.array([p if v else 0.0 for (_, p), v in zip(parsed, valid, strict=True)], np.float32)
    out = objective(rd.Rollouts(correct=correct[:, None], confidence=conf[:, None]).validate())
    total = np.where(valid, np.asarray(out.total)[:, 0], -1.0)
    comps = {k: np.where(valid, np.asarray(v)[:, 0], 0.0) for k, v in out.components.items()}
    return total, comps, valid


def test_grpo_trainer_logs_our_objective(tmp_path):
    pytest.importorskip("torch")
    trl = pytest.importorskip("trl")
    datasets = pytest.importorskip("datasets")
    from transformers import set_seed

    set_seed(0)
    model, tokenizer = _tiny_model_and_tokenizer()
    dataset = datasets.Dataset.from_dict(
        {"prompt": ["what is two plus two"] * 16, "solution": ["4"] * 16, "level": [1] * 16}
    )
    objective = rd.compose(correct=rd.terms.Correctness(), brier=rd.terms.Brier(weight=0.5))
    total_fn = rd.integrations.trl.reward_func(objective, answer_key="solution")
    parts = rd.integrations.trl.component_reward_funcs(objective, answer_key="solution", name="rd")
    args = trl.GRPOConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=8,
        num_generations=4,
        max_completion_length=3,
        max_steps=2,
        learning_rate=1e-3,
        logging_steps=1,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        bf16=False,
        seed=0,
        # Train on the total only; the components are logged with weight 0.
        reward_weights=[1.0] + [0.0] * len(parts),
    )
    trainer = trl.GRPOTrainer(
        model=model,
        reward_funcs=[total_fn, *parts],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    trainer.train()

    completions = list(trainer._logs["completion"])
    logged = np.array(trainer._logs["rewards"][total_fn.__name__])
    assert len(completions) == len(logged) == 8
    expected, comps, valid = _objective_on_completions(objective, completions, "4")
    assert 0 < valid.sum() < len(valid), completions  # a mix of valid and invalid text
    np.testing.assert_allclose(logged, expected, rtol=1e-6, atol=1e-7)
    for name in ("correct", "brier"):
        np.testing.assert_allclose(
            trainer._logs["rewards"][f"rd/{name}"], comps[name], rtol=1e-6, atol=1e-7
        )
    summed = sum(np.array(trainer._logs["rewards"][f.__name__]) for f in parts)
    np.testing.assert_allclose(summed, logged, rtol=1e-6, atol=1e-7)

    history = [h for h in trainer.state.log_history if f"rewards/{total_fn.__name__}/mean" in h]
    assert len(history) == 2  # both steps logged our reward
    assert history[-1][f"rewards/{total_fn.__name__}/mean"] == pytest.approx(
        float(np.mean(logged)), rel=1e-5, abs=1e-6
    )
    assert history[-1]["correct+brier/valid_fraction"] == pytest.approx(valid.mean())
