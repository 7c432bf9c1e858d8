"""rd.integrations.RLCR_SYSTEM_PROMPT asks for exactly what the default parser reads."""

from __future__ import annotations

import re

import pytest

import reward_design as rd
from reward_design.integrations import RLCR_SYSTEM_PROMPT, parse_answer_confidence


def test_prompt_names_the_parser_tags_in_order():
    positions = []
    for tag in ("think", "answer", "analysis", "confidence"):
        opening, closing = f"<{tag}>", f"</{tag}>"
        assert opening in RLCR_SYSTEM_PROMPT and closing in RLCR_SYSTEM_PROMPT, tag
        positions.append(RLCR_SYSTEM_PROMPT.index(opening))
    assert positions == sorted(positions)


def test_the_prompts_own_example_parses():
    example = re.search(r"<confidence>[^<]*</confidence>", RLCR_SYSTEM_PROMPT.split("example")[1])
    assert example is not None
    answer, confidence = parse_answer_confidence("<answer>x</answer>" + example.group(0))
    assert (answer, confidence) == ("x", 0.7)


def test_a_reply_in_the_asked_format_is_scored():
    reply = (
        "<think>17 + 25: 7 + 5 = 12, carry 1, 1 + 2 + 1 = 4.</think>\n"
        "<answer>42</answer>\n"
        "<analysis>Simple addition, checked twice.</analysis>\n"
        "<confidence>0.95</confidence>"
    )
    assert parse_answer_confidence(reply) == ("42", 0.95)
    reward = rd.integrations.trl.reward_func(answer_key="solution")
    # correctness + Brier (RLCR): 1 - (0.95 - 1)^2
    assert reward(completions=[reply], solution=["42"]) == [pytest.approx(1 - 0.05**2, abs=1e-6)]


def test_exported():
    assert rd.integrations.RLCR_SYSTEM_PROMPT is RLCR_SYSTEM_PROMPT
    assert "RLCR_SYSTEM_PROMPT" in rd.integrations.__all__
