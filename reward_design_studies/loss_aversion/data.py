"""Per-seed data of the loss-aversion study: warm start, feedback, evaluation prompts.

For each seed: the supervised warm start (pi_ref, also every arm's
initialisation), the training and validation feedback (two pi_ref responses
per prompt, labelled by the rater), the test prompts and the probe's
training prompts. Arrays are stacked over seeds (leading axis S).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from reward_design_studies.loss_aversion.config import LossAversionConfig
from reward_design_studies.loss_aversion.environment import (
    Feedback,
    Rater,
    TeacherTask,
    dpo_pairs,
    feedback,
)
from reward_design_studies.loss_aversion.policy import log_probs, warm_start

__all__ = ["SeedData", "prepare", "stack_feedback"]


@dataclasses.dataclass
class SeedData:
    """Everything the arms of the study share, stacked over seeds."""

    params0: Any  # [S, ...] pi_ref = every arm's initialisation
    train: list[Feedback]
    val: list[Feedback]
    test_x: np.ndarray  # [S, Nt, dim]
    test_q: np.ndarray  # [S, Nt, K]
    probe_x: np.ndarray  # [S, Np, dim]
    probe_y: np.ndarray  # [S, Np]
    keys: jax.Array  # [S] minibatch keys, shared by every arm of a seed


def _seed_data(config: LossAversionConfig, seed: int, task: TeacherTask, rater: Rater):
    rng = np.random.default_rng([seed, 20261203])
    x_sft, _, y_sft = task.sample(rng, config.sft_examples)
    params0 = warm_start(
        jax.random.key(seed),
        jnp.asarray(x_sft),
        jnp.asarray(y_sft),
        hidden=config.hidden,
        num_classes=config.num_classes,
        steps=config.sft_steps,
        learning_rate=config.sft_learning_rate,
        abstain_rate=config.ref_abstain,
        persuasive_share=config.ref_persuasive,
    )
    sets = {}
    for name, n in (("train", config.train_prompts), ("val", config.val_prompts)):
        x, q, _ = task.sample(rng, n)
        ref = np.asarray(log_probs(params0, jnp.asarray(x)), dtype=np.float64)
        sets[name] = feedback(rng, x, q, ref, rater)
    test_x, test_q, _ = task.sample(rng, config.test_prompts)
    probe_x, _, probe_y = task.sample(rng, config.probe_prompts)
    return params0, sets, test_x, test_q, probe_x, probe_y


def prepare(config: LossAversionConfig) -> SeedData:
    """Warm start and data of every seed of ``config``."""
    task = config.part(TeacherTask)
    rater = config.part(Rater)
    parts = [_seed_data(config, s, task, rater) for s in config.seed_list]
    params0 = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *[p[0] for p in parts])
    keys = jnp.stack([jax.random.fold_in(jax.random.key(s), 7) for s in config.seed_list])
    return SeedData(
        params0=params0,
        train=[p[1]["train"] for p in parts],
        val=[p[1]["val"] for p in parts],
        test_x=np.stack([p[2] for p in parts]),
        test_q=np.stack([p[3] for p in parts]),
        probe_x=np.stack([p[4] for p in parts]),
        probe_y=np.stack([p[5] for p in parts]),
        keys=keys,
    )


def stack_feedback(fbs: list[Feedback], kind: str) -> tuple[jax.Array, ...]:
    """The training arrays of ``kind`` (``"kto"`` or ``"dpo"``), stacked over seeds."""
    if kind == "kto":
        cols = [(f.x, f.actions, f.desirable, f.ref_logps) for f in fbs]
    elif kind == "dpo":
        cols = []
        for f in fbs:
            chosen, rejected, valid = dpo_pairs(f)
            first = f.desirable[:, 0] | ~valid  # as dpo_pairs: response 0 is chosen
            ref_c = np.where(first, f.ref_logps[:, 0], f.ref_logps[:, 1])
            ref_r = np.where(first, f.ref_logps[:, 1], f.ref_logps[:, 0])
            cols.append((f.x, chosen, rejected, valid, ref_c, ref_r))
    else:
        raise ValueError(f"kind must be 'kto' or 'dpo'; got {kind!r}.")
    return tuple(jnp.asarray(np.stack(c)) for c in zip(*cols, strict=True))
