"""The calibration study's run: warm start, every arm trained, metrics, audit, results dict.

`run_study` is the study as a function (the JSON schema is in its docstring);
the package docstring of `reward_design_studies.calibration` describes the
study, and docs/studies/calibration.md its results.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import jax
import numpy as np

from reward_design_studies.harness.progress import Bars
from reward_design_studies.harness.progress import progress as progress_bars
from reward_design_studies.harness.results import run_metadata
from reward_design_studies.harness.stats import metric_summary, paired_difference_ci

from .arms import ArmSpec, arm_name, arm_specs, family_objective
from .audit import audit_arm, compare_with_training
from .config import CalibrationConfig
from .environment import Questions
from .metrics import confidence_by_q, curves, final_metrics
from .program import TrainSettings
from .training import PRNG_IMPL, ArmRun, train_arms, warm_start

__all__ = ["RLCR_REFERENCE", "COMPARED", "make_test", "run_study"]

RLCR_REFERENCE = {
    "source": "Damani et al., arXiv 2507.16806 (Qwen2.5-7B, HotpotQA in-domain)",
    "rlvr_ece": 0.37,
    "rlcr_ece": 0.03,
    "claim": "RLVR (binary) drives verbalised confidence towards 1; RLCR (correctness + "
    "Brier) is calibrated at equal accuracy; correctness + log score is not guaranteed "
    "to preserve accuracy (unbounded rule).",
}

COMPARED = ("accuracy", "ece", "mean_confidence")
"""Metrics of the paired comparisons ``arm - binary``."""

# Bins of the known success probability q (confidence_by_q and the audit's q grid).
_Q_EDGES = np.linspace(0.0, 1.0, 11)
_Q_GRID = 0.5 * (_Q_EDGES[1:] + _Q_EDGES[:-1])


def make_test(config: CalibrationConfig, task: Any) -> Questions:
    """The fixed held-out questions (``test_questions`` drawn with key ``test_seed``)."""
    return task.sample(jax.random.key(config.test_seed, impl=PRNG_IMPL), config.test_questions)


def _train_groups(
    config: CalibrationConfig,
    specs: dict[str, ArmSpec],
    *,
    policy: Any,
    task: Any,
    test: Questions,
    init: Any,
    bars: Bars,
) -> dict[str, ArmRun]:
    """Trains every arm; arms with the same (P, G) share one compiled program, side by side.

    Each group of arms gets a progress bar of its arm-steps in ``bars``.
    """
    groups: dict[tuple[int, int], list[ArmSpec]] = {}
    for spec in specs.values():
        groups.setdefault((spec.num_prompts, spec.group_size), []).append(spec)
    runs: dict[str, ArmRun] = {}
    for (p, g), group in groups.items():
        settings = [
            TrainSettings(
                steps=config.steps,
                num_prompts=p,
                group_size=g,
                estimator=spec.estimator,
                learning_rate=config.learning_rate,
                eval_every=config.eval_every,
                eval_samples=config.eval_samples,
            )
            for spec in group
        ]
        objectives = [family_objective(s.brier, s.log, config.log_eps) for s in group]
        description = f"calibration P={p} G={g}, {len(group)} arms"
        bar = bars.add(description, total=len(group) * config.steps)
        out = train_arms(
            objectives,
            settings,
            policy=policy,
            task=task,
            seeds=config.seed_list,
            test=test,
            init_params=init,
            on_chunk=functools.partial(_advance, bar, len(group)),
        )
        for spec, run in zip(group, out, strict=True):
            runs[spec.name] = run
    return runs


def _advance(bar: Any, num_arms: int, steps: int) -> None:
    bar.advance(steps * num_arms)


def _summarise(
    config: CalibrationConfig, specs: dict[str, ArmSpec], runs: dict[str, ArmRun], audit: bool
) -> tuple[dict, dict, dict, dict]:
    """``(arms, curves, confidence_by_q, audit)`` entries of the results, per arm.

    Arms that share a reward, estimator and group size share one audit.
    """
    arms, arm_curves, by_q, audits = {}, {}, {}, {}
    audit_cache: dict[tuple, dict[str, Any]] = {}
    for name, run in runs.items():
        per_seed = final_metrics(run, config.num_bins, config.num_levels)
        arms[name] = {m: metric_summary(v) for m, v in per_seed.items()}
        arm_curves[name] = curves(run, config.num_bins)
        by_q[name] = confidence_by_q(run, _Q_EDGES)
        if audit:
            spec = specs[name]
            key = (spec.brier, spec.log, spec.estimator, spec.group_size)
            if key not in audit_cache:
                audit_cache[key] = audit_arm(spec, config, _Q_GRID)
            audits[name] = compare_with_training(audit_cache[key], by_q[name], _Q_GRID)
    return arms, arm_curves, by_q, audits


def _comparisons(specs: dict[str, ArmSpec], arms: dict[str, Any]) -> dict[str, Any]:
    """``arm - binary`` over paired seeds for every arm but ``binary``."""
    return {
        f"{name} - binary": {
            m: paired_difference_ci(arms[name][m]["per_seed"], arms["binary"][m]["per_seed"])
            for m in COMPARED
        }
        for name in specs
        if name != "binary"
    }


def _axes(config: CalibrationConfig) -> dict[str, Any]:
    """Which arm is each point of the Brier-weight sweep and of the estimator axis."""
    return {
        "sweep": {
            "weights": list(config.brier_weights),
            "arms": [arm_name(config, weight=w) for w in config.brier_weights],
        },
        "estimator_axis": {
            e: {str(g): arm_name(config, estimator=e, group=g) for g in config.group_sizes}
            for e in config.estimators
        },
    }


def _reference(task: Any, test: Questions, runs: dict[str, ArmRun]) -> dict[str, Any]:
    """The state shared by all arms (evaluated before any RL step) and the Bayes accuracy."""
    c0, conf0, _ = runs["binary"].evals[0]
    return {
        "bayes_accuracy": task.bayes_accuracy(test),
        "start_accuracy": metric_summary(c0.mean(axis=1).tolist()),
        "start_mean_confidence": metric_summary(conf0.mean(axis=1).tolist()),
        "init_fingerprints": {name: run.init_fingerprint.tolist() for name, run in runs.items()},
    }


def run_study(
    config: CalibrationConfig | None = None,
    *,
    policy: Any = None,
    task: Any = None,
    progress: bool = False,
    audit: bool = True,
    keep_raw: bool = False,
) -> dict[str, Any]:
    """Runs every arm and returns the results dictionary (the JSON schema).

    Args:
      config: the configuration (default: the headline ``CalibrationConfig.full()``).
      policy: a `ConfidencePolicy` to train instead of the configured
        `FactoredConfidencePolicy` (e.g. a text policy); hashable.
      task: a question source instead of the configured `GaussianMixtureTask`
        (``sample(key, n) -> Questions`` with exact ``posterior``;
        ``bayes_accuracy(questions)``); hashable.
      progress: show a progress bar per group of arms (``rich``).
      audit: run `rd.scoring_rules.audit_confidence_reward` for each arm.
      keep_raw: also return ``"raw_final": {arm: (confidence, correct)}``
        (held-out samples pooled over seeds, numpy) for the reliability
        diagrams; the study's ``run`` takes it out before the JSON is written.

    Returns:
      ``{"experiment": "calibration", "config", "arms": {arm: {metric:
      {"mean", "ci95", "per_seed"}}}, "arm_specs", "curves",
      "confidence_by_q", "audit", "comparisons", "sweep", "estimator_axis",
      "reference", "rlcr_reference", "metadata", "timings_s", "plots"}``
      (``plots`` empty: the study's ``plot`` fills it).
    """
    config = config or CalibrationConfig.full()
    t0 = time.time()
    task = task if task is not None else config.task()
    policy = policy if policy is not None else config.policy()
    specs = arm_specs(config)
    test = make_test(config, task)
    init = warm_start(
        policy,
        task,
        config.seed_list,
        steps=config.warm_start_steps,
        num_questions=config.rollouts_per_step,
        learning_rate=config.learning_rate,
    )
    t_warm = time.time() - t0
    with progress_bars(progress) as bars:
        runs = _train_groups(
            config, specs, policy=policy, task=task, test=test, init=init, bars=bars
        )
    t_train = time.time() - t0 - t_warm
    arms, arm_curves, by_q, audits = _summarise(config, specs, runs, audit)
    t_eval = time.time() - t0 - t_warm - t_train
    config_dict = config.to_dict()
    results = {
        "experiment": "calibration",
        "config": config_dict,
        "arms": arms,
        "arm_specs": {name: spec.to_dict(config, policy, task) for name, spec in specs.items()},
        "curves": arm_curves,
        "confidence_by_q": by_q,
        "audit": audits,
        "comparisons": _comparisons(specs, arms),
        **_axes(config),
        "reference": _reference(task, test, runs),
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
            name: (run.final[1].reshape(-1), run.final[0].reshape(-1)) for name, run in runs.items()
        }
    return results
