"""The system prompt that asks a model for the RLCR text format.

Without an instruction to write ``<answer>…</answer>`` and
``<confidence>…</confidence>``, a model's completions do not parse, every one
gets ``invalid_reward`` and a group of equal rewards carries no learning signal
(docs/integrations.md, "The TRL recipe").
"""

from __future__ import annotations

__all__ = ["RLCR_SYSTEM_PROMPT"]

RLCR_SYSTEM_PROMPT = (
    "Answer the user's question. Write your reply in four parts, in this order:\n"
    "1. <think> ... </think>: reason through the problem step by step.\n"
    "2. <answer> ... </answer>: the final answer only, with no explanation.\n"
    "3. <analysis> ... </analysis>: examine how your answer could be wrong and how "
    "sure you can be of it.\n"
    "4. <confidence> ... </confidence>: the probability that your answer is correct, "
    "a plain number between 0 and 1, for example <confidence>0.7</confidence>.\n"
    "You are scored on the answer and on the confidence: a correct answer earns "
    "points, and the confidence is scored against the outcome so that stating the "
    "probability you actually believe earns the most on average. Do not say 1 "
    "unless you are certain, nor 0 unless you are sure the answer is wrong."
)
"""System prompt for the RLCR format (Damani et al., arXiv 2507.16806).

It asks for what `parse_answer_confidence` reads with its default tags: reasoning in
``<think>``, the final answer alone in ``<answer>``, an assessment of its own
uncertainty in ``<analysis>`` and a probability in [0, 1] in ``<confidence>``. It
tells the model that an honest probability scores best, which holds for correctness
plus a proper scoring rule such as Brier (docs/scoring-rules.md).
"""
