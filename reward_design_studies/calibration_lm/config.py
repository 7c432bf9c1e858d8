"""The LM calibration study's configuration: `CalibrationLMConfig` (full = the headline run)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

from reward_design_studies.harness.config import StudyConfig, check_int
from reward_design_studies.harness.study import config_with_steps_from_args

if TYPE_CHECKING:
    from reward_design_studies.lm import MixtureTask, Policy

__all__ = ["CalibrationLMConfig", "add_arguments"]


@dataclasses.dataclass(frozen=True)
class CalibrationLMConfig(StudyConfig):
    """The study's configuration; the defaults are the pre-registered headline run.

    ``CalibrationLMConfig.full()`` is the headline (5 seeds);
    ``CalibrationLMConfig.quick()`` has 2 seeds, fewer steps, fewer held-out
    prompts and a cheaper audit (same arms).

    Args:
      steps: RL steps per arm (a multiple of ``4 * eval_every``: the
        optimisation diagnostic compares the last evaluation with the one at
        three quarters of training).
      eval_every: steps between held-out evaluations.
      warm_start_steps, warm_start_batch, warm_start_learning_rate: the
        supervised warm start on the task's reference completions (shared by
        every arm of a seed).
      num_prompts, group_size: P prompts x G completions per RL step.
      learning_rate: Adam step size of RL.
      max_grad_norm: global gradient-norm clip of RL.
      loss: token aggregation of the policy-gradient loss (every arm).
      eval_prompts: held-out prompts (drawn once, with repeats, from the
        held-out questions in proportion to p(x)); ``eval_samples``
        completions each.
      num_bins: bins of ECE and the reliability diagrams.
      log_weight, log_eps: the ``log`` arm's weight and confidence clip.
      bonus_weight: the positive control's reward per unit of stated confidence.
      format_penalty: reward of being in format (every arm; added after the quick run,
        see docs/studies/calibration-lm.md).
      floor_draws: Bernoulli redraws of the ECE floor (diagnostic).
      audit_exploration, audit_samples: `rd.scoring_rules.audit_confidence_reward`'s
        ``exploration`` and ``num_samples``.
      num_classes, dim, levels, noise, confidence_levels, echo, slack,
        heldout_fraction, reference_answer, reference_confidence, task_seed:
        the task (`reward_design_studies.lm.MixtureTask`).
      width, depth, heads, mlp_ratio: the Transformer policy.
      fast_compile: compile with the lab's ``FAST_COMPILE`` options (tests).
    """

    QUICK: ClassVar[dict[str, Any]] = {
        "seeds": 2,
        "steps": 80,
        "eval_every": 20,
        "warm_start_steps": 200,
        "eval_prompts": 128,
        "audit_samples": 256,
        "floor_draws": 5,
    }

    steps: int = 400
    eval_every: int = 50
    warm_start_steps: int = 300
    warm_start_batch: int = 64
    warm_start_learning_rate: float = 3e-3
    num_prompts: int = 16
    group_size: int = 8
    learning_rate: float = 1e-3
    max_grad_norm: float = 1.0
    loss: str = "seq_sum"
    eval_prompts: int = 256
    eval_samples: int = 4
    num_bins: int = 15
    log_weight: float = 1.0
    log_eps: float = 0.01
    bonus_weight: float = 0.5
    format_penalty: float = 5.0
    floor_draws: int = 20
    audit_exploration: float = 0.25
    audit_samples: int = 1024
    num_classes: int = 4
    dim: int = 3
    levels: int = 8
    noise: float = 2.0
    confidence_levels: int = 11
    echo: bool = True
    slack: int = 1
    heldout_fraction: float = 0.25
    reference_answer: str = "label"
    reference_confidence: str = "random"
    task_seed: int = 0
    width: int = 32
    depth: int = 2
    heads: int = 2
    mlp_ratio: int = 2
    fast_compile: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in (
            "steps",
            "eval_every",
            "num_prompts",
            "eval_prompts",
            "eval_samples",
            "num_bins",
            "floor_draws",
            "audit_samples",
        ):
            check_int(getattr(self, name), name)
        check_int(self.warm_start_steps, "warm_start_steps", minimum=0)
        check_int(self.group_size, "group_size", minimum=2)
        if self.steps % (4 * self.eval_every):
            raise ValueError(
                f"steps must be a multiple of 4 * eval_every = {4 * self.eval_every}; "
                f"got {self.steps}."
            )
        if not 0.0 < self.log_eps < 0.5:
            raise ValueError(f"log_eps must be in (0, 0.5); got {self.log_eps}.")
        if self.loss not in ("token_mean", "seq_mean", "seq_sum"):
            raise ValueError(
                f"loss must be 'token_mean', 'seq_mean' or 'seq_sum'; got {self.loss!r}."
            )

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> CalibrationLMConfig:
        """The configuration of ``reward-design reproduce calibration-lm`` (see `add_arguments`)."""
        return config_with_steps_from_args(cls, args)

    def task(self) -> MixtureTask:
        """The configured task."""
        from reward_design_studies.lm import MixtureTask

        return self.part(MixtureTask)

    def policy(self, task: Any = None) -> Policy:
        """The configured Transformer policy over ``task``'s vocabulary."""
        from reward_design_studies.lm import Policy, TransformerConfig

        task = self.task() if task is None else task
        return Policy(
            TransformerConfig(
                vocab_size=task.tokenizer.size,
                max_len=task.prompt_len + task.completion_len,
                width=self.width,
                depth=self.depth,
                heads=self.heads,
                mlp_ratio=self.mlp_ratio,
            )
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The study's own option ``--steps`` (``--quick``, ``--out``, ``--seeds``,
    ``--no-plots`` are the harness's)."""
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="RL steps per arm, a multiple of 4 * eval_every (default 400, 80 with --quick)",
    )
