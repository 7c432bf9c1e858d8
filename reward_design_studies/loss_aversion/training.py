"""Training the arms: KTO (a lambda sweep), DPO and the environment check's approval maximiser.

Every arm of a seed starts from that seed's reference parameters and draws
the same minibatch indices (common random numbers); the runs (seeds x
lambdas for KTO, seeds for DPO) are batched with ``jax.vmap`` and the steps
run in jitted chunks of ``lax.scan``. The losses are `rd.halos.kto_loss`
(reference point `rd.halos.kto_kl_estimate` on mismatched pairs: prompt i
with prompt i+1's response, as TRL shifts a batch) and `rd.halos.dpo_loss`
(``"sigmoid"``), each averaged over the batch as TRL does.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

import reward_design as rd
from reward_design_studies.loss_aversion.policy import log_probs

__all__ = ["TrainSettings", "kto_objective", "dpo_objective", "approval_objective", "train_runs"]


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """Adam on minibatches of prompts; ``chunk`` steps per jitted call."""

    steps: int = 2000
    batch_size: int = 256
    learning_rate: float = 1e-3
    beta: float = 0.1
    chunk: int = 250


def _take(lp: jax.Array, actions: jax.Array) -> jax.Array:
    return jnp.take_along_axis(lp, actions, axis=1)


def kto_objective(beta: float) -> Callable[..., jax.Array]:
    """KTO's mean loss on a batch ``(x, actions [B, 2], desirable [B, 2], ref_logps [B, 2])``.

    The hyperparameter is ``lambda_U`` (``lambda_D = 1``).
    """

    def loss(params, params0, batch, lam):
        x, actions, desirable, ref_logps = batch
        lp = log_probs(params, x)
        pol = _take(lp, actions).reshape(-1)
        mismatched = jnp.roll(actions, -1, axis=0)
        pol_mm = _take(lp, mismatched).reshape(-1)
        ref_mm = _take(jax.lax.stop_gradient(log_probs(params0, x)), mismatched).reshape(-1)
        kl = rd.halos.kto_kl_estimate(pol_mm, ref_mm)
        losses = rd.halos.kto_loss(
            pol, ref_logps.reshape(-1), desirable.reshape(-1), kl, beta, 1.0, lam
        )
        return jnp.mean(losses)

    return loss


def dpo_objective(beta: float) -> Callable[..., jax.Array]:
    """DPO's mean loss over a batch's valid pairs ``(x, chosen, rejected, valid, ref_c, ref_r)``."""

    def loss(params, params0, batch, _hyper):
        x, chosen, rejected, valid, ref_c, ref_r = batch
        lp = log_probs(params, x)
        pc = _take(lp, chosen[:, None])[:, 0]
        pr = _take(lp, rejected[:, None])[:, 0]
        losses = rd.halos.dpo_loss(pc, pr, ref_c, ref_r, beta)
        n = jnp.maximum(jnp.sum(valid), 1)
        return jnp.sum(jnp.where(valid, losses, 0.0)) / n

    return loss


def approval_objective() -> Callable[..., jax.Array]:
    """Minus the exact expected approval ``sum_a pi(a|x) P(desirable | x, a)`` of ``(x, approval)``.

    Reinforcement learning on the fooled rater with infinitely many samples:
    the environment check's approval maximiser.
    """

    def loss(params, params0, batch, _hyper):
        x, approval = batch
        return -jnp.mean(jnp.sum(jnp.exp(log_probs(params, x)) * approval, axis=-1))

    return loss


def _split(key: jax.Array, start: int, num: int) -> jax.Array:
    return jax.random.split(jax.random.fold_in(key, start), num)


@functools.lru_cache(maxsize=16)
def _chunk_program(objective: Callable, batch_size: int, learning_rate: float, length: int):
    opt = optax.adam(learning_rate)

    def one_run(params, opt_state, params0, data, hyper, keys):
        n = jax.tree_util.tree_leaves(data)[0].shape[0]

        def step(carry, key):
            p, s = carry
            idx = jax.random.randint(key, (batch_size,), 0, n)
            batch = jax.tree_util.tree_map(lambda a: a[idx], data)
            loss, g = jax.value_and_grad(objective)(p, params0, batch, hyper)
            updates, s = opt.update(g, s, p)
            return (optax.apply_updates(p, updates), s), loss

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), keys)
        return params, opt_state, losses

    del length  # part of the cache key only: one program per chunk length
    return jax.jit(jax.vmap(one_run)), opt


def train_runs(
    objective: Callable,
    params0: Any,
    data: Any,
    hyper: jax.Array,
    keys: jax.Array,
    settings: TrainSettings,
    on_chunk: Callable[[int], None] | None = None,
    on_params: Callable[[int, Any], None] | None = None,
) -> tuple[Any, jax.Array]:
    """Trains R runs at once.

    Args:
      objective: ``loss(params, params0, batch, hyper)`` (one of the ``*_objective``).
      params0: ``[R, ...]`` initial (= reference) parameters of each run.
      data: a tuple of ``[R, N, ...]`` arrays, minibatched along N.
      hyper: ``[R]`` the objective's hyperparameter per run.
      keys: ``[R]`` keys of the minibatch draws (equal keys: equal batches).
      settings: steps, batch size, learning rate.
      on_chunk: called with the number of steps after each jitted chunk.
      on_params: called with ``(steps done, params)`` after each chunk (checkpoints).

    Returns:
      ``(params [R, ...], losses [R, steps])``.
    """
    params = params0
    opt_state = None
    losses = []
    done = 0
    while done < settings.steps:
        n = min(settings.chunk, settings.steps - done)
        program, opt = _chunk_program(objective, settings.batch_size, settings.learning_rate, n)
        if opt_state is None:
            opt_state = jax.vmap(opt.init)(params0)
        step_keys = jax.vmap(functools.partial(_split, start=done, num=n))(keys)
        params, opt_state, chunk_losses = program(
            params, opt_state, params0, data, hyper, step_keys
        )
        losses.append(chunk_losses)
        done += n
        if on_chunk is not None:
            on_chunk(n)
        if on_params is not None:
            on_params(done, params)
    return params, jnp.concatenate(losses, axis=1)
