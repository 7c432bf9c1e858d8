"""Study: binary vs Brier vs log confidence rewards under group-relative policy gradients.

RLCR (Damani et al., arXiv 2507.16806) trains LLMs with GRPO to answer and to
state a confidence. With the binary correctness reward (RLVR) the stated
confidence is unconstrained (every confidence is optimal) and their models end
up overconfident (here it random-walks instead: docs/studies/calibration.md);
correctness + Brier makes calibrated confidence the unique optimum at no cost
in accuracy; correctness + log score is proper but unbounded, so it is not
guaranteed to preserve accuracy. This study plays these incentives out in an
actual policy-gradient loop built from the library's components:

* questions with *known* uncertainty: a 10-class Gaussian mixture
  (`GaussianMixtureTask`) where the probability ``q(a | x)`` that answer a is
  right is known exactly, and the Bayes accuracy is about 0.57;
* a Flax policy that samples an answer and then one of 21 verbalised
  confidence levels (0.00, 0.05, ..., 1.00), warm-started on the answers
  (the SFT stage) with its confidence head *overconfident* (mean stated
  confidence 0.92, like an RLVR-trained LLM);
* rewards composed with `rd.compose` from `rd.terms.Correctness`,
  `rd.terms.Brier` and `rd.terms.ScoringRuleTerm(rd.scoring_rules.log_binary)`;
* advantages from `rd.advantages` (``dr_grpo`` for the headline, as RLCR's
  ``scale_rewards=False``; ``grpo`` with per-group std scaling and ``rloo``
  on the second axis);
* metrics from `rd.calibration`; the incentive audit
  `rd.scoring_rules.audit_confidence_reward` printed beside each arm.

Every arm of a seed starts from the same parameters and sees the same stream
of random keys; arms differ only in the objective (and, on the estimator
axis, in the advantage estimator and the group size at a fixed budget of
``P x G`` rollouts per step). The headline configuration is
``CalibrationConfig.full()``; it was fixed before the comparison was run.

Run it with ``reward-design reproduce calibration [--quick] [--out DIR] [--seeds N]``
or from Python with `run_study(config)`
(``CalibrationConfig.full()`` or ``.quick()``); the results are described in
docs/studies/calibration.md.

References:
  Damani et al., "Beyond Binary Rewards: Training LMs to Reason About Their
  Uncertainty" (RLCR), arXiv 2507.16806.
  Liu et al., "Understanding R1-Zero-Like Training: A Critical Perspective"
  (Dr. GRPO), arXiv 2503.20783.
"""

from __future__ import annotations

from reward_design_studies.harness.study import lazy_exports

from .config import CalibrationConfig
from .study import DESCRIPTION, STUDY

__all__ = [
    "STUDY",
    "DESCRIPTION",
    "CalibrationConfig",
    "run_study",
    "METRICS",
    "ArmSpec",
    "arm_specs",
    "family_objective",
    "clipped_log_binary",
    "GaussianMixtureTask",
    "Questions",
    "ConfidencePolicy",
    "FactoredConfidencePolicy",
    "FactoredActions",
    "ESTIMATORS",
    "TrainSettings",
    "ArmRun",
    "chunk_program",
    "train_arms",
    "warm_start",
    "make_plots",
]

# Public names whose modules import JAX (or matplotlib), loaded on first use so that
# importing the package (the CLI does, to build its parser) stays light.
_LAZY = {
    "run_study": "runner",
    "METRICS": "metrics",
    "ArmSpec": "arms",
    "arm_specs": "arms",
    "family_objective": "arms",
    "clipped_log_binary": "arms",
    "GaussianMixtureTask": "environment",
    "Questions": "environment",
    "ConfidencePolicy": "policy",
    "FactoredConfidencePolicy": "policy",
    "FactoredActions": "policy",
    "ESTIMATORS": "program",
    "TrainSettings": "program",
    "chunk_program": "program",
    "ArmRun": "training",
    "train_arms": "training",
    "warm_start": "training",
    "make_plots": "plots",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
