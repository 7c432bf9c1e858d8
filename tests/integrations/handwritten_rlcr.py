"""A hand-written TRL-style RLCR reward function, written the obvious way.

The reference `rd.integrations.trl.reward_func` is measured against (speed:
``reward-design bench``; values: ``test_integrations_rewards.py``): a regular
expression per tag, the last match wins, ``float()`` on the confidence, an
exact string match, and correctness + Brier per completion in plain Python.

It agrees with ``reward_func(compose(correct=Correctness(), brier=Brier()))``
(to float32 rounding) on RLCR text whose tags are not nested, whose answers
are unchanged by SQuAD normalisation (e.g. ``"42"``) and whose confidences
are plain ASCII decimals; ours additionally normalises answers
(`rd.integrations.exact_match`), reads the innermost pair of nested tags and
refuses confidences with ``_``, non-ASCII digits or over 64 characters.
"""

from __future__ import annotations

import re

ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
CONFIDENCE = re.compile(r"<confidence>(.*?)</confidence>", re.DOTALL)


def rlcr_reward(completions, solution, invalid_reward=-1.0, **kwargs):
    """Correctness + Brier, ``y - (p - y) ** 2``, per completion (``invalid_reward`` if unread)."""
    rewards = []
    for text, truth in zip(completions, solution, strict=True):
        answers = ANSWER.findall(text)
        confidences = CONFIDENCE.findall(text)
        answer = answers[-1].strip() if answers else ""
        try:
            confidence = float(confidences[-1])
        except (IndexError, ValueError):
            confidence = -1.0
        if not answer or not 0.0 <= confidence <= 1.0:
            rewards.append(invalid_reward)
            continue
        correct = 1.0 if answer == str(truth).strip() else 0.0
        rewards.append(correct - (confidence - correct) ** 2)
    return rewards
