"""Study: RLCR's confidence rewards on a small Transformer LM (``reproduce calibration-lm``).

The calibration study (`reward_design_studies.calibration`) trains a
factored policy: an answer head and a confidence head on a shared trunk.
Its binary arm did not become overconfident, and an outside review noted
what it lacks compared with an LLM: *sequencing*. Here one decoder-only
Transformer (the LM lab, `reward_design_studies.lm`) writes

    <reasoning tokens> ANSWER a CONF c <eos>

so the stated confidence is a token generated after, and conditioned on,
the answer the same network just wrote. Questions are the lab's
`MixtureTask` (Gaussian-mixture questions as tokens; the success
probability q(a | x) of every answer is known exactly), held-out questions
are never trained on, and every arm of a seed starts from the same
warm-started parameters and random stream (one compiled program for all
arms: their reward weights are traced).

Arms (`arms.arm_specs`): ``binary``, ``brier``, ``log`` with Dr. GRPO (the
headline); ``binary_grpo``, ``brier_grpo`` with std-scaled GRPO at the same
G; ``brier_denoised`` (outcome y replaced by q: the reward's outcome noise
removed) and ``confidence_bonus`` (a positive control whose optimum is
confidence 1). Metrics (`metrics.METRICS`) and the residual-ECE diagnostics
(`metrics.DIAGNOSTICS`: estimator floor, head collapse, optimisation) are
measured on held-out completions; `rd.scoring_rules.audit_confidence_reward`'s
prediction is reported beside each arm. The design was pre-registered in
docs/studies/calibration-lm.md before the first comparing run.

Run it with ``reward-design reproduce calibration-lm [--quick] [--out DIR]
[--seeds N] [--steps N]`` or ``run_study(CalibrationLMConfig.quick())``.

References:
  Damani et al., "Beyond Binary Rewards: Training LMs to Reason About Their
  Uncertainty" (RLCR), arXiv 2507.16806.
  Liu et al., "Understanding R1-Zero-Like Training: A Critical Perspective"
  (Dr. GRPO), arXiv 2503.20783.
"""

from __future__ import annotations

from reward_design_studies.harness.study import lazy_exports

from .config import CalibrationLMConfig
from .study import DESCRIPTION, STUDY

__all__ = [
    "STUDY",
    "DESCRIPTION",
    "CalibrationLMConfig",
    "run_study",
    "arm_specs",
    "family_objective",
    "OutcomeJudge",
    "METRICS",
    "DIAGNOSTICS",
    "make_plots",
]

_LAZY = {
    "run_study": "runner",
    "arm_specs": "arms",
    "family_objective": "arms",
    "OutcomeJudge": "arms",
    "METRICS": "metrics",
    "DIAGNOSTICS": "metrics",
    "make_plots": "plots",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
