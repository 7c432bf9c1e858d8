"""Answer matchers: ``match(prediction, ground_truth) -> bool``.

A matcher decides whether a parsed answer is correct. Ground truths may be a
string, a number, or a list/tuple of acceptable answers (correct if any
matches, as in SQuAD's max over references). Matchers never raise on odd
input; they return False.

Text inputs follow one rule in the parser and the matchers (`as_text`): a
``str`` is used as it is, ``bytes``/``bytearray`` are decoded as UTF-8
(undecodable bytes become U+FFFD), and None is "no text" (nothing parses,
nothing matches).
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Sequence
from typing import Any

__all__ = ["normalize_answer", "exact_match", "numeric_match", "parse_number"]

_PUNCTUATION_TABLE = str.maketrans("", "", string.punctuation)
# Alternation of three fixed words between word boundaries: no nested
# quantifiers, so matching is linear in the input.
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_ARTICLE_WORDS = frozenset(("a", "an", "the"))


def as_text(value: Any) -> str | None:
    """A text input as ``str``: ``str`` as is, ``bytes``/``bytearray`` decoded as
    UTF-8 (undecodable bytes replaced by U+FFFD), anything else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return None


def normalize_answer(text: str) -> str:
    """SQuAD answer normalisation.

    Lower-cases, removes ASCII punctuation, removes the articles
    ``a``/``an``/``the`` as whole words, and collapses whitespace, in that
    order (the order of the official SQuAD v1.1 evaluation script).

    Args:
      text: a ``str``, or ``bytes`` (decoded as UTF-8, see `as_text`).

    Raises:
      TypeError: ``text`` is neither (None included: there is no text to
        normalise).

    References:
      Rajpurkar et al., "SQuAD: 100,000+ Questions for Machine Comprehension
      of Text", arXiv 1606.05250.
    """
    if type(text) is not str:
        decoded = as_text(text)
        if decoded is None:
            raise TypeError(
                f"normalize_answer: text must be a str or bytes; got {type(text).__name__}."
            )
        text = decoded
    if text.isascii() and text.isalnum():
        # The common answer (a number, one word): no punctuation or whitespace, so the
        # steps reduce to lower-casing and dropping a lone article; 3-5x faster.
        text = text.lower()
        return "" if text in _ARTICLE_WORDS else text
    text = text.lower().translate(_PUNCTUATION_TABLE)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _references(ground_truth: Any) -> list[Any]:
    if isinstance(ground_truth, (list, tuple)):
        return list(ground_truth)
    if hasattr(ground_truth, "tolist") and not isinstance(ground_truth, (str, bytes)):
        try:  # numpy arrays / tensors of references
            value = ground_truth.tolist()
        except Exception:  # noqa: BLE001 - a matcher never raises on odd input
            return [ground_truth]
        return value if isinstance(value, list) else [value]
    return [ground_truth]


def _as_text(value: Any) -> str | None:
    """`as_text`, and a number (or another non-sequence object) as its ``str``."""
    text = as_text(value)
    if text is not None or value is None or isinstance(value, Sequence):
        return text
    return str(value)


def exact_match(prediction: Any, ground_truth: Any) -> bool:
    """SQuAD-style exact match after `normalize_answer`.

    Args:
      prediction: the parsed answer (``str`` or ``bytes``, see `as_text`;
        a number is turned into its ``str``; None never matches).
      ground_truth: a reference answer or a list/tuple of them (correct if
        any matches). Numbers are compared as their ``str``.

    Returns:
      True if the normalised prediction equals a normalised reference.

    Example:
      >>> exact_match("The  Eiffel tower!", ["eiffel tower"])
      True
    """
    pred = _as_text(prediction)
    if pred is None:
        return False
    pred_norm = normalize_answer(pred)
    for ref in _references(ground_truth):
        ref_text = _as_text(ref)
        if ref_text is not None and normalize_answer(ref_text) == pred_norm:
            return True
    return False


_NUMBER_CHARS = frozenset("0123456789.-+eE/")
_MAX_NUMBER_CHARS = 256


def parse_number(text: Any) -> float | None:
    """Reads a number from an answer string; None if it is not one.

    Accepts integers, decimals, scientific notation, fractions ``a/b``,
    thousands separators (``1,234``), a leading currency sign (``$``, ``€``,
    ``£``) and a trailing ``%`` (read as a plain number: ``50%`` is 50),
    with surrounding whitespace. Python numbers pass through (bools do not);
    ``bytes`` are decoded (`as_text`); anything else, None included, gives None.
    """
    if isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        value = float(text)
        return value if math.isfinite(value) else None
    text = as_text(text)
    if text is None:
        return None
    s = text.strip()
    if not s or len(s) > _MAX_NUMBER_CHARS:
        return None
    if s[0] in "$€£":
        s = s[1:].lstrip()
    elif len(s) > 1 and s[0] in "+-" and s[1] in "$€£":
        s = s[0] + s[2:].lstrip()
    if s.endswith("%"):
        s = s[:-1].rstrip()
    s = s.replace(",", "")
    if not s or not set(s) <= _NUMBER_CHARS:
        return None
    try:
        if "/" in s:
            num, _, den = s.partition("/")
            value = float(num) / float(den)
        else:
            value = float(s)
    except (ValueError, ZeroDivisionError):
        return None
    return value if math.isfinite(value) else None


def numeric_match(
    prediction: Any, ground_truth: Any, *, rel_tol: float = 1e-6, abs_tol: float = 1e-9
) -> bool:
    """Numeric match: both sides read as numbers (`parse_number`) and are close.

    ``math.isclose(pred, ref, rel_tol=rel_tol, abs_tol=abs_tol)``; so ``"1,000"``
    matches ``1000``, ``"0.50"`` matches ``"1/2"``. A side that is not a number
    never matches (compose with `exact_match` yourself if you want a text
    fallback: ``lambda p, t: numeric_match(p, t) or exact_match(p, t)``).

    Args:
      prediction: the parsed answer.
      ground_truth: a reference or a list/tuple of references.
      rel_tol: relative tolerance.
      abs_tol: absolute tolerance.
    """
    pred = parse_number(prediction)
    if pred is None:
        return False
    for ref in _references(ground_truth):
        value = parse_number(ref)
        if value is not None and math.isclose(pred, value, rel_tol=rel_tol, abs_tol=abs_tol):
            return True
    return False
