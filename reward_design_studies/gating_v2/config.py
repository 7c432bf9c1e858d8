"""The gating study's configuration (second version, on the LM lab).

The defaults are the pre-registered full run (docs/studies/gating.md,
"Pre-registered design"); ``quick`` changes only the seeds, the RL and
warm-start steps, the evaluation spacing and the samples per held-out prompt.
``judge_noise`` adds the judge-noise axis ("Judge-noise axis (pre-registered)"):
every arm is trained at every level, named `arm_name` (``<arm>@e=<e>``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from reward_design_studies.harness.config import StudyConfig, check_int

__all__ = ["ARMS", "GatingV2Config", "arm_name", "base_arm"]

ARMS = ("dense", "gated_floor", "gated_drop")


def arm_name(arm: str, noise: float) -> str:
    """The name of ``arm`` trained under judge noise ``noise``: ``arm`` or ``arm@e=<e>``
    (the first version's naming)."""
    return arm if noise == 0 else f"{arm}@e={noise:g}"


def base_arm(name: str) -> str:
    """The arm of a run name: ``"dense@e=0.2"`` -> ``"dense"``."""
    return name.split("@", 1)[0]


@dataclasses.dataclass(frozen=True)
class GatingV2Config(StudyConfig):
    """Configuration of the gating study on the gameable rubric.

    Attributes:
      steps: GRPO steps per arm.
      eval_every: steps between held-out evaluations (the curves).
      arms: which of `ARMS` to train.
      num_prompts, group_size: P training prompts x G samples per step.
      learning_rate, max_grad_norm: the GRPO step (Adam, global-norm clip; no KL term).
      estimator: advantage estimator of the LM lab (``"grpo"``, ``"dr_grpo"``, ``"rloo"``).
      width, depth, heads: the Transformer policy.
      warm_steps, warm_learning_rate, warm_batch: the supervised warm start.
      style_probs: reference styles of the warm start (`task.STYLES`).
      eval_samples: completions per held-out prompt at each evaluation (all
        250 held-out prompts are evaluated).
      floor: the gated arms' reward for rejected rollouts.
      fast_compile: cheaper XLA compile options (on in both modes: compile time
        dominates short runs on CPU).
      judge_noise: judge-noise levels e in [0, 0.5] (each check of each rollout
        flipped with probability e in the rubric the objective sees). Empty (the
        default): the noise-free study, unchanged. Otherwise every arm runs at
        every level, as `run_names`.
    """

    QUICK: ClassVar[dict[str, Any]] = {
        "seeds": 2,
        "steps": 40,
        "eval_every": 20,
        "warm_steps": 800,
        "eval_samples": 1,
    }

    seeds: int = 5
    steps: int = 150
    eval_every: int = 25
    arms: tuple[str, ...] = ARMS
    num_prompts: int = 16
    group_size: int = 8
    learning_rate: float = 3e-3
    max_grad_norm: float = 1.0
    estimator: str = "grpo"
    width: int = 48
    depth: int = 2
    heads: int = 2
    warm_steps: int = 1200
    warm_learning_rate: float = 3e-3
    warm_batch: int = 64
    style_probs: tuple[float, ...] = (0.5, 0.2, 0.2, 0.1)
    eval_samples: int = 2
    floor: float = 0.0
    fast_compile: bool = True
    judge_noise: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("steps", "eval_every", "num_prompts", "group_size", "width", "depth"):
            check_int(getattr(self, name), name)
        for name in ("heads", "warm_batch", "eval_samples"):
            check_int(getattr(self, name), name)
        check_int(self.warm_steps, "warm_steps", minimum=0)
        if self.steps % self.eval_every:
            raise ValueError(
                f"steps ({self.steps}) must be a multiple of eval_every ({self.eval_every})."
            )
        if isinstance(self.arms, str):
            raise TypeError(f"arms must be a sequence of arm names; got {self.arms!r}.")
        arms = tuple(self.arms)
        if not arms or any(a not in ARMS for a in arms):
            raise ValueError(f"arms must be a non-empty subset of {list(ARMS)}; got {list(arms)}.")
        object.__setattr__(self, "arms", arms)
        object.__setattr__(self, "style_probs", tuple(float(p) for p in self.style_probs))
        if isinstance(self.judge_noise, (str, int, float)):
            raise TypeError(f"judge_noise must be a sequence of floats; got {self.judge_noise!r}.")
        levels = tuple(float(e) for e in self.judge_noise)
        if any(not 0.0 <= e <= 0.5 for e in levels) or len(set(levels)) != len(levels):
            raise ValueError(
                f"judge_noise levels must be distinct, each in [0, 0.5]; got {levels}."
            )
        object.__setattr__(self, "judge_noise", levels)

    @property
    def run_names(self) -> list[str]:
        """Every trained arm (at every judge-noise level), in the order of the results."""
        if not self.judge_noise:
            return list(self.arms)
        return [arm_name(arm, e) for e in self.judge_noise for arm in self.arms]
