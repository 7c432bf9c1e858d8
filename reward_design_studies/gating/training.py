"""The gating study's warm start, GRPO loop and evaluation.

One set of jitted functions serves every arm: the objective (a pytree) is an
argument of the training function, so arms whose objectives share a tree
structure share one compilation, and the judge-noise level is a traced input.
Runs (seeds x noise levels) are batched with ``jax.vmap``.

References:
  Shao et al., "DeepSeekMath" (GRPO, KL coefficient 0.04), arXiv 2402.03300.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import optax

import reward_design as rd
from reward_design_studies.gating import environment as genv
from reward_design_studies.gating import rubric
from reward_design_studies.gating.policy import Policy, log_probs, sample

__all__ = ["TrainConfig", "Trainer", "evaluate_objective", "get_trainer"]

# XLA options that roughly halve compile time on CPU at some cost in run time:
# worth it for the tiny test runs, whose cost is all compilation.
_FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Everything that is the same for every arm (hashable: it keys compilations).

    The fields without a default are `GatingConfig`'s, which holds their
    values (`reward_design_studies.gating.study.train_config` copies them);
    the others are fixed by the study's design.
    """

    num_prompts: int
    group_size: int
    learning_rate: float
    max_grad_norm: float
    kl_coef: float
    hidden: int
    prompt_dim: int = 32
    token_dim: int = 16
    warmup_steps: int
    warmup_learning_rate: float
    warmup_copies: int = 4
    corruption: float
    eval_samples: int
    fast_compile: bool


def evaluate_objective(objective: Any, rollouts: rd.Rollouts) -> tuple[Any, jax.Array]:
    """``(RewardOutput, advantage mask [P, G])`` for any arm.

    Gated objectives say themselves which members enter the group statistics
    (`rd.gates.Gated.evaluate`: every valid member of a kept group with
    ``on_reject="floor"``, the accepted ones with ``"drop"``); for a plain
    composition it is ``out.accepted``, the rollouts' own mask.
    """
    if hasattr(objective, "evaluate"):
        return objective.evaluate(rollouts)
    out = objective(rollouts)
    return out, out.accepted


def _kl_per_token(logp: jax.Array, logp0: jax.Array) -> jax.Array:
    """Exact ``KL(pi(.|y_<t) || pi_0(.|y_<t))`` per position, ``[B, T, V]`` -> ``[B, T]``."""
    return jnp.sum(jnp.exp(logp) * (logp - logp0), axis=-1)


class Trainer:
    """Jitted warm start, GRPO chunk and evaluation for one `TrainConfig`.

    Attributes:
      chunk_traces: how many times the GRPO chunk has been traced (one per
        compilation: a new chunk length or objective tree structure).
    """

    def __init__(self, config: TrainConfig):
        self.config = config
        self.model = Policy(
            num_prompts=config.num_prompts,
            hidden=config.hidden,
            prompt_dim=config.prompt_dim,
            token_dim=config.token_dim,
        )
        self.optimizer = optax.chain(
            optax.clip_by_global_norm(config.max_grad_norm), optax.adam(config.learning_rate)
        )
        self._jit = functools.partial(
            jax.jit, compiler_options=_FAST_COMPILE if config.fast_compile else None
        )
        self.warm_start = self._jit(jax.vmap(self._warm_start))
        self.init_opt = self._jit(jax.vmap(self.optimizer.init))
        self._chunks: dict[int, Any] = {}
        self.chunk_traces = 0
        self.evaluate = self._jit(jax.vmap(self._evaluate))

    def train_chunk(self, state, objective, params0, env, noise, num_steps: int):
        """``num_steps`` GRPO steps of every run at once (runs on axis 0).

        ``objective`` is shared by the runs (not batched); ``state`` is
        ``(params, opt_state, key)``. Returns ``(state, metrics)`` with
        metrics ``{name: [R, num_steps]}``.
        """
        if num_steps not in self._chunks:
            fn = functools.partial(self._train_chunk, num_steps=num_steps)
            self._chunks[num_steps] = self._jit(jax.vmap(fn, in_axes=(0, None, 0, 0, 0)))
        return self._chunks[num_steps](state, objective, params0, env, noise)

    # ---------------------------------------------------------- warm start
    def _warm_start(self, key):
        """(params, env): the supervised 'base model' of one seed."""
        c = self.config
        k_env, k_init, k_loop = jax.random.split(key, 3)
        env = genv.make_env(k_env, c.num_prompts)
        prompt_ids = jnp.tile(jnp.arange(c.num_prompts, dtype=jnp.int32), c.warmup_copies)
        ref = jnp.tile(env.reference, (c.warmup_copies, 1))
        params = self.model.init(k_init, prompt_ids)
        opt = optax.adam(c.warmup_learning_rate)

        def loss_fn(p, demos):
            logp = log_probs(self.model, p, prompt_ids, demos)
            nll = -jnp.take_along_axis(logp, demos[..., None], axis=-1)[..., 0]
            m = genv.token_mask(demos).astype(jnp.float32)
            return jnp.sum(nll * m) / jnp.sum(m)

        def step(carry, k):
            p, s = carry
            demos = genv.corrupt(k, ref, c.corruption)
            grads = jax.grad(loss_fn)(p, demos)
            updates, s = opt.update(grads, s, p)
            return (optax.apply_updates(p, updates), s), None

        keys = jax.random.split(k_loop, c.warmup_steps)
        (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), keys)
        return params, env

    # ---------------------------------------------------------------- GRPO
    def _train_chunk(self, state, objective, params0, env, noise, num_steps):
        self.chunk_traces += 1
        c = self.config
        p, g, t = c.num_prompts, c.group_size, genv.SEQ_LEN
        prompt_ids = jnp.repeat(jnp.arange(p, dtype=jnp.int32), g)

        def loss_fn(params, tokens, tmask, adv):
            logp = log_probs(self.model, params, prompt_ids, tokens)
            logp0 = jax.lax.stop_gradient(log_probs(self.model, params0, prompt_ids, tokens))
            lp_tok = jnp.take_along_axis(logp, tokens[..., None], axis=-1)[..., 0]
            kl_t = _kl_per_token(logp, logp0)
            m = tmask.astype(jnp.float32)
            per_seq = jnp.sum(m * (-adv[:, None] * lp_tok + c.kl_coef * kl_t), axis=-1)
            loss = jnp.mean(per_seq / jnp.sum(m, axis=-1))
            return loss, jnp.mean(jnp.sum(m * kl_t, axis=-1))

        def one_step(carry, _):
            params, opt_state, key = carry
            key, k_sample, k_noise = jax.random.split(key, 3)
            flat = sample(self.model, params, k_sample, prompt_ids)
            tokens = flat.reshape(p, g, t)
            checks = rubric.rubric_checks(tokens, env.answer[:, None])
            judged = rubric.flip_checks(k_noise, checks, noise)
            out, mask = evaluate_objective(objective, genv.make_rollouts(tokens, env, judged))
            adv = rd.advantages.grpo(out.total, mask=mask)
            (_, kl), grads = jax.value_and_grad(loss_fn, has_aux=True)(
                params, flat, genv.token_mask(flat), adv.reshape(-1)
            )
            updates, opt_state = self.optimizer.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            metrics = {
                "gold": jnp.mean(rubric.gold(checks)),
                "proxy": jnp.mean(rubric.proxy(checks)),
                # the gate's verdict before group filtering (1 for dense objectives) ...
                "accepted": out.stats.get("gate/pass_rate", jnp.mean(out.accepted)),
                # ... and ``RewardOutput.accepted``, after it
                "kept": jnp.mean(out.accepted),
                "in_update": jnp.mean(mask),
                "groups_with_signal": jnp.mean(jnp.any(adv != 0, axis=1)),
                "kl": kl,
                "reward": jnp.mean(out.total),
            }
            return (params, opt_state, key), metrics

        return jax.lax.scan(one_step, state, None, length=num_steps)

    # ---------------------------------------------------------- evaluation
    def _evaluate(self, params, params0, env, key):
        c = self.config
        p, g = c.num_prompts, c.eval_samples
        prompt_ids = jnp.repeat(jnp.arange(p, dtype=jnp.int32), g)
        flat = sample(self.model, params, key, prompt_ids)
        logp = log_probs(self.model, params, prompt_ids, flat)
        logp0 = log_probs(self.model, params0, prompt_ids, flat)
        m = genv.token_mask(flat).astype(jnp.float32)
        kl = jnp.sum(m * _kl_per_token(logp, logp0), axis=-1)
        checks = rubric.rubric_checks(flat.reshape(p, g, -1), env.answer[:, None])
        return {
            "gold": jnp.mean(rubric.gold(checks)),
            "proxy": jnp.mean(rubric.proxy(checks)),
            "kl": jnp.mean(kl),
            "items": jnp.mean(checks.astype(jnp.float32), axis=(0, 1)),
            "length": jnp.mean(jnp.sum(m, axis=-1)),
        }


@functools.lru_cache(maxsize=4)
def get_trainer(config: TrainConfig) -> Trainer:
    """One `Trainer` (and its compilations) per configuration."""
    return Trainer(config)
