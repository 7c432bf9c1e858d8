"""`TextScorer`: completions + ground truths -> the objective's rewards.

The engine behind every text adapter (TRL, verl, tunix). It parses each
completion into ``(answer, confidence)``, matches the answer against the
ground truth, builds a `Rollouts` of shape ``[N, 1]`` (``correct``,
``confidence``) and evaluates the objective through one cached, jitted
function, so that the numbers are the JAX objective's numbers on the same
arrays. Completions that cannot be scored get ``invalid_reward``.

Nothing here raises on text: a training loop must not die because one
sampled completion is malformed. Configuration errors (a bad objective, a
non-finite ``invalid_reward``) raise at construction.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from reward_design.integrations._matching import exact_match
from reward_design.integrations._parsing import parse_answer_confidence
from reward_design.rollouts import Rollouts

__all__ = ["TextScorer", "ScoredBatch", "default_objective"]

Parser = Callable[[str], tuple[Any, Any]]
Matcher = Callable[[Any, Any], Any]

_MIN_BUCKET = 8


def default_objective() -> Any:
    """``compose(correct=Correctness(), brier=Brier(weight=1.0))``: the RLCR reward.

    References:
      Damani et al., "Beyond Binary Rewards: Training LMs to Reason About
      Their Uncertainty" (RLCR), arXiv 2507.16806.
    """
    from reward_design.compose import compose
    from reward_design.terms import Brier, Correctness

    return compose(correct=Correctness(), brier=Brier(weight=1.0))


def _bucket(n: int) -> int:
    """Rows padded to a power of two (>= 8), so batch-size jitter does not recompile."""
    return max(_MIN_BUCKET, 1 << max(0, n - 1).bit_length())


def _evaluate_impl(objective, correct, confidence, mask):
    rollouts = Rollouts(correct=correct, confidence=confidence, mask=mask)
    if callable(getattr(objective, "evaluate", None)):
        # Gated objectives say which rollouts enter the advantage statistics.
        out, in_update = objective.evaluate(rollouts)
    else:
        out = objective(rollouts)
        in_update = out.accepted
    return out.total, dict(out.components), in_update


# One compiled program per (objective structure, bucket size, confidence
# present); the objective's numeric hyperparameters are traced leaves.
_evaluate = jax.jit(_evaluate_impl)


def _needs_confidence(objective: Any) -> bool:
    """True if the objective reads ``Rollouts.confidence`` (checked abstractly)."""
    spec = jax.ShapeDtypeStruct((1, 1), jnp.float32)
    mask = jax.ShapeDtypeStruct((1, 1), jnp.bool_)
    errors = []
    for conf in (None, spec):
        try:
            out = jax.eval_shape(
                lambda c, p, m: _evaluate_impl(objective, c, p, m), spec, conf, mask
            )
        except Exception as err:  # noqa: BLE001 - any failure means "not with these fields"
            errors.append(err)
            continue
        total = out[0]
        if total.shape != (1, 1):
            raise TypeError(
                f"objective must return RewardOutput with total of shape [P, G]; got total "
                f"of shape {total.shape} for [1, 1] rollouts."
            )
        return conf is not None
    raise ValueError(
        "objective cannot be evaluated on Rollouts(correct, confidence): text adapters fill "
        "only those two fields (use the array-level adapters in rd.integrations.flat for "
        f"rubric or token rewards). Evaluating it raised: {errors[-1]!r}"
    )


@dataclass(frozen=True)
class ScoredBatch:
    """What `TextScorer.score` returns, one entry per completion (numpy arrays).

    Attributes:
      total: ``[N]`` float32, the reward (``invalid_reward`` where not valid).
      components: ``{name: [N]}`` float32, each term's reward (0 where not valid).
      valid: ``[N]`` bool, whether the completion could be scored.
      correct: ``[N]`` float32, the matcher's verdict (0 where not valid).
      confidence: ``[N]`` float32, the parsed confidence (NaN where absent).
      in_update: ``[N]`` bool, False for scorable completions that the
        objective leaves out of the advantage statistics (a
        ``rd.gates.Gated(..., on_reject="drop")`` rejection; see
        ``Gated.evaluate``); True otherwise, including for completions that
        cannot be scored (they take part with ``invalid_reward``).
    """

    total: np.ndarray
    components: dict[str, np.ndarray]
    valid: np.ndarray
    correct: np.ndarray
    confidence: np.ndarray
    in_update: np.ndarray


class TextScorer:
    """Scores text completions with a composed objective.

    A completion is *valid* when its answer parses, the matcher returns a
    value in [0, 1] (``True``/``False`` or a partial credit), and, if the
    objective reads ``confidence``, a confidence in [0, 1] parses. Invalid
    completions get ``total = invalid_reward`` and every component 0.

    Whether the objective reads ``confidence`` is decided once, abstractly
    (``jax.eval_shape``): it does if it cannot be evaluated without it. Only
    then is the parsed confidence fed to it (a term that merely *could* use
    a confidence when present is given none).

    Args:
      objective: ``objective(rollouts) -> RewardOutput`` (from `rd.compose`
        or a gated objective); it sees ``Rollouts(correct [N, 1],
        confidence [N, 1], mask [N, 1])``. Defaults to `default_objective`.
      match: ``match(answer, ground_truth) -> bool | float`` (default
        `exact_match`).
      invalid_reward: reward for completions that cannot be scored.
      parse: ``parse(text) -> (answer, confidence)`` (default
        `parse_answer_confidence`).
      require_confidence: whether a missing confidence makes a completion
        invalid. None (default) decides from the objective: True iff it
        reads ``Rollouts.confidence``. True also enforces the format for
        objectives that do not read it; False is an error for objectives
        that do.

    Raises:
      TypeError: if ``objective``, ``match`` or ``parse`` is not callable.
      ValueError: if ``invalid_reward`` is not a finite number, or the
        objective cannot be evaluated on ``(correct, confidence)`` rollouts.
    """

    def __init__(
        self,
        objective: Any = None,
        *,
        match: Matcher = exact_match,
        invalid_reward: float = -1.0,
        parse: Parser = parse_answer_confidence,
        require_confidence: bool | None = None,
    ):
        if objective is None:
            objective = default_objective()
        for value, name in ((objective, "objective"), (match, "match"), (parse, "parse")):
            if not callable(value):
                raise TypeError(f"{name} must be callable; got {value!r}.")
        if isinstance(invalid_reward, bool) or not isinstance(
            invalid_reward, (int, float, np.integer, np.floating)
        ):
            raise ValueError(f"invalid_reward must be a finite number; got {invalid_reward!r}.")
        if not math.isfinite(float(invalid_reward)):
            raise ValueError(f"invalid_reward must be a finite number; got {invalid_reward!r}.")
        self.objective = objective
        self.match = match
        self.parse = parse
        self.invalid_reward = float(invalid_reward)
        uses_confidence = _needs_confidence(objective)
        if require_confidence is False and uses_confidence:
            raise ValueError(
                "require_confidence=False, but the objective reads Rollouts.confidence: a "
                "completion without a confidence cannot be scored by it. Leave "
                "require_confidence=None, or use an objective without confidence terms."
            )
        self.require_confidence = uses_confidence or bool(require_confidence)
        self._feeds_confidence = uses_confidence
        self.component_names = tuple(self._component_names())
        # (key, ScoredBatch) of the last batch, read and written as one tuple so
        # that concurrent callers (verl runs compute_score in a thread pool)
        # never pair one batch's key with another's result.
        self._cache: tuple[Any, ScoredBatch] | None = None
        self._warned = False

    # Pickling (e.g. tunix's reward worker pool) drops the one-batch cache.
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_cache"] = None
        return state

    def _component_names(self) -> list[str]:
        spec = jax.ShapeDtypeStruct((1, 1), jnp.float32)
        mask = jax.ShapeDtypeStruct((1, 1), jnp.bool_)
        conf = spec if self._feeds_confidence else None
        _, components, _ = jax.eval_shape(
            lambda c, p, m: _evaluate_impl(self.objective, c, p, m), spec, conf, mask
        )
        names = list(components)
        # jax returns dict keys sorted; keep the order the user composed the terms in.
        terms = getattr(self.objective, "terms", None)
        if isinstance(terms, dict) and set(terms) == set(names):
            names = list(terms)
        return names

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            warnings.warn(message, RuntimeWarning, stacklevel=3)

    def _judge(self, text: Any, ground_truth: Any) -> tuple[bool, float, float]:
        """``(valid, correct, confidence)`` for one completion; never raises."""
        try:
            answer, confidence = self.parse(text)
        except Exception as err:  # noqa: BLE001 - a custom parser must not stop training
            self._warn(f"parse raised {err!r}; the completion is scored as invalid.")
            return False, 0.0, math.nan
        if answer is None:
            return False, 0.0, math.nan
        conf = math.nan
        if confidence is not None:
            try:
                conf = float(confidence)
            except (TypeError, ValueError):
                conf = math.nan
            if not 0.0 <= conf <= 1.0:  # also rejects NaN
                conf = math.nan
        if self.require_confidence and math.isnan(conf):
            return False, 0.0, conf
        try:
            verdict = float(self.match(answer, ground_truth))
        except Exception as err:  # noqa: BLE001 - a custom matcher must not stop training
            self._warn(f"match raised {err!r}; the completion is scored as invalid.")
            return False, 0.0, conf
        if not 0.0 <= verdict <= 1.0:
            self._warn(
                f"match returned {verdict!r}, outside [0, 1]; the completion is scored as invalid."
            )
            return False, 0.0, conf
        return True, verdict, conf

    def score(self, texts: Sequence[Any], ground_truths: Sequence[Any]) -> ScoredBatch:
        """Scores ``N`` completions against ``N`` ground truths.

        Args:
          texts: ``N`` completion strings (anything else is invalid).
          ground_truths: ``N`` references, one per completion.

        Returns:
          A `ScoredBatch`.

        Raises:
          ValueError: if the two lengths differ (a wiring error in the
            caller, not a text error).
        """
        texts = list(texts)
        ground_truths = list(ground_truths)
        if len(texts) != len(ground_truths):
            raise ValueError(
                f"got {len(texts)} completions but {len(ground_truths)} ground truths; "
                "expected one ground truth per completion."
            )
        key = (texts, ground_truths)
        cache = self._cache
        try:
            if cache is not None and key == cache[0]:
                return cache[1]
        except Exception:  # noqa: BLE001 - uncomparable ground truths: just recompute
            pass

        n = len(texts)
        judged = [self._judge(t, g) for t, g in zip(texts, ground_truths, strict=True)]
        valid = np.fromiter((v for v, _, _ in judged), dtype=bool, count=n)
        correct = np.fromiter((c for _, c, _ in judged), dtype=np.float32, count=n)
        confidence = np.fromiter((p for _, _, p in judged), dtype=np.float32, count=n)

        total = np.full(n, self.invalid_reward, dtype=np.float32)
        components = {name: np.zeros(n, dtype=np.float32) for name in self.component_names}
        in_update = np.ones(n, dtype=bool)
        if valid.any():
            rows = _bucket(n)
            c = np.zeros((rows, 1), np.float32)
            c[:n, 0] = np.where(valid, correct, 0.0)
            m = np.zeros((rows, 1), bool)
            m[:n, 0] = valid
            p = None
            if self._feeds_confidence:
                p = np.zeros((rows, 1), np.float32)
                # Valid rows always have a confidence here; invalid and padding
                # rows are fed 0 and masked out.
                p[:n, 0] = np.where(valid, confidence, 0.0)
            out_total, out_components, out_in_update = jax.device_get(
                _evaluate(self.objective, c, p, m)
            )
            total = np.where(valid, np.asarray(out_total)[:n, 0], total).astype(np.float32)
            in_update = np.where(valid, np.asarray(out_in_update, dtype=bool)[:n, 0], True)
            for name in self.component_names:
                values = np.asarray(out_components[name])[:n, 0]
                components[name] = np.where(valid, values, 0.0).astype(np.float32)

        result = ScoredBatch(
            total=total,
            components=components,
            valid=valid,
            correct=correct,
            confidence=confidence,
            in_update=in_update,
        )
        self._cache = ((list(texts), list(ground_truths)), result)
        return result
