"""Judges: prompts and sampled completions -> `rd.Rollouts` (and per-rollout metrics).

A judge is any callable ``judge(batch, completions, key)`` with ``batch`` a
`PromptBatch` of P prompts, ``completions`` their `Completions` (``[P, G, T]``)
and ``key`` a PRNG key (for noisy judges), returning `rd.Rollouts` or
``(rd.Rollouts, {name: [P, G] array})``. It runs inside the compiled RL step:
on token arrays in ``jnp`` (`AnswerJudge`, `TokenJudge`), or on decoded text
on the host (`TextJudge`, like an LLM judge). A judge that is a pytree with
array fields (e.g. a noise level) is traced: arms that differ only in those
values share one compiled program; plain functions are static.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

import reward_design as rd

from .parsing import AnswerFormat
from .task import Completions, PromptBatch
from .tokenizer import BOS, PAD, Tokenizer

__all__ = ["ROLLOUT_FIELDS", "judge_outputs", "TextJudge", "AnswerJudge", "TokenJudge"]

ROLLOUT_FIELDS = ("correct", "confidence", "rubric", "token_rewards", "token_mask")
"""Judge outputs of these names become `rd.Rollouts` fields; the others are metrics."""


def judge_outputs(result: Any) -> tuple[rd.Rollouts, dict[str, jax.Array]]:
    """A judge's return value as ``(Rollouts, {name: [P, G] metric})``.

    A judge returns `rd.Rollouts`, or ``(Rollouts, metrics)`` where each
    metric is a ``[P, G]`` array averaged over the valid rollouts in the
    training curves and returned per rollout by evaluation.
    """
    if isinstance(result, rd.Rollouts):
        return result, {}
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], rd.Rollouts):
        metrics = dict(result[1])
        return result[0], metrics
    raise TypeError(
        "a judge must return rd.Rollouts or (rd.Rollouts, {name: [P, G] array}); "
        f"got {type(result).__name__}."
    )


def _decode_prompt(tokenizer: Tokenizer, row: np.ndarray) -> str:
    return " ".join(tokenizer.vocab[i] for i in row.tolist() if i not in (PAD, BOS))


@flax.struct.dataclass
class TextJudge:
    """A judge that reads decoded text on the host, inside compiled code.

    ``fn(prompts, completions, info) -> {name: array}`` is called through
    ``jax.pure_callback`` (once per run when vmapped) with ``prompts`` a list
    of P prompt texts (without ``<bos>``), ``completions`` a ``[P, G]``
    object array of texts (`Tokenizer.decode`: ``<eos>`` written last when
    the completion ended), and ``info`` the numpy arrays of
    ``PromptBatch.info`` named in ``info_keys``. It must return every output
    declared in ``outputs`` with shape ``[P, G, *suffix]``. Outputs named as
    `rd.Rollouts` fields (`ROLLOUT_FIELDS`) fill the rollouts (``correct``
    is 0 when not returned); the others are metrics.

    Args:
      fn: the host function (static: part of the compiled program).
      tokenizer: decodes the tokens.
      outputs: ``((name, suffix shape, dtype name), ...)``, e.g.
        ``(("correct", (), "float32"), ("rubric", (3,), "bool"))``.
      info_keys: names of ``PromptBatch.info`` arrays passed to ``fn``.
    """

    fn: Callable[..., dict[str, Any]] = flax.struct.field(pytree_node=False)
    tokenizer: Tokenizer = flax.struct.field(pytree_node=False)
    outputs: tuple[tuple[str, tuple[int, ...], str], ...] = flax.struct.field(pytree_node=False)
    info_keys: tuple[str, ...] = flax.struct.field(pytree_node=False, default=())

    def __call__(
        self, batch: PromptBatch, completions: Completions, key: jax.Array
    ) -> tuple[rd.Rollouts, dict[str, jax.Array]]:
        del key
        p, g, _ = completions.tokens.shape
        shapes = {
            name: jax.ShapeDtypeStruct((p, g, *tuple(suffix)), np.dtype(dtype))
            for name, suffix, dtype in self.outputs
        }

        def host(prompt_tokens, completion_tokens, *info):
            prompts = [_decode_prompt(self.tokenizer, row) for row in np.asarray(prompt_tokens)]
            texts = self.tokenizer.decode_batch(np.asarray(completion_tokens))
            out = self.fn(
                prompts,
                texts,
                {k: np.asarray(v) for k, v in zip(self.info_keys, info, strict=True)},
            )
            missing = sorted(set(shapes) - set(out))
            if missing:
                raise ValueError(f"TextJudge.fn did not return the declared outputs {missing}.")
            return {
                name: np.asarray(out[name]).astype(s.dtype).reshape(s.shape)
                for name, s in shapes.items()
            }

        info = [batch.info[k] for k in self.info_keys]
        res = jax.pure_callback(
            host, shapes, batch.tokens, completions.tokens, *info, vmap_method="sequential"
        )
        fields = {k: v for k, v in res.items() if k in ROLLOUT_FIELDS}
        fields.setdefault("correct", jnp.zeros((p, g), jnp.float32))
        metrics = {k: v for k, v in res.items() if k not in ROLLOUT_FIELDS}
        return rd.Rollouts(**fields), metrics


@flax.struct.dataclass
class AnswerJudge:
    """Judges ``<reasoning> ANSWER a [CONF c] <eos>`` completions against a known answer.

    Rollouts: ``correct = in format and a == info[label_key]`` (float32),
    ``confidence`` = the stated confidence (0 when not in format), ``rubric``
    ``[P, G, 1]`` = in format. Metrics: ``format`` (in format), and, with
    ``probability_key`` naming a ``[P, K]`` array of each answer's success
    probability, ``success_probability`` (that of the answer given, 0 when not
    in format) and ``bayes_answer`` (the answer given is the most probable one).

    Args:
      format: the `AnswerFormat` (static).
      label_key: ``PromptBatch.info`` key of the ``[P]`` right answer index.
      probability_key: optional ``info`` key of ``[P, K]`` success probabilities.
    """

    format: AnswerFormat = flax.struct.field(pytree_node=False)
    label_key: str = flax.struct.field(pytree_node=False, default="label")
    probability_key: str | None = flax.struct.field(pytree_node=False, default=None)

    def __call__(
        self, batch: PromptBatch, completions: Completions, key: jax.Array
    ) -> tuple[rd.Rollouts, dict[str, jax.Array]]:
        del key
        parsed = self.format.parse(completions.tokens)
        label = batch.info[self.label_key][:, None]
        correct = parsed.valid & (parsed.answer == label)
        metrics = {"format": parsed.valid.astype(jnp.float32)}
        if self.probability_key is not None:
            prob = batch.info[self.probability_key]
            q = jnp.take_along_axis(prob, jnp.maximum(parsed.answer, 0), axis=1)
            metrics["success_probability"] = jnp.where(parsed.valid, q, 0.0)
            best = jnp.argmax(prob, axis=1)[:, None]
            metrics["bayes_answer"] = (parsed.valid & (parsed.answer == best)).astype(jnp.float32)
        rollouts = rd.Rollouts(
            correct=correct.astype(jnp.float32),
            confidence=parsed.confidence if self.format.confidences else None,
            rubric=parsed.valid[..., None],
        )
        return rollouts, metrics


@flax.struct.dataclass
class TokenJudge:
    """``correct`` = the completion contains token ``token`` (before its end).

    A trivial judge for checking that a loop learns (and a template for
    token-level judges). Metric ``count``: occurrences of the token.
    """

    token: int = flax.struct.field(pytree_node=False)

    def __call__(
        self, batch: PromptBatch, completions: Completions, key: jax.Array
    ) -> tuple[rd.Rollouts, dict[str, jax.Array]]:
        del batch, key
        hit = (completions.tokens == self.token) & completions.mask
        count = jnp.sum(hit, axis=-1).astype(jnp.float32)
        return rd.Rollouts(correct=(count > 0).astype(jnp.float32)), {"count": count}
