"""The calibration study's arms: one objective family, and which weights/estimators are trained.

Every arm's reward is ``correct + brier * Brier + log * clipped log score``
(`family_objective`), so all arms share one pytree structure and one compiled
training program; `arm_specs` lists the arms with the roles they play
(headline, Brier-weight sweep, estimator axis).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp

from reward_design import terms as _terms
from reward_design.compose import compose

from .training import PRNG_IMPL

if TYPE_CHECKING:
    from .config import CalibrationConfig

__all__ = ["clipped_log_binary", "family_objective", "ArmSpec", "arm_name", "arm_specs"]


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
                "seeds": list(config.seed_list),
                "policy": _describe(policy if policy is not None else config.policy()),
                "task": _describe(task if task is not None else config.task()),
                "prng": PRNG_IMPL,
            },
        }


def _describe(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"type": type(obj).__name__, **dataclasses.asdict(obj)}
    return repr(obj)


def arm_name(config: CalibrationConfig, *, weight: float | None = None, estimator=None, group=None):
    """The name of a sweep arm (``weight``) or an estimator-axis arm (``estimator``, ``group``).

    The arm that coincides with the headline ``brier`` arm (weight 1; the
    headline estimator at the headline ``P`` and ``G``) is called ``brier``.
    """
    if weight is not None:
        return "brier" if weight == 1.0 else f"brier_w{weight:g}"
    headline = (
        estimator == config.estimator
        and group == config.group_size
        and config.rollouts_per_step // group == config.num_prompts
    )
    return "brier" if headline else f"brier_{estimator}_g{group}"


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
        add(arm_name(config, weight=w), float(w), 0.0, est, g, p, "sweep")
    for e in config.estimators:
        for gs in config.group_sizes:
            name = arm_name(config, estimator=e, group=gs)
            add(name, 1.0, 0.0, e, gs, config.rollouts_per_step // gs, "estimators")
    return specs
