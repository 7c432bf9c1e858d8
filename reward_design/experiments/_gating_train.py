"""The gating study's policy, warm start, GRPO loop and evaluation.

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

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from reward_design import advantages as _adv
from reward_design.experiments import _gating_env as genv
from reward_design.rollouts import Rollouts

__all__ = ["TrainConfig", "Policy", "Trainer", "evaluate_objective", "get_trainer"]

BOS = genv.VOCAB  # the extra input token that starts every response

# XLA options that roughly halve compile time on CPU at some cost in run time:
# worth it for the tiny test runs, whose cost is all compilation.
_FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that is the same for every arm (hashable: it keys compilations)."""

    num_prompts: int = 32
    group_size: int = 8
    learning_rate: float = 1e-3
    max_grad_norm: float = 1.0
    kl_coef: float = 0.04
    hidden: int = 64
    prompt_dim: int = 32
    token_dim: int = 16
    warmup_steps: int = 200
    warmup_learning_rate: float = 5e-3
    warmup_copies: int = 4
    corruption: float = 0.5
    eval_samples: int = 16
    fast_compile: bool = False


class Policy(nn.Module):
    """A GRU that writes ``T`` tokens left to right, conditioned on the prompt id."""

    num_prompts: int
    hidden: int = 64
    prompt_dim: int = 32
    token_dim: int = 16

    def setup(self):
        self.prompt_emb = nn.Embed(self.num_prompts, self.prompt_dim)
        self.tok_emb = nn.Embed(genv.VOCAB + 1, self.token_dim)
        self.pos_emb = nn.Embed(genv.SEQ_LEN, self.token_dim)
        self.cell = nn.GRUCell(
            features=self.hidden, recurrent_kernel_init=nn.initializers.lecun_normal()
        )
        self.head = nn.Dense(genv.VOCAB)

    def initial_carry(self, batch: int) -> jax.Array:
        return jnp.zeros((batch, self.hidden), jnp.float32)

    def step(self, carry, prompt_ids, prev, t):
        x = jnp.concatenate(
            [
                self.prompt_emb(prompt_ids),
                self.tok_emb(prev),
                self.pos_emb(jnp.full(prompt_ids.shape, t, jnp.int32)),
            ],
            axis=-1,
        )
        carry, h = self.cell(carry, x)
        return carry, self.head(h)

    def __call__(self, prompt_ids):
        """Logits ``[B, V]`` of the first token (used to create the parameters)."""
        carry = self.initial_carry(prompt_ids.shape[0])
        prev = jnp.full(prompt_ids.shape, BOS, jnp.int32)
        return self.step(carry, prompt_ids, prev, 0)[1]


def evaluate_objective(objective: Any, rollouts: Rollouts) -> tuple[Any, jax.Array]:
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


class Trainer:
    """Jitted warm start, GRPO chunk and evaluation for one `TrainConfig`."""

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

    # ------------------------------------------------------------ sampling
    def sample(self, params, key, prompt_ids):
        """``[B, T]`` responses; after the first EOS every token is EOS (padding)."""
        b = prompt_ids.shape[0]

        def body(carry, xs):
            h, prev, done = carry
            t, k = xs
            h, logits = self.model.apply(params, h, prompt_ids, prev, t, method="step")
            tok = jax.random.categorical(k, logits).astype(jnp.int32)
            tok = jnp.where(done, genv.EOS, tok)
            return (h, tok, done | (tok == genv.EOS)), tok

        init = (
            jnp.zeros((b, self.config.hidden), jnp.float32),
            jnp.full((b,), BOS, jnp.int32),
            jnp.zeros((b,), bool),
        )
        steps = jnp.arange(genv.SEQ_LEN, dtype=jnp.int32)
        _, tokens = jax.lax.scan(body, init, (steps, jax.random.split(key, genv.SEQ_LEN)))
        return tokens.T

    def _log_probs(self, params, prompt_ids, tokens):
        """Teacher-forced log-probabilities ``[B, T, V]`` (a scan over positions)."""
        b = prompt_ids.shape[0]
        prev = jnp.concatenate([jnp.full((b, 1), BOS, jnp.int32), tokens[:, :-1]], axis=1)

        def body(h, xs):
            t, prev_t = xs
            h, logits = self.model.apply(params, h, prompt_ids, prev_t, t, method="step")
            return h, logits

        steps = jnp.arange(genv.SEQ_LEN, dtype=jnp.int32)
        h0 = jnp.zeros((b, self.config.hidden), jnp.float32)
        _, logits = jax.lax.scan(body, h0, (steps, prev.T))
        return jax.nn.log_softmax(jnp.swapaxes(logits, 0, 1), axis=-1)

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
            logp = self._log_probs(p, prompt_ids, demos)
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
    def _rollouts(self, tokens, env, judged):
        return Rollouts(
            correct=judged[..., 0].astype(jnp.float32),
            rubric=judged.astype(jnp.float32),
            token_rewards=genv.token_agreement(tokens, env.reference[:, None, :]),
            token_mask=genv.token_mask(tokens),
        )

    def _train_chunk(self, state, objective, params0, env, noise, num_steps):
        c = self.config
        p, g, t = c.num_prompts, c.group_size, genv.SEQ_LEN
        prompt_ids = jnp.repeat(jnp.arange(p, dtype=jnp.int32), g)

        def loss_fn(params, tokens, tmask, adv):
            logp = self._log_probs(params, prompt_ids, tokens)
            logp0 = jax.lax.stop_gradient(self._log_probs(params0, prompt_ids, tokens))
            lp_tok = jnp.take_along_axis(logp, tokens[..., None], axis=-1)[..., 0]
            kl_t = jnp.sum(jnp.exp(logp) * (logp - logp0), axis=-1)
            m = tmask.astype(jnp.float32)
            per_seq = jnp.sum(m * (-adv[:, None] * lp_tok + c.kl_coef * kl_t), axis=-1)
            loss = jnp.mean(per_seq / jnp.sum(m, axis=-1))
            return loss, jnp.mean(jnp.sum(m * kl_t, axis=-1))

        def one_step(carry, _):
            params, opt_state, key = carry
            key, k_sample, k_noise = jax.random.split(key, 3)
            flat = self.sample(params, k_sample, prompt_ids)
            tokens = flat.reshape(p, g, t)
            checks = genv.rubric_checks(tokens, env.answer[:, None])
            judged = genv.flip_checks(k_noise, checks, noise)
            rollouts = self._rollouts(tokens, env, judged)
            out, mask = evaluate_objective(objective, rollouts)
            adv = _adv.grpo(out.total, mask=mask)
            (_, kl), grads = jax.value_and_grad(loss_fn, has_aux=True)(
                params, flat, genv.token_mask(flat), adv.reshape(-1)
            )
            updates, opt_state = self.optimizer.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            metrics = {
                "gold": jnp.mean(genv.gold(checks)),
                "proxy": jnp.mean(genv.proxy(checks)),
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
        flat = self.sample(params, key, prompt_ids)
        logp = self._log_probs(params, prompt_ids, flat)
        logp0 = self._log_probs(params0, prompt_ids, flat)
        m = genv.token_mask(flat).astype(jnp.float32)
        kl = jnp.sum(m * jnp.sum(jnp.exp(logp) * (logp - logp0), axis=-1), axis=-1)
        checks = genv.rubric_checks(flat.reshape(p, g, -1), env.answer[:, None])
        return {
            "gold": jnp.mean(genv.gold(checks)),
            "proxy": jnp.mean(genv.proxy(checks)),
            "kl": jnp.mean(kl),
            "items": jnp.mean(checks.astype(jnp.float32), axis=(0, 1)),
            "length": jnp.mean(jnp.sum(m, axis=-1)),
        }


@functools.lru_cache(maxsize=4)
def get_trainer(config: TrainConfig) -> Trainer:
    """One `Trainer` (and its compilations) per configuration."""
    return Trainer(config)
