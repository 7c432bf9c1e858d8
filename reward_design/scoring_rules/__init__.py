"""Scoring rules as losses, propriety checks and the confidence-reward audit.

Conventions (they hold for every function in this package):

* **Argument order: forecast first, outcome second** -- ``rule(probs,
  outcome)`` for the multiclass rules (``probs [..., C]`` probabilities,
  ``outcome [...]`` integer class index) and ``rule(p, y)`` for the binary
  rules (``p`` the probability of ``y = 1``, ``y`` in {0, 1}). Confidence
  rewards follow the same order: ``reward_fn(confidence, correct)``.
* **Orientation: scoring rules are losses** (negatively oriented, lower is
  better), one value per instance, no reduction. Reward terms built from them
  (`rd.terms.Brier`, `rd.terms.ScoringRuleTerm`) negate them.
* The rules are jittable and differentiable and never branch on values; check
  inputs once, eagerly, with `validate_forecast`.

Example:
  >>> import reward_design as rd
  >>> float(rd.scoring_rules.brier_binary(0.8, 1))  # (0.8 - 1)^2
  0.04...

What each argument accepts, and what an accepted input means: docs/scoring-rules.md,
"Input contract" (the shared rules: docs/concepts.md, "Input checks").
"""

from reward_design.scoring_rules._audit import audit_confidence_reward as audit_confidence_reward
from reward_design.scoring_rules._brier import brier as brier
from reward_design.scoring_rules._brier import brier_binary as brier_binary
from reward_design.scoring_rules._choice_audit import answer_choice_audit as answer_choice_audit
from reward_design.scoring_rules._estimator_audit import FixedPointTable as FixedPointTable
from reward_design.scoring_rules._estimator_audit import (
    estimator_fixed_points as estimator_fixed_points,
)
from reward_design.scoring_rules._forecast import validate_forecast as validate_forecast
from reward_design.scoring_rules._log import log as log
from reward_design.scoring_rules._log import log_binary as log_binary
from reward_design.scoring_rules._power import power as power
from reward_design.scoring_rules._propriety import ProprietyReport as ProprietyReport
from reward_design.scoring_rules._propriety import check_propriety as check_propriety
from reward_design.scoring_rules._ranked_probability import (
    ranked_probability as ranked_probability,
)
from reward_design.scoring_rules._report import AnswerChoiceReport as AnswerChoiceReport
from reward_design.scoring_rules._report import IncentiveReport as IncentiveReport
from reward_design.scoring_rules._spherical import pseudospherical as pseudospherical
from reward_design.scoring_rules._spherical import spherical as spherical
from reward_design.scoring_rules._spherical import spherical_binary as spherical_binary

__all__ = [
    "AnswerChoiceReport",
    "FixedPointTable",
    "IncentiveReport",
    "ProprietyReport",
    "answer_choice_audit",
    "audit_confidence_reward",
    "brier",
    "brier_binary",
    "check_propriety",
    "estimator_fixed_points",
    "log",
    "log_binary",
    "power",
    "pseudospherical",
    "ranked_probability",
    "spherical",
    "spherical_binary",
    "strategies",
    "validate_forecast",
]


def __getattr__(name: str):
    # `strategies` needs hypothesis (a test extra), so it is imported on first use.
    if name == "strategies":
        import importlib

        return importlib.import_module("reward_design.scoring_rules.strategies")
    raise AttributeError(f"module 'reward_design.scoring_rules' has no attribute {name!r}")
