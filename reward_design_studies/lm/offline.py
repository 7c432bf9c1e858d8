"""Custom-loss training of arms side by side (e.g. KTO or DPO on fixed feedback data).

`fit` is the offline counterpart of `loop.train`: each arm is any pytree
(its numeric fields traced, e.g. KTO's lambda_D and lambda_U), and one
static ``loss(arm, params, reference_params, key) -> (loss, metrics)``
defines the update. Arms of one pytree structure run under one compiled
program, vmapped over runs (arm x seed); every arm of a seed starts from the
same parameters and gets the same key at every step (the same minibatches
when ``loss`` draws them from ``key``).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .loop import _host, _repeat, _signature
from .rl import clip_by_global_norm
from .warmstart import FAST_COMPILE, seed_keys

__all__ = ["FitRun", "fit"]


@dataclasses.dataclass
class FitRun:
    """What `fit` returns for one arm (leading axis = seed).

    Attributes:
      params: the parameters after the last step.
      metrics: ``{name: [S, steps]}``: ``loss``, ``grad_norm`` and the loss's own metrics.
    """

    params: Any
    metrics: dict[str, np.ndarray]


@functools.cache
def _program(loss: Callable, steps: int, fast: bool) -> Callable:
    adam = optax.scale_by_adam()

    def run(arm, lr, max_norm, params0, key):
        def step(carry, i):
            params, opt_state = carry
            k = jax.random.fold_in(key, i)
            (value, metrics), grads = jax.value_and_grad(loss, argnums=1, has_aux=True)(
                arm, params, params0, k
            )
            grads, norm = clip_by_global_norm(grads, max_norm)
            updates, opt_state = adam.update(grads, opt_state, params)
            params = jax.tree_util.tree_map(lambda w, u: w - lr * u, params, updates)
            return (params, opt_state), {"loss": value, "grad_norm": norm, **metrics}

        carry = (params0, adam.init(params0))
        (params, _), metrics = jax.lax.scan(step, carry, jnp.arange(steps))
        return params, metrics

    in_axes = (0, None, None, 0, 0)
    return jax.jit(jax.vmap(run, in_axes), compiler_options=FAST_COMPILE if fast else None)


def fit(
    loss: Callable[[Any, Any, Any, jax.Array], tuple[jax.Array, dict[str, jax.Array]]],
    arms: Sequence[Any],
    *,
    init_params: Any,
    seeds: Sequence[int],
    steps: int,
    learning_rate: float = 1e-3,
    max_grad_norm: float = 1.0,
    fast_compile: bool = False,
) -> list[FitRun]:
    """Trains ``params`` by ``loss`` for every arm and seed; one `FitRun` per arm, in order.

    Args:
      loss: ``loss(arm, params, reference_params, key) -> (scalar, {name: scalar})``,
        traceable; static (a new function object compiles anew). The
        reference parameters are the seed's ``init_params`` (e.g. the warm
        start, for KL-regularised losses).
      arms: pytrees of traced values (e.g. ``{"lambda_d": 1.0, "lambda_u": 2.25}``);
        arms of one structure and leaf shapes share a compiled program.
      init_params: starting parameters with a leading seed axis.
      seeds: the seeds; step i of seed s uses ``fold_in(seed_keys(s).train, i)``.
      steps: optimiser steps.
      learning_rate: Adam step size (traced: no recompile per value).
      max_grad_norm: global gradient-norm clip (traced).
      fast_compile: compile with `FAST_COMPILE`.
    """
    seeds = [int(s) for s in seeds]
    if not seeds or not arms:
        raise ValueError("fit needs at least one arm and one seed.")
    if int(steps) < 1:
        raise ValueError(f"steps must be >= 1; got {steps}.")
    for name, value in (("learning_rate", learning_rate), ("max_grad_norm", max_grad_norm)):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0; got {value!r}.")
    program = _program(loss, int(steps), bool(fast_compile))
    keys = jnp.stack([seed_keys(s).train for s in seeds])
    groups: dict[Any, list[int]] = {}
    for i, arm in enumerate(arms):
        groups.setdefault(_signature(arm), []).append(i)
    out: list[FitRun | None] = [None] * len(arms)
    s = len(seeds)
    for idx in groups.values():
        a = len(idx)
        stacked = jax.tree_util.tree_map(
            lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]), *[arms[i] for i in idx]
        )
        params, metrics = program(
            _repeat(stacked, s, interleave=True),
            jnp.float32(learning_rate),
            jnp.float32(max_grad_norm),
            _repeat(init_params, a, interleave=False),
            _repeat(keys, a, interleave=False),
        )
        params, metrics = _host((params, metrics), a, s)
        for j, i in enumerate(idx):
            out[i] = FitRun(
                params=jax.tree_util.tree_map(lambda x, j=j: x[j], params),
                metrics={k: v[j] for k, v in metrics.items()},
            )
    return out  # type: ignore[return-value]
