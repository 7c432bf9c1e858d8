"""Reward-function objects with the ``(prompts, completions, **kwargs) -> list[float]`` convention.

TRL's ``GRPOTrainer`` and tunix's learners both call each reward function as
``fn(prompts=..., completions=..., **kwargs)`` with dataset columns in
``kwargs`` and sum the returned lists (weighted, for TRL). `TextRewardFunction`
implements that once; `rd.integrations.trl` and `rd.integrations.tunix` build
it with each framework's defaults.

The objects are picklable (tunix may ship reward functions to worker
processes) and carry a ``__name__``, which both frameworks use to label the
logged rewards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from reward_design.integrations._matching import as_text
from reward_design.integrations._scorer import TextScorer

__all__ = ["TextRewardFunction", "completion_text", "make_reward_functions"]

_TOTAL = "__total__"
_REST = "__rest__"


def _content_text(content: Any) -> str | None:
    if isinstance(content, str | bytes | bytearray):
        return as_text(content)
    if isinstance(content, Sequence) and not isinstance(content, (bytes, bytearray)):
        # Multimodal message content: [{"type": "text", "text": ...}, ...].
        parts = [
            part.get("text")
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        ]
        return "".join(parts) if parts else None
    return None


def completion_text(completion: Any) -> str | None:
    """The text of one completion, or None if it has none.

    * A ``str`` is returned as is (TRL's standard format, tunix); ``bytes``
      are decoded as UTF-8 (undecodable bytes replaced).
    * A message dict ``{"role", "content"}`` gives its content.
    * A list of messages (TRL's conversational format) gives the content of
      the last ``"assistant"`` message, or of the last message if none has
      that role. Content given as a list of parts
      (``[{"type": "text", "text": ...}]``) is joined.

    Anything else gives None (scored as invalid). Never raises.
    """
    try:
        if isinstance(completion, str | bytes | bytearray):
            return as_text(completion)
        if isinstance(completion, Mapping):
            return _content_text(completion.get("content"))
        if isinstance(completion, Sequence) and not isinstance(completion, (bytes, bytearray)):
            messages = [m for m in completion if isinstance(m, Mapping)]
            if not messages:
                return None
            assistant = [m for m in messages if m.get("role") == "assistant"]
            return _content_text((assistant or messages)[-1].get("content"))
    except Exception:  # noqa: BLE001 - exotic containers: invalid, not a crash
        return None
    return None


class TextRewardFunction:
    """``fn(prompts, completions, **kwargs) -> list[float]`` backed by a `TextScorer`.

    Args:
      scorer: the shared `TextScorer` (functions made together share it, so
        a batch is parsed and evaluated once).
      answer_key: the keyword argument (dataset column) holding the ground
        truths, one per completion.
      name: ``__name__``, used by the trainers to label logged rewards.
      select: ``"__total__"`` for the objective's total, a component name for
        that component, or ``"__rest__"`` for what the components do not
        explain (``invalid_reward`` for unscorable completions, total minus
        the sum of the components otherwise).
      valid_metric: if given and the caller passes a ``log_metric`` callable
        (TRL does), the fraction of completions that could be scored is
        logged under this name.
      dropped_as_none: return None (instead of the total) for completions
        the objective leaves out of the advantage statistics (a gate with
        ``on_reject="drop"``). TRL treats a completion for which every
        reward function returns None as unscorable: it is left out of the
        group baseline and gets advantage 0, which is what "drop" means.
    """

    def __init__(
        self,
        scorer: TextScorer,
        answer_key: str,
        name: str,
        select: str = _TOTAL,
        valid_metric: str | None = None,
        dropped_as_none: bool = False,
    ):
        if not isinstance(answer_key, str) or not answer_key:
            raise ValueError(f"answer_key must be a non-empty string; got {answer_key!r}.")
        if select not in (_TOTAL, _REST) and select not in scorer.component_names:
            raise ValueError(
                f"select must be a component name {list(scorer.component_names)}; got {select!r}."
            )
        self.scorer = scorer
        self.answer_key = answer_key
        self.select = select
        self.valid_metric = valid_metric
        self.dropped_as_none = bool(dropped_as_none)
        self.__name__ = name
        self.__qualname__ = name

    def __repr__(self) -> str:
        return f"<reward function {self.__name__!r} (answer_key={self.answer_key!r})>"

    def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        """Rewards, one per completion.

        Args:
          prompts: the prompts (unused; accepted for the trainers' convention).
          completions: ``N`` completions (strings or conversational message
            lists, see `completion_text`).
          **kwargs: must contain ``answer_key`` with ``N`` ground truths;
            everything else (``completion_ids``, ``trainer_state``, other
            dataset columns, ``mode``...) is ignored.

        Returns:
          ``N`` Python floats (None for dropped completions when
          ``dropped_as_none``).

        Raises:
          ValueError: if ``completions`` is missing or the ground-truth column
            is missing or has the wrong length (wiring errors, raised on the
            first step). Malformed completion *text* never raises.
        """
        if completions is None:
            raise ValueError(f"{self.__name__}: completions must be given (one per sample).")
        if self.answer_key not in kwargs:
            available = sorted(k for k in kwargs if k not in ("trainer_state", "log_extra"))
            raise ValueError(
                f"{self.__name__}: the ground truth column {self.answer_key!r} is missing from "
                f"the reward function's keyword arguments (got {available}); pass "
                "answer_key=<your dataset's answer column>."
            )
        if isinstance(completions, str | bytes) or not hasattr(completions, "__len__"):
            raise TypeError(
                f"{self.__name__}: completions must be a list (one completion per sample); "
                f"got {type(completions).__name__}."
            )
        ground_truths = kwargs[self.answer_key]
        if isinstance(ground_truths, (str, bytes)) or not hasattr(ground_truths, "__len__"):
            ground_truths = [ground_truths] * len(completions)
        if len(ground_truths) != len(completions):
            raise ValueError(
                f"{self.__name__}: the ground truth column {self.answer_key!r} has "
                f"{len(ground_truths)} entries but completions has {len(completions)}; "
                "expected one ground truth per completion."
            )
        texts = list(completions)
        texts_are_str = set(map(type, texts)) <= {str}  # TRL's standard format
        if not texts_are_str:
            texts = [completion_text(c) for c in texts]
        batch = self.scorer._score(texts, list(ground_truths), texts_are_str)
        log_metric = kwargs.get("log_metric")
        if self.valid_metric and callable(log_metric) and len(texts):
            try:
                log_metric(self.valid_metric, float(np.mean(batch.valid)))
            except Exception:  # noqa: BLE001 - logging must not stop training
                pass
        if self.select == _TOTAL:
            values = batch.total
        elif self.select == _REST:
            explained = sum(batch.components.values(), np.zeros_like(batch.total))
            values = np.where(batch.valid, batch.total - explained, batch.total)
        else:
            values = batch.components[self.select]
        rewards: list[float | None] = values.tolist()  # float32 -> Python floats, one call
        if self.dropped_as_none and not batch.in_update.all():
            for i in np.flatnonzero(~batch.in_update).tolist():
                rewards[i] = None
        return rewards


def make_reward_functions(
    scorer: TextScorer,
    answer_key: str,
    *,
    per_component: bool,
    name: str | None,
    dropped_as_none: bool = False,
) -> TextRewardFunction | list[TextRewardFunction]:
    """One total function, or one per component plus the ``rest`` function."""
    if name is not None and (not isinstance(name, str) or not name):
        raise ValueError(f"name must be a non-empty string; got {name!r}.")
    if not per_component:
        label = name or "+".join(scorer.component_names) or "reward"
        return TextRewardFunction(
            scorer,
            answer_key,
            label,
            _TOTAL,
            valid_metric=f"{label}/valid_fraction",
            dropped_as_none=dropped_as_none,
        )
    if "rest" in scorer.component_names:
        raise ValueError(
            "a component is named 'rest', which per_component=True reserves for the "
            "function that returns what the components do not explain; rename that term."
        )
    prefix = f"{name}/" if name else ""
    selects = [*scorer.component_names, _REST]
    labels = [*scorer.component_names, "rest"]
    return [
        TextRewardFunction(
            scorer,
            answer_key,
            f"{prefix}{label}",
            select,
            # Logged once per batch, by the first function.
            valid_metric=f"{prefix}valid_fraction" if i == 0 else None,
            dropped_as_none=dropped_as_none,
        )
        for i, (select, label) in enumerate(zip(selects, labels, strict=True))
    ]
