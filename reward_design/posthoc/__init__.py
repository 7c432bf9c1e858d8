"""Post-hoc choosing: cost matrices, Bayes decisions, thresholds, calibrators, proxy-tuning.

Train with the ordinary symmetric loss, then choose by the utility: turn
(calibrated) probabilities into minimum-expected-cost decisions. Cost
convention everywhere: ``cost[i, j]`` = cost of deciding j when the truth is
i (binary: ``[[c_tn, c_fp], [c_fn, c_tp]]``). See docs/posthoc.md.

What each argument accepts, and what an accepted input means: docs/posthoc.md,
"Input contract" (the shared rules: docs/concepts.md, "Input checks").
"""

from reward_design.posthoc._cost import binary_cost_matrix as binary_cost_matrix
from reward_design.posthoc._cost import (
    cost_matrix_from_class_costs as cost_matrix_from_class_costs,
)
from reward_design.posthoc._cost import cost_matrix_from_gain as cost_matrix_from_gain
from reward_design.posthoc._cost import validate_cost_matrix as validate_cost_matrix
from reward_design.posthoc._cost import with_reject_option as with_reject_option
from reward_design.posthoc._decisions import bayes_decision as bayes_decision
from reward_design.posthoc._decisions import bayes_risk as bayes_risk
from reward_design.posthoc._decisions import expected_cost as expected_cost
from reward_design.posthoc._decisions import realized_cost as realized_cost
from reward_design.posthoc._decisions import utility as utility
from reward_design.posthoc._estimator import CostSensitiveClassifier as CostSensitiveClassifier
from reward_design.posthoc._isotonic import IsotonicCalibration as IsotonicCalibration
from reward_design.posthoc._isotonic import pool_adjacent_violators as pool_adjacent_violators
from reward_design.posthoc._platt import PlattScaling as PlattScaling
from reward_design.posthoc._proxy import proxy_tune as proxy_tune
from reward_design.posthoc._temperature import TemperatureScaling as TemperatureScaling
from reward_design.posthoc._threshold import binary_threshold as binary_threshold
from reward_design.posthoc._tuning import TunedThreshold as TunedThreshold
from reward_design.posthoc._tuning import tune_threshold as tune_threshold
from reward_design.posthoc._vector import VectorScaling as VectorScaling
from reward_design.posthoc._weighted_loss import (
    utility_weighted_cross_entropy as utility_weighted_cross_entropy,
)
from reward_design.posthoc._weighted_loss import (
    utility_weighted_cross_entropy_per_example as utility_weighted_cross_entropy_per_example,
)
from reward_design.posthoc._weighted_loss import utility_weights as utility_weights

__all__ = [
    "CostSensitiveClassifier",
    "IsotonicCalibration",
    "PlattScaling",
    "TemperatureScaling",
    "TunedThreshold",
    "VectorScaling",
    "bayes_decision",
    "bayes_risk",
    "binary_cost_matrix",
    "binary_threshold",
    "cost_matrix_from_class_costs",
    "cost_matrix_from_gain",
    "expected_cost",
    "pool_adjacent_violators",
    "proxy_tune",
    "realized_cost",
    "tune_threshold",
    "utility",
    "utility_weighted_cross_entropy",
    "utility_weighted_cross_entropy_per_example",
    "utility_weights",
    "validate_cost_matrix",
    "with_reject_option",
]
