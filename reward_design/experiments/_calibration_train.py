"""The calibration study's training loop: group-relative policy gradients, jitted once.

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
cached per (policy, task, estimator, P, G, learning rate, chunk length).

References:
  Williams, "Simple Statistical Gradient-Following Algorithms for
  Connectionist Reinforcement Learning" (REINFORCE), Machine Learning 1992.
  Shao et al., "DeepSeekMath" (GRPO), arXiv 2402.03300.
  Liu et al., "Understanding R1-Zero-Like Training" (Dr. GRPO), arXiv 2503.20783.
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

from reward_design import advantages as _advantages
from reward_design.rollouts import Rollouts

from ._calibration_task import Questions

__all__ = [
    "ESTIMATORS",
    "TrainSettings",
    "ArmLayout",
    "ArmRun",
    "train_arms",
    "chunk_program",
    "warm_start",
    "seed_keys",
]

ESTIMATORS: dict[str, Callable[..., jax.Array]] = {
    "dr_grpo": _advantages.dr_grpo,
    "grpo": _advantages.grpo,
    "rloo": _advantages.rloo,
}


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
def _eval_program(policy: Any, samples: int) -> Callable:
    def evaluate(params, key, qs: Questions):
        actions = policy.sample(params, key, qs.x, samples)
        answer, confidence = policy.decode(actions)
        correct = answer == qs.label[:, None]
        q = jnp.take_along_axis(qs.posterior, answer, axis=1)
        return correct.reshape(-1), confidence.reshape(-1), q.reshape(-1)

    per_seed = jax.vmap(evaluate, in_axes=(0, 0, None))
    return jax.jit(jax.vmap(per_seed, in_axes=(0, None, None)))


@dataclasses.dataclass
class ArmRun:
    """Raw output of `train_arms` for one arm (numpy, leading axis = seed).

    Attributes:
      eval_steps: ``[E]`` steps at which the held-out set was evaluated (0 first).
      evals: list over ``eval_steps`` of ``(correct [S, N], confidence [S, N], q [S, N])``.
      train_metrics: ``{name: [S, steps]}`` batch means during training.
      init_fingerprint: ``[S]`` sum of |initial parameters| (arms must agree).
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
    objective = _stack(list(objectives), "objectives")
    arm = _stack([ArmLayout.from_settings(s) for s in settings], "arm layouts")
    first = settings[0]
    num_arms = len(objectives)
    layout = (max(s.num_prompts for s in settings), max(s.group_size for s in settings))
    keys = [seed_keys(s) for s in seeds]
    train_keys = jnp.stack([k[1] for k in keys])
    eval_keys = jnp.stack([k[2] for k in keys])
    if init_params is None:
        init_params = warm_start(policy, task, seeds, steps=0, num_questions=1, learning_rate=1.0)
    fingerprint = np.asarray(
        sum(
            jnp.sum(jnp.abs(leaf), axis=tuple(range(1, leaf.ndim)))
            for leaf in jax.tree_util.tree_leaves(init_params)
        )
    )
    params = jax.tree_util.tree_map(
        lambda x: jnp.broadcast_to(x, (num_arms,) + x.shape), init_params
    )
    opt_state = jax.vmap(jax.vmap(optax.adam(first.learning_rate).init))(params)
    program = chunk_program(policy, task, layout, float(first.learning_rate), first.eval_every)
    evaluate = _eval_program(policy, first.eval_samples)

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
