"""Study: binary vs Brier vs log confidence rewards under group-relative policy gradients.

RLCR (Damani et al., arXiv 2507.16806) trains LLMs with GRPO to answer and to
state a confidence. With the binary correctness reward (RLVR) the stated
confidence is unconstrained (every confidence is optimal) and their models end
up overconfident (here it random-walks instead: docs/studies/calibration.md);
correctness + Brier makes calibrated confidence the unique optimum at no cost
in accuracy; correctness + log score is proper but unbounded, so it is not
guaranteed to preserve accuracy. This study plays these incentives out in an
actual policy-gradient loop built from the library's components:

* questions with *known* uncertainty: a 10-class Gaussian mixture
  (`GaussianMixtureTask`) where the probability ``q(a | x)`` that answer a is
  right is known exactly, and the Bayes accuracy is about 0.57;
* a Flax policy that samples an answer and then one of 21 verbalised
  confidence levels (0.00, 0.05, ..., 1.00), warm-started on the answers
  (the SFT stage) with its confidence head *overconfident* (mean stated
  confidence 0.92, like an RLVR-trained LLM);
* rewards composed with `rd.compose` from `rd.terms.Correctness`,
  `rd.terms.Brier` and `rd.terms.ScoringRuleTerm(rd.scoring_rules.log_binary)`;
* advantages from `rd.advantages` (``dr_grpo`` for the headline, as RLCR's
  ``scale_rewards=False``; ``grpo`` with per-group std scaling and ``rloo``
  on the second axis);
* metrics from `rd.calibration`; the incentive audit
  `rd.scoring_rules.audit_confidence_reward` printed beside each arm.

Every arm of a seed starts from the same parameters and sees the same stream
of random keys; arms differ only in the objective (and, on the estimator
axis, in the advantage estimator and the group size at a fixed budget of
``P x G`` rollouts per step). The headline configuration is
`CalibrationConfig()`; it was fixed before the comparison was run.

Run it with ``reward-design reproduce calibration [--quick] [--out DIR] [--seeds N]``
or from Python with `run_study`.

References:
  Damani et al., "Beyond Binary Rewards: Training LMs to Reason About Their
  Uncertainty" (RLCR), arXiv 2507.16806.
  Liu et al., "Understanding R1-Zero-Like Training: A Critical Perspective"
  (Dr. GRPO), arXiv 2503.20783.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from reward_design import terms as _terms
from reward_design.compose import compose
from reward_design.experiments._calibration_policy import FactoredConfidencePolicy
from reward_design.experiments._calibration_task import GaussianMixtureTask, Questions
from reward_design.experiments._calibration_train import (
    ESTIMATORS,
    PRNG_IMPL,
    ArmRun,
    TrainSettings,
    train_arms,
    warm_start,
)
from reward_design.experiments._common import (
    metric_summary,
    paired_difference_ci,
    resolve_out_dir,
    run_metadata,
    write_json,
)
from reward_design.rollouts import Rollouts

__all__ = [
    "DESCRIPTION",
    "CalibrationConfig",
    "ArmSpec",
    "arm_specs",
    "family_objective",
    "clipped_log_binary",
    "run_study",
    "format_table",
    "add_arguments",
    "run",
]

DESCRIPTION = "RLCR: binary vs Brier vs log confidence rewards in a GRPO loop (calibration)"

METRICS = (
    "accuracy",
    "ece",
    "brier",
    "auroc",
    "mean_confidence",
    "overconfidence",
    "abs_gap_to_q",
    "surely_wrong",
    "brier_reliability",
    "brier_resolution",
)
"""Per-arm metrics on held-out questions (sampled answers and confidences):

* ``accuracy``: fraction of sampled answers that are right;
* ``ece``: 15-bin uniform expected calibration error of confidence vs correctness;
* ``brier``: mean ``(confidence - correct)^2``;
* ``auroc``: confidence as a detector of correct answers;
* ``mean_confidence``;
* ``overconfidence``: ``mean_confidence - accuracy``;
* ``abs_gap_to_q``: mean ``|confidence - q(a | x)|``, distance from the known
  success probability of the answer given (0 for a perfectly calibrated,
  perfectly resolving policy);
* ``surely_wrong``: fraction of sampled answers whose known success
  probability is below 0.05 (answers the policy can be *sure* are wrong;
  diagnostic added after the quick run showed accuracy collapsing under
  std-scaled GRPO);
* ``brier_reliability`` / ``brier_resolution``: Murphy's decomposition
  ``brier = reliability - resolution + uncertainty`` with one bin per
  confidence level (exact on the 21-level grid): reliability is the
  calibration error, resolution how much the stated confidence separates
  easy from hard answers.
"""

RLCR_REFERENCE = {
    "source": "Damani et al., arXiv 2507.16806 (Qwen2.5-7B, HotpotQA in-domain)",
    "rlvr_ece": 0.37,
    "rlcr_ece": 0.03,
    "claim": "RLVR (binary) drives verbalised confidence towards 1; RLCR (correctness + "
    "Brier) is calibrated at equal accuracy; correctness + log score is not guaranteed "
    "to preserve accuracy (unbounded rule).",
}


# --------------------------------------------------------------------------- config


@dataclasses.dataclass(frozen=True)
class CalibrationConfig:
    """The study's configuration (defaults: the headline run, fixed before it was run).

    Args:
      seeds: number of training seeds (0 .. seeds-1).
      steps: RL steps per arm (a multiple of ``eval_every``).
      warm_start_steps: supervised steps on the answers before RL (shared by
        all arms of a seed).
      num_prompts: questions per RL step P for the headline arms.
      group_size: samples per question G for the headline arms.
      estimator: advantage estimator of the headline arms.
      learning_rate: Adam step size (warm start and RL).
      eval_every: steps between held-out evaluations (training curves).
      eval_samples: answers sampled per held-out question at evaluation.
      test_questions: held-out questions (fixed, drawn from ``test_seed``).
      test_seed: key of the held-out questions.
      brier_weights: the Brier-weight sweep (1.0 is the ``brier`` arm).
      log_weight: weight of the log-score term in the ``log`` arm.
      log_eps: the log arm clips confidence to ``[eps, 1 - eps]`` before the
        log score, so stating 0 or 1 costs at most ``-log(eps)``.
      estimators: the estimator axis (``brier`` arm repeated with each).
      group_sizes: group sizes on the estimator axis; ``P = rollouts_per_step / G``.
      rollouts_per_step: fixed ``P x G`` budget of the estimator axis.
      num_bins: bins of ECE and the reliability diagrams.
      audit_exploration: the audit's logit-space exploration scale of the
        stated confidence (`audit_confidence_reward`'s ``exploration``).
      audit_samples: Monte Carlo samples of the estimator audit
        (``num_samples``).
      num_classes, dim, separation, noise, task_seed: the task
        (`GaussianMixtureTask`).
      hidden, depth, num_levels, init_confidence_slope, init_confidence_scale:
        the policy (`FactoredConfidencePolicy`).
    """

    seeds: int = 5
    steps: int = 2000
    warm_start_steps: int = 300
    num_prompts: int = 32
    group_size: int = 8
    estimator: str = "dr_grpo"
    learning_rate: float = 3e-3
    eval_every: int = 100
    eval_samples: int = 2
    test_questions: int = 4096
    test_seed: int = 1_000_000
    brier_weights: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
    log_weight: float = 1.0
    log_eps: float = 0.01
    estimators: tuple[str, ...] = ("dr_grpo", "grpo", "rloo")
    group_sizes: tuple[int, ...] = (4, 8, 32)
    rollouts_per_step: int = 256
    num_bins: int = 15
    audit_exploration: float = 0.25
    audit_samples: int = 2048
    num_classes: int = 10
    dim: int = 4
    separation: float = 1.0
    noise: float = 1.0
    task_seed: int = 0
    hidden: int = 64
    depth: int = 2
    num_levels: int = 21
    init_confidence_slope: float = 10.0
    init_confidence_scale: float = 0.01

    def __post_init__(self):
        if self.seeds < 1:
            raise ValueError(f"seeds must be >= 1; got {self.seeds}.")
        if self.estimator not in ESTIMATORS:
            raise ValueError(
                f"estimator must be one of {sorted(ESTIMATORS)}; got {self.estimator!r}."
            )
        for name in self.estimators:
            if name not in ESTIMATORS:
                raise ValueError(
                    f"estimators must be a subset of {sorted(ESTIMATORS)}; got {name!r}."
                )
        if 1.0 not in self.brier_weights:
            raise ValueError(
                f"brier_weights must include 1.0 (the brier arm); got {self.brier_weights}."
            )
        for g in self.group_sizes:
            if g < 2 or self.rollouts_per_step % g:
                raise ValueError(
                    f"group_sizes must be >= 2 and divide rollouts_per_step="
                    f"{self.rollouts_per_step}; got {g}."
                )
        if not 0.0 < self.log_eps < 0.5:
            raise ValueError(f"log_eps must be in (0, 0.5); got {self.log_eps}.")

    @classmethod
    def quick(cls, **overrides: Any) -> CalibrationConfig:
        """``--quick``: 3 seeds, 1000 steps, 2048 test questions, cheaper audit (same arms)."""
        base = {"seeds": 3, "steps": 1000, "test_questions": 2048, "audit_samples": 512}
        base.update(overrides)
        return cls(**base)

    def task(self) -> GaussianMixtureTask:
        return GaussianMixtureTask(
            num_classes=self.num_classes,
            dim=self.dim,
            separation=self.separation,
            noise=self.noise,
            task_seed=self.task_seed,
        )

    def policy(self) -> FactoredConfidencePolicy:
        return FactoredConfidencePolicy(
            num_classes=self.num_classes,
            num_levels=self.num_levels,
            hidden=self.hidden,
            depth=self.depth,
            init_confidence_slope=self.init_confidence_slope,
            init_confidence_scale=self.init_confidence_scale,
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------- objectives


def clipped_log_binary(p: jax.Array, y: jax.Array, eps: float = 0.01) -> jax.Array:
    """``rd.scoring_rules.log_binary(clip(p, eps, 1 - eps), y)``: the log arm's rule.

    The log score is unbounded (stating confidence 1 on a wrong answer costs
    infinity); the clip caps the cost at ``-log(eps)`` (4.6 for 0.01). Only
    the confidence levels 0 and 1 are affected on the 21-level grid.
    """
    from reward_design.scoring_rules import log_binary

    return log_binary(jnp.clip(p, eps, 1.0 - eps), y)


@functools.cache
def _log_rule(eps: float) -> Callable:
    # One function object per eps, so objectives with equal eps share a pytree structure.
    return functools.partial(clipped_log_binary, eps=eps)


def family_objective(brier: float, log: float, log_eps: float = 0.01):
    """``correct + brier * (-(c - y)^2) + log * (-logscore_eps(c, y))`` via `rd.compose`.

    Every arm of the study uses this one structure (``binary`` has both
    weights 0, ``brier`` has ``brier = 1``, ``log`` has ``log = 1``), so the
    arms stack and share one compiled training program; the total of the
    ``binary`` arm is exactly the correctness reward.
    """
    return compose(
        correct=_terms.Correctness(),
        brier=_terms.Brier(weight=float(brier)),
        log=_terms.ScoringRuleTerm(rule=_log_rule(float(log_eps)), weight=float(log)),
    )


@dataclasses.dataclass(frozen=True)
class ArmSpec:
    """One arm: its objective weights and how it is trained."""

    name: str
    brier: float
    log: float
    estimator: str
    group_size: int
    num_prompts: int
    roles: tuple[str, ...]

    def to_dict(
        self, config: CalibrationConfig, policy: Any = None, task: Any = None
    ) -> dict[str, Any]:
        return {
            "objective": {
                "terms": "correct + brier * Brier + log * ScoringRuleTerm(clipped log_binary)",
                "correct": 1.0,
                "brier": self.brier,
                "log": self.log,
                "log_eps": config.log_eps,
            },
            "estimator": self.estimator,
            "group_size": self.group_size,
            "num_prompts": self.num_prompts,
            "roles": list(self.roles),
            "training": {
                "steps": config.steps,
                "warm_start_steps": config.warm_start_steps,
                "learning_rate": config.learning_rate,
                "optimizer": "adam",
                "seeds": list(range(config.seeds)),
                "policy": _describe(policy if policy is not None else config.policy()),
                "task": _describe(task if task is not None else config.task()),
                "prng": PRNG_IMPL,
            },
        }


def _describe(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"type": type(obj).__name__, **dataclasses.asdict(obj)}
    return repr(obj)


def _wname(w: float) -> str:
    return f"{w:g}"


def arm_specs(config: CalibrationConfig) -> dict[str, ArmSpec]:
    """All arms, by name, each listed once with the roles it plays.

    * headline: ``binary``, ``brier``, ``log``;
    * sweep: ``brier_w{w}`` (``brier`` for w = 1);
    * estimators: ``brier_{estimator}_g{G}`` with ``P = rollouts_per_step / G``
      (``brier`` for the headline estimator and G).
    """
    p, g, est = config.num_prompts, config.group_size, config.estimator
    specs: dict[str, ArmSpec] = {}

    def add(name, brier, log, estimator, group, prompts, role):
        if name in specs:
            old = specs[name]
            specs[name] = dataclasses.replace(old, roles=old.roles + (role,))
        else:
            specs[name] = ArmSpec(name, brier, log, estimator, group, prompts, (role,))

    add("binary", 0.0, 0.0, est, g, p, "headline")
    add("brier", 1.0, 0.0, est, g, p, "headline")
    add("log", 0.0, config.log_weight, est, g, p, "headline")
    for w in config.brier_weights:
        name = "brier" if w == 1.0 else f"brier_w{_wname(w)}"
        add(name, float(w), 0.0, est, g, p, "sweep")
    for e in config.estimators:
        for gs in config.group_sizes:
            ps = config.rollouts_per_step // gs
            headline = e == est and gs == g and ps == p
            name = "brier" if headline else f"brier_{e}_g{gs}"
            add(name, 1.0, 0.0, e, gs, ps, "estimators")
    return specs


# --------------------------------------------------------------------------- metrics


@functools.cache
def _metric_fns(num_bins: int):
    from reward_design import calibration as cal

    ece = jax.jit(jax.vmap(functools.partial(cal.expected_calibration_error, num_bins=num_bins)))
    return ece


def _final_metrics(run: ArmRun, num_bins: int, num_levels: int) -> dict[str, list[float]]:
    from reward_design import calibration as cal
    from reward_design.scoring_rules import brier_binary

    correct, conf, q = run.final
    out: dict[str, list[float]] = {m: [] for m in METRICS}
    for s in range(correct.shape[0]):
        c, y, qs = conf[s], correct[s], q[s]
        out["accuracy"].append(float(y.mean()))
        out["ece"].append(float(cal.expected_calibration_error(c, y, num_bins=num_bins)))
        out["brier"].append(float(jnp.mean(brier_binary(c, y))))
        try:
            out["auroc"].append(float(cal.auroc(c, y)))
        except ValueError:  # every answer right (or wrong): AUROC undefined
            out["auroc"].append(float("nan"))
        out["mean_confidence"].append(float(c.mean()))
        out["overconfidence"].append(float(c.mean() - y.mean()))
        out["abs_gap_to_q"].append(float(np.abs(c - qs).mean()))
        out["surely_wrong"].append(float((qs < 0.05).mean()))
        dec = cal.brier_decomposition(c, y, num_bins=num_levels)
        out["brier_reliability"].append(float(dec.reliability))
        out["brier_resolution"].append(float(dec.resolution))
    return out


def _curves(run: ArmRun, num_bins: int) -> dict[str, Any]:
    ece_fn = _metric_fns(num_bins)
    acc, ece, conf = [], [], []
    for correct, c, _ in run.evals:
        acc.append(correct.mean(axis=1))
        ece.append(
            np.asarray(ece_fn(jnp.asarray(c, jnp.float32), jnp.asarray(correct, jnp.float32)))
        )
        conf.append(c.mean(axis=1))
    out: dict[str, Any] = {"step": run.eval_steps.tolist()}
    for name, values in (("accuracy", acc), ("ece", ece), ("mean_confidence", conf)):
        arr = np.stack(values, axis=1)  # [S, E]
        out[name] = {"mean": arr.mean(axis=0).tolist(), "per_seed": arr.tolist()}
    return out


def _confidence_by_q(run: ArmRun, edges: np.ndarray) -> dict[str, Any]:
    """Mean stated confidence per bin of the known success probability q (per seed)."""
    correct, conf, q = run.final
    nb = len(edges) - 1
    idx = np.clip(np.digitize(q, edges[1:-1]), 0, nb - 1)
    per_seed = np.full((conf.shape[0], nb), np.nan)
    counts = np.zeros((conf.shape[0], nb))
    for s in range(conf.shape[0]):
        for b in range(nb):
            sel = idx[s] == b
            counts[s, b] = sel.sum()
            if sel.any():
                per_seed[s, b] = conf[s][sel].mean()
    q_mean = np.array([q[idx == b].mean() if (idx == b).any() else np.nan for b in range(nb)])
    return {
        "q_edges": edges.tolist(),
        "q_mean": q_mean.tolist(),
        "confidence_mean": np.nanmean(per_seed, axis=0).tolist(),
        "confidence_per_seed": per_seed.tolist(),
        "count": counts.sum(axis=0).tolist(),
    }


# --------------------------------------------------------------------------- audit


def _reward_fn(spec: ArmSpec, config: CalibrationConfig) -> Callable:
    objective = family_objective(spec.brier, spec.log, config.log_eps)

    def reward_fn(confidence, correct):
        c = jnp.asarray(confidence, jnp.float32)
        y = jnp.asarray(correct, jnp.float32)
        c, y = jnp.broadcast_arrays(c, y)
        shape = c.shape
        out = objective(Rollouts(correct=y.reshape(-1, 1), confidence=c.reshape(-1, 1)))
        return out.total.reshape(shape)

    return reward_fn


def _audit(spec: ArmSpec, config: CalibrationConfig, q_grid: np.ndarray) -> dict[str, Any]:
    """What `rd.scoring_rules.audit_confidence_reward` predicts for this arm.

    Two audits of the arm's reward: the expected-reward audit (no
    estimator: is c = q optimal, is V(q) increasing?) and the audit under the
    arm's estimator and group size (where does the expected policy-gradient
    update of the stated confidence vanish?). The second is the prediction
    that training is compared with.
    """
    from reward_design.scoring_rules import audit_confidence_reward

    reward_fn = _reward_fn(spec, config)
    plain = audit_confidence_reward(reward_fn)
    under = audit_confidence_reward(
        reward_fn,
        estimator=spec.estimator,
        group_size=spec.group_size,
        exploration=config.audit_exploration,
        q=q_grid,
        num_samples=config.audit_samples,
        # The study's audit column is the one-answer analysis it was registered with;
        # the answer-choice check (added after this study) is in docs/studies/calibration.md.
        answer_choice=False,
    )
    interval = np.asarray(under.optimal_interval, dtype=float)
    return {
        "calibrated": bool(under.calibrated),
        "weakly_calibrated": bool(under.weakly_calibrated),
        "accuracy_preserving": bool(under.accuracy_preserving),
        "summary": under.summary,
        "q": np.asarray(under.q, dtype=float).tolist(),
        "optimal_confidence": np.asarray(under.optimal_confidence, dtype=float).tolist(),
        "optimal_interval": interval.tolist(),
        # Correctness alone: the update of the confidence is zero everywhere, so every
        # confidence is a fixed point and training cannot be compared with one number.
        "any_confidence_is_optimal": bool(np.all(interval[:, 1] - interval[:, 0] > 0.5)),
        "estimator": spec.estimator,
        "group_size": spec.group_size,
        "exploration": config.audit_exploration,
        "expected_reward": {
            "calibrated": bool(plain.calibrated),
            "weakly_calibrated": bool(plain.weakly_calibrated),
            "accuracy_preserving": bool(plain.accuracy_preserving),
            "summary": plain.summary,
        },
    }


# --------------------------------------------------------------------------- the study


def _make_test(config: CalibrationConfig, task: GaussianMixtureTask) -> Questions:
    return task.sample(jax.random.key(config.test_seed, impl=PRNG_IMPL), config.test_questions)


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
      config: the configuration (default: the headline `CalibrationConfig()`).
      policy: a `ConfidencePolicy` to train instead of the configured
        `FactoredConfidencePolicy` (e.g. a text policy); hashable.
      task: a question source instead of the configured `GaussianMixtureTask`
        (``sample(key, n) -> Questions`` with exact ``posterior``;
        ``bayes_accuracy(questions)``); hashable.
      progress: show a ``rich`` progress bar.
      audit: run `rd.scoring_rules.audit_confidence_reward` for each arm.
      keep_raw: also return ``"raw_final": {arm: (confidence, correct)}``
        (held-out samples pooled over seeds, numpy) for the reliability
        diagrams; `run` removes it before writing the JSON.

    Returns:
      ``{"experiment": "calibration", "config", "arms": {arm: {metric:
      {"mean", "ci95", "per_seed"}}}, "arm_specs", "curves",
      "confidence_by_q", "audit", "comparisons", "sweep", "estimator_axis",
      "reference", "rlcr_reference", "metadata", "timings_s"}``.
    """
    config = config or CalibrationConfig()
    t0 = time.time()
    task = task if task is not None else config.task()
    policy = policy if policy is not None else config.policy()
    seeds = list(range(config.seeds))
    specs = arm_specs(config)
    test = _make_test(config, task)

    init = warm_start(
        policy,
        task,
        seeds,
        steps=config.warm_start_steps,
        num_questions=config.rollouts_per_step,
        learning_rate=config.learning_rate,
    )
    t_warm = time.time() - t0

    # Arms with the same (P, G) share one compiled program and run side by side.
    groups: dict[tuple[int, int], list[ArmSpec]] = {}
    for spec in specs.values():
        groups.setdefault((spec.num_prompts, spec.group_size), []).append(spec)

    runs: dict[str, ArmRun] = {}
    total = sum(len(g) for g in groups.values()) * config.steps
    bar, task_id = _progress(progress, total)
    try:
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
            if bar is not None:
                bar.update(task_id, description=f"P={p} G={g}: {', '.join(s.name for s in group)}")

            advance = functools.partial(_advance, bar, task_id, len(group))

            out = train_arms(
                objectives,
                settings,
                policy=policy,
                task=task,
                seeds=seeds,
                test=test,
                init_params=init,
                on_chunk=advance,
            )
            for spec, run in zip(group, out, strict=True):
                runs[spec.name] = run
    finally:
        if bar is not None:
            bar.stop()
    t_train = time.time() - t0 - t_warm

    edges = np.linspace(0.0, 1.0, 11)
    q_grid = 0.5 * (edges[1:] + edges[:-1])
    arms, curves, by_q, audits = {}, {}, {}, {}
    audit_cache: dict[tuple, dict[str, Any]] = {}
    for name, run in runs.items():
        per_seed = _final_metrics(run, config.num_bins, config.num_levels)
        arms[name] = {m: metric_summary(v) for m, v in per_seed.items()}
        curves[name] = _curves(run, config.num_bins)
        by_q[name] = _confidence_by_q(run, edges)
        if audit:
            spec = specs[name]
            key = (spec.brier, spec.log, spec.estimator, spec.group_size)
            if key not in audit_cache:
                audit_cache[key] = _audit(spec, config, q_grid)
            audits[name] = dict(audit_cache[key])
            trained = np.asarray(by_q[name]["confidence_mean"], dtype=float)
            pred = np.asarray(audits[name]["optimal_confidence"])
            w = np.asarray(by_q[name]["count"], dtype=float)
            ok = np.isfinite(trained) & (w > 0)
            audits[name]["trained_confidence"] = trained.tolist()
            audits[name]["mean_abs_gap_trained_vs_predicted"] = (
                None
                if audits[name]["any_confidence_is_optimal"]
                else float(np.average(np.abs(trained[ok] - pred[ok]), weights=w[ok]))
            )
            audits[name]["mean_abs_gap_trained_vs_q"] = float(
                np.average(np.abs(trained[ok] - q_grid[ok]), weights=w[ok])
            )

    t_eval = time.time() - t0 - t_warm - t_train
    comparisons = {}
    for name in specs:
        if name == "binary":
            continue
        comparisons[f"{name} - binary"] = {
            m: paired_difference_ci(arms[name][m]["per_seed"], arms["binary"][m]["per_seed"])
            for m in ("accuracy", "ece", "mean_confidence")
        }

    # Initial state shared by all arms (evaluated before any RL step).
    first = runs["binary"]
    c0, conf0, _ = first.evals[0]
    fingerprints = {name: run.init_fingerprint.tolist() for name, run in runs.items()}
    results = {
        "experiment": "calibration",
        "config": config.to_dict(),
        "arms": arms,
        "arm_specs": {name: spec.to_dict(config, policy, task) for name, spec in specs.items()},
        "curves": curves,
        "confidence_by_q": by_q,
        "audit": audits,
        "comparisons": comparisons,
        "sweep": {
            "weights": list(config.brier_weights),
            "arms": ["brier" if w == 1.0 else f"brier_w{_wname(w)}" for w in config.brier_weights],
        },
        "estimator_axis": {
            e: {
                str(g): (
                    "brier"
                    if (
                        e == config.estimator
                        and g == config.group_size
                        and config.rollouts_per_step // g == config.num_prompts
                    )
                    else f"brier_{e}_g{g}"
                )
                for g in config.group_sizes
            }
            for e in config.estimators
        },
        "reference": {
            "bayes_accuracy": task.bayes_accuracy(test),
            "start_accuracy": metric_summary(c0.mean(axis=1).tolist()),
            "start_mean_confidence": metric_summary(conf0.mean(axis=1).tolist()),
            "init_fingerprints": fingerprints,
        },
        "rlcr_reference": RLCR_REFERENCE,
        "metadata": run_metadata(config.to_dict()),
        "timings_s": {
            "warm_start_s": t_warm,
            "train_s": t_train,
            "metrics_and_audit_s": t_eval,
            "total_s": time.time() - t0,
        },
    }
    if keep_raw:
        results["raw_final"] = {
            name: (run.final[1].reshape(-1), run.final[0].reshape(-1)) for name, run in runs.items()
        }
    return results


def _advance(bar, task_id, num_arms: int, steps: int) -> None:
    if bar is not None:
        bar.update(task_id, advance=steps * num_arms)


def _progress(enabled: bool, total: int):
    if not enabled:
        return None, None
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("[bold]calibration[/bold] {task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} arm-steps"),
        TimeElapsedColumn(),
    )
    bar.start()
    return bar, bar.add_task("warming up", total=total)


# --------------------------------------------------------------------------- output


def _cell(cell: dict[str, Any], digits: int = 3) -> str:
    lo, hi = cell["ci95"]
    return f"{cell['mean']:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def format_table(results: dict[str, Any]) -> str:
    """Plain-text table of every arm with its audit (markdown)."""
    lines = [
        "| arm | estimator | G | accuracy | ECE | Brier | AUROC | mean conf | mean abs(c - q) | "
        "surely wrong | Brier reliability / resolution | "
        "audit: calibrated / acc.-preserving | predicted c*(q) at q=.25/.55/.85 | "
        "trained c at q=.25/.55/.85 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    pick = (2, 5, 8)
    for name, m in results["arms"].items():
        spec = results["arm_specs"][name]
        a = results.get("audit", {}).get(name)
        if a:
            yes = {True: "yes", False: "no"}
            flags = f"{yes[a['calibrated']]} / {yes[a['accuracy_preserving']]}"
            pred = (
                "any"
                if a["any_confidence_is_optimal"]
                else "/".join(f"{a['optimal_confidence'][i]:.2f}" for i in pick)
            )
        else:
            flags, pred = "-", "-"
        trained = results["confidence_by_q"][name]["confidence_mean"]
        tr = "/".join(
            "nan" if trained[i] is None or not np.isfinite(trained[i]) else f"{trained[i]:.2f}"
            for i in pick
        )
        lines.append(
            f"| {name} | {spec['estimator']} | {spec['group_size']} | {_cell(m['accuracy'])} | "
            f"{_cell(m['ece'])} | {_cell(m['brier'])} | {_cell(m['auroc'])} | "
            f"{_cell(m['mean_confidence'])} | {_cell(m['abs_gap_to_q'])} | "
            f"{_cell(m['surely_wrong'])} | {m['brier_reliability']['mean']:.3f} / "
            f"{m['brier_resolution']['mean']:.3f} | {flags} | {pred} | "
            f"{tr} |"
        )
    ref = results["reference"]
    lines.append("")
    lines.append(
        f"Bayes accuracy {ref['bayes_accuracy']:.3f}; after warm start (all arms): accuracy "
        f"{_cell(ref['start_accuracy'])}, mean confidence {_cell(ref['start_mean_confidence'])}. "
        f"Means over {results['config']['seeds']} seeds with 95% t intervals."
    )
    return "\n".join(lines)


def _print_rich_table(results: dict[str, Any]) -> None:
    """Means only (the markdown table in ``calibration.md`` has the 95% intervals)."""
    import sys

    from rich.console import Console
    from rich.table import Table

    table = Table(title="calibration: binary vs Brier vs log (means over seeds; CIs in .md)")
    cols = [
        "arm",
        "est.",
        "G",
        "acc",
        "ECE",
        "Brier",
        "AUROC",
        "conf",
        "|c-q|",
        "sure-wrong",
        "audit cal/acc",
        "c* q=.25/.55/.85",
        "trained",
    ]
    for c in cols:
        table.add_column(c, no_wrap=True)
    pick = (2, 5, 8)
    for name, m in results["arms"].items():
        spec = results["arm_specs"][name]
        a = results.get("audit", {}).get(name)
        yes = {True: "yes", False: "no"}
        flags = f"{yes[a['calibrated']]}/{yes[a['accuracy_preserving']]}" if a else "-"
        if not a:
            pred = "-"
        elif a["any_confidence_is_optimal"]:
            pred = "any"
        else:
            pred = "/".join(f"{a['optimal_confidence'][i]:.2f}" for i in pick)
        trained = results["confidence_by_q"][name]["confidence_mean"]
        tr = "/".join(
            "nan" if v is None or not np.isfinite(v) else f"{v:.2f}"
            for v in (trained[i] for i in pick)
        )
        table.add_row(
            name,
            spec["estimator"],
            str(spec["group_size"]),
            *(
                f"{m[k]['mean']:.3f}"
                for k in (
                    "accuracy",
                    "ece",
                    "brier",
                    "auroc",
                    "mean_confidence",
                    "abs_gap_to_q",
                    "surely_wrong",
                )
            ),
            flags,
            pred,
            tr,
        )
    console = Console(width=None if sys.stdout.isatty() else 170)
    console.print(table)
    console.print(format_table(results).splitlines()[-1])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--quick``, ``--out DIR``, ``--seeds N``, ``--steps``, ``--num-prompts``,
    ``--headline-only``, ``--no-plots``."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 seeds, 1000 steps, 2048 held-out questions (a few minutes at most on 2 cores)",
    )
    parser.add_argument("--out", default=None, help="output folder (default results/calibration)")
    parser.add_argument(
        "--seeds", type=int, default=None, help="number of seeds (default 5, or 3 with --quick)"
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="RL steps per arm (default 2000, 1000 with --quick)"
    )
    parser.add_argument(
        "--num-prompts",
        type=int,
        default=None,
        help="questions per step P of the headline arms (default 32); the estimator axis keeps "
        "P x G = P * 8 rollouts per step",
    )
    parser.add_argument(
        "--headline-only",
        action="store_true",
        help="only binary, brier and log (no weight sweep, no estimator axis)",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNGs")


def _config_from_args(args: argparse.Namespace) -> CalibrationConfig:
    overrides: dict[str, Any] = {}
    if getattr(args, "seeds", None) is not None:
        overrides["seeds"] = int(args.seeds)
    if getattr(args, "steps", None) is not None:
        overrides["steps"] = int(args.steps)
    if getattr(args, "num_prompts", None) is not None:
        base = CalibrationConfig()
        overrides["num_prompts"] = int(args.num_prompts)
        overrides["rollouts_per_step"] = int(args.num_prompts) * base.group_size
    if getattr(args, "headline_only", False):
        base = CalibrationConfig()
        overrides.update(
            brier_weights=(1.0,), estimators=(base.estimator,), group_sizes=(base.group_size,)
        )
    if getattr(args, "quick", False):
        return CalibrationConfig.quick(**overrides)
    return CalibrationConfig(**overrides)


def run(args: argparse.Namespace) -> int:
    """CLI entry point: runs the study; writes ``DIR/calibration.json``, ``.md`` and PNGs."""
    config = _config_from_args(args)
    out_dir = resolve_out_dir(getattr(args, "out", None), "calibration")
    results = run_study(config, progress=True, keep_raw=True)
    raw = results.pop("raw_final")
    results["config"]["mode"] = "quick" if getattr(args, "quick", False) else "full"
    table = format_table(results)
    (out_dir / "calibration.md").write_text(table + "\n")
    if not getattr(args, "no_plots", False):
        from reward_design.experiments._calibration_plots import make_plots

        results["plots"] = [p.name for p in make_plots(results, out_dir, raw=raw)]
    write_json(out_dir / "calibration.json", results)
    _print_rich_table(results)
    print(f"\nwrote {out_dir / 'calibration.json'} ({results['timings_s']['total_s']:.0f} s)")
    return 0
