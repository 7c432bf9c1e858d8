"""`TextScorer`: completions + ground truths -> the objective's rewards.

The engine behind every text adapter (TRL, verl, tunix). It parses each
completion into ``(answer, confidence)``, matches the answer against the
ground truth, builds a `Rollouts` of shape ``[N, 1]`` (``correct``,
``confidence``) and evaluates the objective through one cached, jitted
function, so that the numbers are the JAX objective's numbers on the same
arrays. Completions that cannot be scored get ``invalid_reward``. With the
default parser and matcher a batch is parsed and matched in one loop
(`_parsing._parse_many`) and evaluated in one call of the jitted program;
custom parsers and matchers are called per completion.

Nothing here raises on text: a training loop must not die because one
sampled completion is malformed. Configuration errors (a bad objective, a
non-finite ``invalid_reward``) raise at construction.
"""

from __future__ import annotations

import functools
import math
import operator
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from reward_design.integrations._matching import exact_match
from reward_design.integrations._parsing import (
    NO_ANSWER,
    _parse_many,
    parse_answer_confidence,
)
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


def _evaluate_packed_impl(leaves, packed, invalid_reward, spec):
    """The objective on ``packed = [correct, confidence, valid]`` (``[3, rows]`` float32).

    ``leaves`` are the objective's pytree leaves and ``spec = (treedef,
    feeds_confidence, component names)`` the static rest (flattened once by
    `TextScorer`, not per call). Rows that are not valid (unscorable
    completions, padding) are fed ``correct = confidence = 0`` and masked
    out, whatever ``packed`` holds there. Returns ``(total, components in
    name order, in_update)``, each ``[rows]``, with those rows already set
    (``invalid_reward``, 0, True): a batch is one host-to-device copy and one
    program. (The outputs stay separate arrays: stacking them into one lets
    XLA fuse the whole program into one loop, which on CPU can round the
    objective differently, by one float32 ulp, from the objective compiled
    on its own.)
    """
    treedef, feeds_confidence, names = spec
    objective = jax.tree_util.tree_unflatten(treedef, leaves)
    valid = packed[2] > 0.5
    correct = jnp.where(valid, packed[0], 0.0)
    confidence = jnp.where(valid, packed[1], 0.0) if feeds_confidence else None
    total, components, in_update = _evaluate_impl(
        objective,
        correct[:, None],
        None if confidence is None else confidence[:, None],
        valid[:, None],
    )
    return (
        jnp.where(valid, total[:, 0], invalid_reward).astype(jnp.float32),
        tuple(jnp.where(valid, components[name][:, 0], 0.0).astype(jnp.float32) for name in names),
        jnp.where(valid, in_update[:, 0].astype(bool), True),
    )


# One compiled program per (objective structure, bucket size, confidence
# present, component names); the objective's numeric hyperparameters are
# traced leaves, so a new weight does not recompile.
_evaluate_packed = jax.jit(_evaluate_packed_impl, static_argnums=3)

_PARSE_OPTIONS = frozenset({"answer_tag", "confidence_tag", "allow_percent"})


def _parse_options(parse: Any) -> dict[str, Any] | None:
    """The options if ``parse`` is `parse_answer_confidence` (or a keyword partial of it).

    Such parsers are run over the whole batch at once (`_parse_many`, the
    same rules); None for any other parser, which is called per completion.
    """
    if parse is parse_answer_confidence:
        return {}
    if (
        isinstance(parse, functools.partial)
        and parse.func is parse_answer_confidence
        and not parse.args
        and set(parse.keywords) <= _PARSE_OPTIONS
    ):
        options = dict(parse.keywords)
        try:
            _parse_many([], **options)  # bad tag names: left to the per-completion path
        except ValueError:
            return None
        return options
    return None


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
        if (
            isinstance(invalid_reward, np.ndarray | jax.Array)
            and invalid_reward.ndim == 0
            and np.dtype(invalid_reward.dtype).kind in "iuf"
        ):
            invalid_reward = float(invalid_reward)
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
        self._device_copy: tuple[Any, ...] | None = None
        # (key, ScoredBatch) of the last batch, read and written as one tuple so
        # that concurrent callers (verl runs compute_score in a thread pool)
        # never pair one batch's key with another's result.
        self._cache: tuple[Any, ScoredBatch] | None = None
        self._warned = False

    def _device_arguments(self) -> tuple[list[Any], jax.Array, tuple[Any, bool, tuple]]:
        """``(leaves, invalid_reward, spec)`` for `_evaluate_packed`.

        The objective is flattened and its array leaves (the weights of
        `rd.terms`) and ``invalid_reward`` copied to the device once (again
        only if those attributes are reassigned), so a batch copies only its
        own numbers. Python scalar leaves stay as they are (weakly typed under
        ``jit``, as when the objective itself is passed).
        """
        key = (self.objective, self.invalid_reward)
        cached = self._device_copy
        if cached is None or cached[0][0] is not key[0] or cached[0][1] != key[1]:
            leaves, treedef = jax.tree_util.tree_flatten(self.objective)
            leaves = [
                jax.device_put(leaf) if isinstance(leaf, np.ndarray | np.generic) else leaf
                for leaf in leaves
            ]
            invalid = jax.device_put(np.float32(self.invalid_reward))
            spec = (treedef, self._feeds_confidence, self.component_names)
            cached = (key, leaves, invalid, spec)
            self._device_copy = cached
        return cached[1], cached[2], cached[3]

    # Pickling (e.g. tunix's reward worker pool) drops the one-batch cache and
    # the device copies.
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_cache"] = None
        state["_device_copy"] = None
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

    def _parse_each(self, texts: list[Any]) -> tuple[list[Any], list[float]]:
        """A custom parser, called per completion: ``(answers, confidences)``."""
        answers: list[Any] = []
        confidences: list[float] = []
        for text in texts:
            try:
                answer, confidence = self.parse(text)
            except Exception as err:  # noqa: BLE001 - a custom parser must not stop training
                self._warn(f"parse raised {err!r}; the completion is scored as invalid.")
                answer, confidence = None, None
            conf = math.nan
            if answer is not None and confidence is not None:
                try:
                    conf = float(confidence)
                except (TypeError, ValueError, OverflowError):
                    conf = math.nan
                if not 0.0 <= conf <= 1.0:  # also rejects NaN
                    conf = math.nan
            answers.append(answer)
            confidences.append(conf)
        return answers, confidences

    def _match_each(
        self, answers: list[Any], ground_truths: list[Any], valid: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """A custom matcher, called on the completions still valid: ``(verdicts, valid)``."""
        verdicts = np.zeros(len(answers), dtype=np.float32)
        valid = valid.copy()
        for i in np.flatnonzero(valid).tolist():
            try:
                verdict = float(self.match(answers[i], ground_truths[i]))
            except Exception as err:  # noqa: BLE001 - a custom matcher must not stop training
                self._warn(f"match raised {err!r}; the completion is scored as invalid.")
                valid[i] = False
                continue
            if not 0.0 <= verdict <= 1.0:
                self._warn(
                    f"match returned {verdict!r}, outside [0, 1]; the completion is scored as "
                    "invalid."
                )
                valid[i] = False
                continue
            verdicts[i] = verdict
        return verdicts, valid

    def _judge(
        self,
        texts: list[Any],
        ground_truths: list[Any],
        packed: np.ndarray,
        texts_are_str: bool = False,
    ) -> np.ndarray:
        """Parses and matches a batch; returns ``valid``. Never raises on text.

        Writes the matcher's verdicts into ``packed[0]`` and the confidences
        (NaN where absent) into ``packed[1]``.
        """
        n = len(texts)
        options = _parse_options(self.parse)
        if options is not None and self.match is exact_match:
            # The common case: parse and match fused in one loop over the batch.
            _, confidences, verdicts = _parse_many(
                texts, ground_truths, texts_are_str=texts_are_str, **options
            )
            packed[1, :n] = confidences
            packed[0, :n] = verdicts == 1
            if self.require_confidence:
                return ~np.isnan(packed[1, :n])  # NaN wherever there is no answer, too
            return verdicts != NO_ANSWER
        if options is not None:
            answers, confidences, _ = _parse_many(texts, texts_are_str=texts_are_str, **options)
        else:
            answers, confidences = self._parse_each(texts)
        packed[1, :n] = confidences
        if self.require_confidence:
            valid = ~np.isnan(packed[1, :n])
        else:
            valid = np.fromiter(map(operator.is_not, answers, repeat(None)), dtype=bool, count=n)
        packed[0, :n], valid = self._match_each(answers, ground_truths, valid)
        return valid

    def score(self, texts: Sequence[Any], ground_truths: Sequence[Any]) -> ScoredBatch:
        """Scores ``N`` completions against ``N`` ground truths.

        The batch is parsed and matched in one pass (`parse_answer_confidence`
        and `exact_match` over the whole batch; custom parsers and matchers
        per completion) and evaluated in one call of the jitted objective.

        Args:
          texts: ``N`` completion strings (anything else is invalid).
          ground_truths: ``N`` references, one per completion.

        Returns:
          A `ScoredBatch`.

        Raises:
          ValueError: if the two lengths differ (a wiring error in the
            caller, not a text error).
        """
        for value, name in ((texts, "texts"), (ground_truths, "ground_truths")):
            if isinstance(value, str | bytes) or not hasattr(value, "__len__"):
                raise TypeError(
                    f"TextScorer.score: {name} must be a sequence (one entry per completion); "
                    f"got {type(value).__name__}."
                )
        return self._score(list(texts), list(ground_truths))

    def _score(
        self, texts: list[Any], ground_truths: list[Any], texts_are_str: bool = False
    ) -> ScoredBatch:
        """`score` on lists the caller owns (they key the one-batch cache)."""
        if len(texts) != len(ground_truths):
            raise ValueError(
                f"TextScorer.score: got {len(texts)} completions (texts) but "
                f"{len(ground_truths)} ground truths (ground_truths); expected one ground "
                "truth per completion."
            )
        key = (texts, ground_truths)
        cache = self._cache
        try:
            if cache is not None and key == cache[0]:
                return cache[1]
        except Exception:  # noqa: BLE001 - uncomparable ground truths: just recompute
            pass

        n = len(texts)
        packed = np.zeros((3, _bucket(n)), dtype=np.float32)
        valid = self._judge(texts, ground_truths, packed, texts_are_str)
        if valid.any():
            packed[2, :n] = valid
            leaves, invalid_reward, spec = self._device_arguments()
            out_total, out_components, out_in_update = _evaluate_packed(
                leaves, packed, invalid_reward, spec
            )
            # While the program runs (JAX dispatches asynchronously): the host's part.
            correct = np.where(valid, packed[0, :n], np.float32(0.0))
            # np.asarray waits for the program and views its result (read-only);
            # the copies of the first n rows are the batch's own arrays.
            total = np.asarray(out_total)[:n].copy()
            components = {
                name: np.asarray(values)[:n].copy()
                for name, values in zip(self.component_names, out_components, strict=True)
            }
            in_update = np.asarray(out_in_update)[:n].copy()
        else:
            correct = np.zeros(n, dtype=np.float32)
            total = np.full(n, self.invalid_reward, dtype=np.float32)
            components = {name: np.zeros(n, dtype=np.float32) for name in self.component_names}
            in_update = np.ones(n, dtype=bool)

        result = ScoredBatch(
            total=total,
            components=components,
            valid=valid,
            correct=correct,
            confidence=packed[1, :n],
            in_update=in_update,
        )
        self._cache = (key, result)
        return result
