"""What an RL run is given: the static `RLConfig` and the traced `Arm`.

`RLConfig` fixes shapes and schedule (it keys the compiled programs); an
`Arm` holds everything that may differ between compared arms, as traced
values, so arms of one pytree structure share one compiled program
(`reward_design_studies.lm.rl`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import flax.struct
import jax
import numpy as np

import reward_design as rd

__all__ = ["ESTIMATORS", "LOSSES", "RLConfig", "Arm", "make_arm", "as_pytree_callable"]

ESTIMATORS: dict[str, Callable[..., jax.Array]] = {
    "grpo": rd.advantages.grpo,
    "dr_grpo": rd.advantages.dr_grpo,
    "rloo": rd.advantages.rloo,
}
LOSSES = ("token_mean", "seq_mean", "seq_sum")


@dataclasses.dataclass(frozen=True)
class RLConfig:
    """The static part of training (shapes and schedule; keys compiled programs).

    Args:
      num_prompts: P, prompts per step (the slab; an arm may use fewer).
      group_size: G, samples per prompt (the slab; an arm may use fewer).
      steps: RL steps (a multiple of ``eval_every``).
      eval_every: steps per compiled chunk; held-out evaluation between chunks.
      eval_samples: completions sampled per held-out prompt.
      eval_temperature: sampling temperature at evaluation (0: greedy).
      kl: compute the KL to the reference policy in the step (an extra
        forward pass); with False the step skips it (every arm's
        ``kl_coef`` must be 0) and the training curve's ``kl`` is 0.
      fast_compile: compile with `FAST_COMPILE`.
    """

    num_prompts: int = 32
    group_size: int = 8
    steps: int = 200
    eval_every: int = 50
    eval_samples: int = 4
    eval_temperature: float = 1.0
    kl: bool = True
    fast_compile: bool = False

    def __post_init__(self):
        for name in ("num_prompts", "steps", "eval_every", "eval_samples"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"RLConfig.{name} must be an int >= 1; got {v!r}.")
        if not isinstance(self.group_size, int) or self.group_size < 2:
            raise ValueError(f"RLConfig.group_size must be an int >= 2; got {self.group_size!r}.")
        if self.steps % self.eval_every:
            raise ValueError(
                f"RLConfig.steps ({self.steps}) must be a multiple of eval_every "
                f"({self.eval_every})."
            )
        if not self.eval_temperature >= 0:
            raise ValueError(
                f"RLConfig.eval_temperature must be >= 0; got {self.eval_temperature}."
            )


@flax.struct.dataclass
class _Static:
    """A plain callable as a static pytree node (part of the program's identity)."""

    fn: Callable[..., Any] = flax.struct.field(pytree_node=False)

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


def as_pytree_callable(obj: Any, name: str) -> Any:
    """``obj`` itself when it is a pytree callable, else wrapped as a static node."""
    if not callable(obj):
        raise TypeError(f"{name} must be callable; got {obj!r}.")
    leaves = jax.tree_util.tree_leaves(obj)
    return _Static(obj) if len(leaves) == 1 and leaves[0] is obj else obj


@flax.struct.dataclass
class Arm:
    """Everything that may differ between arms, as traced values (make with `make_arm`).

    Attributes:
      objective: ``objective(rollouts) -> rd.RewardOutput`` (pytree).
      judge: ``judge(batch, completions, key) -> Rollouts | (Rollouts, metrics)``.
      estimator: ``{name: 0/1}`` one-hot over `ESTIMATORS`.
      loss: ``{name: 0/1}`` one-hot over `LOSSES`.
      learning_rate, kl_coef, temperature, max_grad_norm: float32 scalars.
      num_prompts, group_size: int32 scalars, the P x G block in use
        (-1: the whole slab of `RLConfig`).
    """

    objective: Any
    judge: Any
    estimator: dict[str, Any]
    loss: dict[str, Any]
    learning_rate: Any
    kl_coef: Any
    temperature: Any
    max_grad_norm: Any
    num_prompts: Any
    group_size: Any


def make_arm(
    objective: Any,
    judge: Any,
    *,
    estimator: str = "dr_grpo",
    loss: str = "seq_sum",
    learning_rate: float = 1e-3,
    kl_coef: float = 0.0,
    temperature: float = 1.0,
    max_grad_norm: float = 1.0,
    num_prompts: int | None = None,
    group_size: int | None = None,
) -> Arm:
    """An `Arm` (see the module docstring for what each choice does).

    Args:
      objective: an `rd.compose` objective, an `rd.gates.Gated`, or any pytree
        callable ``Rollouts -> RewardOutput``; a plain function is static.
      judge: see `reward_design_studies.lm.judges`.
      estimator: one of `ESTIMATORS`.
      loss: one of `LOSSES`.
      learning_rate: Adam step size (> 0).
      kl_coef: weight of the KL to the reference policy (>= 0).
      temperature: sampling temperature in training (> 0); log-probabilities
        are those of ``logits / temperature``, as TRL computes them.
      max_grad_norm: global gradient-norm clip (> 0).
      num_prompts, group_size: P x G in use (default: `RLConfig`'s).
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {sorted(ESTIMATORS)}; got {estimator!r}.")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {list(LOSSES)}; got {loss!r}.")
    for name, value, low in (
        ("learning_rate", learning_rate, 0.0),
        ("temperature", temperature, 0.0),
        ("max_grad_norm", max_grad_norm, 0.0),
    ):
        if not (np.isfinite(value) and value > low):
            raise ValueError(f"{name} must be a finite number > 0; got {value!r}.")
    if not (np.isfinite(kl_coef) and kl_coef >= 0):
        raise ValueError(f"kl_coef must be a finite number >= 0; got {kl_coef!r}.")
    sizes = {}
    for name, value, low in (("num_prompts", num_prompts, 1), ("group_size", group_size, 2)):
        if value is not None and (not isinstance(value, int) or value < low):
            raise ValueError(f"{name} must be an int >= {low} or None; got {value!r}.")
        sizes[name] = np.int32(-1 if value is None else value)
    return Arm(
        objective=as_pytree_callable(objective, "objective"),
        judge=as_pytree_callable(judge, "judge"),
        estimator={n: np.float32(n == estimator) for n in ESTIMATORS},
        loss={n: np.float32(n == loss) for n in LOSSES},
        learning_rate=np.float32(learning_rate),
        kl_coef=np.float32(kl_coef),
        temperature=np.float32(temperature),
        max_grad_norm=np.float32(max_grad_norm),
        **sizes,
    )
