"""Reward functions for tunix's RL learners (``GRPOLearner`` and friends).

tunix declares ``RewardFn = Callable[..., List[float]]`` ("prompts,
completions, **kargs -> rewards"). During training
``GRPOLearner._generate_and_compute_advantage`` calls
``RLLearner._compute_rewards(prompts, completions, mode, **columns)``,
whose sequence-level reward manager calls each function as
``reward_fn(prompts=prompts, completions=completions, **kwargs)``:
``completions`` are the generated strings and ``kwargs`` carries every other
column of the training batch (e.g. ``answer``, ``question``), each repeated
``num_generations`` times with ``np.repeat`` (so usually a numpy array of
``str`` or ``bytes``), plus ``trajectory_ids`` and ``mode``. The manager
stores the outputs in a float64 ``[N, num_fns]`` array, sums them with
``np.nansum`` into the rewards the advantage estimator sees, and logs each
function as ``rewards/<__name__>`` next to its own aggregates
``rewards/sum``, ``rewards/mean``, ``rewards/min`` and ``rewards/max`` (so
those four names are refused here). Parameters of a function whose names
match an ``AlgorithmConfig`` field are filled from it; ours take only
``prompts``, ``completions`` and ``**kwargs``. (Read from google-tunix
0.1.7: ``tunix/rl/rl_learner.py``, ``tunix/rl/reward_manager.py``,
``tunix/rl/grpo/grpo_learner.py``.)

google-tunix 0.1.7 calls the functions in the trainer process. tunix's
development branch adds ``reward_num_workers > 1``: a forkserver pool that
pickles each function and calls it on slices of the batch, falling back to
the parent process for a function that fails there. Ours are picklable
(objectives built from pytree terms are; one holding a lambda is not and
then runs in the parent).

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

# tunix's SequenceRewardManager logs its aggregates as rewards/<name> in the
# same dict as each function's rewards/<__name__>.
_RESERVED_NAMES = ("sum", "mean", "min", "max")


def _check_names(functions: list[TextRewardFunction]) -> None:
    for fn in functions:
        if fn.__name__ in _RESERVED_NAMES:
            raise ValueError(
                f"a tunix reward function would be named {fn.__name__!r}, which tunix's reward "
                f"manager uses for its own rewards/{fn.__name__} metric (reserved: "
                f"{list(_RESERVED_NAMES)}); pass name=<another name> or rename the term."
            )


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
      name: ``__name__`` used in tunix's logs (``rewards/<name>``); defaults
        to the component names joined by ``+``.

    Returns:
      A picklable `TextRewardFunction`.

    Raises:
      ValueError: if the name would be ``sum``, ``mean``, ``min`` or
        ``max`` (tunix's own ``rewards/...`` aggregates), or for the
        configuration errors of `TextScorer`.
    """
    scorer = TextScorer(
        objective,
        match=match,
        invalid_reward=invalid_reward,
        parse=parse,
        require_confidence=require_confidence,
    )
    fn = make_reward_functions(scorer, answer_key, per_component=False, name=name)
    _check_names([fn])
    return fn


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
    appear in its metrics as ``rewards/<component>`` (``rewards/<name>/<component>``
    when ``name`` is given).

    Raises:
      ValueError: if, without ``name``, a component is called ``sum``,
        ``mean``, ``min`` or ``max`` (tunix's own aggregates).
    """
    scorer = TextScorer(
        objective,
        match=match,
        invalid_reward=invalid_reward,
        parse=parse,
        require_confidence=require_confidence,
    )
    fns = make_reward_functions(scorer, answer_key, per_component=True, name=name)
    _check_names(fns)
    return fns
