"""Structured answers in completions: ``<reasoning> ANSWER a [CONF c] <eos>``.

`AnswerFormat` parses token arrays inside compiled code (`AnswerFormat.parse`)
and decoded text on the host (`AnswerFormat.parse_text`, what a text judge
sees); both give the same verdicts on every completion (tested). A
completion is *in format* when, up to its first ``<eos>``, it is

    r_1 ... r_k  ANSWER  a  CONF  c  <eos>        (k >= 0)

with ``a`` one of the answer words, ``c`` one of the confidence words, and
neither marker among the reasoning tokens ``r_i``. The confidence is stated
after, and conditioned on, the answer the same network just wrote. Without
confidence words the format is ``r_1 ... r_k ANSWER a <eos>``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .policy import completion_mask
from .tokenizer import EOS, PAD, SPECIALS, Tokenizer

__all__ = ["AnswerFormat", "Parsed", "ParsedText"]


class Parsed(NamedTuple):
    """What `AnswerFormat.parse` reads from ``[..., T]`` completions (arrays ``[...]``).

    Attributes:
      valid: bool, the completion is in format.
      answer: int32 index into ``answers`` (-1 when not in format).
      confidence: float32 stated confidence (0 when not in format or the
        format has no confidence).
      level: int32 index into ``confidences`` (-1 when not in format or none).
      reasoning_length: int32 tokens before ``ANSWER`` (-1 when not in format).
    """

    valid: jax.Array
    answer: jax.Array
    confidence: jax.Array
    level: jax.Array
    reasoning_length: jax.Array


class ParsedText(NamedTuple):
    """What `AnswerFormat.parse_text` reads from one decoded completion."""

    valid: bool
    answer: str | None
    confidence: float | None
    reasoning: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class AnswerFormat:
    """The answer(-and-confidence) format of a task (hashable).

    Args:
      tokenizer: the task's `Tokenizer` (must contain every word below).
      answers: the answer words, in answer-index order.
      confidences: the confidence words, in level order; empty for a format
        without confidence.
      confidence_values: the confidence of each level (default: evenly spaced
        from 0 to 1).
      answer_marker: the word that introduces the answer.
      confidence_marker: the word that introduces the confidence.
    """

    tokenizer: Tokenizer
    answers: tuple[str, ...]
    confidences: tuple[str, ...] = ()
    confidence_values: tuple[float, ...] | None = None
    answer_marker: str = "ANSWER"
    confidence_marker: str = "CONF"

    def __post_init__(self):
        object.__setattr__(self, "answers", tuple(self.answers))
        object.__setattr__(self, "confidences", tuple(self.confidences))
        if not self.answers:
            raise ValueError("AnswerFormat.answers must not be empty.")
        words = (self.answer_marker, *self.answers)
        if self.confidences:
            words += (self.confidence_marker, *self.confidences)
        for w in words:
            self.tokenizer.id(w)  # raises for unknown words
        if len(set(words)) != len(words) or set(words) & set(SPECIALS):
            raise ValueError(
                f"AnswerFormat words must be distinct, non-special words; got {words}."
            )
        values = self.confidence_values
        if values is None:
            n = len(self.confidences)
            values = tuple(np.linspace(0.0, 1.0, n).tolist()) if n > 1 else (1.0,) * n
        values = tuple(float(v) for v in values)
        if len(values) != len(self.confidences) or not all(0.0 <= v <= 1.0 for v in values):
            raise ValueError(
                f"AnswerFormat.confidence_values must be {len(self.confidences)} values in "
                f"[0, 1]; got {values}."
            )
        object.__setattr__(self, "confidence_values", values)

    @property
    def tail_length(self) -> int:
        """Tokens after the reasoning: ``ANSWER a [CONF c] <eos>``."""
        return 5 if self.confidences else 3

    def _table(self, words: Sequence[str]) -> np.ndarray:
        table = np.full(self.tokenizer.size, -1, np.int32)
        table[self.tokenizer.ids(words)] = np.arange(len(words), dtype=np.int32)
        return table

    # --------------------------------------------------------------- tokens
    def parse(self, tokens: jax.Array) -> Parsed:
        """Parses ``[..., T]`` completions (traceable)."""
        tokens = jnp.asarray(tokens)
        length = tokens.shape[-1]
        live = completion_mask(tokens)
        tok_a = self.tokenizer.id(self.answer_marker)
        is_a = (tokens == tok_a) & live
        first = jnp.argmax(is_a, axis=-1)

        def at(offset):
            idx = first + offset
            tok = jnp.take_along_axis(tokens, jnp.minimum(idx, length - 1)[..., None], axis=-1)
            return jnp.where(idx < length, tok[..., 0], PAD)

        answer = jnp.asarray(self._table(self.answers))[at(1)]
        valid = (jnp.sum(is_a, axis=-1) == 1) & (answer >= 0)
        if self.confidences:
            tok_c = self.tokenizer.id(self.confidence_marker)
            level = jnp.asarray(self._table(self.confidences))[at(3)]
            n_c = jnp.sum((tokens == tok_c) & live, axis=-1)
            valid &= (at(2) == tok_c) & (n_c == 1) & (level >= 0) & (at(4) == EOS)
            values = jnp.asarray(self.confidence_values, jnp.float32)
            confidence = jnp.where(valid, values[jnp.maximum(level, 0)], 0.0)
            level = jnp.where(valid, level, -1)
        else:
            valid &= at(2) == EOS
            confidence = jnp.zeros(valid.shape, jnp.float32)
            level = jnp.full(valid.shape, -1, jnp.int32)
        return Parsed(
            valid=valid,
            answer=jnp.where(valid, answer, -1),
            confidence=confidence,
            level=level,
            reasoning_length=jnp.where(valid, first, -1).astype(jnp.int32),
        )

    def render(
        self,
        answer: jax.Array,
        level: jax.Array | None,
        length: int,
        reasoning: jax.Array | None = None,
    ) -> jax.Array:
        """``[N, length]`` completions in format (traceable), e.g. warm-start references.

        Args:
          answer: ``[N]`` int answer indices.
          level: ``[N]`` int confidence levels (None for a format without).
          length: T, the completion length.
          reasoning: optional ``[N, R]`` reasoning tokens; each row's reasoning
            is its tokens before the first ``PAD``.
        """
        answer = jnp.asarray(answer, jnp.int32)
        n = answer.shape[0]
        tail = [
            jnp.full((n,), self.tokenizer.id(self.answer_marker), jnp.int32),
            jnp.asarray(self.tokenizer.ids(self.answers))[answer],
        ]
        if self.confidences:
            if level is None:
                raise ValueError("AnswerFormat.render: this format needs a confidence level.")
            tail += [
                jnp.full((n,), self.tokenizer.id(self.confidence_marker), jnp.int32),
                jnp.asarray(self.tokenizer.ids(self.confidences))[jnp.asarray(level, jnp.int32)],
            ]
        tail = jnp.stack([*tail, jnp.full((n,), EOS, jnp.int32)], axis=1)  # [N, tail]
        if reasoning is None:
            reasoning = jnp.zeros((n, 0), jnp.int32)
        reasoning = jnp.asarray(reasoning, jnp.int32)
        r = reasoning.shape[1]
        if r + tail.shape[1] > length:
            raise ValueError(
                f"AnswerFormat.render: {r} reasoning + {tail.shape[1]} answer tokens exceed "
                f"length {length}."
            )
        r_len = jnp.sum(jnp.cumprod(reasoning != PAD, axis=1), axis=1)[:, None]
        t = jnp.arange(length)[None, :]
        from_r = jnp.take_along_axis(reasoning, jnp.clip(t, 0, max(r - 1, 0)), axis=1) if r else 0
        k = t - r_len
        from_tail = jnp.take_along_axis(tail, jnp.clip(k, 0, tail.shape[1] - 1), axis=1)
        out = jnp.where(t < r_len, from_r, jnp.where(k < tail.shape[1], from_tail, PAD))
        return out.astype(jnp.int32)

    # ----------------------------------------------------------------- text
    def parse_text(self, text: str) -> ParsedText:
        """Parses one decoded completion (``Tokenizer.decode``: words, ``<eos>`` last)."""
        words = text.split()
        if "<eos>" in words:
            words = words[: words.index("<eos>") + 1]
        bad = ParsedText(False, None, None, ())
        if words.count(self.answer_marker) != 1:
            return bad
        i = words.index(self.answer_marker)
        tail = words[i:]
        if len(tail) != self.tail_length or tail[-1] != "<eos>" or tail[1] not in self.answers:
            return bad
        confidence = None
        if self.confidences:
            if words.count(self.confidence_marker) != 1 or tail[2] != self.confidence_marker:
                return bad
            if tail[3] not in self.confidences:
                return bad
            confidence = self.confidence_values[self.confidences.index(tail[3])]
        return ParsedText(True, tail[1], confidence, tuple(words[:i]))

    def render_text(
        self, answer: str, confidence: str | None = None, reasoning: Sequence[str] = ()
    ) -> str:
        """``"r_1 ... r_k ANSWER a CONF c"``, without ``<eos>``
        (`Tokenizer.encode_completion` adds it)."""
        words = [*reasoning, self.answer_marker, answer]
        if self.confidences:
            words += [self.confidence_marker, confidence]
        return " ".join(words)
