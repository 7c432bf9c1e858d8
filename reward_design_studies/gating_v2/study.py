"""The gating study's run (second version): warm start, the arms' GRPO runs, held-out metrics.

Every arm of a seed starts from the same warm-started parameters and sees
the same training and evaluation keys (`reward_design_studies.lm.train`);
only the objective differs. Every metric is measured on all held-out
prompts (never trained on), from ``eval_samples`` sampled completions each
(temperature 1), at step 0 and every ``eval_every`` steps.

With ``judge_noise`` every arm runs at every level under a `rubric.NoisyJudge`
(the noise a traced leaf: one compiled program per objective structure for
all levels); comparisons are made within each level, and, when level 0 is
run too, against it (`noise_effect`).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

import reward_design as rd
from reward_design_studies.gating_v2 import rubric
from reward_design_studies.gating_v2.config import ARMS, GatingV2Config, arm_name
from reward_design_studies.gating_v2.task import SumTask
from reward_design_studies.harness import (
    arms_and_comparisons,
    compare_arms,
    format_cell,
    metric_summary,
    p_value_text,
    paired_difference_ci,
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
    "compared_pairs",
    "noise_effect",
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
    """``{name: [S, P, G]}`` -> per-seed means of the held-out metrics and item pass rates.

    The item pass rates are the noise-free judge's (``judge/item/<name>`` of a
    `rubric.NoisyJudge`, else the rubric); a noisy judge adds ``noisy_proxy``
    and ``flipped``.
    """

    def mean(x):
        return x.reshape(x.shape[0], -1).mean(1)

    out = {_short(m): mean(evals[m]) for m in HELDOUT_METRICS}
    for k, name in enumerate(rubric.ITEM_NAMES):
        clean = evals.get(f"judge/item/{name}")
        out[f"item/{name}"] = mean(evals["rubric"][..., k] if clean is None else clean)
    for name in ("noisy_proxy", "flipped"):
        if f"judge/{name}" in evals:
            out[name] = mean(evals[f"judge/{name}"])
    return out


def compared_pairs(config: GatingV2Config) -> list[tuple[str, str]]:
    """The paired comparisons: `COMPARED_PAIRS` within each noise level, then each arm
    at each level e > 0 against itself at 0 (when 0 is run)."""
    levels = config.judge_noise or (0.0,)
    pairs = [
        (arm_name(a, e), arm_name(b, e))
        for e in levels
        for a, b in COMPARED_PAIRS
        if a in config.arms and b in config.arms
    ]
    if 0.0 in levels:
        pairs += [(arm_name(a, e), a) for e in levels if e > 0 for a in config.arms]
    return pairs


def noise_effect(
    per_seed: dict[str, dict[str, Any]],
    levels: tuple[float, ...],
    metrics: tuple[str, ...] = COMPARED_METRICS,
) -> dict[str, dict[str, dict[str, float]]]:
    """How judge noise changes each arm difference: for every level e > 0 and pair
    ``(a, b)`` of `COMPARED_PAIRS`, the paired difference over seeds of
    ``(a@e - b@e)`` and ``(a - b)`` (a difference in differences).

    Args:
      per_seed: ``{run name: {metric: per-seed values}}`` with the level-0 runs
        under the plain arm names (they may come from another results file
        with the same seeds, e.g. the committed noise-free run).
      levels: the noise levels e > 0 to compare with 0.
      metrics: the metrics compared.
    """
    out = {}
    for e in levels:
        if e == 0:
            continue
        for a, b in COMPARED_PAIRS:
            names = (arm_name(a, e), arm_name(b, e), a, b)
            if any(n not in per_seed for n in names):
                continue
            cells = {}
            for m in metrics:
                v = [np.asarray(per_seed[n][m], np.float64) for n in names]
                cells[m] = paired_difference_ci(v[0] - v[1], v[2] - v[3])
            out[f"({names[0]} - {names[1]}) - ({a} - {b})"] = cells
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
    levels = config.judge_noise or (None,)
    arms = [
        lm.make_arm(
            make_objective(a, config.floor),
            judge if e is None else rubric.make_noisy_judge(task, e),
            estimator=config.estimator,
            learning_rate=config.learning_rate,
            max_grad_norm=config.max_grad_norm,
        )
        for e in levels
        for a in config.arms
    ]
    names = config.run_names
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
    for name, r in zip(names, runs, strict=True):
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
    comparisons = compare_arms(per_seed, compared_pairs(config), COMPARED_METRICS)
    comparisons.update(noise_effect(per_seed, config.judge_noise))
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
        "comparisons": comparisons,
        "initial_policy": initial,
        "warm_start_loss_last50": warm_loss[:, -50:].mean(1).tolist(),
        "curves": {"step": runs[0].eval_steps.tolist(), "arms": curves},
        "train_curves": train_curves,
        "scripted": scripted_policies(task),
        "objectives": {a: repr(make_objective(a, config.floor)) for a in config.arms},
        "judge_noise": list(config.judge_noise),
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
    noise = cfg.get("judge_noise") or []
    levels = f" x judge noise e in {{{', '.join(f'{e:g}' for e in noise)}}}" if noise else ""
    title = (
        f"gating (v2: gameable rubric, held-out prompts): {len(cfg['arms'])} arms{levels}, "
        f"{cfg['seeds']} seeds, {cfg['steps']} steps.\n"
        "Held-out prompts, final policy; cells: mean [95% CI] over seeds."
    )
    return arms_and_comparisons(results, title, TABLE_METRICS, COMPARED_METRICS)


def headline(results: dict[str, Any]) -> str:
    """Held-out gold of the floor gate against the dense rubric reward (at the highest
    judge-noise level when there is one)."""
    e = max(results.get("judge_noise") or [0.0])
    floor, dense = arm_name("gated_floor", e), arm_name("dense", e)
    comparison = results["comparisons"].get(f"{floor} - {dense}")
    arms = results["arms"]
    if comparison is None:
        arm = next(iter(arms))
        return f"held-out gold of {arm}: {format_cell(arms[arm]['gold'])}"
    gold = comparison["gold"]
    return (
        f"held-out gold, {floor} - {dense}: {format_cell(gold, signed=True)}"
        f"{p_value_text(gold)}; "
        f"{dense} gold {format_cell(arms[dense]['gold'])}, "
        f"exploit {format_cell(arms[dense]['exploit_rate'])}"
    )
