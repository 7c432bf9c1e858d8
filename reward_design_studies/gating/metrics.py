"""The gating study's metrics: from per-run arrays to the JSON cells.

A run is one (seed, noise level) pair; the trainer returns final metrics
``{name: [R, ...]}`` and training traces ``{name: [R, steps]}`` over the
``R = seeds x noise levels`` runs (seed-major). Here they become, per arm
and noise level, per-seed values (final metrics; means over the first
quarter, all steps and the last 10% of training), mean +- 95% t-intervals,
paired differences between arms, per-item pass rates and training curves.
"""

from __future__ import annotations

import hashlib
from typing import Any

import jax
import numpy as np

from reward_design_studies.gating.config import GatingConfig, arm_name
from reward_design_studies.gating.rubric import ITEM_NAMES
from reward_design_studies.harness import compare_arms, metric_summary, summarise_arms

__all__ = [
    "FINAL_METRICS",
    "TRAIN_METRICS",
    "COMPARED_METRICS",
    "COMPARED_PAIRS",
    "fingerprint",
    "take",
    "block_means",
    "runs_by_level",
    "arm_values",
    "summarise",
    "initial_policy",
]

FINAL_METRICS = ("gold", "proxy", "kl", "length")
TRAIN_METRICS = ("accepted", "kept", "in_update", "groups_with_signal")
COMPARED_METRICS = ("gold", "proxy", "gold_during_training", "gold_first_quarter", "kl")
COMPARED_PAIRS = (("gated_floor", "dense"), ("gated_drop", "dense"), ("gated_floor", "gated_drop"))


def fingerprint(tree: Any) -> str:
    """A short hash of a pytree's leaf bytes (to record what each arm started from)."""
    h = hashlib.sha256()
    for leaf in jax.tree_util.tree_leaves(tree):
        h.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
    return h.hexdigest()[:16]


def take(tree: Any, idx: np.ndarray) -> Any:
    """Every leaf indexed on its first axis by ``idx``."""
    return jax.tree_util.tree_map(lambda x: x[idx], tree)


def block_means(x: np.ndarray, every: int) -> np.ndarray:
    """``[..., steps]`` -> ``[..., ceil(steps / every)]`` means over consecutive blocks."""
    steps = x.shape[-1]
    out = [x[..., i : i + every].mean(axis=-1) for i in range(0, steps, every)]
    return np.stack(out, axis=-1)


def runs_by_level(values: np.ndarray, n_seeds: int, n_levels: int) -> np.ndarray:
    """``[R, ...]`` runs (seed-major) -> ``[n_levels, n_seeds, ...]``."""
    v = np.asarray(values)
    return np.swapaxes(v.reshape(n_seeds, n_levels, *v.shape[1:]), 0, 1)


def arm_values(final: dict, trace: dict, steps: int) -> dict[str, np.ndarray]:
    """Per-seed values of one arm at one noise level.

    Args:
      final: ``{name: [seeds]}`` final metrics (a fresh sample from the final policy).
      trace: ``{name: [seeds, steps]}`` metrics of the training batches.
      steps: number of training steps.

    Returns:
      ``{metric: [seeds]}``: the final metrics, the train metrics over the
      last 10% of steps, and gold/proxy over all steps and the first quarter.
    """
    tail = max(1, steps // 10)
    quarter = max(1, steps // 4)
    vals = {m: final[m] for m in FINAL_METRICS}
    for m in TRAIN_METRICS:
        vals[m] = trace[m][:, -tail:].mean(axis=1)
    vals["gold_during_training"] = trace["gold"].mean(axis=1)
    vals["proxy_during_training"] = trace["proxy"].mean(axis=1)
    vals["gold_first_quarter"] = trace["gold"][:, :quarter].mean(axis=1)
    vals["proxy_first_quarter"] = trace["proxy"][:, :quarter].mean(axis=1)
    return vals


def _curve_steps(config: GatingConfig) -> list[int]:
    every, steps = config.curve_every, config.steps
    return [min(i + every, steps) for i in range(0, steps, every)]


def summarise(
    config: GatingConfig, finals: dict[str, dict], traces: dict[str, dict]
) -> dict[str, Any]:
    """The result sections ``arms``, ``comparisons``, ``items`` and ``curves``.

    Args:
      config: the study's configuration.
      finals: ``{arm: {name: [R, ...]}}`` final metrics of every run.
      traces: ``{arm: {name: [R, steps]}}`` training metrics of every run.
    """
    n_seeds, levels = config.seeds, config.noise_levels
    per_seed: dict[str, dict[str, np.ndarray]] = {}
    items: dict[str, dict[str, Any]] = {}
    curves: dict[str, Any] = {}
    for arm in config.arms:
        fin = {k: runs_by_level(v, n_seeds, len(levels)) for k, v in finals[arm].items()}
        tr = {k: runs_by_level(v, n_seeds, len(levels)) for k, v in traces[arm].items()}
        for li, e in enumerate(levels):
            name = arm_name(arm, e)
            level_fin = {m: fin[m][li] for m in fin}
            level_tr = {m: tr[m][li] for m in tr}
            per_seed[name] = arm_values(level_fin, level_tr, config.steps)
            items[name] = {
                item: metric_summary(level_fin["items"][:, k]) for k, item in enumerate(ITEM_NAMES)
            }
            blocks = {m: block_means(level_tr[m], config.curve_every) for m in level_tr}
            curves[name] = {
                m: {"mean": blocks[m].mean(axis=0), "per_seed": blocks[m]} for m in blocks
            }
    pairs = [
        (arm_name(a, e), arm_name(b, e))
        for a, b in COMPARED_PAIRS
        if a in config.arms and b in config.arms
        for e in levels
    ]
    return {
        "arms": summarise_arms(per_seed),
        "comparisons": compare_arms(per_seed, pairs, COMPARED_METRICS),
        "items": items,
        "curves": {"step": _curve_steps(config), "arms": curves},
    }


def initial_policy(config: GatingConfig, base: dict[str, np.ndarray]) -> dict[str, Any]:
    """Gold, proxy and item pass rates of the shared warm start.

    ``base`` holds the final metrics of the initial parameters over every run;
    the runs of the first noise level are used (the parameters and the
    evaluation keys of a seed are the same at every level).
    """
    n_levels = len(config.noise_levels)
    first = {k: runs_by_level(v, config.seeds, n_levels)[0] for k, v in base.items()}
    out: dict[str, Any] = {m: metric_summary(first[m]) for m in ("gold", "proxy")}
    out["items"] = {item: metric_summary(first["items"][:, k]) for k, item in enumerate(ITEM_NAMES)}
    return out
