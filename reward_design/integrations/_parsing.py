"""Parsing the RLCR answer/confidence format out of a completion.

The format (Damani et al., RLCR, arXiv 2507.16806) is::

    <think>...</think><answer>...</answer><analysis>...</analysis><confidence>0.8</confidence>

``think`` and ``analysis`` are optional and ignored here. The parser splits
at the tags with ``str.rpartition``/``str.partition`` only (no regular
expressions), so its cost is linear in the length of the text whatever the
text contains, and it never raises on text: anything it cannot read gives
``None``. `_parse_many` is the batch form the text adapters call: the same
rules in one loop over the batch, with `exact_match` folded in
(`parse_answer_confidence` is its one-text case).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from itertools import repeat

import numpy as np

from reward_design.integrations._matching import (
    _ARTICLE_WORDS,
    as_text,
    exact_match,
    normalize_answer,
)

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
      text: the completion: a ``str``, or ``bytes`` (decoded as UTF-8,
        undecodable bytes replaced). Anything else, None included, gives None.
      tag: the tag name, e.g. ``"answer"``.

    Returns:
      The content with surrounding whitespace stripped, or None when there is
      no complete pair.

    Raises:
      ValueError: if ``tag`` is empty or contains ``<``/``>`` (a configuration
        error, not a text error).
    """
    _check_tag(tag, "tag")
    text = as_text(text)
    if text is None:
        return None
    close_tag = f"</{tag}>"
    # Before the last closing tag, after the last opening tag there, up to the
    # first closing tag (the last one if none comes earlier). Tag names hold
    # no '<' or '>', so an opening and a closing tag never overlap.
    head, found, _ = text.rpartition(close_tag)
    if not found:
        return None
    _, found, body = head.rpartition(f"<{tag}>")
    if not found:
        return None
    return body.partition(close_tag)[0].strip()


def parse_confidence(content: str | None, *, allow_percent: bool = False) -> float | None:
    """Reads a probability from a tag's content; None if it is not one.

    Accepted: a plain ASCII decimal number (``0.8``, ``.8``, ``1``, ``8e-1``)
    in [0, 1]; with ``allow_percent=True`` also a percentage with a ``%``
    sign (``80%``, ``80 %``) in [0 %, 100 %], returned divided by 100.
    Rejected (None): empty or missing content, words, NaN, infinities,
    values outside [0, 1], non-ASCII digits, and strings longer than 64
    characters. ``bytes`` are decoded as UTF-8 first; anything that is neither
    ``str`` nor ``bytes`` (None included) gives None.
    """
    content = as_text(content)
    if content is None:
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

    It never raises on text (``bytes`` are decoded as UTF-8, undecodable bytes
    replaced; anything else but a ``str``, None included, gives
    ``(None, None)``) and
    runs in time linear in ``len(text)``: it splits at the tags with
    ``str.rpartition``, so no input can trigger regular-expression
    backtracking.

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
    answers, confidences, _ = _parse_many(
        [text], answer_tag=answer_tag, confidence_tag=confidence_tag, allow_percent=allow_percent
    )
    confidence = float(confidences[0])
    return answers[0], None if math.isnan(confidence) else confidence


_NAN = math.nan


NO_ANSWER = 255  # `_parse_many`'s verdict code for a text without an answer
_UNSET = object()


def _parse_many(
    texts: Sequence[object],
    ground_truths: Iterable[object] | None = None,
    *,
    answer_tag: str = "answer",
    confidence_tag: str = "confidence",
    allow_percent: bool = False,
    texts_are_str: bool = False,
) -> tuple[list[str | None] | None, np.ndarray, np.ndarray | None]:
    """`parse_answer_confidence` (and `exact_match`) over a batch.

    The text adapters score thousands of completions per step, so this loop
    inlines `extract_tag` and, given ground truths, `exact_match`, instead of
    calling them, and reads all the confidences at once after it
    (`_read_confidences`): per text it is a handful of ``str`` methods, less
    than two ``re.findall`` calls cost.

    Args:
      texts: the completions (``bytes`` decoded as UTF-8; anything else but a
        ``str`` parses to nothing).
      ground_truths: one per text, or None not to match.
      answer_tag, confidence_tag, allow_percent: as `parse_answer_confidence`.
      texts_are_str: the caller has checked that every text is a ``str``.

    Returns:
      ``(answers, confidences, verdicts)``. ``confidences``: float64, NaN
      where `parse_answer_confidence` gives None (so wherever there is no
      answer). Without ground truths, ``answers`` lists the answers (None
      where there is none) and ``verdicts`` is None; with them, ``answers``
      is None and ``verdicts`` is uint8: ``exact_match(answer,
      ground_truth)`` as 1/0, or `NO_ANSWER`.

    Raises:
      ValueError: if a tag name is bad (see `parse_answer_confidence`).
    """
    answer_open = f"<{_check_tag(answer_tag, 'answer_tag')}>"
    answer_close = f"</{answer_tag}>"
    confidence_open = f"<{_check_tag(confidence_tag, 'confidence_tag')}>"
    confidence_close = f"</{confidence_tag}>"
    if not texts_are_str and not set(map(type, texts)) <= {str}:
        texts = [as_text(text) or "" for text in texts]  # "" parses to nothing
    match = ground_truths is not None
    normalized: dict[str, str] = {}  # normalize_answer of each distinct string, once
    verdicts_by_truth: dict[str, dict[str, int]] = {}
    verdict_of: dict[str, int] = {}
    last_truth: object = _UNSET
    answers: list[str | None] = []
    verdicts = bytearray()
    contents: list[str] = []  # per text, its confidence's content, unstripped ("nan": none)
    add_answer, add_verdict, add_content = answers.append, verdicts.append, contents.append
    if match:
        pairs = zip(texts, ground_truths, strict=True)
    else:
        pairs = zip(texts, repeat(None), strict=False)
    for text, truth in pairs:
        # extract_tag(text, answer_tag), inlined.
        head, found, _ = text.rpartition(answer_close)
        if found:
            _, found, answer = head.rpartition(answer_open)
            if found:
                if answer_close in answer:
                    answer = answer.partition(answer_close)[0]
                answer = answer.strip()
                if answer:
                    if not match:
                        add_answer(answer)
                    elif answer == truth:  # equal strings match under any normalisation
                        add_verdict(1)
                    elif (
                        type(truth) is str
                        and answer.isascii()
                        and answer.isalnum()
                        and truth.isascii()
                        and truth.isalnum()
                        and (lowered := answer.lower()) not in _ARTICLE_WORDS
                    ):
                        # Letters and digits only (a number, one word): normalize_answer
                        # only lower-cases them (a lone article becomes "", which the
                        # answer is not), so exact_match is a comparison of lower cases.
                        add_verdict(1 if lowered == truth.lower() else 0)
                    else:
                        # exact_match(answer, truth), once per distinct answer to the
                        # same ground truth (completions of a prompt come together).
                        if truth is not last_truth:
                            if type(truth) is str:
                                verdict_of = verdicts_by_truth.get(truth)
                                if verdict_of is None:
                                    verdict_of = verdicts_by_truth[truth] = {}
                            else:
                                verdict_of = {}
                            last_truth = truth
                        verdict = verdict_of.get(answer)
                        if verdict is None:
                            verdict = verdict_of[answer] = _exact_match_code(
                                answer, truth, normalized
                            )
                        add_verdict(verdict)
                    # extract_tag(text, confidence_tag), inlined but not stripped:
                    # _read_confidences deals with the whitespace.
                    head, found, _ = text.rpartition(confidence_close)
                    if found:
                        _, found, content = head.rpartition(confidence_open)
                        if found:
                            if confidence_close in content:
                                content = content.partition(confidence_close)[0]
                            add_content(content)
                            continue
                    add_content("nan")
                    continue
        if match:
            add_verdict(NO_ANSWER)
        else:
            add_answer(None)
        add_content("nan")
    confidences = _read_confidences(contents, allow_percent)
    if match:
        return None, confidences, np.frombuffer(verdicts, dtype=np.uint8)
    return answers, confidences, None


def _exact_match_code(answer: str, truth: object, normalized: dict[str, str]) -> int:
    """``exact_match(answer, truth)`` as 1/0, normalising ``str`` values once per batch."""
    if type(truth) is not str:
        return 1 if exact_match(answer, truth) else 0
    if answer == truth:
        return 1
    answer_norm = normalized.get(answer)
    if answer_norm is None:
        answer_norm = normalized[answer] = normalize_answer(answer)
    truth_norm = normalized.get(truth)
    if truth_norm is None:
        truth_norm = normalized[truth] = normalize_answer(truth)
    return 1 if answer_norm == truth_norm else 0


def _read_confidences(contents: list[str], allow_percent: bool) -> np.ndarray:
    """``parse_confidence(content)`` of each string as float64 (NaN for None).

    The common batch, all plain numbers, is one ``map(float)``: ``float()``
    strips ASCII and Unicode whitespace itself, raises on words, ``""`` and a
    trailing ``%``, and gives NaN/inf that the range test refuses. What it
    reads that `parse_confidence` does not (``"1_0"``, non-ASCII digits, more
    than 64 characters) is refused after it; any string it cannot read goes
    to `parse_confidence` itself.
    """
    n = len(contents)
    longest = max(map(len, contents), default=0)
    try:
        if longest > _MAX_CONFIDENCE_CHARS:  # float() is only given short strings
            raise ValueError
        values = np.fromiter(map(float, contents), dtype=np.float64, count=n)
    except ValueError:
        values = np.empty(n, dtype=np.float64)
        for i, content in enumerate(contents):
            try:
                if len(content) > _MAX_CONFIDENCE_CHARS:
                    raise ValueError
                values[i] = float(content)
            except ValueError:
                parsed = parse_confidence(content, allow_percent=allow_percent)
                values[i] = _NAN if parsed is None else parsed
    values[~((values >= 0.0) & (values <= 1.0))] = _NAN  # also NaN/inf
    joined = "".join(contents)
    if longest > _MAX_CONFIDENCE_CHARS or not joined.isascii() or "_" in joined:
        for i, content in enumerate(contents):
            content = content.strip()
            if len(content) > _MAX_CONFIDENCE_CHARS or not content.isascii() or "_" in content:
                values[i] = _NAN
    return values
