"""The LM calibration study's run: warm start, every arm, metrics, diagnostics, audit.

`run_study` is the study as a function; the results dict's schema is in its
docstring (the calibration study's, plus ``diagnostics`` and ``start``).
"""

from __future__ import annotations

import functools
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from reward_design_studies.calibration.audit import (
    fixed_point_record,
    verdict_record,
    with_trained_confidence,
)
from reward_design_studies.harness.progress import progress as progress_bars
from reward_design_studies.harness.results import run_metadata
from reward_design_studies.harness.stats import metric_summary, paired_difference_ci

from . import metrics as M
from .arms import ArmSpec, arm_specs, reward_fn
from .config import CalibrationLMConfig

__all__ = ["RLCR_REFERENCE", "COMPARED", "Q_EDGES", "run_study", "head_diagnostics", "audit_arm"]

RLCR_REFERENCE = {
    "source": "Damani et al., arXiv 2507.16806 (Qwen2.5-7B, HotpotQA in-domain)",
    "rlvr_ece": 0.37,
    "rlcr_ece": 0.03,
    "claim": "RLVR (binary) makes verbalised confidence overconfident; correctness + Brier "
    "is calibrated at equal accuracy; correctness + log score need not preserve accuracy.",
}

COMPARED = ("accuracy", "ece", "mean_confidence", "overconfidence", "auroc", "abs_gap_to_q")
"""Metrics of the paired comparisons ``arm - binary``."""

DRIFT = ("accuracy", "ece", "mean_confidence", "overconfidence")
"""Metrics of each arm's ``final - start`` comparison."""

Q_EDGES = np.linspace(0.0, 1.0, 11)
_Q_GRID = 0.5 * (Q_EDGES[1:] + Q_EDGES[:-1])


@functools.cache
def _slot_program(policy: Any, fmt: Any):
    from reward_design_studies.lm import slot_distribution

    def one(params, prompts, tokens):
        d = slot_distribution(policy, params, fmt, prompts, tokens, "confidence")
        return d.mean, d.std, d.valid

    return jax.jit(jax.vmap(one, in_axes=(0, None, 0)))


def head_diagnostics(
    policy: Any, fmt: Any, params: Any, prompts: jax.Array, tokens: np.ndarray, q: np.ndarray
) -> dict[str, list[float]]:
    """Per seed: mean sd of the confidence given (x, a), and the slope of its mean on q.

    Args:
      params: parameters with a leading seed axis ``[S, ...]``.
      prompts: ``[P, Lp]`` held-out prompts.
      tokens: ``[S, P, G, T]`` completions of those prompts.
      q: ``[S, P * G]`` success probability of each completion's answer.
    """
    s, p, g, t = tokens.shape
    reps = jnp.repeat(jnp.asarray(prompts), g, axis=0)
    mean, std, valid = _slot_program(policy, fmt)(
        params, reps, jnp.asarray(tokens).reshape(s, p * g, t)
    )
    mean, std, valid = (np.asarray(x) for x in (mean, std, valid))
    out: dict[str, list[float]] = {"conf_sd_given_xa": [], "conf_slope_on_q": []}
    for i in range(s):
        ok = valid[i]
        out["conf_sd_given_xa"].append(float(std[i][ok].mean()) if ok.any() else float("nan"))
        x = q[i][ok]
        slope = float(np.polyfit(x, mean[i][ok], 1)[0]) if ok.sum() > 2 and x.std() > 0 else 0.0
        out["conf_slope_on_q"].append(slope)
    return out


def audit_arm(spec: ArmSpec, config: CalibrationLMConfig) -> dict[str, Any]:
    """`rd.scoring_rules.audit_confidence_reward` of the arm's reward: expected reward,
    and under its estimator at G (whose predicted c*(q) is compared with training)."""
    from reward_design.scoring_rules import audit_confidence_reward

    reward = reward_fn(spec, config)
    plain = audit_confidence_reward(reward)
    under = audit_confidence_reward(
        reward,
        estimator=spec.estimator,
        group_size=config.group_size,
        exploration=config.audit_exploration,
        q=_Q_GRID,
        num_samples=config.audit_samples,
    )
    return {
        **fixed_point_record(under),
        "estimator": spec.estimator,
        "group_size": config.group_size,
        "audited_as": "brier (same expected reward in c)" if spec.denoise else spec.name,
        "expected_reward": verdict_record(plain),
    }


def _late_change(curve: dict[str, Any]) -> list[float]:
    """Per seed: ECE at the last evaluation minus ECE at three quarters of training."""
    per_seed = np.asarray(curve["ece"]["per_seed"])  # [S, E]; E - 1 chunks
    late = (per_seed.shape[1] - 1) * 3 // 4
    return (per_seed[:, -1] - per_seed[:, late]).tolist()


def _comparisons(arms: dict[str, Any], start: dict[str, list[float]]) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def pair(a, b, metrics):
        return {
            m: paired_difference_ci(arms[a][m]["per_seed"], arms[b][m]["per_seed"]) for m in metrics
        }

    for name in arms:
        if name != "binary":
            out[f"{name} - binary"] = pair(name, "binary", COMPARED)
    out["brier_grpo - brier"] = pair("brier_grpo", "brier", COMPARED)
    out["brier - brier_denoised"] = pair("brier", "brier_denoised", COMPARED)
    for name, m in arms.items():
        out[f"{name}: final - start"] = {
            k: paired_difference_ci(m[k]["per_seed"], start[k]) for k in DRIFT
        }
        out[f"{name}: ece - floor"] = {
            "ece": paired_difference_ci(m["ece"]["per_seed"], m["ece_floor"]["per_seed"])
        }
        out[f"{name}: ece - oracle"] = {
            "ece": paired_difference_ci(m["ece"]["per_seed"], m["ece_oracle"]["per_seed"])
        }
    return out


def run_study(
    config: CalibrationLMConfig | None = None, *, progress: bool = False, keep_raw: bool = False
) -> dict[str, Any]:
    """Runs every arm and returns the results dict.

    Returns:
      ``{"experiment": "calibration_lm", "config", "arms": {arm: {metric: cell}}``
      (`metrics.METRICS` and `metrics.DIAGNOSTICS`), ``"arm_specs", "curves",
      "confidence_by_q", "audit", "comparisons"`` (``arm - binary``,
      ``brier_grpo - brier``, ``brier - brier_denoised``, ``arm: final -
      start``, ``arm: ece - floor``, ``arm: ece - oracle``), ``"start"`` (the
      warm-started policy every arm starts from), ``"reference"``,
      ``"rlcr_reference", "metadata", "timings_s", "plots"``; with
      ``keep_raw`` also ``"raw_final": {arm: (confidence, y)}`` pooled over seeds.
    """
    from reward_design_studies import lm

    config = config or CalibrationLMConfig.full()
    t0 = time.time()
    task = config.task()
    policy = config.policy(task)
    specs = arm_specs(config)
    seeds = config.seed_list
    warm = lm.warm_start(
        policy,
        task,
        seeds,
        steps=config.warm_start_steps,
        batch_size=config.warm_start_batch,
        learning_rate=config.warm_start_learning_rate,
        fast_compile=config.fast_compile,
    )
    batch = lm.heldout_batch(task, config.eval_prompts)
    rl = lm.RLConfig(
        num_prompts=config.num_prompts,
        group_size=config.group_size,
        steps=config.steps,
        eval_every=config.eval_every,
        eval_samples=config.eval_samples,
        kl=False,
        fast_compile=config.fast_compile,
    )
    probe = specs["binary"].arm(config, task)
    start_vals, start_tokens = lm.evaluate(
        policy, task, probe, warm.params, seeds=seeds, config=rl, eval_batch=batch
    )
    t_warm = time.time() - t0
    arms = [spec.arm(config, task) for spec in specs.values()]
    with progress_bars(progress) as bars:
        bar = bars.add(f"calibration-lm, {len(arms)} arms", total=len(arms) * config.steps)
        runs = lm.train(
            policy,
            task,
            arms,
            seeds=seeds,
            config=rl,
            init_params=warm.params,
            eval_batch=batch,
            on_chunk=lambda n: bar.advance(n * len(arms)),
        )
    runs = dict(zip(specs, runs, strict=True))
    t_train = time.time() - t0 - t_warm

    fmt = task.format
    levels = config.confidence_levels
    start = M.seed_metrics(runs["binary"].evals[0], config.num_bins)
    _, _, q0, _ = M.arrays(start_vals)
    start_head = head_diagnostics(policy, fmt, warm.params, batch.tokens, start_tokens, q0)
    arm_cells, arm_curves, by_q, audits = {}, {}, {}, {}
    audit_cache: dict[tuple, dict[str, Any]] = {}
    for name, run in runs.items():
        final = run.final
        per_seed = M.seed_metrics(final, config.num_bins)
        per_seed["ece_floor"] = M.ece_floor(final, config.num_bins, config.floor_draws)
        per_seed["ece_oracle"] = M.ece_oracle(final, config.num_bins, levels)
        _, _, q, _ = M.arrays(final)
        per_seed.update(
            head_diagnostics(policy, fmt, run.final_params, batch.tokens, run.final_tokens, q)
        )
        arm_curves[name] = M.curves(run.evals, run.eval_steps, config.num_bins)
        per_seed["ece_late_change"] = _late_change(arm_curves[name])
        arm_cells[name] = {m: metric_summary(v) for m, v in per_seed.items()}
        by_q[name] = M.confidence_by_q(final, Q_EDGES)
        spec = specs[name]
        key = (spec.brier, spec.log, spec.bonus, spec.estimator)
        if key not in audit_cache:
            audit_cache[key] = audit_arm(spec, config)
        audits[name] = with_trained_confidence(audit_cache[key], by_q[name])
    t_eval = time.time() - t0 - t_warm - t_train
    config_dict = config.to_dict()
    start_cells = {m: metric_summary(v) for m, v in {**start, **start_head}.items()}
    results = {
        "experiment": "calibration_lm",
        "config": config_dict,
        "arms": arm_cells,
        "arm_specs": {name: spec.to_dict(config) for name, spec in specs.items()},
        "curves": arm_curves,
        "confidence_by_q": by_q,
        "audit": audits,
        "comparisons": _comparisons(arm_cells, start),
        "start": {
            "metrics": start_cells,
            "warm_start_loss": {
                "first": np.asarray(warm.loss[:, 0]).tolist(),
                "last": np.asarray(warm.loss[:, -1]).tolist(),
            },
            "confidence_by_q": M.confidence_by_q(start_vals, Q_EDGES),
        },
        "reference": {
            "bayes_accuracy": task.bayes_accuracy("heldout"),
            "heldout_questions": int(len(task.split.ids("heldout"))),
            "init_fingerprints": {n: r.init_fingerprint.tolist() for n, r in runs.items()},
        },
        "rlcr_reference": RLCR_REFERENCE,
        "metadata": run_metadata(config_dict),
        "timings_s": {
            "warm_start_s": t_warm,
            "train_s": t_train,
            "metrics_and_audit_s": t_eval,
            "total_s": time.time() - t0,
        },
        "plots": [],
    }
    if keep_raw:
        results["raw_final"] = {
            name: tuple(a.reshape(-1) for a in M.arrays(run.final)[:2])  # (confidence, y)
            for name, run in runs.items()
        }
    return results
