"""The training driver: arms x seeds side by side, held-out evaluation between chunks.

`train` runs every arm of every seed; arms whose `Arm` pytrees share a
structure (and leaf shapes) are stacked and trained by one compiled program
(`rl.programs`), vmapped over the runs (arm x seed). Every arm of a seed
starts from the same parameters (``init_params``, e.g. a `warm_start`), and
uses the same training keys (prompts, samples, judge noise at step i come from
``fold_in(seed_keys(seed).train, i)``) and the same evaluation keys.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .arms import Arm, RLConfig
from .policy import Policy
from .rl import programs
from .task import PromptBatch, check_task
from .warmstart import init_params as _init_params
from .warmstart import seed_keys

__all__ = ["ArmRun", "EVAL_SEED", "heldout_batch", "train", "evaluate"]

EVAL_SEED = 1_000_003
"""Key of the default held-out prompt set (`heldout_batch`)."""


@dataclasses.dataclass
class ArmRun:
    """What `train` returns for one arm (numpy; leading axis = seed).

    Attributes:
      eval_steps: ``[E]`` steps at which the held-out prompts were evaluated (0 first).
      evals: per evaluation, ``{name: [S, P, G]}`` per-rollout values on the
        held-out prompts: ``reward``, ``reward/<term>``, ``correct``,
        ``confidence`` (when the judge gives one), ``judge/<metric>``,
        ``length``, ``truncated``, ``kl`` (sequence KL to the start
        parameters) and ``rubric`` (``[S, P, G, K]``, when given).
      train_metrics: ``{name: [S, steps]}`` batch means per training step (the
        names above plus ``loss``, ``kl``, ``entropy``, ``grad_norm``,
        ``in_update``, ``groups_with_signal`` and ``stats/<name>``).
      final_tokens: ``[S, P, G, T]`` held-out completions of the last evaluation.
      final_params: parameters after the last step (leading seed axis).
      init_fingerprint: ``[S]`` sum of |initial parameters| (equal across arms).
    """

    eval_steps: np.ndarray
    evals: list[dict[str, np.ndarray]]
    train_metrics: dict[str, np.ndarray]
    final_tokens: np.ndarray
    final_params: Any
    init_fingerprint: np.ndarray

    @property
    def final(self) -> dict[str, np.ndarray]:
        """The last evaluation."""
        return self.evals[-1]

    def curve(self, name: str) -> np.ndarray:
        """``[S, E]`` held-out mean of ``name`` at each evaluation."""
        return np.stack([e[name].reshape(e[name].shape[0], -1).mean(axis=1) for e in self.evals], 1)


@functools.cache
def _sampler(task: Any) -> Callable:
    return jax.jit(task.sample_prompts, static_argnums=(1, 2))


def heldout_batch(task: Any, n: int, seed: int = EVAL_SEED) -> PromptBatch:
    """``n`` held-out prompts, ``task.sample_prompts(key(seed), n, "heldout")``
    (the default evaluation set: the same for every arm and seed)."""
    return _sampler(task)(jax.random.key(seed), int(n), "heldout")


@jax.jit
def _step_keys(keys: jax.Array, steps: jax.Array) -> jax.Array:
    """``[R, C]``: ``fold_in(keys[r], step)``."""
    return jax.vmap(lambda k: jax.vmap(lambda i: jax.random.fold_in(k, i))(steps))(keys)


def _fingerprint(params: Any) -> np.ndarray:
    leaves = jax.tree_util.tree_leaves(params)
    return np.asarray(sum(jnp.sum(jnp.abs(x), axis=tuple(range(1, x.ndim))) for x in leaves))


def _signature(arm: Arm) -> tuple:
    leaves, treedef = jax.tree_util.tree_flatten(arm)
    return treedef, tuple((np.shape(x), np.result_type(x).name) for x in leaves)


def _check(arms: Sequence[Any], config: RLConfig, seeds: list[int]) -> None:
    if not seeds:
        raise ValueError("seeds must not be empty.")
    if not arms:
        raise ValueError("arms must not be empty.")
    for i, arm in enumerate(arms):
        if not isinstance(arm, Arm):
            raise TypeError(f"arms[{i}] must be an Arm (make_arm); got {type(arm).__name__}.")
        if not config.kl and float(arm.kl_coef) != 0.0:
            raise ValueError(f"arms[{i}].kl_coef is {float(arm.kl_coef)} but RLConfig.kl is False.")
        for name, top in (("num_prompts", config.num_prompts), ("group_size", config.group_size)):
            if int(getattr(arm, name)) > top:
                raise ValueError(
                    f"arms[{i}].{name} ({int(getattr(arm, name))}) exceeds RLConfig.{name} ({top})."
                )


def _repeat(tree: Any, times: int, *, interleave: bool) -> Any:
    """Leading axis ``[n] -> [n * times]``: each entry repeated (interleave) or the whole tiled."""
    if interleave:
        return jax.tree_util.tree_map(lambda x: jnp.repeat(jnp.asarray(x), times, axis=0), tree)
    return jax.tree_util.tree_map(lambda x: jnp.concatenate([jnp.asarray(x)] * times), tree)


def _host(tree: Any, a: int, s: int) -> Any:
    """Device outputs with leading axis R = A * S -> numpy ``[A, S, ...]``."""
    return jax.tree_util.tree_map(lambda x: np.asarray(x).reshape((a, s) + x.shape[1:]), tree)


def _train_group(policy, task, arms, seeds, config, init, batch, on_chunk) -> list[ArmRun]:
    prog = programs(policy, task, config)
    a, s = len(arms), len(seeds)
    arm = jax.tree_util.tree_map(lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]), *arms)
    arm = _repeat(arm, s, interleave=True)  # run r = arm (r // S), seed (r % S)
    params0 = _repeat(init, a, interleave=False)
    params, opt_state = params0, prog.init_opt(params0)
    keys = [seed_keys(x) for x in seeds]
    train_keys = _repeat(jnp.stack([k.train for k in keys]), a, interleave=False)
    eval_keys = _repeat(jnp.stack([k.eval for k in keys]), a, interleave=False)

    def evaluate_now(index):
        k = jax.vmap(lambda key: jax.random.fold_in(key, index))(eval_keys)
        return _host(prog.evaluate(arm, params0, params, k, batch), a, s)

    evals, steps, metrics = [evaluate_now(0)], [0], []
    for c in range(config.steps // config.eval_every):
        start = c * config.eval_every
        ks = _step_keys(train_keys, jnp.arange(start, start + config.eval_every))
        (params, opt_state), m = prog.chunk(arm, params0, params, opt_state, ks)
        metrics.append(_host(m, a, s))
        steps.append(start + config.eval_every)
        evals.append(evaluate_now(c + 1))
        if on_chunk is not None:
            on_chunk(config.eval_every)
    fingerprint = _fingerprint(init)
    final_params = _host(params, a, s)
    out = []
    for i in range(a):
        out.append(
            ArmRun(
                eval_steps=np.asarray(steps),
                evals=[{k: v[i] for k, v in e[0].items()} for e in evals],
                train_metrics={
                    k: np.concatenate([m[k][i] for m in metrics], 1) for k in metrics[0]
                },
                final_tokens=evals[-1][1][i],
                final_params=jax.tree_util.tree_map(lambda x, i=i: x[i], final_params),
                init_fingerprint=fingerprint,
            )
        )
    return out


def train(
    policy: Policy,
    task: Any,
    arms: Sequence[Arm],
    *,
    seeds: Sequence[int],
    config: RLConfig,
    init_params: Any = None,
    eval_batch: PromptBatch | None = None,
    eval_prompts: int = 256,
    on_chunk: Callable[[int], None] | None = None,
) -> list[ArmRun]:
    """Trains every arm from every seed; returns one `ArmRun` per arm, in order.

    Args:
      policy: the `Policy`.
      task: a `Task`.
      arms: `Arm` objects (`make_arm`). Arms with the same pytree structure and
        leaf shapes run together in one compiled program; other groups run
        one after the other (each compiled once per process).
      seeds: training seeds.
      config: the `RLConfig` shared by all arms.
      init_params: starting (and KL reference) parameters with a leading seed
        axis, e.g. ``warm_start(...).params``; default `init_params` of the seeds.
      eval_batch: the held-out prompts; default ``heldout_batch(task, eval_prompts)``.
      eval_prompts: size of the default held-out set.
      on_chunk: called with the number of steps of each finished chunk (per group).
    """
    check_task(task)
    seeds = [int(x) for x in seeds]
    arms = list(arms)
    _check(arms, config, seeds)
    init = _init_params(policy, seeds) if init_params is None else init_params
    batch = heldout_batch(task, eval_prompts) if eval_batch is None else eval_batch
    groups: dict[tuple, list[int]] = {}
    for i, arm in enumerate(arms):
        groups.setdefault(_signature(arm), []).append(i)
    runs: list[ArmRun | None] = [None] * len(arms)
    for idx in groups.values():
        group = [arms[i] for i in idx]
        for i, run in zip(
            idx,
            _train_group(policy, task, group, seeds, config, init, batch, on_chunk),
            strict=True,
        ):
            runs[i] = run
    return runs  # type: ignore[return-value]


def evaluate(
    policy: Policy,
    task: Any,
    arm: Arm,
    params: Any,
    *,
    seeds: Sequence[int],
    config: RLConfig,
    eval_batch: PromptBatch,
    reference_params: Any = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Evaluates parameters ``[S, ...]`` of each seed on ``eval_batch`` with ``arm``'s judge
    and objective (e.g. after the warm start).

    Returns:
      ``({name: [S, P, G]}, tokens [S, P, G, T])`` as in `ArmRun.evals`; ``kl``
      is measured against ``reference_params`` (default ``params``).
    """
    seeds = [int(x) for x in seeds]
    _check([arm], config, seeds)
    prog = programs(policy, task, config)
    s = len(seeds)
    stacked = _repeat(
        jax.tree_util.tree_map(lambda x: jnp.asarray(x)[None], arm), s, interleave=True
    )
    ref = params if reference_params is None else reference_params
    keys = jnp.stack([seed_keys(x).eval for x in seeds])
    vals, tokens = prog.evaluate(stacked, ref, params, keys, eval_batch)
    return jax.tree_util.tree_map(np.asarray, vals), np.asarray(tokens)
