"""Integrations: text parsing and reward functions for TRL, verl and tunix.

``rd.integrations.parse_answer_confidence``, the matchers, `TextScorer` and
``RLCR_SYSTEM_PROMPT`` (the system prompt that asks for the RLCR format) are
re-exported here; the framework adapters are sub-modules reachable as
attributes (imported on first use): ``rd.integrations.trl``,
``rd.integrations.verl``, ``rd.integrations.tunix`` and the array-level
``rd.integrations.flat``. None of them imports torch, trl, verl or tunix.

What each argument accepts, and what an accepted input means: docs/integrations.md,
"Input contract" (the shared rules: docs/concepts.md, "Input checks").
"""

from __future__ import annotations

import importlib
from typing import Any

from reward_design.integrations._matching import exact_match as exact_match
from reward_design.integrations._matching import normalize_answer as normalize_answer
from reward_design.integrations._matching import numeric_match as numeric_match
from reward_design.integrations._matching import parse_number as parse_number
from reward_design.integrations._parsing import extract_tag as extract_tag
from reward_design.integrations._parsing import parse_answer_confidence as parse_answer_confidence
from reward_design.integrations._parsing import parse_confidence as parse_confidence
from reward_design.integrations._prompts import RLCR_SYSTEM_PROMPT as RLCR_SYSTEM_PROMPT
from reward_design.integrations._reward_fn import TextRewardFunction as TextRewardFunction
from reward_design.integrations._reward_fn import completion_text as completion_text
from reward_design.integrations._scorer import ScoredBatch as ScoredBatch
from reward_design.integrations._scorer import TextScorer as TextScorer
from reward_design.integrations._scorer import default_objective as default_objective

_LAZY_SUBMODULES = ("trl", "verl", "tunix", "flat")

__all__ = [
    "RLCR_SYSTEM_PROMPT",
    "ScoredBatch",
    "TextRewardFunction",
    "TextScorer",
    "completion_text",
    "default_objective",
    "exact_match",
    "extract_tag",
    "normalize_answer",
    "numeric_match",
    "parse_answer_confidence",
    "parse_confidence",
    "parse_number",
    *_LAZY_SUBMODULES,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBMODULES:
        module = importlib.import_module(f"reward_design.integrations.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'reward_design.integrations' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))
