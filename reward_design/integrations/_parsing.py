"""Parsing the RLCR answer/confidence format out of a completion.

The format (Damani et al., RLCR, arXiv 2507.16806) is::

    <think>...</think><answer>...</answer><analysis>...</analysis><confidence>0.8</confidence>

``think`` and ``analysis`` are optional and ignored here. The parser scans
with ``str.rfind``/``str.find`` only (no regular expressions), so its cost is
linear in the length of the text whatever the text contains, and it never
raises on text: anything it cannot read gives ``None``.
"""

from __future__ import annotations

import math

__all__ = ["parse_answer_confidence", "extract_tag", "parse_confidence"]

# Longer confidence strings than this are not numbers a model means as a
# probability; refusing them bounds the cost of float() on adversarial text.
_MAX_CONFIDENCE_CHARS = 64


def _check_tag(tag: object, name: str) -> str:
    if not isinstance(tag, str) or not tag or "<" in tag or ">" in tag or tag != tag.strip():
        raise ValueError(
            f"{name} must be a non-empty tag name without '<', '>' or surrounding "
            f"whitespace, e.g. 'answer'; got {tag!r}."
        )
    return tag


def extract_tag(text: str, tag: str) -> str | None:
    """Returns the stripped content of the last ``<tag>...</tag>`` pair in ``text``.

    "Last" is the innermost pair that closes last: the scanner takes the last
    closing tag, the last opening tag before it, and then the first closing
    tag after that opening tag. The content returned therefore never
    contains ``<tag>`` or ``</tag>`` itself, for nested, repeated or
    unbalanced tags alike. Tags are matched exactly (case-sensitive, no
    attributes). Runs in O(len(text)).

    Args:
      text: the completion. Anything that is not a ``str`` gives None.
      tag: the tag name, e.g. ``"answer"``.

    Returns:
      The content with surrounding whitespace stripped, or None when there is
      no complete pair.
    """
    if not isinstance(text, str):
        return None
    open_tag, close_tag = f"<{tag}>", f"</{tag}>"
    last_close = text.rfind(close_tag)
    if last_close < 0:
        return None
    start = text.rfind(open_tag, 0, last_close)
    if start < 0:
        return None
    start += len(open_tag)
    end = text.find(close_tag, start)  # <= last_close, so always found
    return text[start:end].strip()


def parse_confidence(content: str | None, *, allow_percent: bool = False) -> float | None:
    """Reads a probability from a tag's content; None if it is not one.

    Accepted: a plain ASCII decimal number (``0.8``, ``.8``, ``1``, ``8e-1``)
    in [0, 1]; with ``allow_percent=True`` also a percentage with a ``%``
    sign (``80%``, ``80 %``) in [0 %, 100 %], returned divided by 100.
    Rejected (None): empty or missing content, words, NaN, infinities,
    values outside [0, 1], non-ASCII digits, and strings longer than 64
    characters.
    """
    if content is None or not isinstance(content, str):
        return None
    s = content.strip()
    if not s or len(s) > _MAX_CONFIDENCE_CHARS or not s.isascii():
        return None
    scale = 1.0
    if s.endswith("%"):
        if not allow_percent:
            return None
        s = s[:-1].rstrip()
        scale = 100.0
    if not s or "_" in s:  # float() accepts "1_0"; a model's probability never has one
        return None
    try:
        value = float(s)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    value = value / scale
    if not 0.0 <= value <= 1.0:
        return None
    return value


def parse_answer_confidence(
    text: str,
    *,
    answer_tag: str = "answer",
    confidence_tag: str = "confidence",
    allow_percent: bool = False,
) -> tuple[str | None, float | None]:
    """Parses ``(answer, confidence)`` from an RLCR-format completion.

    The last ``<answer>...</answer>`` and the last
    ``<confidence>...</confidence>`` pair win (see `extract_tag`); surrounding
    whitespace is stripped. The optional ``<think>`` and ``<analysis>``
    sections are ignored.

    * No answer pair, or an empty answer: ``(None, None)``.
    * Confidence missing, not a number, NaN/inf or outside [0, 1]: the
      confidence is None (the answer is still returned).

    It never raises on text (non-``str`` input gives ``(None, None)``) and
    runs in time linear in ``len(text)``: it scans with ``str.rfind``, so no
    input can trigger regular-expression backtracking.

    Args:
      text: the completion text.
      answer_tag: name of the answer tag.
      confidence_tag: name of the confidence tag.
      allow_percent: also accept ``80%`` (read as 0.8).

    Returns:
      ``(answer, confidence)``.

    Raises:
      ValueError: if a tag name is empty or contains ``<``/``>`` (a
        configuration error, not a text error).

    Example:
      >>> parse_answer_confidence("<answer> Paris </answer><confidence>0.9</confidence>")
      ('Paris', 0.9)

    References:
      Damani et al., "Beyond Binary Rewards: Training LMs to Reason About
      Their Uncertainty" (RLCR), arXiv 2507.16806.
    """
    _check_tag(answer_tag, "answer_tag")
    _check_tag(confidence_tag, "confidence_tag")
    answer = extract_tag(text, answer_tag)
    if not answer:
        return None, None
    confidence = parse_confidence(extract_tag(text, confidence_tag), allow_percent=allow_percent)
    return answer, confidence
