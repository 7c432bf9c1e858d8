"""A small language-model lab: tokenizer, Transformer policy, warm start and GRPO loop.

The pieces are separate, so studies combine them (docs/studies/lm-lab.md):

* `tokenizer`: `Tokenizer` over a task vocabulary (``PAD``, ``BOS``, ``EOS``);
* `model`, `policy`: a decoder-only Transformer in Flax and the pure
  functions of its parameters (`Policy`: logits, per-token log-probabilities,
  sampling with a key/value cache in one ``lax.scan``);
* `task`: the `Task` protocol, `PromptBatch`, `Completions`, `PromptSplit`
  (train / held-out prompts);
* `judges`: completions -> `rd.Rollouts` (`AnswerJudge`, `TokenJudge`,
  `TextJudge` on decoded text); `parsing`: `AnswerFormat`
  (``<reasoning> ANSWER a CONF c <eos>``);
* `warmstart`: `seed_keys`, `init_params`, `warm_start` (teacher forcing);
* `arms`, `rl`, `loop`: `RLConfig`, `make_arm`, `train` (GRPO family, one
  compiled program per arm structure), `evaluate`;
* `offline`: `fit`, custom-loss training of arms side by side (KTO, DPO, ...);
* `analysis`: `slot_distribution`, the policy's distribution over the answer
  or confidence words at their slot;
* `demo`: `MixtureTask`, Gaussian-mixture questions with known success
  probabilities.

Names are imported lazily: ``from reward_design_studies.lm import Policy``
loads only what it needs.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Tokenizer": "tokenizer",
    "PAD": "tokenizer",
    "BOS": "tokenizer",
    "EOS": "tokenizer",
    "TransformerConfig": "model",
    "Policy": "policy",
    "Sample": "policy",
    "completion_mask": "policy",
    "Task": "task",
    "PromptBatch": "task",
    "Completions": "task",
    "PromptSplit": "task",
    "AnswerFormat": "parsing",
    "Parsed": "parsing",
    "AnswerJudge": "judges",
    "TokenJudge": "judges",
    "TextJudge": "judges",
    "seed_keys": "warmstart",
    "init_params": "warmstart",
    "warm_start": "warmstart",
    "WarmStart": "warmstart",
    "RLConfig": "arms",
    "Arm": "arms",
    "make_arm": "arms",
    "programs": "rl",
    "ArmRun": "loop",
    "heldout_batch": "loop",
    "train": "loop",
    "evaluate": "loop",
    "MixtureTask": "demo",
    "FitRun": "offline",
    "fit": "offline",
    "SlotDistribution": "analysis",
    "slot_distribution": "analysis",
}

__all__ = sorted(_EXPORTS)


_SUBMODULES = (
    "analysis",
    "arms",
    "demo",
    "judges",
    "loop",
    "model",
    "offline",
    "parsing",
    "policy",
    "rl",
    "task",
    "tokenizer",
    "warmstart",
)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'reward_design_studies.lm' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | set(_SUBMODULES))
