"""Parsing and answer matching: edge cases, properties vs brute-force references."""

from __future__ import annotations

import math
import re
import string

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import reward_design as rd
from reward_design.integrations import (
    exact_match,
    extract_tag,
    normalize_answer,
    numeric_match,
    parse_answer_confidence,
    parse_confidence,
    parse_number,
)

RLCR = (
    "<think>Let me think: 2+2.</think><answer> 4 </answer>"
    "<analysis>I am fairly sure.</analysis><confidence> 0.8 </confidence>"
)


# ----------------------------------------------------------------- parsing
def test_rlcr_format_and_optional_sections():
    assert parse_answer_confidence(RLCR) == ("4", 0.8)
    assert parse_answer_confidence("<answer>Paris</answer><confidence>1</confidence>") == (
        "Paris",
        1.0,
    )
    # Text around and between the tags is ignored.
    text = "blah <answer>\n  New York City \n</answer> more <confidence>.25</confidence> end"
    assert parse_answer_confidence(text) == ("New York City", 0.25)


def test_reachable_from_top_level_package():
    assert rd.integrations.parse_answer_confidence is parse_answer_confidence
    for name in ("trl", "verl", "tunix", "flat"):
        assert getattr(rd.integrations, name).__name__ == f"reward_design.integrations.{name}"


def test_last_occurrence_wins():
    text = (
        "<answer>3</answer><confidence>0.1</confidence> wait, I was wrong. "
        "<answer>4</answer><confidence>0.9</confidence>"
    )
    assert parse_answer_confidence(text) == ("4", 0.9)
    # The last *complete* pair wins; a trailing unclosed tag is ignored.
    assert parse_answer_confidence("<answer>4</answer><answer>5") == ("4", None)
    # Repeated confidence: the last one.
    assert parse_answer_confidence(
        "<answer>x</answer><confidence>0.2</confidence><confidence>0.7</confidence>"
    ) == ("x", 0.7)


def test_nested_and_unbalanced_tags_give_tag_free_content():
    assert extract_tag("<answer>a<answer>b</answer>c</answer>", "answer") == "b"
    assert extract_tag("<answer>a</answer>b</answer>", "answer") == "a"
    assert extract_tag("</answer><answer>", "answer") is None
    assert extract_tag("<answer><answer></answer>", "answer") == ""
    assert extract_tag("no tags at all", "answer") is None


def test_missing_or_empty_answer_gives_none_none():
    assert parse_answer_confidence("<confidence>0.5</confidence>") == (None, None)
    assert parse_answer_confidence("<answer>   </answer><confidence>0.5</confidence>") == (
        None,
        None,
    )
    assert parse_answer_confidence("") == (None, None)


@pytest.mark.parametrize(
    "content",
    [
        "",
        "high",
        "0.8 (fairly sure)",
        "nan",
        "NaN",
        "inf",
        "-0.1",
        "1.01",
        "1e3",
        "80%",
        "0x1",
        "1_0",
        "٠.٥",
        "0." + "1" * 100,
    ],
)
def test_bad_confidence_gives_none_but_keeps_answer(content):
    text = f"<answer>yes</answer><confidence>{content}</confidence>"
    assert parse_answer_confidence(text) == ("yes", None)


def test_confidence_forms_accepted():
    for content, value in [
        ("0.8", 0.8),
        (".5", 0.5),
        ("1", 1.0),
        ("0", 0.0),
        ("8e-1", 0.8),
        ("+0.3", 0.3),
        (" 0.40 ", 0.4),
    ]:
        assert parse_confidence(content) == pytest.approx(value, abs=0)
    assert parse_answer_confidence("<answer>x</answer>") == ("x", None)


def test_percent_form_is_opt_in():
    text = "<answer>x</answer><confidence>80%</confidence>"
    assert parse_answer_confidence(text) == ("x", None)
    assert parse_answer_confidence(text, allow_percent=True) == ("x", 0.8)
    assert parse_confidence("80 %", allow_percent=True) == 0.8
    assert parse_confidence("150%", allow_percent=True) is None
    assert parse_confidence("%", allow_percent=True) is None
    assert parse_confidence("0.5", allow_percent=True) == 0.5


def test_custom_tag_names():
    text = "<final>42</final><p>0.6</p><answer>no</answer>"
    assert parse_answer_confidence(text, answer_tag="final", confidence_tag="p") == ("42", 0.6)


@pytest.mark.parametrize("tag", ["", "<answer>", " answer", "a>b", None, 3])
def test_bad_tag_names_raise(tag):
    with pytest.raises(ValueError, match="answer_tag"):
        parse_answer_confidence("<answer>x</answer>", answer_tag=tag)


@pytest.mark.parametrize("tag", ["", "<a>", " a", "a>b", None])
def test_extract_tag_refuses_bad_tag_names(tag):
    with pytest.raises(ValueError, match="tag"):
        extract_tag("<a>x</a>", tag)


@pytest.mark.parametrize("value", [None, 3, 2.5, ["<answer>x</answer>"], {"a": 1}])
def test_non_text_never_raises(value):
    assert parse_answer_confidence(value) == (None, None)


@pytest.mark.parametrize("kind", [bytes, bytearray])
def test_bytes_are_text_in_the_parser_and_the_matchers(kind):
    # one rule for text inputs (rd.integrations._matching.as_text): str as is, bytes decoded
    # as UTF-8, None is no text, in the parser and the matchers alike
    text = "<answer> Café </answer><confidence>0.8</confidence>"
    raw = kind(text.encode())
    assert parse_answer_confidence(raw) == parse_answer_confidence(text) == ("Café", 0.8)
    assert extract_tag(raw, "answer") == "Café"
    assert parse_confidence(kind(b" 0.25 ")) == 0.25
    assert exact_match(kind("café".encode()), "Café") and exact_match("café", kind(b"caf\xc3\xa9"))
    assert parse_number(kind(b"1,000")) == 1000.0 and numeric_match(kind(b"0.5"), "1/2")
    assert normalize_answer(kind(b"The Answer!")) == normalize_answer("The Answer!") == "answer"
    # undecodable bytes are replaced, never an error
    assert parse_answer_confidence(kind(b"<answer>\xff</answer>")) == ("\ufffd", None)


def test_none_is_no_text_in_the_parser_and_the_matchers():
    assert parse_answer_confidence(None) == (None, None)
    assert extract_tag(None, "answer") is None and parse_confidence(None) is None
    assert not exact_match(None, "None") and not exact_match(None, None)
    assert parse_number(None) is None and not numeric_match(None, 0)
    with pytest.raises(TypeError, match="normalize_answer: text must be a str or bytes"):
        normalize_answer(None)


def test_unicode_answers_round_trip():
    text = "<answer> 北京 🚀 café </answer><confidence>0.5</confidence>"
    assert parse_answer_confidence(text) == ("北京 🚀 café", 0.5)
    # Non-ASCII whitespace is stripped like ASCII whitespace.
    assert parse_answer_confidence("<answer>\u3000Ω\u00a0</answer>") == ("Ω", None)


def _reference_extract(text: str, tag: str) -> str | None:
    """Brute force: among pairs whose content holds no tag, the one closing last."""
    open_tag, close_tag = f"<{tag}>", f"</{tag}>"
    opens = [i for i in range(len(text)) if text.startswith(open_tag, i)]
    closes = [j for j in range(len(text)) if text.startswith(close_tag, j)]
    best = None
    for j in closes:
        for i in opens:
            content = text[i + len(open_tag) : j]
            if i + len(open_tag) <= j and open_tag not in content and close_tag not in content:
                best = content
    return None if best is None else best.strip()


@given(st.text(alphabet="<>/ax \n", max_size=60))
def test_extract_tag_matches_brute_force_reference(text):
    assert extract_tag(text, "a") == _reference_extract(text, "a")


_TAGS = ("<answer>", "</answer>", "<confidence>", "</confidence>")
_noise = st.text(max_size=40).filter(lambda s: not any(t in s for t in _TAGS))


@given(
    prefix=_noise,
    decoy=st.booleans(),
    answer=_noise.filter(lambda s: s.strip() != ""),
    middle=_noise,
    confidence=st.floats(0.0, 1.0),
    suffix=_noise,
)
def test_hypothesis_text_around_tags(prefix, decoy, answer, middle, confidence, suffix):
    head = "<answer>decoy</answer><confidence>0.123</confidence>" if decoy else ""
    text = (
        f"{prefix}{head}<answer>{answer}</answer>{middle}"
        f"<confidence>{confidence!r}</confidence>{suffix}"
    )
    # Noise may complete a tag across a boundary ("</answe" + "r>..."): skip those.
    assume(all(text.count(tag) == 1 + decoy for tag in _TAGS))
    assert parse_answer_confidence(text) == (answer.strip(), confidence)


@given(st.text(max_size=200))
def test_arbitrary_text_never_raises(text):
    answer, confidence = parse_answer_confidence(text, allow_percent=True)
    assert answer is None or isinstance(answer, str)
    assert confidence is None or 0.0 <= confidence <= 1.0


def test_huge_adversarial_inputs_are_parsed_correctly():
    # ~16 MB of unbalanced tags: a backtracking regex such as
    # r"<answer>(.*?)</answer>.*<confidence>(.*?)</confidence>" is quadratic
    # here; the rpartition scanner is a handful of linear passes.
    n = 1_000_000
    noise = "<answer>" * n + "x" * n + "</confidence>" * (n // 10)
    text = noise + "<answer>ok</answer>" + "<confidence>" * n + "0.5</confidence>" + "<" * n
    assert parse_answer_confidence(text) == ("ok", 0.5)
    assert parse_answer_confidence("<answer>" * (4 * n)) == (None, None)
    long_conf = "<answer>x</answer><confidence>" + "0" * (4 * n) + "</confidence>"
    assert parse_answer_confidence(long_conf) == ("x", None)


# An independent reading of the documented confidence rules: an ASCII decimal
# (optionally a percentage) of at most 64 characters, in [0, 1].
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _reference_confidence(content, allow_percent=False):
    if content is None:
        return None
    s = content.strip()
    if len(s) > 64:
        return None
    scale = 1.0
    if allow_percent and s.endswith("%"):
        s, scale = s[:-1].rstrip(), 100.0
    if not _DECIMAL.fullmatch(s):
        return None
    value = float(s) / scale
    return value if 0.0 <= value <= 1.0 else None


_ATOMS = (
    "<answer>", "</answer>", "<confidence>", "</confidence>", "0.5", ".25", "1", "0", "x",
    " ", "\n", "\x1c", "\xa0", "_", "%", "\u0663", "e-1", "<", ">", "/", "7" * 70, "0.2_5",
)  # fmt: skip
_tagged_text = st.lists(st.sampled_from(_ATOMS), max_size=14).map("".join)
# Contents that float() reads but the rules refuse, or the reverse.
_ODD_CONFIDENCES = [
    "0.2_5", "\u0660.\u0665", "0." + "1" * 70, " 0.3\x1c", "\x1c0.3", "\xa00.4\u3000",
    "0.7" + " " * 70, "80%", "80 %", "", "  ", "nan", "-0.0", "1e-3", "+.5", "5.", "1.5",
]  # fmt: skip


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<answer>a<answer>b</answer>c</answer><confidence>.5</confidence>", ("b", 0.5)),
        ("<answer>a</answer>b</answer><confidence>.5</confidence>", ("a", 0.5)),
        ("<answer>a</answer><confidence>0.1</confidence>0.2</confidence>", ("a", 0.1)),
        ("<answer>a</answer><confidence>0.1<confidence>0.2</confidence>", ("a", 0.2)),
        ("</answer><answer>a</answer><answer>", ("a", None)),
        ("<answer>a</answer><confidence>0.2_5</confidence>", ("a", None)),
        ("<answer>a</answer><confidence> 0.25\x1c</confidence>", ("a", 0.25)),
    ],
)
def test_nested_unbalanced_and_odd_pairs(text, expected):
    assert parse_answer_confidence(text) == expected


@given(_tagged_text, st.booleans())
@settings(max_examples=300)
def test_parse_answer_confidence_matches_brute_force_reference(text, allow_percent):
    answer = _reference_extract(text, "answer")
    expected = (None, None)
    if answer:
        content = _reference_extract(text, "confidence")
        expected = (answer, _reference_confidence(content, allow_percent))
    assert parse_answer_confidence(text, allow_percent=allow_percent) == expected


@given(st.lists(st.one_of(_tagged_text, st.none(), st.integers()), max_size=12), st.booleans())
@settings(max_examples=200)
def test_batch_parser_equals_one_text_at_a_time(texts, allow_percent):
    # The adapters' batch parser: the same answers and confidences as
    # parse_answer_confidence per text, the verdicts of exact_match, wherever
    # in the batch the odd texts are.
    from reward_design.integrations._parsing import NO_ANSWER, _parse_many

    truths = [["x", "1"][i % 2] for i in range(len(texts))]
    singles = [parse_answer_confidence(t, allow_percent=allow_percent) for t in texts]
    answers, confidences, verdicts = _parse_many(texts, allow_percent=allow_percent)
    assert verdicts is None
    assert answers == [a for a, _ in singles]
    expected = [math.nan if c is None else c for _, c in singles]
    assert [math.isnan(c) for c in confidences] == [math.isnan(c) for c in expected]
    assert [c for c in confidences if c == c] == [c for c in expected if c == c]
    none, confidences, verdicts = _parse_many(texts, truths, allow_percent=allow_percent)
    assert none is None
    expected_verdicts = [
        NO_ANSWER if a is None else int(exact_match(a, t))
        for (a, _), t in zip(singles, truths, strict=True)
    ]
    assert verdicts.tolist() == expected_verdicts


@given(
    st.lists(
        st.one_of(
            st.text(max_size=8),
            st.sampled_from(_ODD_CONFIDENCES),
            st.floats(0, 1).map(repr),
        ),
        max_size=10,
    )
)
@settings(max_examples=200)
def test_batch_confidence_reader_equals_parse_confidence(contents):
    from reward_design.integrations._parsing import _read_confidences

    for allow_percent in (False, True):
        got = _read_confidences(contents, allow_percent)
        for content, value in zip(contents, got.tolist(), strict=True):
            expected = parse_confidence(content, allow_percent=allow_percent)
            assert (expected is None and math.isnan(value)) or value == expected, content


# ---------------------------------------------------------------- matching
def _squad_reference(s: str) -> str:
    """The SQuAD v1.1 evaluation script's normalisation, step by step."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The Eiffel Tower!", "eiffel tower"),
        ("  an   apple, a day ", "apple day"),
        ("Theatre", "theatre"),
        ("A.B.C.", "abc"),
        ("the", ""),
    ],
)
def test_normalize_answer_examples(text, expected):
    assert normalize_answer(text) == expected


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_normalize_answer_matches_squad_script(text):
    assert normalize_answer(text) == _squad_reference(text)


@given(
    st.one_of(
        st.text(alphabet="aAnNtThHeE0123456789xZ", min_size=1, max_size=8),
        st.sampled_from(["a", "A", "an", "AN", "the", "The", "THE", "an1", "theA", "42"]),
    )
)
def test_normalize_answer_single_words_match_squad_script(text):
    # the common answers (ASCII letters and digits, articles included) take a short path
    assert normalize_answer(text) == _squad_reference(text)


def test_exact_match():
    assert exact_match("The  Eiffel tower!", "eiffel tower")
    assert exact_match("paris", ["London", "Paris"])
    assert exact_match("4", 4)
    assert not exact_match("4", "5")
    assert not exact_match(None, "x")
    assert not exact_match("x", None)
    assert exact_match("the", "a")  # SQuAD: articles alone normalise to ""


def test_parse_number():
    cases = {
        "42": 42.0,
        " -3.5 ": -3.5,
        "1,234": 1234.0,
        "$5": 5.0,
        "-$5": -5.0,
        "50%": 50.0,
        "1/4": 0.25,
        "2e3": 2000.0,
        "€ 7": 7.0,
    }
    for text, value in cases.items():
        assert parse_number(text) == value, text
    for bad in ["", "abc", "1/0", "inf", "nan", "1e999", "4 apples", None, True, [1], "1" * 300]:
        assert parse_number(bad) is None, bad
    assert parse_number(3) == 3.0


def test_numeric_match():
    assert numeric_match("1,000", 1000)
    assert numeric_match("0.50", "1/2")
    assert numeric_match("$5", ["4", "5.000"])
    assert not numeric_match("5.001", "5")
    assert numeric_match("5.001", "5", rel_tol=1e-3)
    assert not numeric_match("five", "5")
    assert not numeric_match("5", "five")
    assert numeric_match("1e-12", "0")  # within abs_tol
    assert not numeric_match("1e-6", "0")
    # Equivalent to math.isclose on the parsed numbers.
    assert numeric_match("3.0000001", "3") == math.isclose(3.0000001, 3.0, rel_tol=1e-6)


_WORDS = st.sampled_from(["a", "A", "an", "The", "the", "x", "X", "42", "042", "Paris", "paris"])
_ANSWERISH = st.one_of(
    _WORDS,
    st.text(alphabet="aAnNtThHeE0123456789 .,é²", max_size=6),
    st.builds(lambda a, b: a + b, _WORDS, _WORDS),
)


@given(st.lists(st.tuples(_ANSWERISH, _ANSWERISH), min_size=1, max_size=12))
@settings(max_examples=300)
def test_batch_verdicts_equal_exact_match_on_words_cases_and_articles(pairs):
    # The batch parser's shortcut for letters-and-digits answers (lower-case
    # comparison) against exact_match's full SQuAD normalisation.
    from reward_design.integrations._parsing import NO_ANSWER, _parse_many

    texts = [f"<answer>{a}</answer><confidence>0.5</confidence>" for a, _ in pairs]
    truths = [t for _, t in pairs]
    _, _, verdicts = _parse_many(texts, truths)
    expected = [NO_ANSWER if not a.strip() else int(exact_match(a.strip(), t)) for a, t in pairs]
    assert verdicts.tolist() == expected
