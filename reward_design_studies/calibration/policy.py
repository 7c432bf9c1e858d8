"""Swappable policies for the calibration study.

A policy answers a batch of questions G times each and states a confidence
with every answer. The training loop only uses the four methods of
`ConfidencePolicy`, so a different policy (e.g. a small character-level
transformer writing ``<answer>..</answer><confidence>..</confidence>`` text
and decoded through a text adapter) plugs in without touching the loop:

* ``init(key, x) -> params``
* ``sample(params, key, x, group_size) -> actions``: a pytree whose leaves
  are ``[P, G, ...]``;
* ``log_prob(params, x, actions) -> [P, G]``: log-probability of the whole
  action (answer and confidence), differentiable in ``params``;
* ``decode(actions) -> (answer [P, G] int, confidence [P, G] float in [0, 1])``;
* ``supervised_loss(params, x, label) -> scalar``: the warm-start loss (the
  stage before RL; for a text policy, the log-likelihood of a reference
  answer).

Policies must be hashable (frozen dataclasses), because the jitted training
step is cached per policy.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol, runtime_checkable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["ConfidencePolicy", "FactoredConfidencePolicy", "FactoredActions"]


@runtime_checkable
class ConfidencePolicy(Protocol):
    """What the calibration training loop needs from a policy."""

    def init(self, key: jax.Array, x: jax.Array) -> Any: ...

    def sample(self, params: Any, key: jax.Array, x: jax.Array, group_size: int) -> Any: ...

    def log_prob(self, params: Any, x: jax.Array, actions: Any) -> jax.Array: ...

    def decode(self, actions: Any) -> tuple[jax.Array, jax.Array]: ...

    def supervised_loss(self, params: Any, x: jax.Array, label: jax.Array) -> jax.Array: ...


@dataclasses.dataclass(frozen=True)
class FactoredActions:
    """Sampled actions of `FactoredConfidencePolicy`: ``answer`` and ``level``, both ``[P, G]``."""

    answer: jax.Array
    level: jax.Array


jax.tree_util.register_dataclass(FactoredActions, data_fields=["answer", "level"], meta_fields=[])


class _AnswerConfidenceNet(nn.Module):
    """Shared MLP trunk; answer head ``[K]``; confidence head ``[K, L]`` (one row per answer)."""

    num_classes: int
    num_levels: int
    hidden: int
    depth: int
    init_confidence_slope: float
    init_confidence_scale: float

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = x
        for _ in range(self.depth):
            h = nn.relu(nn.Dense(self.hidden)(h))
        answer_logits = nn.Dense(self.num_classes, name="answer")(h)
        levels = np.linspace(0.0, 1.0, self.num_levels, dtype=np.float32)
        overconfident = np.tile(self.init_confidence_slope * levels, self.num_classes)

        def bias_init(key, shape, dtype=jnp.float32):
            del key
            return jnp.asarray(overconfident, dtype).reshape(shape)

        conf_logits = nn.Dense(
            self.num_classes * self.num_levels,
            name="confidence",
            kernel_init=nn.initializers.variance_scaling(
                self.init_confidence_scale, "fan_in", "truncated_normal"
            ),
            bias_init=bias_init,
        )(h)
        conf_logits = conf_logits.reshape(x.shape[:-1] + (self.num_classes, self.num_levels))
        return answer_logits, conf_logits


@dataclasses.dataclass(frozen=True)
class FactoredConfidencePolicy:
    """An MLP that samples an answer, then a verbalised confidence level for that answer.

    ``pi(a, c | x) = pi(a | x) * pi(c | x, a)``: the answer head is a softmax
    over the K classes; the confidence head is a softmax over ``num_levels``
    confidence levels ``0, 1/(L-1), ..., 1`` (21 levels: 0.00, 0.05, ...,
    1.00, like a model writing a two-digit confidence), with one row per
    answer so the stated confidence can depend on which answer was given.
    Both heads share the trunk, as answer and confidence tokens share one
    language model.

    Overconfident start: the confidence head's kernel starts small and its
    bias is ``init_confidence_slope * level``, so before training every
    question gets a stated confidence near the top (slope 10 gives mean
    0.92, ``P(c = 1.0) = 0.39``), as an RLVR-trained LLM states near-certain
    confidence regardless of the question.

    Args:
      num_classes: answers K (must match the task).
      num_levels: confidence levels L (>= 2).
      hidden: trunk width.
      depth: trunk layers.
      init_confidence_slope: bias slope over levels at initialisation.
      init_confidence_scale: variance scale of the confidence head's kernel
        at initialisation (small: confidence barely depends on x at first).
    """

    num_classes: int = 10
    num_levels: int = 21
    hidden: int = 64
    depth: int = 2
    init_confidence_slope: float = 10.0
    init_confidence_scale: float = 0.01

    def __post_init__(self):
        if int(self.num_levels) < 2:
            raise ValueError(f"num_levels must be >= 2; got {self.num_levels}.")
        if int(self.num_classes) < 2:
            raise ValueError(f"num_classes must be >= 2; got {self.num_classes}.")

    @property
    def levels(self) -> np.ndarray:
        """``[L]`` the confidence values the policy can state."""
        return np.linspace(0.0, 1.0, self.num_levels, dtype=np.float32)

    def _net(self) -> _AnswerConfidenceNet:
        return _AnswerConfidenceNet(
            num_classes=self.num_classes,
            num_levels=self.num_levels,
            hidden=self.hidden,
            depth=self.depth,
            init_confidence_slope=self.init_confidence_slope,
            init_confidence_scale=self.init_confidence_scale,
        )

    def init(self, key: jax.Array, x: jax.Array) -> Any:
        return self._net().init(key, x)

    def logits(self, params: Any, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``([P, K] answer logits, [P, K, L] confidence logits)``."""
        return self._net().apply(params, x)

    def sample(self, params: Any, key: jax.Array, x: jax.Array, group_size: int) -> FactoredActions:
        answer_logits, conf_logits = self.logits(params, x)
        k_a, k_c = jax.random.split(key)
        p = x.shape[0]
        answer = jax.random.categorical(k_a, answer_logits[:, None, :], shape=(p, group_size))
        rows = jnp.take_along_axis(conf_logits, answer[:, :, None], axis=1)  # [P, G, L]
        level = jax.random.categorical(k_c, rows, axis=-1)
        return FactoredActions(answer=answer.astype(jnp.int32), level=level.astype(jnp.int32))

    def log_prob(self, params: Any, x: jax.Array, actions: FactoredActions) -> jax.Array:
        answer_logits, conf_logits = self.logits(params, x)
        logp_answer = jax.nn.log_softmax(answer_logits, axis=-1)  # [P, K]
        logp_conf = jax.nn.log_softmax(conf_logits, axis=-1)  # [P, K, L]
        lp_a = jnp.take_along_axis(logp_answer, actions.answer, axis=1)  # [P, G]
        rows = jnp.take_along_axis(logp_conf, actions.answer[:, :, None], axis=1)  # [P, G, L]
        lp_c = jnp.take_along_axis(rows, actions.level[:, :, None], axis=2)[..., 0]
        return lp_a + lp_c

    def decode(self, actions: FactoredActions) -> tuple[jax.Array, jax.Array]:
        return actions.answer, jnp.asarray(self.levels)[actions.level]

    def supervised_loss(self, params: Any, x: jax.Array, label: jax.Array) -> jax.Array:
        """Mean cross-entropy of the right answer (answer head only)."""
        answer_logits, _ = self.logits(params, x)
        logp = jax.nn.log_softmax(answer_logits, axis=-1)
        return -jnp.mean(jnp.take_along_axis(logp, label[:, None], axis=1))

    def answer_probs(self, params: Any, x: jax.Array) -> jax.Array:
        """``[P, K]`` the answer distribution (for diagnostics)."""
        return jax.nn.softmax(self.logits(params, x)[0], axis=-1)
