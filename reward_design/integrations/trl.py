"""Reward functions for TRL's ``GRPOTrainer`` (and ``RLOOTrainer``).

TRL calls every entry of ``reward_funcs`` as::

    reward_func(prompts=prompts, completions=completions,
                completion_ids=completion_ids, **reward_kwargs)

where ``completions`` are strings (standard datasets) or lists of
``{"role", "content"}`` messages (conversational datasets), and
``reward_kwargs`` holds every dataset column except ``prompt`` (repeated
once per generation), plus ``trainer_state``, ``log_extra`` and
``log_metric``. It expects one float (or None) per completion, labels the
logged rewards ``rewards/<__name__>/mean`` and sums the functions with
``GRPOConfig.reward_weights``. (Read from ``GRPOTrainer._calculate_rewards``
in TRL 1.16 and the "Using a custom reward function" section of TRL's
GRPOTrainer documentation.)

This module never imports torch or trl.

Example:
  >>> import reward_design as rd
  >>> objective = rd.compose(correct=rd.terms.Correctness(), brier=rd.terms.Brier())
  >>> reward = rd.integrations.trl.reward_func(objective, answer_key="solution")
  >>> reward(completions=["<answer>4</answer><confidence>0.5</confidence>"], solution=["4"])
  [0.75]

References:
  Damani et al., "Beyond Binary Rewards: Training LMs to Reason About Their
  Uncertainty" (RLCR), arXiv 2507.16806.
  Shao et al., "DeepSeekMath" (GRPO), arXiv 2402.03300.
"""

from __future__ import annotations

from typing import Any

from reward_design.integrations._matching import exact_match
from reward_design.integrations._parsing import parse_answer_confidence
from reward_design.integrations._reward_fn import (
    TextRewardFunction,
    completion_text,
    make_reward_functions,
)
from reward_design.integrations._scorer import Matcher, Parser, TextScorer

__all__ = ["reward_func", "component_reward_funcs", "completion_text", "TextRewardFunction"]


def reward_func(
    objective: Any = None,
    answer_key: str = "solution",
    match: Matcher = exact_match,
    invalid_reward: float = -1.0,
    *,
    parse: Parser = parse_answer_confidence,
    require_confidence: bool | None = None,
    name: str | None = None,
) -> TextRewardFunction:
    """A TRL reward function computing ``objective``'s total on text completions.

    Each completion is parsed (``<answer>…</answer><confidence>p</confidence>``
    by default), its answer matched against ``kwargs[answer_key]``, and the
    objective evaluated on ``Rollouts(correct [N, 1], confidence [N, 1])``
    through a cached jitted function: the rewards are the JAX objective's
    values on the same arrays. A completion whose answer (or, for
    objectives that read it, confidence) does not parse gets
    ``invalid_reward``; malformed text never raises.

    Args:
      objective: from `rd.compose` (default: correctness + Brier, RLCR).
      answer_key: the dataset column with the ground truth.
      match: ``match(answer, ground_truth) -> bool | float in [0, 1]``
        (default `exact_match`; see also `numeric_match`).
      invalid_reward: reward for completions that cannot be scored.
      parse: ``parse(text) -> (answer, confidence)``, e.g.
        ``functools.partial(parse_answer_confidence, allow_percent=True)``.
      require_confidence: see `TextScorer` (default: iff the objective reads
        confidence).
      name: ``__name__`` used in TRL's logs (default: the component names
        joined by ``+``, e.g. ``"correct+brier"``).

    Returns:
      A picklable callable ``(prompts, completions, completion_ids=None,
      **kwargs) -> list[float | None]``. When TRL passes ``log_metric``, the
      fraction of scorable completions is logged as
      ``"<name>/valid_fraction"``. A completion that a gated objective
      drops (``rd.gates.Gated(..., on_reject="drop")``) gets None: TRL then
      leaves it out of the group baseline and gives it advantage 0. Note
      that each completion is its own ``[1, 1]`` group here, so group
      filters (``rd.gates.GroupFilter``) have nothing to compare; use
      `rd.integrations.flat` for group-level gates.

    Raises:
      TypeError / ValueError: for a bad objective, matcher or parser, or a
        non-finite ``invalid_reward`` (at construction).
    """
    scorer = TextScorer(
        objective,
        match=match,
        invalid_reward=invalid_reward,
        parse=parse,
        require_confidence=require_confidence,
    )
    return make_reward_functions(
        scorer, answer_key, per_component=False, name=name, dropped_as_none=True
    )


def component_reward_funcs(
    objective: Any = None,
    answer_key: str = "solution",
    match: Matcher = exact_match,
    invalid_reward: float = -1.0,
    *,
    parse: Parser = parse_answer_confidence,
    require_confidence: bool | None = None,
    name: str | None = None,
) -> list[TextRewardFunction]:
    """One TRL reward function per component, so that TRL logs each term.

    Pass the whole list as ``reward_funcs`` (with ``reward_weights`` left at
    its default of ones): TRL sums them, and the sum equals `reward_func`'s
    output. The list holds one function per component of the objective,
    named after it (``"correct"``, ``"brier"``; ``"<name>/correct"`` with a
    ``name``), returning that component's reward (0 for completions that
    cannot be scored), and a last function ``"rest"`` returning what the
    components do not explain: ``invalid_reward`` for completions that
    cannot be scored, otherwise ``total - sum(components)`` (0 for plain
    `compose` objectives; a gate's adjustment for gated ones). A batch is
    parsed and evaluated once and shared by all the functions.

    Args: as `reward_func`.

    Returns:
      ``[component functions..., rest]``.
    """
    scorer = TextScorer(
        objective,
        match=match,
        invalid_reward=invalid_reward,
        parse=parse,
        require_confidence=require_confidence,
    )
    return make_reward_functions(
        scorer, answer_key, per_component=True, name=name, dropped_as_none=True
    )
