"""The loss-aversion study's configuration: `LossAversionConfig` (full = the committed run).

The defaults were fixed in docs/studies/loss-aversion.md ("Pre-registered
design") before the first run that compared arms; ``quick`` changes only the
number of seeds, the data sizes and the number of training steps.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, ClassVar

from reward_design_studies.harness.config import StudyConfig, check_int
from reward_design_studies.harness.study import config_with_steps_from_args

__all__ = ["LossAversionConfig", "add_arguments", "config_from_args", "kto_arm"]

_POSITIVE_INTS = (
    "num_classes",
    "dim",
    "teacher_hidden",
    "hidden",
    "train_prompts",
    "val_prompts",
    "test_prompts",
    "probe_prompts",
    "sft_examples",
    "sft_steps",
    "steps",
    "batch_size",
    "approval_steps",
)


def kto_arm(lam: float) -> str:
    """The arm name of KTO with ``lambda_U / lambda_D = lam``: ``kto_1``, ``kto_2.25``, ..."""
    return f"kto_{lam:g}"


@dataclasses.dataclass(frozen=True)
class LossAversionConfig(StudyConfig):
    """The study's configuration (defaults: the committed full run).

    Task (`environment.TeacherTask`): ``x ~ N(0, I_dim)``, the full label
    ``y ~ softmax(teacher_scale * T(x))`` with ``T`` a random tanh network
    (``teacher_hidden`` units, drawn from ``task_seed``); the posterior
    ``q(x)`` is known exactly.

    Rater (`environment.Rater`): a plain answer is approved iff it is right; a
    persuasive answer is approved with probability ``1 - style_cost`` when
    right and ``fool_rate`` when wrong; an abstention with probability
    ``abstain_approval``. Its true utility: +1 right, ``-lambda_h`` wrong, 0
    abstain (style does not change it).

    Attributes:
      lambdas: the KTO sweep ``lambda_U / lambda_D`` (``lambda_D = 1``); the
        rater's loss ``lambda_h`` of the headline comparison is the largest.
      beta: KTO's and DPO's temperature.
      train_prompts, val_prompts: prompts with two feedback-labelled
        responses each from the reference policy (the arms train on the
        first; the post-hoc arm fits its calibrator on the second).
      test_prompts, probe_prompts: evaluation prompts (exact expectations
        over the known posterior) and the probe's training prompts.
      sft_examples, sft_steps, sft_learning_rate: the supervised warm start.
      ref_abstain, ref_persuasive: the reference policy's mean abstention
        rate and its share of persuasive answers.
      steps, batch_size, learning_rate: Adam on the preference losses.
      approval_steps: steps of the environment check's approval maximiser.
      num_bins: ECE bins.
    """

    QUICK: ClassVar[dict[str, Any]] = {
        "seeds": 3,
        "train_prompts": 2000,
        "test_prompts": 2000,
        "probe_prompts": 1000,
        "steps": 600,
        "approval_steps": 300,
    }

    seeds: int = 20
    lambdas: tuple[float, ...] = (1.0, 2.25, 5.0, 10.0)
    beta: float = 0.1
    num_classes: int = 8
    dim: int = 16
    teacher_hidden: int = 32
    teacher_scale: float = 6.0
    task_seed: int = 0
    fool_rate: float = 0.4
    style_cost: float = 0.2
    abstain_approval: float = 0.5
    hidden: int = 64
    train_prompts: int = 8000
    val_prompts: int = 1000
    test_prompts: int = 4000
    probe_prompts: int = 2000
    sft_examples: int = 1000
    sft_steps: int = 300
    sft_learning_rate: float = 3e-3
    ref_abstain: float = 0.2
    ref_persuasive: float = 0.5
    steps: int = 2000
    batch_size: int = 256
    learning_rate: float = 1e-3
    approval_steps: int = 600
    num_bins: int = 15

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in _POSITIVE_INTS:
            check_int(getattr(self, name), name)
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2; got {self.num_classes}.")
        if isinstance(self.lambdas, str):
            raise TypeError(f"lambdas must be a sequence of floats; got {self.lambdas!r}.")
        lams = tuple(float(v) for v in self.lambdas)
        if not lams or any(v <= 0 for v in lams) or 1.0 not in lams:
            raise ValueError(f"lambdas must be positive and include 1.0 (symmetric); got {lams}.")
        object.__setattr__(self, "lambdas", tuple(sorted(set(lams))))
        for name in ("fool_rate", "style_cost", "abstain_approval"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]; got {value!r}.")
        for name in ("ref_abstain", "ref_persuasive"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ValueError(f"{name} must be in (0, 1); got {value!r}.")
        for name in ("beta", "teacher_scale", "learning_rate", "sft_learning_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0; got {getattr(self, name)!r}.")

    @property
    def headline_lambda(self) -> float:
        """The rater's loss lambda_h of the headline comparison: the largest of `lambdas`."""
        return max(self.lambdas)

    @property
    def kto_arms(self) -> list[str]:
        """The KTO arm names, in the order of `lambdas`."""
        return [kto_arm(v) for v in self.lambdas]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The study's own option of ``reward-design reproduce loss-aversion``: ``--steps``."""
    parser.add_argument("--steps", type=int, default=None, help="training steps per arm")


def config_from_args(args: argparse.Namespace) -> LossAversionConfig:
    """``--quick``, ``--seeds`` and ``--steps`` as a `LossAversionConfig`."""
    return config_with_steps_from_args(LossAversionConfig, args)
