"""The calibration study's training loop: warm start, then arms trained side by side.

`train_arms` runs the compiled chunk of `program.chunk_program` ``steps /
eval_every`` times, evaluating every arm on the held-out questions between
chunks. Arms are stacked on a leading axis and seeds on the second, so a
whole group of arms (same ``P x G`` slab) costs one compiled program.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .environment import Questions
from .program import ArmLayout, TrainSettings, chunk_program, eval_program

__all__ = ["PRNG_IMPL", "ArmRun", "seed_keys", "warm_start", "train_arms"]


@dataclasses.dataclass
class ArmRun:
    """Raw output of `train_arms` for one arm (numpy, leading axis = seed).

    Attributes:
      eval_steps: ``[E]`` steps at which the held-out set was evaluated (0 first).
      evals: list over ``eval_steps`` of ``(correct [S, N], confidence [S, N], q [S, N])``.
      train_metrics: ``{name: [S, steps]}`` batch means during training.
      init_fingerprint: ``[S]`` sum of |initial parameters| (arms must agree).
      final_params: the parameters after the last step (leading axis = seed).
    """

    eval_steps: np.ndarray
    evals: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    train_metrics: dict[str, np.ndarray]
    init_fingerprint: np.ndarray
    final_params: Any

    @property
    def final(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.evals[-1]


PRNG_IMPL = "rbg"
"""Key implementation: XLA's RngBitGenerator compiles and runs several times
faster on CPU than the default threefry for this sampling-heavy loop."""


def seed_keys(seed: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(init, train, eval)`` typed keys of one seed; the same for every arm."""
    k_init, k_train, k_eval = jax.random.split(jax.random.key(seed, impl=PRNG_IMPL), 3)
    return k_init, k_train, k_eval


def warm_start(
    policy: Any,
    task: Any,
    seeds: Sequence[int],
    *,
    steps: int,
    num_questions: int,
    learning_rate: float,
) -> Any:
    """Initial parameters per seed, after a supervised warm start of the answer head.

    Like the supervised stage before RL fine-tuning of an LLM: ``steps`` Adam
    steps on ``policy.supervised_loss`` (cross-entropy of the right answer)
    over fresh questions. The confidence head gets no signal here, so it keeps
    its overconfident initialisation up to the drift of the shared trunk.
    ``steps = 0`` returns the random initialisation. The result is the same
    for every arm of a seed (compute once, pass to `train_arms`).

    Returns:
      Parameters with a leading seed axis.
    """
    seeds = [int(s) for s in seeds]
    keys = [seed_keys(s) for s in seeds]
    init_keys = jnp.stack([k[0] for k in keys])
    x0 = task.sample(init_keys[0], 1).x
    params = jax.vmap(lambda k: policy.init(k, x0))(init_keys)
    if steps <= 0:
        return params
    optimizer = optax.adam(learning_rate)

    def run(params, key):
        def step(carry, k):
            params, opt_state = carry
            qs = task.sample(k, num_questions)
            grads = jax.grad(policy.supervised_loss)(params, qs.x, qs.label)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), None

        ks = jax.random.split(jax.random.fold_in(key, 1), steps)
        (params, _), _ = jax.lax.scan(step, (params, optimizer.init(params)), ks)
        return params

    return jax.jit(jax.vmap(run))(params, init_keys)


@jax.jit
def _step_keys(train_keys: jax.Array, step_idx: jax.Array) -> jax.Array:
    """``[S, chunk]`` keys: step ``i`` of seed ``s`` uses ``fold_in(train_keys[s], i)``."""
    return jax.vmap(lambda key: jax.vmap(lambda i: jax.random.fold_in(key, i))(step_idx))(
        train_keys
    )


def _stack(trees: Sequence[Any], what: str) -> Any:
    structures = {jax.tree_util.tree_structure(t) for t in trees}
    if len(structures) != 1:
        raise ValueError(
            f"the {what} trained together must share one pytree structure (e.g. the same "
            f"terms with different weights); got {len(structures)} structures."
        )
    return jax.tree_util.tree_map(lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]), *trees)


def _check_arms(objectives: Sequence[Any], settings: Sequence[TrainSettings], seeds) -> None:
    if not seeds:
        raise ValueError("seeds must not be empty.")
    if len(objectives) != len(settings) or not objectives:
        raise ValueError(
            f"need one TrainSettings per objective (and at least one); got "
            f"{len(objectives)} objectives and {len(settings)} settings."
        )
    shared = {(s.steps, s.learning_rate, s.eval_every, s.eval_samples) for s in settings}
    if len(shared) != 1:
        raise ValueError(
            "arms trained together must share steps, learning_rate, eval_every and "
            f"eval_samples; got {sorted(shared)}."
        )


def _fingerprint(params: Any) -> np.ndarray:
    """``[S]`` sum of |parameters| per seed (arms trained from one start must agree)."""
    return np.asarray(
        sum(
            jnp.sum(jnp.abs(leaf), axis=tuple(range(1, leaf.ndim)))
            for leaf in jax.tree_util.tree_leaves(params)
        )
    )


def _split_arms(num_arms, steps, evals, metrics, fingerprint, params) -> list[ArmRun]:
    """One `ArmRun` per arm out of the arm-stacked outputs of the loop."""
    train_metrics = {k: np.concatenate(v, axis=2) for k, v in metrics.items()}
    return [
        ArmRun(
            eval_steps=np.asarray(steps),
            evals=[tuple(v[a] for v in e) for e in evals],
            train_metrics={k: v[a] for k, v in train_metrics.items()},
            init_fingerprint=fingerprint,
            final_params=jax.tree_util.tree_map(lambda x, a=a: x[a], params),
        )
        for a in range(num_arms)
    ]


def train_arms(
    objectives: Sequence[Any],
    settings: Sequence[TrainSettings],
    *,
    policy: Any,
    task: Any,
    seeds: Sequence[int],
    test: Questions,
    init_params: Any = None,
    on_chunk: Callable[[int], None] | None = None,
) -> list[ArmRun]:
    """Trains several arms side by side (vmapped over arms and seeds) with one compiled program.

    Every arm starts from the same parameters per seed (``init_params``) and
    sees the same stream of training keys; arms differ only in their
    objective, and in the estimator/``P``/``G`` given by their settings.

    Args:
      objectives: one `rd.compose` objective per arm (or any pytree callable
        ``Rollouts -> RewardOutput``), all with the same pytree structure
        (e.g. the same terms with different weights), so that they stack.
      settings: one `TrainSettings` per arm; ``steps``, ``learning_rate``,
        ``eval_every`` and ``eval_samples`` must agree. The rollout slab is
        ``(max P, max G)`` over the arms; each arm uses its own ``P x G``
        block of it through `Rollouts.mask`.
      policy: a `ConfidencePolicy`.
      task: the question source (``sample(key, n) -> Questions``).
      seeds: training seeds.
      test: fixed held-out questions.
      init_params: starting parameters with a leading seed axis (e.g. from
        `warm_start`); default: the policy's initialisation for each seed.
      on_chunk: called with the number of steps just finished (progress bars).

    Returns:
      One `ArmRun` per arm, in order.
    """
    seeds = [int(s) for s in seeds]
    _check_arms(objectives, settings, seeds)
    objective = _stack(list(objectives), "objectives")
    arm = _stack([ArmLayout.from_settings(s) for s in settings], "arm layouts")
    first = settings[0]
    layout = (max(s.num_prompts for s in settings), max(s.group_size for s in settings))
    keys = [seed_keys(s) for s in seeds]
    train_keys = jnp.stack([k[1] for k in keys])
    eval_keys = jnp.stack([k[2] for k in keys])
    if init_params is None:
        init_params = warm_start(policy, task, seeds, steps=0, num_questions=1, learning_rate=1.0)
    fingerprint = _fingerprint(init_params)
    params = jax.tree_util.tree_map(
        lambda x: jnp.broadcast_to(x, (len(objectives),) + x.shape), init_params
    )
    opt_state = jax.vmap(jax.vmap(optax.adam(first.learning_rate).init))(params)
    program = chunk_program(policy, task, layout, float(first.learning_rate), first.eval_every)
    evaluate = eval_program(policy, first.eval_samples)

    def do_eval(params, index):
        k = jax.vmap(lambda key: jax.random.fold_in(key, index))(eval_keys)
        return tuple(np.asarray(v, dtype=np.float64) for v in evaluate(params, k, test))

    evals = [do_eval(params, 0)]
    steps = [0]
    metrics: dict[str, list[np.ndarray]] = {}
    for c in range(first.steps // first.eval_every):
        start = c * first.eval_every
        chunk_keys = _step_keys(train_keys, jnp.arange(start, start + first.eval_every))
        (params, opt_state), m = program(objective, arm, params, opt_state, chunk_keys)
        for name, value in m.items():
            metrics.setdefault(name, []).append(np.asarray(value))
        steps.append(start + first.eval_every)
        evals.append(do_eval(params, c + 1))
        if on_chunk is not None:
            on_chunk(first.eval_every)
    return _split_arms(len(objectives), steps, evals, metrics, fingerprint, params)
