"""What the policy would have written in the answer and confidence slots.

For a completion in `AnswerFormat`, `slot_distribution` gives the policy's
next-token distribution at the answer slot (given the prompt and the
reasoning) or at the confidence slot (given also the answer it wrote),
restricted to the slot's words and renormalised. It measures what sampled
completions only estimate: e.g. the expected stated confidence given
``(x, a)``, and its spread (a collapsed confidence head has spread near 0).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from .parsing import AnswerFormat
from .policy import Policy

__all__ = ["SlotDistribution", "slot_distribution"]


class SlotDistribution(NamedTuple):
    """The policy's distribution over one slot's words (arrays over the batch).

    Attributes:
      probs: ``[B, M]`` probabilities over the slot's words (renormalised;
        uniform where the completion is not in format).
      mass: ``[B]`` probability the policy gave the slot's words before
        renormalising (near 1 for a policy that keeps the format).
      valid: ``[B]`` bool, the completion is in format.
      mean: ``[B]`` expected confidence (``confidence`` slot; 0 for ``answer``).
      std: ``[B]`` its standard deviation (``confidence`` slot; 0 for ``answer``).
    """

    probs: jax.Array
    mass: jax.Array
    valid: jax.Array
    mean: jax.Array
    std: jax.Array


def slot_distribution(
    policy: Policy,
    params: Any,
    fmt: AnswerFormat,
    prompts: jax.Array,
    completions: jax.Array,
    slot: str = "confidence",
    temperature: Any = 1.0,
) -> SlotDistribution:
    """The policy's distribution at the ``"answer"`` or ``"confidence"`` slot (traceable).

    Args:
      policy: the `Policy`.
      params: its parameters.
      fmt: the completions' `AnswerFormat`.
      prompts: ``[B, Lp]`` prompts.
      completions: ``[B, T]`` completions (those not in format get ``valid`` False).
      slot: ``"answer"`` (after ``ANSWER``) or ``"confidence"`` (after ``CONF``).
      temperature: of the policy's log-softmax, as in training.
    """
    if slot not in ("answer", "confidence"):
        raise ValueError(f"slot must be 'answer' or 'confidence'; got {slot!r}.")
    if slot == "confidence" and not fmt.confidences:
        raise ValueError("slot='confidence' needs an AnswerFormat with confidence words.")
    parsed = fmt.parse(completions)
    offset = 1 if slot == "answer" else 3
    pos = jnp.clip(jnp.maximum(parsed.reasoning_length, 0) + offset, 0, completions.shape[-1] - 1)
    logp = policy.completion_log_softmax(params, prompts, completions, temperature)
    at = jnp.take_along_axis(logp, pos[:, None, None], axis=1)[:, 0]  # [B, V]
    words = fmt.answers if slot == "answer" else fmt.confidences
    sub = at[:, jnp.asarray(fmt.tokenizer.ids(words))]
    mass = jnp.exp(jax.nn.logsumexp(sub, axis=-1))
    probs = jnp.where(parsed.valid[:, None], jax.nn.softmax(sub, axis=-1), 1.0 / len(words))
    if slot == "confidence":
        values = jnp.asarray(fmt.confidence_values, jnp.float32)
        mean = probs @ values
        std = jnp.sqrt(jnp.maximum(probs @ jnp.square(values) - jnp.square(mean), 0.0))
    else:
        mean = std = jnp.zeros(probs.shape[0], jnp.float32)
    return SlotDistribution(probs, jnp.where(parsed.valid, mass, 0.0), parsed.valid, mean, std)
