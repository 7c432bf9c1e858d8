"""Tasks and prompt splits; with judges (`.judges`) the pieces the lab keeps apart.

* A **task** (`Task`) draws prompts, from a training or a held-out split
  that never overlap (`PromptSplit`), and writes a reference completion per
  prompt for the supervised warm start. It knows nothing of rewards.
* A **judge** maps prompts and sampled completions to `rd.Rollouts` (the
  fields an objective reads: ``correct``, ``confidence``, ``rubric``,
  ``token_rewards``) and, optionally, extra per-rollout metrics; on token
  arrays inside compiled code, or on decoded text on the host
  (`judges.TextJudge`, like an LLM judge).
* An **objective** (`rd.compose`, `rd.gates.Gated`, ...) maps `Rollouts` to
  rewards; the RL loop turns them into advantages (docs/studies/lm-lab.md).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol, runtime_checkable

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from .tokenizer import Tokenizer

__all__ = [
    "PromptBatch",
    "Completions",
    "Task",
    "PromptSplit",
    "check_task",
]


@flax.struct.dataclass
class PromptBatch:
    """N prompts and what the task knows about them (a pytree).

    Attributes:
      tokens: ``[N, Lp]`` int32, left-padded with ``PAD``, starting with ``BOS``.
      info: ``{name: [N, ...] array}`` (e.g. the right answer, its probability);
        judges read it, the policy never does.
    """

    tokens: jax.Array
    info: dict[str, jax.Array]


@flax.struct.dataclass
class Completions:
    """G sampled completions of each of P prompts (a pytree).

    Attributes:
      tokens: ``[P, G, T]`` int32 (``PAD`` after the first ``EOS``).
      mask: ``[P, G, T]`` bool, the tokens that count (`completion_mask`).
      log_probs: ``[P, G, T]`` float32, sampling log-probabilities (0 off mask).
    """

    tokens: jax.Array
    mask: jax.Array
    log_probs: jax.Array


@runtime_checkable
class Task(Protocol):
    """What the lab needs from a task.

    Attributes:
      tokenizer: the task's `Tokenizer`.
      prompt_len: Lp, the (padded) prompt length.
      completion_len: T, the maximum completion length.
    """

    tokenizer: Tokenizer
    prompt_len: int
    completion_len: int

    def sample_prompts(self, key: jax.Array, n: int, split: str) -> PromptBatch:
        """``n`` prompts of ``split`` (``"train"`` or ``"heldout"``); traceable, ``n`` static."""
        ...

    def reference(self, key: jax.Array, batch: PromptBatch) -> jax.Array:
        """``[N, T]`` int32 reference completions (``EOS``-ended) for the warm start; traceable."""
        ...


def check_task(task: Any) -> None:
    """Raises ``TypeError`` naming what a task lacks (see `Task`)."""
    missing = [
        name
        for name in ("tokenizer", "prompt_len", "completion_len", "sample_prompts", "reference")
        if not hasattr(task, name)
    ]
    if missing:
        raise TypeError(
            f"task must provide {missing} (see reward_design_studies.lm.Task); got {task!r}."
        )
    for name in ("prompt_len", "completion_len"):
        value = getattr(task, name)
        if not isinstance(value, int) or value < 1:
            raise TypeError(f"task.{name} must be an int >= 1; got {value!r}.")
    if not isinstance(task.tokenizer, Tokenizer):
        raise TypeError(f"task.tokenizer must be a Tokenizer; got {type(task.tokenizer).__name__}.")


@dataclasses.dataclass(frozen=True)
class PromptSplit:
    """A fixed partition of prompt ids ``0 .. num_prompts - 1`` into train and held-out.

    The held-out ids are a random subset (drawn once from ``seed``); training
    draws only train ids, so held-out prompts are never trained on.

    Args:
      num_prompts: size of the task's prompt space.
      heldout_fraction: share of ids held out (at least one id on each side).
      seed: seed of the partition.
    """

    num_prompts: int
    heldout_fraction: float = 0.25
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.num_prompts, int) or self.num_prompts < 2:
            raise ValueError(
                f"PromptSplit.num_prompts must be an int >= 2; got {self.num_prompts!r}."
            )
        if not 0.0 < self.heldout_fraction < 1.0:
            raise ValueError(
                f"PromptSplit.heldout_fraction must be in (0, 1); got {self.heldout_fraction}."
            )

    def ids(self, split: str) -> np.ndarray:
        """Sorted int32 prompt ids of ``split`` (``"train"`` or ``"heldout"``)."""
        if split not in ("train", "heldout"):
            raise ValueError(f"split must be 'train' or 'heldout'; got {split!r}.")
        n = self.num_prompts
        n_held = min(max(int(round(self.heldout_fraction * n)), 1), n - 1)
        perm = np.random.default_rng(self.seed).permutation(n)
        chosen = perm[:n_held] if split == "heldout" else perm[n_held:]
        return np.sort(chosen).astype(np.int32)

    def sample(
        self, key: jax.Array, n: int, split: str, log_weights: np.ndarray | None = None
    ) -> jax.Array:
        """``[n]`` int32 ids of ``split``: uniform, or with probabilities proportional to
        ``exp(log_weights[id])`` renormalised over the split (traceable)."""
        ids = jnp.asarray(self.ids(split))
        if log_weights is None:
            return ids[jax.random.randint(key, (n,), 0, ids.shape[0])]
        logits = jnp.asarray(log_weights, jnp.float32)[ids]
        return ids[jax.random.categorical(key, logits, shape=(n,))]
