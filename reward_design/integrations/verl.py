"""Reward functions for verl (``custom_reward_function``).

verl's reward managers decode each response (``skip_special_tokens=True``)
and call::

    compute_score(data_source=..., solution_str=..., ground_truth=..., extra_info=..., **kwargs)

(``ground_truth`` from ``non_tensor_batch["reward_model"]["ground_truth"]``;
``kwargs`` are the config's ``reward_kwargs`` and, with a reward-model router,
``reward_router_address`` and ``reward_model_tokenizer``). If the result is a
dict, ``result["score"]`` is the reward placed on the last valid response
token and every key is collected into ``reward_extra_info`` (so all results
must carry the same keys). In verl 0.9.1 that is the reward loop's
``NaiveRewardManager.run_single``, called per sample by Ray reward workers
from a thread pool (``verl/experimental/reward_loop/``). The older
``BatchRewardManager`` (``verl/workers/reward_manager/batch.py``) calls
``compute_score(data_sources=..., solution_strs=..., ground_truths=...,
extra_infos=..., **reward_kwargs)`` once per batch and expects a list of
the same; verl 0.6.1's trainer builds it, while from 0.7.1 on the trainer
uses the reward loop, which has no batch manager (0.9.1 still ships the
class).

Use the module-level `compute_score` directly::

    reward.custom_reward_function.path=<site-packages>/reward_design/integrations/verl.py
    reward.custom_reward_function.name=compute_score

(verl 0.9.0 and 0.9.1 read only these keys; 0.6.1 reads the top-level
``custom_reward_function.path``/``name``, which 0.7.1 and 0.8.0 still
migrate. verl loads the file by path as a stand-alone module, so this file
uses absolute imports only), or write your own file with
``compute_score = make_compute_score(objective)``. With a verl whose
trainer builds ``BatchRewardManager`` (``reward_model.reward_manager=batch``),
use ``name=compute_score_batch``.

This module never imports verl or torch.

References:
  Damani et al., "Beyond Binary Rewards: Training LMs to Reason About Their
  Uncertainty" (RLCR), arXiv 2507.16806.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from reward_design.integrations._matching import as_text, exact_match
from reward_design.integrations._parsing import parse_answer_confidence
from reward_design.integrations._scorer import Matcher, Parser, TextScorer

__all__ = ["compute_score", "compute_score_batch", "make_compute_score", "VerlScore"]

_RESERVED = ("score", "valid", "correct_match", "confidence", "in_update")
# verl stores every reward_extra_info key as a column of the batch's
# non_tensor_batch, next to these (verl 0.9.1: the dataset's and trainer's
# per-sample columns, then what its agent loop writes after the reward keys,
# which silently replaces a reward key of the same name).
_VERL_COLUMNS = (
    "data_source",
    "reward_model",
    "extra_info",
    "raw_prompt",
    "index",
    "tools_kwargs",
    "interaction_kwargs",
    "agent_name",
    "multi_modal_data",
    "uid",
    "__num_turns__",
    "multi_modal_inputs",
    "turn_scores",
    "tool_rewards",
    "min_global_steps",
    "max_global_steps",
    "extras",
    "reward_extra_info",
)


class VerlScore:
    """verl ``compute_score`` built from an objective (see `make_compute_score`)."""

    def __init__(self, scorer: TextScorer, batched: bool):
        clash = sorted(set(scorer.component_names) & set(_RESERVED))
        if clash:
            raise ValueError(
                f"objective component names {clash} clash with the keys the verl adapter "
                f"reports ({list(_RESERVED)}); rename those terms."
            )
        clash = sorted(set(scorer.component_names) & set(_VERL_COLUMNS))
        if clash:
            raise ValueError(
                f"objective component names {clash} clash with batch columns verl keeps "
                f"next to reward_extra_info ({list(_VERL_COLUMNS)}): verl would overwrite "
                "them or they would overwrite verl's; rename those terms."
            )
        self.scorer = scorer
        self.batched = batched
        self.__name__ = "compute_score_batch" if batched else "compute_score"

    def _dicts(self, solution_strs: Sequence[Any], ground_truths: Sequence[Any]) -> list[dict]:
        batch = self.scorer.score([as_text(s) for s in solution_strs], list(ground_truths))
        results = []
        for i in range(len(batch.total)):
            confidence = float(batch.confidence[i])
            result = {
                "score": float(batch.total[i]),
                "valid": float(batch.valid[i]),
                "correct_match": float(batch.correct[i]),
                # -1 marks "no confidence parsed": verl averages these lists,
                # and a NaN would poison the mean.
                "confidence": confidence if confidence == confidence else -1.0,
                # 0.0 where a gated objective (on_reject="drop") excludes the
                # response; verl has no per-sample exclusion, so "score" is
                # still the objective's total there.
                "in_update": float(batch.in_update[i]),
            }
            for name in self.scorer.component_names:
                result[name] = float(batch.components[name][i])
            results.append(result)
        return results

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.batched:
            return self._batch(*args, **kwargs)
        return self._single(*args, **kwargs)

    def _single(
        self,
        data_source: Any = None,
        solution_str: Any = None,
        ground_truth: Any = None,
        extra_info: Any = None,
        **kwargs: Any,
    ) -> dict[str, float]:
        return self._dicts([solution_str], [ground_truth])[0]

    def _batch(
        self,
        data_sources: Sequence[Any] | None = None,
        solution_strs: Sequence[Any] | None = None,
        ground_truths: Sequence[Any] | None = None,
        extra_infos: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> list[dict[str, float]]:
        if solution_strs is None or ground_truths is None:
            raise ValueError(
                "compute_score_batch needs solution_strs and ground_truths (lists of equal "
                f"length); got solution_strs={type(solution_strs).__name__}, "
                f"ground_truths={type(ground_truths).__name__}."
            )
        for value, name in ((solution_strs, "solution_strs"), (ground_truths, "ground_truths")):
            if isinstance(value, str | bytes) or not hasattr(value, "__len__"):
                raise TypeError(
                    f"compute_score_batch: {name} must be a list (one entry per response); got "
                    f"{type(value).__name__}."
                )
        if len(solution_strs) != len(ground_truths):
            raise ValueError(
                f"compute_score_batch: solution_strs has {len(solution_strs)} entries but "
                f"ground_truths has {len(ground_truths)}; expected one ground truth per response."
            )
        return self._dicts(list(solution_strs), list(ground_truths))


def make_compute_score(
    objective: Any = None,
    *,
    match: Matcher = exact_match,
    invalid_reward: float = -1.0,
    parse: Parser = parse_answer_confidence,
    require_confidence: bool | None = None,
    batched: bool = False,
) -> Callable[..., Any]:
    """A verl ``compute_score`` for ``objective``.

    The returned callable has verl's signature,
    ``compute_score(data_source, solution_str, ground_truth, extra_info=None,
    **kwargs)`` (or, with ``batched=True``, ``compute_score(data_sources,
    solution_strs, ground_truths, extra_infos=None, **kwargs)`` returning a
    list), and returns a dict::

        {"score": total, "valid": 1.0 or 0.0, "correct_match": matcher verdict,
         "confidence": parsed confidence or -1, "in_update": 1.0 or 0.0,
         <component>: value, ...}

    ``score`` is the objective's total on ``Rollouts(correct [N, 1],
    confidence [N, 1])`` (the same numbers as the JAX objective), or
    ``invalid_reward`` for text that cannot be scored (components 0 then).
    Every dict has the same keys, as verl's ``reward_extra_info`` needs.
    ``data_source`` and ``extra_info`` are accepted and ignored. Never
    raises on text.

    Args:
      objective: from `rd.compose` (default: correctness + Brier, RLCR).
      match: ``match(answer, ground_truth) -> bool | float in [0, 1]``.
      invalid_reward: reward for text that cannot be scored.
      parse: ``parse(text) -> (answer, confidence)``.
      require_confidence: see `TextScorer`.
      batched: return the form for verl's legacy ``BatchRewardManager``.

    Raises:
      ValueError: if a component is named like one of the reported keys or
        like a batch column verl keeps next to them (``uid``, ``index``,
        ``data_source``, ``extras``, ...; see ``_VERL_COLUMNS``).
    """
    scorer = TextScorer(
        objective,
        match=match,
        invalid_reward=invalid_reward,
        parse=parse,
        require_confidence=require_confidence,
    )
    return VerlScore(scorer, batched=bool(batched))


_default_single: VerlScore | None = None
_default_batch: VerlScore | None = None


def compute_score(
    data_source: Any = None,
    solution_str: Any = None,
    ground_truth: Any = None,
    extra_info: Any = None,
    **kwargs: Any,
) -> dict[str, float]:
    """verl custom reward function: correctness + Brier (RLCR) on one response.

    ``score = correct - (confidence - correct)^2`` with ``correct`` from
    `exact_match` of the parsed ``<answer>`` against ``ground_truth`` and
    ``confidence`` from ``<confidence>``; ``-1.0`` if either does not parse.
    The dict also carries ``correct`` and ``brier`` (the two components),
    ``valid``, ``correct_match`` and ``confidence``. See `make_compute_score`
    for other objectives.

    References:
      Damani et al., "Beyond Binary Rewards: Training LMs to Reason About
      Their Uncertainty" (RLCR), arXiv 2507.16806.
    """
    global _default_single
    if _default_single is None:
        _default_single = make_compute_score()
    return _default_single(data_source, solution_str, ground_truth, extra_info, **kwargs)


def compute_score_batch(
    data_sources: Sequence[Any] | None = None,
    solution_strs: Sequence[Any] | None = None,
    ground_truths: Sequence[Any] | None = None,
    extra_infos: Sequence[Any] | None = None,
    **kwargs: Any,
) -> list[dict[str, float]]:
    """`compute_score` for verl's ``BatchRewardManager``: lists in, list of dicts out."""
    global _default_batch
    if _default_batch is None:
        _default_batch = make_compute_score(batched=True)
    return _default_batch(data_sources, solution_strs, ground_truths, extra_infos, **kwargs)
