"""The gating study's run (second version): warm start, the arms' GRPO runs, held-out metrics.

Every arm of a seed starts from the same warm-started parameters and sees
the same training and evaluation keys (`reward_design_studies.lm.train`);
only the objective differs. Every metric is measured on all held-out
prompts (never trained on), from ``eval_samples`` sampled completions each
(temperature 1), at step 0 and every ``eval_every`` steps.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

import reward_design as rd
from reward_design_studies.gating_v2 import rubric
from reward_design_studies.gating_v2.config import ARMS, GatingV2Config
from reward_design_studies.gating_v2.task import SumTask
from reward_design_studies.harness import (
    arms_and_comparisons,
    compare_arms,
    format_cell,
    metric_summary,
    p_value_text,
    progress,
    run_metadata,
    summarise_arms,
)

__all__ = [
    "EXPERIMENT",
    "ENVIRONMENT",
    "HELDOUT_METRICS",
    "COMPARED_PAIRS",
    "make_task",
    "make_policy",
    "make_objective",
    "run",
    "table",
    "headline",
]

EXPERIMENT = "gating"
ENVIRONMENT = "v2"
HELDOUT_METRICS = tuple(f"judge/{m}" for m in rubric.METRICS) + ("length",)
COMPARED_PAIRS = (("gated_floor", "dense"), ("gated_drop", "dense"), ("gated_floor", "gated_drop"))
COMPARED_METRICS = ("gold", "proxy", "exploit_rate", "gold_mean_over_training")
TABLE_METRICS = ("gold", "proxy", "exploit_rate", "answer_true", "no_working", "train_proxy")


def _short(name: str) -> str:
    name = name.removeprefix("judge/")
    return "exploit_rate" if name == "exploit" else name


def make_task(config: GatingV2Config) -> SumTask:
    return SumTask(style_probs=config.style_probs)


def make_policy(config: GatingV2Config, task: SumTask):
    from reward_design_studies import lm

    return lm.Policy(
        lm.TransformerConfig(
            vocab_size=task.tokenizer.size,
            max_len=task.prompt_len + task.completion_len,
            width=config.width,
            depth=config.depth,
            heads=config.heads,
        )
    )


def make_objective(arm: str, floor: float = 0.0) -> Any:
    """The objective of ``arm`` (one of `ARMS`); the judge and everything else are shared.

    * ``dense``: ``compose(rubric=RubricScore(w))``, the weighted fraction of checks passed;
    * ``gated_floor``: ``Gated(Essential((0, 1)), compose(rubric=RubricScore(w)),
      on_reject="floor", floor=floor, group_filter=GroupFilter(1, drop_degenerate=True))``:
      the same score, paid only when both essential checks pass (as judged);
    * ``gated_drop``: the same with ``on_reject="drop"``.
    """
    inner = rd.compose(rubric=rd.terms.RubricScore(rubric.ITEM_WEIGHTS))
    if arm == "dense":
        return inner
    if arm in ("gated_floor", "gated_drop"):
        return rd.gates.Gated(
            rd.gates.Essential(rubric.ESSENTIAL),
            inner,
            on_reject=arm.removeprefix("gated_"),
            floor=floor,
            group_filter=rd.gates.GroupFilter(min_accepted=1, drop_degenerate=True),
        )
    raise ValueError(f"arm must be one of {list(ARMS)}; got {arm!r}.")


def _per_seed(evals: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``{name: [S, P, G]}`` -> per-seed means of the held-out metrics and item pass rates."""
    out = {_short(m): evals[m].reshape(evals[m].shape[0], -1).mean(1) for m in HELDOUT_METRICS}
    items = evals["rubric"]
    for k, name in enumerate(rubric.ITEM_NAMES):
        out[f"item/{name}"] = items[..., k].reshape(items.shape[0], -1).mean(1)
    return out


def run(config: GatingV2Config, progress_bar: bool = False) -> dict[str, Any]:
    """Runs the study; returns the results dict (the harness schema, without ``plots``)."""
    from reward_design_studies import lm

    if not isinstance(config, GatingV2Config):
        raise TypeError(f"config must be a GatingV2Config; got {type(config).__name__}.")
    t0 = time.time()
    timings: dict[str, float] = {}
    task = make_task(config)
    policy = make_policy(config, task)
    seeds = config.seed_list
    warm = lm.warm_start(
        policy,
        task,
        seeds,
        steps=config.warm_steps,
        batch_size=config.warm_batch,
        learning_rate=config.warm_learning_rate,
        fast_compile=config.fast_compile,
    )
    warm_loss = np.asarray(warm.loss)
    timings["warm_start"] = time.time() - t0
    judge = rubric.make_judge(task)
    arms = [
        lm.make_arm(
            make_objective(a, config.floor),
            judge,
            estimator=config.estimator,
            learning_rate=config.learning_rate,
            max_grad_norm=config.max_grad_norm,
        )
        for a in config.arms
    ]
    rl = lm.RLConfig(
        num_prompts=config.num_prompts,
        group_size=config.group_size,
        steps=config.steps,
        eval_every=config.eval_every,
        eval_samples=config.eval_samples,
        eval_temperature=1.0,
        kl=False,
        fast_compile=config.fast_compile,
    )
    batch = task.all_prompts("heldout")
    t1 = time.time()
    total = len(arms) * config.steps
    with progress(progress_bar, total=total, description=EXPERIMENT) as bar:
        runs = lm.train(
            policy,
            task,
            arms,
            seeds=seeds,
            config=rl,
            init_params=warm.params,
            eval_batch=batch,
            on_chunk=bar.advance,
        )
    timings["rl"] = time.time() - t1

    per_seed, curves, train_curves = {}, {}, {}
    for name, r in zip(config.arms, runs, strict=True):
        vals = _per_seed(r.final)
        tail = max(1, config.steps // 10)
        vals["train_proxy"] = r.train_metrics["judge/proxy"][:, -tail:].mean(1)
        vals["train_gold"] = r.train_metrics["judge/gold"][:, -tail:].mean(1)
        vals["gold_mean_over_training"] = np.mean(
            [_per_seed(e)["gold"] for e in r.evals[1:]], axis=0
        )
        per_seed[name] = vals
        curves[name] = {
            _short(m): {"mean": r.curve(m).mean(0), "per_seed": r.curve(m)} for m in HELDOUT_METRICS
        }
        train_curves[name] = {
            _short(m): r.train_metrics[m].tolist()
            for m in ("judge/proxy", "judge/gold", "judge/exploit", "stats/gate/pass_rate")
            if m in r.train_metrics
        }
    initial = {k: metric_summary(v) for k, v in _per_seed(runs[0].evals[0]).items()}
    pairs = [(a, b) for a, b in COMPARED_PAIRS if a in config.arms and b in config.arms]
    cfg = config.to_dict()
    result = {
        "experiment": EXPERIMENT,
        "environment": ENVIRONMENT,
        "config": cfg,
        "task": task.describe(),
        "item_names": list(rubric.ITEM_NAMES),
        "item_weights": rubric.ITEM_WEIGHTS.tolist(),
        "essential": list(rubric.ESSENTIAL),
        "exploitable": list(rubric.EXPLOITABLE),
        "arms": summarise_arms(per_seed),
        "comparisons": compare_arms(per_seed, pairs, COMPARED_METRICS),
        "initial_policy": initial,
        "warm_start_loss_last50": warm_loss[:, -50:].mean(1).tolist(),
        "curves": {"step": runs[0].eval_steps.tolist(), "arms": curves},
        "train_curves": train_curves,
        "scripted": scripted_policies(task),
        "objectives": {a: repr(make_objective(a, config.floor)) for a in config.arms},
    }
    timings["total"] = time.time() - t0
    result["timings_s"] = timings
    result["metadata"] = run_metadata(cfg)
    return result


def scripted_policies(task: SumTask) -> dict[str, dict[str, float]]:
    """Proxy, gold and exploit rate of the scripted policies on the held-out prompts."""
    digits = np.asarray(task.all_prompts("heldout").info["digits"])
    out = {}
    for kind in ("honest", "master_key", "consistent", "blind_key"):
        _, m = rubric.score_texts(rubric.scripted_texts(kind, digits)[:, None], digits)
        out[kind] = {k: float(m[k].mean()) for k in ("gold", "proxy", "exploit")}
    return out


# ------------------------------------------------------------------ output
def table(results: dict[str, Any]) -> str:
    """The markdown printed and written beside the JSON."""
    cfg = results["config"]
    title = (
        f"gating (v2: gameable rubric, held-out prompts): {len(cfg['arms'])} arms, "
        f"{cfg['seeds']} seeds, {cfg['steps']} steps.\n"
        "Held-out prompts, final policy; cells: mean [95% CI] over seeds."
    )
    return arms_and_comparisons(results, title, TABLE_METRICS, COMPARED_METRICS)


def headline(results: dict[str, Any]) -> str:
    """Held-out gold of the floor gate against the dense rubric reward."""
    comparison = results["comparisons"].get("gated_floor - dense")
    arms = results["arms"]
    if comparison is None:
        arm = next(iter(arms))
        return f"held-out gold of {arm}: {format_cell(arms[arm]['gold'])}"
    gold = comparison["gold"]
    return (
        f"held-out gold, gated_floor - dense: {format_cell(gold, signed=True)}"
        f"{p_value_text(gold)}; "
        f"dense gold {format_cell(arms['dense']['gold'])}, "
        f"exploit {format_cell(arms['dense']['exploit_rate'])}"
    )
