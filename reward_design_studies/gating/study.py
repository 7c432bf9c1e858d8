"""The gating study's run: warm start, every arm's GRPO runs, the results dict.

Every arm starts from the same warm-started parameters of a seed and sees
the same random keys (common random numbers); runs (seeds x noise levels)
are batched on one axis. Only the objective differs between arms, and each
arm's ``training`` record says so (shared configuration, parameter
fingerprints, key fingerprints, the objective's repr).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from reward_design_studies.gating import metrics
from reward_design_studies.gating.config import GatingConfig, arm_name
from reward_design_studies.gating.objectives import make_objective
from reward_design_studies.gating.rubric import ITEM_NAMES, ITEM_WEIGHTS
from reward_design_studies.gating.training import TrainConfig, Trainer, get_trainer
from reward_design_studies.harness import (
    arms_and_comparisons,
    format_cell,
    p_value_text,
    progress,
    run_metadata,
)

__all__ = [
    "EXPERIMENT",
    "TABLE_METRICS",
    "train_config",
    "run",
    "table",
    "headline",
]

EXPERIMENT = "gating"
# the columns of the printed table (every metric is in the JSON)
TABLE_METRICS = (
    "gold",
    "proxy",
    "gold_first_quarter",
    "gold_during_training",
    "accepted",
    "kept",
    "kl",
)
_TABLE_COMPARISONS = ("gold", "gold_first_quarter", "gold_during_training")


def train_config(config: GatingConfig) -> TrainConfig:
    """The part of ``config`` the trainer takes (the same for every arm)."""
    return config.part(TrainConfig)


@dataclasses.dataclass
class _Runs:
    """Everything the arms share: runs = seeds x noise levels, seed-major."""

    params0: Any  # [R] warm-start parameters
    env: Any  # [R] prompts
    noise: jax.Array  # [R] judge noise
    train_keys: jax.Array  # [R]
    eval_keys: jax.Array  # [R]
    chunks: list[int]
    shared: dict[str, Any]  # the training record common to every arm


def _chunks(steps: int, chunk: int) -> list[int]:
    out = []
    left = steps
    while left > 0:
        out.append(min(chunk, left))
        left -= out[-1]
    return out


def _prepare(config: GatingConfig, trainer: Trainer, timings: dict, t_start: float) -> _Runs:
    """Warm start of every seed, and the runs' parameters, prompts, noise and keys."""
    n_seeds, levels = config.seeds, config.noise_levels
    seeds = config.seed_list
    seed_keys = jnp.stack([jax.random.key_data(jax.random.key(s)) for s in seeds])
    keys = jax.random.wrap_key_data(seed_keys)
    params0, env = trainer.warm_start(jax.vmap(lambda k: jax.random.fold_in(k, 0))(keys))
    jax.block_until_ready(params0)
    timings["warm_start"] = time.time() - t_start
    init_prints = [metrics.fingerprint(metrics.take(params0, np.array(i))) for i in range(n_seeds)]

    # every arm sees the same keys (common random numbers)
    seed_idx = np.repeat(np.arange(n_seeds), len(levels))
    noise = jnp.asarray(np.tile(np.asarray(levels, np.float32), n_seeds))
    train_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)[seed_idx]
    eval_keys = jax.vmap(lambda k: jax.random.fold_in(k, 2))(keys)[seed_idx]
    chunks = _chunks(config.steps, config.chunk)
    shared = {
        "train_config": dataclasses.asdict(trainer.config),
        "seeds": seeds,
        "noise_levels": list(levels),
        "init_fingerprints": init_prints,
        "train_key_fingerprint": metrics.fingerprint(jax.random.key_data(train_keys)),
        "eval_key_fingerprint": metrics.fingerprint(jax.random.key_data(eval_keys)),
        "steps": config.steps,
        "chunks": chunks,
        "advantage": "rd.advantages.grpo(out.total, mask=advantage_mask)",
    }
    return _Runs(
        params0=metrics.take(params0, seed_idx),
        env=metrics.take(env, seed_idx),
        noise=noise,
        train_keys=train_keys,
        eval_keys=eval_keys,
        chunks=chunks,
        shared=shared,
    )


def _train_arm(trainer: Trainer, runs: _Runs, objective: Any, bar: Any) -> tuple[dict, dict, Any]:
    """GRPO on every run with ``objective``: ``(final metrics, traces, final params)``."""
    state = (runs.params0, trainer.init_opt(runs.params0), runs.train_keys)
    pieces = []
    for n in runs.chunks:
        state, step_metrics = trainer.train_chunk(
            state, objective, runs.params0, runs.env, runs.noise, n
        )
        pieces.append(jax.device_get(step_metrics))
        bar.advance(n)
    trace = {k: np.concatenate([p[k] for p in pieces], axis=1) for k in pieces[0]}
    final = jax.device_get(trainer.evaluate(state[0], runs.params0, runs.env, runs.eval_keys))
    return final, trace, state[0]


def run(config: GatingConfig, progress_bar: bool = False) -> dict[str, Any]:
    """Runs the study; returns the results dict (the harness schema, without ``plots``).

    Returns:
      ``{"experiment", "config", "arms": {arm: {metric: cell}}, "comparisons",
      "initial_policy", "items", "item_names", "item_weights", "curves",
      "training", "metadata", "timings_s"}``. ``training[arm]`` records how
      the arm was trained (shared configuration, initial-parameter
      fingerprints, random keys) and its objective; only the objective
      differs between arms.
    """
    if not isinstance(config, GatingConfig):
        raise TypeError(f"config must be a GatingConfig; got {type(config).__name__}.")
    t_start = time.time()
    timings: dict[str, float] = {}
    trainer = get_trainer(train_config(config))
    runs = _prepare(config, trainer, timings, t_start)
    base = trainer.evaluate(runs.params0, runs.params0, runs.env, runs.eval_keys)

    finals, traces, training = {}, {}, {}
    total = len(config.arms) * config.steps
    with progress(progress_bar, total=total, description=EXPERIMENT) as bars:
        for arm in config.arms:
            t_arm = time.time()
            objective = make_objective(arm, config.floor)
            finals[arm], traces[arm], params = _train_arm(trainer, runs, objective, bars)
            timings[arm] = time.time() - t_arm
            prints = [
                metrics.fingerprint(metrics.take(params, np.array(r)))
                for r in range(runs.noise.shape[0])
            ]
            record = {**runs.shared, "objective": repr(objective), "final_fingerprints": prints}
            for e in config.noise_levels:
                training[arm_name(arm, e)] = {**record, "noise": e}

    cfg = config.to_dict()
    result = {
        "experiment": EXPERIMENT,
        "config": cfg,
        **metrics.summarise(config, finals, traces),
        "initial_policy": metrics.initial_policy(config, base),
        "item_names": list(ITEM_NAMES),
        "item_weights": ITEM_WEIGHTS.tolist(),
        "training": training,
    }
    timings["total"] = time.time() - t_start
    result["timings_s"] = timings
    result["metadata"] = run_metadata(cfg)
    return result


# ------------------------------------------------------------------ output
def table(results: dict[str, Any]) -> str:
    """The markdown printed and written beside the JSON: arms, then paired differences."""
    cfg = results["config"]
    title = (
        f"gating: rubric as gate vs rubric as dense reward ({len(cfg['arms'])} arms, "
        f"{cfg['seeds']} seeds, {cfg['steps']} steps).\nCells: mean [95% CI] over seeds."
    )
    return arms_and_comparisons(results, title, TABLE_METRICS, _TABLE_COMPARISONS)


def headline(results: dict[str, Any]) -> str:
    """Final gold of the floor gate against the dense reward without judge noise."""
    comparison = results["comparisons"].get("gated_floor - dense")
    if comparison is None:
        arm = next(iter(results["arms"]))
        return f"final gold of {arm}: {format_cell(results['arms'][arm]['gold'])}"
    gold = comparison["gold"]
    return (
        f"final gold, gated_floor - dense (e=0): {format_cell(gold, signed=True)}"
        f"{p_value_text(gold)}; "
        f"dense {format_cell(results['arms']['dense']['gold'])}"
    )
