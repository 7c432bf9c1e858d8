"""Reward functions for tunix's RL learners (``GRPOLearner`` and friends).

tunix declares ``RewardFn = Callable[..., List[float]]`` ("prompts,
completions, **kargs -> rewards") and its sequence-level reward manager calls
each function as ``reward_fn(prompts=prompts, completions=completions,
**kwargs)``, where ``completions`` are strings and ``kwargs`` carries the
training batch's other columns (e.g. ``answer``, ``question``) and
``mode``; it sums the functions' outputs with ``np.nansum`` and logs each as
``rewards/<__name__>``. Parameters of the function whose names match an
``AlgorithmConfig`` field are filled from it; ours take only ``prompts``,
``completions`` and ``**kwargs``. With ``reward_num_workers > 1`` tunix
pickles reward functions into worker processes, so ours are picklable
(objectives built from pytree terms are; one holding a lambda is evaluated
in the parent process, as tunix does for unpicklable functions). (Read from
``tunix/rl/rl_learner.py`` and ``tunix/rl/reward_manager.py``.)

This module never imports tunix.

Example:
  >>> learner = GRPOLearner(rl_cluster=cluster, algo_config=config,
  ...                       reward_fns=[rd.integrations.tunix.reward_fn(objective)])
"""

from __future__ import annotations

from typing import Any

from reward_design.integrations._matching import exact_match
from reward_design.integrations._parsing import parse_answer_confidence
from reward_design.integrations._reward_fn import TextRewardFunction, make_reward_functions
from reward_design.integrations._scorer import Matcher, Parser, TextScorer

__all__ = ["reward_fn", "component_reward_fns"]


def reward_fn(
    objective: Any = None,
    answer_key: str = "answer",
    match: Matcher = exact_match,
    invalid_reward: float = -1.0,
    *,
    parse: Parser = parse_answer_confidence,
    require_confidence: bool | None = None,
    name: str | None = None,
) -> TextRewardFunction:
    """A tunix reward function ``(prompts, completions, **kwargs) -> list[float]``.

    Same behaviour as `rd.integrations.trl.reward_func` (parse, match,
    evaluate the objective on ``[N, 1]`` rollouts with a cached jitted
    function, ``invalid_reward`` for text that cannot be scored, never
    raising on text); the ground truth column defaults to ``"answer"``,
    the name tunix's GSM8K examples use.

    Args:
      objective: from `rd.compose` (default: correctness + Brier, RLCR).
      answer_key: the batch column with the ground truth.
      match: ``match(answer, ground_truth) -> bool | float in [0, 1]``.
      invalid_reward: reward for completions that cannot be scored.
      parse: ``parse(text) -> (answer, confidence)``.
      require_confidence: see `TextScorer`.
      name: ``__name__`` used in tunix's logs.

    Returns:
      A picklable `TextRewardFunction`.
    """
    scorer = TextScorer(
        objective,
        match=match,
        invalid_reward=invalid_reward,
        parse=parse,
        require_confidence=require_confidence,
    )
    return make_reward_functions(scorer, answer_key, per_component=False, name=name)


def component_reward_fns(
    objective: Any = None,
    answer_key: str = "answer",
    match: Matcher = exact_match,
    invalid_reward: float = -1.0,
    *,
    parse: Parser = parse_answer_confidence,
    require_confidence: bool | None = None,
    name: str | None = None,
) -> list[TextRewardFunction]:
    """One tunix reward function per component plus ``rest``; they sum to `reward_fn`.

    See `rd.integrations.trl.component_reward_funcs`; tunix sums its
    ``reward_fns`` with ``np.nansum`` and logs each, so the per-term rewards
    appear in its metrics.
    """
    scorer = TextScorer(
        objective,
        match=match,
        invalid_reward=invalid_reward,
        parse=parse,
        require_confidence=require_confidence,
    )
    return make_reward_functions(scorer, answer_key, per_component=True, name=name)
