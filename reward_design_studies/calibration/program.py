"""The calibration study's compiled programs: one training chunk and one evaluation.

One training step, for each seed (seeds run side by side under ``jax.vmap``):

1. draw P fresh questions; the policy answers each G times, stating a
   confidence with every answer;
2. ``correct = answer == label``; ``out = objective(Rollouts(correct, confidence))``
   (an `rd.compose` objective);
3. ``A = estimator(out.total, out.accepted)`` (`rd.advantages.dr_grpo`,
   ``grpo`` or ``rloo``), treated as a constant;
4. loss ``-(1 / (P G)) sum_ij A_ij log pi(a_ij, c_ij | x_i)`` (REINFORCE with
   the group baseline; the constant normaliser is Dr. GRPO's), one Adam step.

The objective is an *argument* of the compiled function, not a constant baked
into it: arms whose objectives share a structure and differ only in
hyperparameters (term weights) reuse one compiled program. The program is
cached per (policy, task, layout, learning rate, chunk length).

References:
  Williams, "Simple Statistical Gradient-Following Algorithms for
  Connectionist Reinforcement Learning" (REINFORCE), Machine Learning 1992.
  Shao et al., "DeepSeekMath" (GRPO), arXiv 2402.03300.
  Liu et al., "Understanding R1-Zero-Like Training" (Dr. GRPO), arXiv 2503.20783.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from reward_design import advantages as _advantages
from reward_design.rollouts import Rollouts

from .config import ESTIMATOR_NAMES
from .environment import Questions

__all__ = ["ESTIMATORS", "TrainSettings", "ArmLayout", "chunk_program", "eval_program"]

ESTIMATORS: dict[str, Callable[..., jax.Array]] = {
    name: getattr(_advantages, name) for name in ESTIMATOR_NAMES
}
"""``{name: rd.advantages.<name>}`` for the study's estimators."""


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """Everything about training except the objective (identical across compared arms).

    Args:
      steps: optimiser steps.
      num_prompts: questions per step P.
      group_size: samples per question G.
      estimator: ``"dr_grpo"``, ``"grpo"`` (per-group std scaling) or ``"rloo"``.
      learning_rate: Adam step size.
      eval_every: steps between evaluations on the held-out questions.
      eval_samples: answers sampled per held-out question at evaluation.
    """

    steps: int
    num_prompts: int
    group_size: int
    estimator: str = "dr_grpo"
    learning_rate: float = 3e-3
    eval_every: int = 50
    eval_samples: int = 2

    def __post_init__(self):
        if self.estimator not in ESTIMATORS:
            raise ValueError(
                f"estimator must be one of {sorted(ESTIMATORS)}; got {self.estimator!r}."
            )
        for name in ("steps", "num_prompts", "eval_every", "eval_samples"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1; got {getattr(self, name)}.")
        if int(self.group_size) < 2:
            raise ValueError(f"group_size must be >= 2; got {self.group_size}.")
        if self.steps % self.eval_every:
            raise ValueError(
                f"steps ({self.steps}) must be a multiple of eval_every ({self.eval_every})."
            )
        if not (np.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be > 0; got {self.learning_rate}.")


@dataclasses.dataclass(frozen=True)
class ArmLayout:
    """Traced per-arm sizes and estimator choice (see `chunk_program`).

    Attributes:
      num_prompts: int32 scalar, questions per step in use (P).
      group_size: int32 scalar, samples per question in use (G).
      estimator: ``{name: float32 scalar}``, one-hot over `ESTIMATORS`.
    """

    num_prompts: Any
    group_size: Any
    estimator: dict[str, Any]

    @classmethod
    def from_settings(cls, settings: TrainSettings) -> ArmLayout:
        return cls(
            num_prompts=np.int32(settings.num_prompts),
            group_size=np.int32(settings.group_size),
            estimator={name: np.float32(name == settings.estimator) for name in ESTIMATORS},
        )


jax.tree_util.register_dataclass(
    ArmLayout, data_fields=["num_prompts", "group_size", "estimator"], meta_fields=[]
)


@functools.cache
def chunk_program(
    policy: Any,
    task: Any,
    layout: tuple[int, int],
    learning_rate: float,
    chunk: int,
) -> Callable:
    """The jitted ``(objective, arm, params, opt_state, keys) -> ((params, opt_state), metrics)``.

    Runs ``chunk`` steps with ``jax.lax.scan``, vmapped over arms (leading
    axis A of ``objective``, ``arm``, ``params`` and ``opt_state``) and seeds
    (second axis S of ``params`` and ``opt_state``; ``keys [S, chunk]`` are
    shared by the arms, so every arm sees the same key stream).

    Nothing that distinguishes one arm from another is compiled in: the
    objective is a traced pytree argument, and so is ``arm`` (`ArmLayout`:
    the number of questions P and samples G in use, and one-hot weights
    selecting the advantage estimator). Rollouts live in a fixed
    ``layout = (P_max, G_max)`` slab; the ``P x G`` block in use is marked
    valid by `Rollouts.mask`, and the masked reward and advantage functions
    ignore the rest. One compiled program therefore serves every arm of the
    study (all objectives of one structure, all estimators, all group sizes).
    """
    optimizer = optax.adam(learning_rate)
    p_max, g_max = layout

    def step(objective, arm, carry, key):
        params, opt_state = carry
        k_q, k_s = jax.random.split(key)
        qs = task.sample(k_q, p_max)
        actions = policy.sample(params, k_s, qs.x, g_max)
        answer, confidence = policy.decode(actions)
        valid = (jnp.arange(p_max)[:, None] < arm.num_prompts) & (
            jnp.arange(g_max)[None, :] < arm.group_size
        )
        correct = (answer == qs.label[:, None]).astype(jnp.float32)
        out = objective(Rollouts(correct=correct, confidence=confidence, mask=valid))
        adv = sum(
            arm.estimator[name] * fn(out.total, out.accepted) for name, fn in ESTIMATORS.items()
        )
        adv = jax.lax.stop_gradient(jnp.where(valid, adv, 0.0))
        count = jnp.maximum(jnp.sum(valid), 1)

        def loss_fn(p):
            return -jnp.sum(adv * policy.log_prob(p, qs.x, actions)) / count

        grads = jax.grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        q = jnp.take_along_axis(qs.posterior, answer, axis=1)

        def masked_mean(v):
            return jnp.sum(jnp.where(valid, v, 0.0)) / count

        metrics = {
            "reward": masked_mean(out.total),
            "accuracy": masked_mean(correct),
            "confidence": masked_mean(confidence),
            "success_probability": masked_mean(q),
        }
        return (params, opt_state), metrics

    def run(objective, arm, params, opt_state, keys):
        return jax.lax.scan(functools.partial(step, objective, arm), (params, opt_state), keys)

    per_seed = jax.vmap(run, in_axes=(None, None, 0, 0, 0))
    return jax.jit(jax.vmap(per_seed, in_axes=(0, 0, 0, 0, None)))


@functools.cache
def eval_program(policy: Any, samples: int) -> Callable:
    def evaluate(params, key, qs: Questions):
        actions = policy.sample(params, key, qs.x, samples)
        answer, confidence = policy.decode(actions)
        correct = answer == qs.label[:, None]
        q = jnp.take_along_axis(qs.posterior, answer, axis=1)
        return correct.reshape(-1), confidence.reshape(-1), q.reshape(-1)

    per_seed = jax.vmap(evaluate, in_axes=(0, 0, None))
    return jax.jit(jax.vmap(per_seed, in_axes=(0, None, None)))
