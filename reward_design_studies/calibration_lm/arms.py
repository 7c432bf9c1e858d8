"""The LM calibration study's arms: one objective family, one judge, traced weights.

Every arm's reward is

    correct + brier * Brier + log * clipped log score + bonus * confidence
            + format_penalty * in_format

(`family_objective`, built with `rd.compose`; the format term makes an
out-of-format completion worse than any in-format one for every arm) and every arm's judge is
`OutcomeJudge`, whose ``denoise`` weight replaces the sampled outcome y by
the known success probability q(a | x) of the answer given. All weights are
traced pytree leaves, so the arms share one pytree structure and one
compiled training program (`reward_design_studies.lm.train` runs them side
by side). `arm_specs` lists the arms and the roles they play.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import flax.struct
import jax
import jax.numpy as jnp

import reward_design as rd

if TYPE_CHECKING:
    from .config import CalibrationLMConfig

__all__ = [
    "HEADLINE",
    "clipped_log_loss",
    "confidence_loss",
    "family_objective",
    "OutcomeJudge",
    "ArmSpec",
    "arm_specs",
    "reward_fn",
]

HEADLINE = ("binary", "brier", "log")


def clipped_log_loss(p: jax.Array, y: jax.Array, eps: jax.Array) -> jax.Array:
    """``rd.scoring_rules.log_binary(clip(p, eps, 1 - eps), y)`` (a loss; eps traced)."""
    return rd.scoring_rules.log_binary(jnp.clip(p, eps, 1.0 - eps), y)


def confidence_loss(p: jax.Array, y: jax.Array) -> jax.Array:
    """``-p``: an improper "rule" whose reward pays for stated confidence (the control)."""
    del y
    return -p


def family_objective(
    brier: float, log: float, bonus: float, log_eps: float = 0.01, format_penalty: float = 5.0
):
    """``correct + brier * Brier + log * clipped log score + bonus * confidence
    + format_penalty * in_format`` (``in_format`` is the judge's one-item rubric).

    Among in-format completions, with every weight 0 the total is the
    correctness reward plus a constant (the ``binary`` arms). The format term
    costs an out-of-format completion ``format_penalty``; 5 is more than the
    clipped log score's worst loss (-log 0.01 = 4.6), so breaking the format
    never escapes a penalty (added after the quick run: the ``log`` arm
    learned to break the format, which the parser reads as confidence 0).
    """
    return rd.compose(
        correct=rd.terms.Correctness(),
        brier=rd.terms.Brier(weight=float(brier)),
        log=rd.terms.ScoringRuleTerm(
            rule=clipped_log_loss, weight=float(log), params={"eps": float(log_eps)}
        ),
        bonus=rd.terms.ScoringRuleTerm(rule=confidence_loss, weight=float(bonus)),
        format=rd.terms.RubricScore(weight=float(format_penalty)),
    )


@flax.struct.dataclass
class OutcomeJudge:
    """The task's `AnswerJudge`, with the outcome optionally replaced by its probability.

    Rollouts: ``correct = (1 - denoise) * y + denoise * q`` with y the sampled
    outcome (in format and right) and q the known success probability of the
    answer given (0 when not in format); ``confidence`` the stated one.
    Metrics: the inner judge's (``format``, ``success_probability``,
    ``bayes_answer``) and ``outcome`` = y, the sampled outcome, whatever
    ``denoise`` is (every arm is evaluated on y).

    Args:
      inner: the task's `AnswerJudge` (static; ``probability_key`` set).
      denoise: weight of q in ``correct`` (traced): 0 for every arm but the
        denoised diagnostic (1).
    """

    inner: Any = flax.struct.field(pytree_node=False)
    denoise: Any = 0.0

    def __call__(self, batch, completions, key):
        rollouts, metrics = self.inner(batch, completions, key)
        y = jnp.asarray(rollouts.correct, jnp.float32)
        q = metrics["success_probability"]
        d = jnp.asarray(self.denoise, jnp.float32)
        metrics = {**metrics, "outcome": y}
        return rollouts.replace(correct=(1.0 - d) * y + d * q), metrics


@dataclasses.dataclass(frozen=True)
class ArmSpec:
    """One arm: its reward weights, whether its outcome is denoised, its estimator."""

    name: str
    brier: float
    log: float
    bonus: float
    denoise: float
    estimator: str
    roles: tuple[str, ...]

    def objective(self, config: CalibrationLMConfig):
        return family_objective(
            self.brier, self.log, self.bonus, config.log_eps, config.format_penalty
        )

    def judge(self, task: Any) -> OutcomeJudge:
        return OutcomeJudge(inner=task.judge(), denoise=float(self.denoise))

    def arm(self, config: CalibrationLMConfig, task: Any):
        """The lab's `Arm` of this spec."""
        from reward_design_studies.lm import make_arm

        return make_arm(
            self.objective(config),
            self.judge(task),
            estimator=self.estimator,
            loss=config.loss,
            learning_rate=config.learning_rate,
            max_grad_norm=config.max_grad_norm,
        )

    def to_dict(self, config: CalibrationLMConfig) -> dict[str, Any]:
        return {
            "objective": {
                "terms": "correct + brier * Brier + log * clipped log score + bonus * confidence "
                "+ format_penalty * in_format",
                "correct": 1.0,
                "brier": self.brier,
                "log": self.log,
                "log_eps": config.log_eps,
                "bonus": self.bonus,
                "format_penalty": config.format_penalty,
                "outcome": "q(a | x) (denoised)" if self.denoise else "sampled y",
            },
            "estimator": self.estimator,
            "group_size": config.group_size,
            "num_prompts": config.num_prompts,
            "loss": config.loss,
            "roles": list(self.roles),
        }


def arm_specs(config: CalibrationLMConfig) -> dict[str, ArmSpec]:
    """The pre-registered arms, by name.

    * headline (Dr. GRPO): ``binary``, ``brier``, ``log``;
    * std-scaled GRPO at the same G: ``binary_grpo``, ``brier_grpo``;
    * diagnostic: ``brier_denoised`` (the Brier arm with y replaced by q: the
      reward's outcome noise removed, same expected reward);
    * positive control: ``confidence_bonus`` (``correct + bonus * c``, whose
      optimum is confidence 1: can training make the policy overconfident?).
    """
    lw, bw = float(config.log_weight), float(config.bonus_weight)
    specs = [
        ArmSpec("binary", 0.0, 0.0, 0.0, 0.0, "dr_grpo", ("headline",)),
        ArmSpec("brier", 1.0, 0.0, 0.0, 0.0, "dr_grpo", ("headline",)),
        ArmSpec("log", 0.0, lw, 0.0, 0.0, "dr_grpo", ("headline",)),
        ArmSpec("binary_grpo", 0.0, 0.0, 0.0, 0.0, "grpo", ("std_scaled",)),
        ArmSpec("brier_grpo", 1.0, 0.0, 0.0, 0.0, "grpo", ("std_scaled",)),
        ArmSpec("brier_denoised", 1.0, 0.0, 0.0, 1.0, "dr_grpo", ("diagnostic",)),
        ArmSpec("confidence_bonus", 0.0, 0.0, bw, 0.0, "dr_grpo", ("control",)),
    ]
    return {s.name: s for s in specs}


def reward_fn(spec: ArmSpec, config: CalibrationLMConfig):
    """The arm's reward of an in-format completion as ``reward(confidence, correct) -> total``
    (for the audit; the format term, constant there, is left out).

    The denoised arm is audited as ``brier``: its expected reward in c,
    ``q - (c - q)^2``, differs from Brier's ``q - (c - q)^2 - q (1 - q)`` by a
    constant in c.
    """
    objective = spec.objective(config)

    def reward(confidence, correct):
        c = jnp.asarray(confidence, jnp.float32)
        y = jnp.asarray(correct, jnp.float32)
        c, y = jnp.broadcast_arrays(c, y)
        rollouts = rd.Rollouts(
            correct=y.reshape(-1, 1),
            confidence=c.reshape(-1, 1),
            rubric=jnp.ones((y.size, 1, 1), bool),
        )
        out = objective(rollouts)
        return (out.total - out.components["format"]).reshape(c.shape)

    return reward
