"""A word-level tokenizer over a task's small vocabulary.

Token ids ``0, 1, 2`` are always the special tokens ``<pad>``, ``<bos>`` and
``<eos>`` (`PAD`, `BOS`, `EOS`); the task's words follow in the order given.
Text is words separated by single spaces. Prompts are left-padded with
``<pad>`` to a fixed length and start with ``<bos>``; completions end with
``<eos>`` and are right-padded with ``<pad>``. The policy never writes
``<pad>`` or ``<bos>`` (docs/studies/lm-lab.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["PAD", "BOS", "EOS", "SPECIALS", "Tokenizer"]

PAD, BOS, EOS = 0, 1, 2
SPECIALS = ("<pad>", "<bos>", "<eos>")


@dataclasses.dataclass(frozen=True)
class Tokenizer:
    """Maps the words of a task vocabulary to token ids and back.

    Hashable and immutable, so compiled programs may close over it.

    Args:
      words: the task's words (no spaces, no duplicates, none of `SPECIALS`).

    Example:
      >>> tok = Tokenizer(("ANSWER", "A0", "A1"))
      >>> tok.encode("ANSWER A1")
      [3, 5]
      >>> tok.decode([3, 5, 2, 0])
      'ANSWER A1 <eos>'
    """

    words: tuple[str, ...]

    def __post_init__(self):
        words = tuple(self.words)
        object.__setattr__(self, "words", words)
        for w in words:
            if not isinstance(w, str) or not w or any(c.isspace() for c in w):
                raise ValueError(
                    f"Tokenizer.words must be non-empty strings without spaces; got {w!r}."
                )
            if w in SPECIALS:
                raise ValueError(f"Tokenizer.words must not contain the special token {w!r}.")
        if len(set(words)) != len(words):
            dup = sorted({w for w in words if words.count(w) > 1})
            raise ValueError(f"Tokenizer.words must be distinct; repeated: {dup}.")

    @property
    def vocab(self) -> tuple[str, ...]:
        """All tokens in id order: `SPECIALS` then ``words``."""
        return SPECIALS + self.words

    @property
    def size(self) -> int:
        """Vocabulary size V (specials included)."""
        return len(SPECIALS) + len(self.words)

    def id(self, word: str) -> int:
        """The id of one token (a word or a special)."""
        try:
            return self._index[word]
        except KeyError:
            raise ValueError(
                f"unknown token {word!r}; the vocabulary has {self.size} tokens."
            ) from None

    def ids(self, words: Iterable[str]) -> np.ndarray:
        """``int32`` ids of several tokens."""
        return np.asarray([self.id(w) for w in words], dtype=np.int32)

    @property
    def _index(self) -> dict[str, int]:
        cache = self.__dict__.get("_index_cache")
        if cache is None:
            cache = {w: i for i, w in enumerate(self.vocab)}
            object.__setattr__(self, "_index_cache", cache)
        return cache

    # ------------------------------------------------------------ text <-> ids
    def encode(self, text: str) -> list[int]:
        """Ids of the space-separated tokens of ``text`` (no specials added)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; got {type(text).__name__}.")
        return [self.id(w) for w in text.split()]

    def decode(self, ids: Sequence[int] | np.ndarray, *, stop_at_eos: bool = True) -> str:
        """Text of ``ids``: padding is skipped; ``<eos>`` is written and, with
        ``stop_at_eos``, ends the text (a completion without ``<eos>`` was cut
        at the maximum length)."""
        out = []
        vocab = self.vocab
        for i in np.asarray(ids).reshape(-1).tolist():
            if not 0 <= i < len(vocab):
                raise ValueError(f"token id {i} is outside the vocabulary [0, {len(vocab)}).")
            if i == PAD:
                continue
            out.append(vocab[i])
            if i == EOS and stop_at_eos:
                break
        return " ".join(out)

    def decode_batch(self, ids: np.ndarray, *, stop_at_eos: bool = True) -> np.ndarray:
        """``decode`` over the last axis: an object array of str of shape ``ids.shape[:-1]``."""
        ids = np.asarray(ids)
        flat = ids.reshape(-1, ids.shape[-1])
        texts = np.empty(flat.shape[0], dtype=object)
        for n, row in enumerate(flat):
            texts[n] = self.decode(row, stop_at_eos=stop_at_eos)
        return texts.reshape(ids.shape[:-1])

    def encode_prompt(self, text: str, length: int) -> np.ndarray:
        """``[length]`` int32: ``<bos>`` + the tokens of ``text``, left-padded."""
        body = [BOS, *self.encode(text)]
        return _pad(body, length, left=True, what=f"prompt {text!r}")

    def encode_completion(self, text: str, length: int) -> np.ndarray:
        """``[length]`` int32: the tokens of ``text`` + ``<eos>``, right-padded."""
        body = [*self.encode(text), EOS]
        return _pad(body, length, left=False, what=f"completion {text!r}")

    def encode_batch(self, texts: Sequence[str], length: int, *, prompt: bool) -> np.ndarray:
        """``[N, length]``: `encode_prompt` (``prompt=True``) or `encode_completion` of each
        text."""
        fn = self.encode_prompt if prompt else self.encode_completion
        if not texts:
            return np.zeros((0, length), np.int32)
        return np.stack([fn(t, length) for t in texts])


def _pad(body: list[int], length: int, *, left: bool, what: str) -> np.ndarray:
    if len(body) > length:
        raise ValueError(f"{what} needs {len(body)} tokens; length is {length}.")
    pad = [PAD] * (length - len(body))
    return np.asarray(pad + body if left else body + pad, dtype=np.int32)
