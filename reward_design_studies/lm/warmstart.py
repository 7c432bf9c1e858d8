"""Seeds, initial parameters and the supervised warm start (the "SFT" stage).

Every random draw of a seed comes from `seed_keys`: the same initial
parameters, warm-start batches, training stream and evaluation stream for
every arm of that seed.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from .policy import Policy, completion_mask
from .task import check_task

__all__ = [
    "PRNG_IMPL",
    "FAST_COMPILE",
    "SeedKeys",
    "seed_keys",
    "init_params",
    "supervised_loss",
    "WarmStart",
    "warm_start",
]

PRNG_IMPL = "threefry2x32"
"""Key implementation of every seed: JAX's default, whose draws do not depend on
how runs are batched (``rbg`` draws differently for equal keys at different
positions of a ``vmap``, which would give the arms of a seed different streams)."""

FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}
"""XLA CPU options that cut compile time at some cost in run time (tests, quick runs)."""


class SeedKeys(NamedTuple):
    """The independent key streams of one seed."""

    init: jax.Array
    warm: jax.Array
    train: jax.Array
    eval: jax.Array


def seed_keys(seed: int) -> SeedKeys:
    """The keys of seed ``seed`` (the same for every arm)."""
    return SeedKeys(*jax.random.split(jax.random.key(int(seed), impl=PRNG_IMPL), 4))


def _stacked(seeds: Sequence[int], field: str) -> jax.Array:
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must not be empty.")
    return jnp.stack([getattr(seed_keys(s), field) for s in seeds])


def init_params(policy: Policy, seeds: Sequence[int]) -> Any:
    """Fresh parameters of each seed, stacked on a leading seed axis."""
    return jax.vmap(policy.init)(_stacked(seeds, "init"))


def supervised_loss(policy: Policy, params: Any, prompts: jax.Array, targets: jax.Array):
    """Mean negative log-likelihood of the ``targets`` tokens (teacher forcing).

    Averaged over the tokens of `completion_mask` (``EOS`` included), over
    the whole batch.
    """
    logp = policy.token_log_probs(params, prompts, targets)
    mask = completion_mask(targets)
    return -jnp.sum(logp) / jnp.maximum(jnp.sum(mask), 1)


class WarmStart(NamedTuple):
    """Output of `warm_start`.

    Attributes:
      params: parameters after the warm start, leading seed axis ``[S, ...]``.
      loss: ``[S, steps]`` supervised loss per step.
    """

    params: Any
    loss: jax.Array


@functools.cache
def _warm_program(policy, task, steps, batch_size, learning_rate, max_grad_norm, fast):
    optimizer = optax.chain(optax.clip_by_global_norm(max_grad_norm), optax.adam(learning_rate))

    def run(key_init, key_warm):
        params = policy.init(key_init)

        def step(carry, key):
            params, opt_state = carry
            k_batch, k_ref = jax.random.split(key)
            batch = task.sample_prompts(k_batch, batch_size, "train")
            targets = task.reference(k_ref, batch)
            loss, grads = jax.value_and_grad(functools.partial(supervised_loss, policy))(
                params, batch.tokens, targets
            )
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        keys = jax.random.split(key_warm, steps)
        (params, _), losses = jax.lax.scan(step, (params, optimizer.init(params)), keys)
        return params, losses

    return jax.jit(jax.vmap(run), compiler_options=FAST_COMPILE if fast else None)


def warm_start(
    policy: Policy,
    task: Any,
    seeds: Sequence[int],
    *,
    steps: int,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    max_grad_norm: float = 1.0,
    fast_compile: bool = False,
) -> WarmStart:
    """Supervised warm start of each seed on the task's reference completions.

    ``steps`` Adam steps of teacher forcing (`supervised_loss`) on
    ``task.reference`` completions of fresh training prompts, starting from
    `init_params`. ``steps = 0`` returns the initial parameters. Compute it
    once per seed and pass the parameters to every arm.

    Args:
      policy: the `Policy`.
      task: a `Task`.
      seeds: the seeds (their ``init`` and ``warm`` keys are used).
      steps: supervised steps.
      batch_size: prompts per step.
      learning_rate: Adam step size.
      max_grad_norm: global gradient-norm clip.
      fast_compile: compile with `FAST_COMPILE` (faster to compile, slower to run).

    Returns:
      `WarmStart` (parameters ``[S, ...]`` and the ``[S, steps]`` loss curve).
    """
    check_task(task)
    if int(steps) < 0 or int(batch_size) < 1:
        raise ValueError(f"steps must be >= 0 and batch_size >= 1; got {steps}, {batch_size}.")
    if int(steps) == 0:
        return WarmStart(init_params(policy, seeds), jnp.zeros((len(seeds), 0), jnp.float32))
    program = _warm_program(
        policy,
        task,
        int(steps),
        int(batch_size),
        float(learning_rate),
        float(max_grad_norm),
        bool(fast_compile),
    )
    params, loss = program(_stacked(seeds, "init"), _stacked(seeds, "warm"))
    return WarmStart(params, loss)
