"""HALOs: prospect-theory value functions, KTO and the DPO family, in JAX.

Human-aware losses (HALOs) model the human as scoring an outcome relative to
a reference point with a loss-averse value function (Kahneman-Tversky).
KTO makes that explicit and needs only desirable/undesirable labels; DPO
and its variants are HALOs with the rejected completion as the reference
point. Every loss is elementwise (per example or per pair, no reduction),
jittable, and takes its hyperparameters as traced values.

What each argument accepts, and what an accepted input means: docs/halos.md,
"Input contract" (the shared rules: docs/concepts.md, "Input checks").

References:
  Ethayarajh et al., "KTO: Model Alignment as Prospect Theoretic
  Optimization", arXiv 2402.01306.
  Rafailov et al., "Direct Preference Optimization", arXiv 2305.18290.
  Tversky and Kahneman, "Advances in Prospect Theory: Cumulative
  Representation of Uncertainty" (1992).
"""

from reward_design.halos._dpo import DPO_LOSS_TYPES as DPO_LOSS_TYPES
from reward_design.halos._dpo import dpo_loss as dpo_loss
from reward_design.halos._halo import HALO as HALO
from reward_design.halos._halo import dpo_halo as dpo_halo
from reward_design.halos._halo import kahneman_tversky_halo as kahneman_tversky_halo
from reward_design.halos._halo import kto_halo as kto_halo
from reward_design.halos._kto import kto_kl_estimate as kto_kl_estimate
from reward_design.halos._kto import kto_loss as kto_loss
from reward_design.halos._kto_weights import KTO_WEIGHT_RATIO_RANGE as KTO_WEIGHT_RATIO_RANGE
from reward_design.halos._kto_weights import KTOWeightCheck as KTOWeightCheck
from reward_design.halos._kto_weights import check_kto_weights as check_kto_weights
from reward_design.halos._rewards import PreferenceRewards as PreferenceRewards
from reward_design.halos._rewards import implicit_reward as implicit_reward
from reward_design.halos._rewards import preference_rewards as preference_rewards
from reward_design.halos._sequence import SequenceLogps as SequenceLogps
from reward_design.halos._sequence import sequence_logps as sequence_logps
from reward_design.halos._sequence import token_logps as token_logps
from reward_design.halos._value import FunctionValue as FunctionValue
from reward_design.halos._value import KahnemanTverskyValue as KahnemanTverskyValue
from reward_design.halos._value import kahneman_tversky_value as kahneman_tversky_value
from reward_design.halos._value import probability_weighting as probability_weighting

__all__ = [
    "DPO_LOSS_TYPES",
    "FunctionValue",
    "HALO",
    "KTOWeightCheck",
    "KTO_WEIGHT_RATIO_RANGE",
    "KahnemanTverskyValue",
    "PreferenceRewards",
    "SequenceLogps",
    "check_kto_weights",
    "dpo_halo",
    "dpo_loss",
    "implicit_reward",
    "kahneman_tversky_halo",
    "kahneman_tversky_value",
    "kto_halo",
    "kto_kl_estimate",
    "kto_loss",
    "preference_rewards",
    "probability_weighting",
    "sequence_logps",
    "token_logps",
]
