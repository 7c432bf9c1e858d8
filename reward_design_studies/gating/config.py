"""The gating study's configuration: the headline run and the quick run.

The full configuration was fixed before the comparison was run
(docs/studies/gating.md, "Design"); ``quick`` changes only the number of
seeds, the number of steps, the noise sweep and the XLA compile options.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, ClassVar

from reward_design_studies.harness.config import StudyConfig, check_int
from reward_design_studies.harness.study import config_with_steps_from_args

__all__ = ["ARMS", "GatingConfig", "arm_name", "add_arguments", "config_from_args"]

ARMS = ("dense", "gated_floor", "gated_drop")

_POSITIVE_INTS = (
    "steps",
    "num_prompts",
    "group_size",
    "hidden",
    "eval_samples",
    "curve_every",
    "chunk",
)


def arm_name(arm: str, noise: float) -> str:
    """The name of ``arm`` trained under judge noise ``noise``: ``arm`` or ``arm@e=<e>``."""
    return arm if noise == 0 else f"{arm}@e={noise:g}"


@dataclasses.dataclass(frozen=True)
class GatingConfig(StudyConfig):
    """Configuration of the gating study (defaults: the committed full run).

    Attributes:
      steps: GRPO steps per arm.
      noise_levels: judge noise levels e (probability a check is flipped), in [0, 0.5].
      arms: which of `ARMS` to train.
      num_prompts, group_size: P prompts x G samples per GRPO step.
      learning_rate, max_grad_norm, kl_coef: the GRPO step (Adam, global-norm
        clip, KL coefficient beta).
      hidden: GRU units of the policy.
      warmup_steps, warmup_learning_rate, corruption: the supervised warm start
        (Adam steps, learning rate, probability a demonstration token is replaced).
      eval_samples: responses per prompt for the final metrics.
      floor: the gated arms' floor for rejected rollouts.
      curve_every: steps per point of the training curves.
      chunk: GRPO steps per jitted call (progress granularity; no effect on numbers).
      fast_compile: cheaper XLA compile options (changes numbers at rounding level).
    """

    QUICK: ClassVar[dict[str, Any]] = {
        "seeds": 3,
        "steps": 150,
        "noise_levels": (0.0, 0.2),
        "fast_compile": True,
    }

    seeds: int = 5
    steps: int = 400
    noise_levels: tuple[float, ...] = (0.0, 0.1, 0.2)
    arms: tuple[str, ...] = ARMS
    num_prompts: int = 32
    group_size: int = 8
    learning_rate: float = 1e-3
    max_grad_norm: float = 1.0
    kl_coef: float = 0.04
    hidden: int = 64
    warmup_steps: int = 200
    warmup_learning_rate: float = 5e-3
    corruption: float = 0.5
    eval_samples: int = 16
    floor: float = 0.0
    curve_every: int = 10
    chunk: int = 25
    fast_compile: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in _POSITIVE_INTS:
            check_int(getattr(self, name), name)
        check_int(self.warmup_steps, "warmup_steps", minimum=0)
        if self.group_size < 2:
            raise ValueError(f"group_size must be >= 2; got {self.group_size}.")
        if isinstance(self.noise_levels, str):
            raise TypeError(
                f"noise_levels must be a sequence of floats; got {self.noise_levels!r}."
            )
        levels = tuple(float(e) for e in self.noise_levels)
        if not levels or any(not 0.0 <= e <= 0.5 for e in levels):
            raise ValueError(f"noise_levels must be non-empty, each in [0, 0.5]; got {levels}.")
        if isinstance(self.arms, str):
            raise TypeError(f"arms must be a sequence of arm names; got {self.arms!r}.")
        arms = tuple(self.arms)
        bad = [a for a in arms if a not in ARMS]
        if bad or not arms:
            raise ValueError(f"arms must be a non-empty subset of {list(ARMS)}; got {list(arms)}.")
        object.__setattr__(self, "noise_levels", levels)
        object.__setattr__(self, "arms", arms)

    @property
    def run_names(self) -> list[str]:
        """Every trained arm under every noise level, in the order of the results."""
        return [arm_name(arm, e) for arm in self.arms for e in self.noise_levels]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The gating study's own option of ``reward-design reproduce gating``: ``--steps``."""
    parser.add_argument("--steps", type=int, default=None, help="GRPO steps per arm (overrides)")


def config_from_args(args: argparse.Namespace) -> GatingConfig:
    """``--quick``, ``--seeds`` and ``--steps`` as a `GatingConfig`."""
    return config_with_steps_from_args(GatingConfig, args)
