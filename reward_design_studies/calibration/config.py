"""The calibration study's configuration: `CalibrationConfig` (full = the headline run)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

from reward_design_studies.harness.config import StudyConfig
from reward_design_studies.harness.study import default_config_from_args

if TYPE_CHECKING:
    from .environment import GaussianMixtureTask
    from .policy import FactoredConfidencePolicy

__all__ = ["ESTIMATOR_NAMES", "CalibrationConfig", "add_arguments"]

ESTIMATOR_NAMES = ("dr_grpo", "grpo", "rloo")
"""The advantage estimators of the study (functions of `rd.advantages` of these names)."""


@dataclasses.dataclass(frozen=True)
class CalibrationConfig(StudyConfig):
    """The study's configuration (defaults: the headline run, fixed before it was run).

    ``CalibrationConfig.full()`` is the headline run (5 seeds, 2000 steps);
    ``CalibrationConfig.quick()`` has 3 seeds, 1000 steps, 2048 held-out
    questions and a cheaper audit (same arms).

    Args:
      seeds: number of training seeds (``seed_offset`` .. ``seed_offset + seeds - 1``).
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

    QUICK: ClassVar[dict[str, Any]] = {
        "seeds": 3,
        "steps": 1000,
        "test_questions": 2048,
        "audit_samples": 512,
    }

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

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.estimator not in ESTIMATOR_NAMES:
            raise ValueError(
                f"estimator must be one of {sorted(ESTIMATOR_NAMES)}; got {self.estimator!r}."
            )
        for name in self.estimators:
            if name not in ESTIMATOR_NAMES:
                raise ValueError(
                    f"estimators must be a subset of {sorted(ESTIMATOR_NAMES)}; got {name!r}."
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
    def from_args(cls, args: argparse.Namespace) -> CalibrationConfig:
        """The configuration of ``reward-design reproduce calibration`` (see `add_arguments`)."""
        overrides: dict[str, Any] = {}
        if getattr(args, "steps", None) is not None:
            overrides["steps"] = int(args.steps)
        if getattr(args, "num_prompts", None) is not None:
            overrides["num_prompts"] = int(args.num_prompts)
            overrides["rollouts_per_step"] = int(args.num_prompts) * cls.group_size
        if getattr(args, "headline_only", False):
            overrides.update(
                brier_weights=(1.0,), estimators=(cls.estimator,), group_sizes=(cls.group_size,)
            )
        base = default_config_from_args(cls, args)
        return base.replace(**overrides) if overrides else base

    def task(self) -> GaussianMixtureTask:
        """The configured question source."""
        from .environment import GaussianMixtureTask

        return self.part(GaussianMixtureTask)

    def policy(self) -> FactoredConfidencePolicy:
        """The configured policy."""
        from .policy import FactoredConfidencePolicy

        return self.part(FactoredConfidencePolicy)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The study's own options: ``--steps``, ``--num-prompts``, ``--headline-only``.

    ``--quick``, ``--out``, ``--seeds`` and ``--no-plots`` are the harness's.
    """
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
