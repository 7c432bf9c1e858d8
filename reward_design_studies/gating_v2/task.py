"""The gating study's task: three-digit sums mod 10, with working, on the LM lab.

A prompt is three digits ``d1 d2 d3`` (1000 prompts; a fixed `PromptSplit`
holds 25% out: training never sees them). The true answer is
``a = (d1 + d2 + d3) mod 10``. The complete working restates the operands
and gives the running sums ``s2 = (d1 + d2) mod 10`` and ``s3 = a``::

    d1 d2 d3 s2 s3 ANSWER a <eos>              (complete working, 7 tokens + <eos>)

The warm start ("SFT") imitates a mix of reference styles, as a base model
writes with varying care (`STYLES`): complete working, the same with the
opener ``STEPS`` ("let me work step by step"), or a bare answer with or
without the opener (``STEPS ANSWER a`` / ``ANSWER a``: the answer computed
in one shot, with no working). The running sums make the answer a chain of
one-digit additions, a table the policy learns from training prompts and
applies to held-out ones; the bare answer is a 1000-entry function it can
only memorise.

The rubric, the judge and the gold checker are in
`reward_design_studies.gating_v2.rubric`.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from reward_design_studies.lm.parsing import AnswerFormat
from reward_design_studies.lm.task import PromptBatch, PromptSplit
from reward_design_studies.lm.tokenizer import BOS, EOS, PAD, Tokenizer

__all__ = ["DIGITS", "OPENER", "STYLES", "SumTask"]

DIGITS = tuple(str(d) for d in range(10))
OPENER = "STEPS"
STYLES = ("working", "opener_working", "opener_answer", "answer")
"""Reference styles: complete working, ``STEPS`` + complete working,
``STEPS ANSWER a``, ``ANSWER a``."""


@dataclasses.dataclass(frozen=True)
class SumTask:
    """Three-digit sums mod 10 with working (a `reward_design_studies.lm.Task`).

    Args:
      style_probs: probabilities of the reference `STYLES` in the warm start.
      heldout_fraction: share of the 1000 prompts held out.
      slack: completion positions beyond the longest reference.
      task_seed: seed of the split.
    """

    style_probs: tuple[float, ...] = (0.5, 0.2, 0.2, 0.1)
    heldout_fraction: float = 0.25
    slack: int = 1
    task_seed: int = 0

    def __post_init__(self):
        probs = tuple(float(p) for p in self.style_probs)
        if len(probs) != len(STYLES) or min(probs) < 0 or abs(sum(probs) - 1.0) > 1e-6:
            raise ValueError(
                f"SumTask.style_probs must be {len(STYLES)} probabilities summing to 1 "
                f"(for {STYLES}); got {self.style_probs!r}."
            )
        object.__setattr__(self, "style_probs", probs)
        if not isinstance(self.slack, int) or self.slack < 0:
            raise ValueError(f"SumTask.slack must be an int >= 0; got {self.slack!r}.")

    # ----------------------------------------------------------- vocabulary
    @functools.cached_property
    def tokenizer(self) -> Tokenizer:
        return Tokenizer((*DIGITS, "ANSWER", OPENER))

    @functools.cached_property
    def format(self) -> AnswerFormat:
        return AnswerFormat(self.tokenizer, DIGITS)

    @property
    def prompt_len(self) -> int:
        return 4

    @property
    def completion_len(self) -> int:
        return 1 + 5 + self.format.tail_length + self.slack  # opener, working, ANSWER a <eos>

    @functools.cached_property
    def split(self) -> PromptSplit:
        return PromptSplit(1000, self.heldout_fraction, self.task_seed)

    # ------------------------------------------------------------ prompts
    @staticmethod
    def digits_of(ids: jax.Array) -> jax.Array:
        """``[N, 3]`` int32 digits ``d1 d2 d3`` of prompt ids (``id = 100 d1 + 10 d2 + d3``)."""
        ids = jnp.asarray(ids, jnp.int32)
        return jnp.stack([ids // 100, (ids // 10) % 10, ids % 10], axis=1)

    def batch(self, ids: jax.Array) -> PromptBatch:
        """The `PromptBatch` of prompt ids; ``info``: ``id``, ``digits``, ``answer``."""
        d = self.digits_of(ids)
        digit_tok = jnp.asarray(self.tokenizer.ids(DIGITS))
        tokens = jnp.concatenate([jnp.full((d.shape[0], 1), BOS, jnp.int32), digit_tok[d]], 1)
        info = {"id": jnp.asarray(ids, jnp.int32), "digits": d, "answer": jnp.sum(d, 1) % 10}
        return PromptBatch(tokens=tokens, info=info)

    def sample_prompts(self, key: jax.Array, n: int, split: str) -> PromptBatch:
        """``n`` uniform prompts of ``split`` (traceable)."""
        return self.batch(self.split.sample(key, n, split))

    # ---------------------------------------------------------- references
    def render(self, digits: jax.Array, style: jax.Array) -> jax.Array:
        """``[N, T]`` reference completions of each prompt's ``digits`` in ``style``
        (indices into `STYLES`); traceable."""
        tok = self.tokenizer
        d = jnp.asarray(digits, jnp.int32)
        s2 = (d[:, 0] + d[:, 1]) % 10
        a = jnp.sum(d, axis=1) % 10
        digit_tok = jnp.asarray(tok.ids(DIGITS))
        opener = jnp.full_like(a, tok.id(OPENER))
        ans = jnp.full_like(a, tok.id("ANSWER"))
        eos = jnp.full_like(a, EOS)
        pad = jnp.full_like(a, PAD)
        working = [digit_tok[d[:, 0]], digit_tok[d[:, 1]], digit_tok[d[:, 2]]]
        working += [digit_tok[s2], digit_tok[a]]
        tail = [ans, digit_tok[a], eos]
        rows = {
            0: [*working, *tail],
            1: [opener, *working, *tail],
            2: [opener, *tail],
            3: [*tail],
        }
        t = self.completion_len
        out = [jnp.stack(r + [pad] * (t - len(r)), axis=1) for r in rows.values()]
        return jnp.stack(out, axis=0)[jnp.asarray(style), jnp.arange(a.shape[0])]

    def reference(self, key: jax.Array, batch: PromptBatch) -> jax.Array:
        """``[N, T]`` warm-start references: a style drawn from ``style_probs`` per prompt."""
        n = batch.tokens.shape[0]
        logits = jnp.log(jnp.maximum(jnp.asarray(self.style_probs, jnp.float32), 1e-30))
        style = jax.random.categorical(key, logits, shape=(n,))
        return self.render(batch.info["digits"], style)

    def all_prompts(self, split: str) -> PromptBatch:
        """Every prompt of ``split``, in id order."""
        return self.batch(jnp.asarray(self.split.ids(split)))

    def describe(self) -> dict:
        """Sizes recorded in the results."""
        return {
            "num_prompts": 1000,
            "train_prompts": int(self.split.ids("train").size),
            "heldout_prompts": int(self.split.ids("heldout").size),
            "completion_len": self.completion_len,
            "vocab_size": self.tokenizer.size,
            "styles": dict(zip(STYLES, self.style_probs, strict=True)),
        }
