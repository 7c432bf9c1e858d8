"""Train with TRL's GRPOTrainer on the RLCR objective (correctness + Brier).

    pip install "reward-design[trl]"             # trl; brings torch if you have none
    python examples/trl_grpo_rlcr.py             # offline, CPU, a tiny random model: ~30 s
    python examples/trl_grpo_rlcr.py --model Qwen/Qwen2.5-0.5B-Instruct --steps 200

By default the model is a randomly initialised one-layer GPT-2 with a small
word-level vocabulary built here, so nothing is downloaded and the run shows
the wiring, not learning. With ``--model`` the name is passed to TRL, which
loads it from the Hugging Face hub (or a local folder).

The three choices that matter (docs/integrations.md, "The TRL recipe"):

* ``scale_rewards="none"``: GRPO's per-group std division is switched off.
  TRL's default (``"group"``) divides each group's centred rewards by their
  std; with correctness - Brier, the audit in docs/scoring-rules.md finds that
  this estimator no longer rewards an honest confidence (it pushes stated
  confidence to 0 or 1, and towards answers the policy knows are wrong), and
  in the calibration study (docs/studies/calibration.md) it cost about 20
  points of accuracy where Dr. GRPO and RLOO did not. ``loss_type="dr_grpo"``
  is Dr. GRPO's length-unbiased loss; on its own it does *not* switch the std
  scaling off in TRL 1.16.
* ``rd.integrations.RLCR_SYSTEM_PROMPT``: without an instruction to write
  ``<answer>`` and ``<confidence>`` tags no completion parses, every one gets
  ``invalid_reward``, the rewards of a group are equal and its advantages 0.
* ``rlcr/valid_fraction`` in the logs: the fraction of completions that
  parsed. With an instruction-tuned model it should start well above 0.5 and
  rise towards 1; near 0 means the prompt or the tags are wrong (check one
  completion by hand), and ``frac_reward_zero_std`` near 1 means the groups
  carry no signal. The tiny random model gives whatever its random weights
  give (a mix, by construction of its vocabulary).
"""

from __future__ import annotations

import argparse
import os
import random
import warnings

# The reward computation is tiny: keep JAX on the CPU, so that it neither takes the
# GPU memory the torch trainer needs nor competes with it (docs/integrations.md).
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import reward_design as rd  # noqa: E402

# Whole answer and confidence fragments are single "words" of the tiny model's
# vocabulary, so that a random policy writes valid, invalid, right and wrong
# completions within a few tokens.
_TINY_WORDS = (
    ["[PAD]", "[UNK]", "[EOS]", "<think>", "</think>", "hmm", "so"]
    + [f"<answer>{k}</answer>" for k in range(2, 13)]
    + [f"<confidence>{p}</confidence>" for p in ("0.1", "0.5", "0.9", "1")]
    + ["<confidence>7</confidence>"]  # out of [0, 1]: invalid
)


def addition_dataset(n: int, seed: int = 0):
    """Prompts "What is a + b?" as conversations with the RLCR system prompt."""
    from datasets import Dataset

    rng = random.Random(seed)
    pairs = [(rng.randint(1, 6), rng.randint(1, 6)) for _ in range(n)]
    return Dataset.from_dict(
        {
            "prompt": [
                [
                    {"role": "system", "content": rd.integrations.RLCR_SYSTEM_PROMPT},
                    {"role": "user", "content": f"What is {a} + {b}?"},
                ]
                for a, b in pairs
            ],
            "solution": [str(a + b) for a, b in pairs],
        }
    )


def tiny_model_and_tokenizer():
    """A random one-layer GPT-2 and a word-level tokenizer: no download."""
    import tokenizers
    import transformers

    vocab = {w: i for i, w in enumerate(_TINY_WORDS)}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]"
    )
    # A minimal chat template: the messages' texts, one after the other.
    tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }} {% endfor %}"
    config = transformers.GPT2Config(
        vocab_size=len(vocab),
        n_positions=256,
        n_embd=16,
        n_layer=1,
        n_head=2,
        bos_token_id=vocab["[EOS]"],
        eos_token_id=vocab["[EOS]"],
        pad_token_id=vocab["[PAD]"],
    )
    return transformers.GPT2LMHeadModel(config), tokenizer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="a model name or folder (default: tiny)")
    parser.add_argument("--steps", type=int, default=4, help="optimizer steps (default 4)")
    parser.add_argument("--num-generations", type=int, default=None, help="G (4 tiny, 8 real)")
    parser.add_argument("--max-completion-length", type=int, default=None, help="3 tiny, 512 real")
    parser.add_argument("--brier-weight", type=float, default=1.0)
    parser.add_argument("--output-dir", default="trl_grpo_rlcr_out")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
    import torch
    import trl
    from transformers import set_seed

    set_seed(args.seed)
    tiny = args.model is None
    g = args.num_generations or (4 if tiny else 8)
    if tiny:
        model, tokenizer = tiny_model_and_tokenizer()
    else:
        model, tokenizer = args.model, None  # TRL loads both by name

    # Correctness + Brier (RLCR): rewards in [-1, 1]. A completion that does not parse
    # gets invalid_reward (default -1), as low as a confidently wrong answer
    # (0 - (1 - 0)^2); docs/integrations.md, "When is a completion invalid?".
    objective = rd.compose(
        correct=rd.terms.Correctness(), brier=rd.terms.Brier(weight=args.brier_weight)
    )
    # One function per term, so TRL logs each (rewards/rlcr/correct/mean, ...); TRL sums
    # them, and the sum is the objective's total. Answers are compared as numbers.
    reward_funcs = rd.integrations.trl.component_reward_funcs(
        objective, answer_key="solution", match=rd.integrations.numeric_match, name="rlcr"
    )

    config = trl.GRPOConfig(
        output_dir=args.output_dir,
        scale_rewards="none",  # no per-group std division: see the module docstring
        loss_type="dr_grpo",  # Dr. GRPO's length-unbiased loss
        num_generations=g,
        per_device_train_batch_size=g,  # one prompt group per step
        max_completion_length=args.max_completion_length or (3 if tiny else 512),
        max_steps=args.steps,
        learning_rate=1e-3 if tiny else 1e-6,
        logging_steps=1,
        report_to=[],
        save_strategy="no",
        seed=args.seed,
        use_cpu=tiny or not torch.cuda.is_available(),
        bf16=not tiny and torch.cuda.is_available(),
    )
    trainer = trl.GRPOTrainer(
        model=model,
        reward_funcs=reward_funcs,
        args=config,
        train_dataset=addition_dataset(64, seed=args.seed),
        processing_class=tokenizer,
    )
    trainer.train()

    print("\nstep  reward  valid_fraction  frac_reward_zero_std  correct  brier")
    for h in trainer.state.log_history:
        if "rlcr/valid_fraction" not in h:
            continue
        print(
            f"{h['step']:>4}  {h['reward']:+.3f}  {h['rlcr/valid_fraction']:>14.2f}  "
            f"{h['frac_reward_zero_std']:>20.2f}  {h['rewards/rlcr/correct/mean']:+.3f}  "
            f"{h['rewards/rlcr/brier/mean']:+.3f}"
        )
    last = trainer._logs["completion"][-1] if len(trainer._logs["completion"]) else ""
    print(f"\na completion: {str(last)[:200]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
