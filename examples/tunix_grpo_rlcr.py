"""The RLCR objective (correctness + Brier) as tunix reward functions.

    python examples/tunix_grpo_rlcr.py          # scores a batch the way tunix calls us

tunix's ``GRPOLearner`` calls each reward function as
``fn(prompts, completions, **columns)`` with every other column of the batch
repeated ``num_generations`` times (docs/integrations.md, "tunix"). This script
builds the functions, calls them on a batch laid out that way (that part needs
only reward_design) and, when tunix is installed (``pip install
"reward-design[tunix]"``, google-tunix 0.1.7, in its own environment), builds the
``GRPOConfig`` we recommend. ``build_learner(rl_cluster)`` shows the one call
that remains: the ``rl_cluster`` (actor, reference and rollout models, mesh,
optimizer) is tunix's own setup and is not made here.

Recommended settings (docs/integrations.md, "Estimator conventions"): tunix's
``advantage_estimator="drgrpo"`` (no std division) or ``"rloo"``; its default
``"grpo"`` divides by the group std, which the audit (docs/scoring-rules.md)
finds miscalibrating with correctness + Brier.
"""

from __future__ import annotations

import numpy as np

import reward_design as rd

OBJECTIVE = rd.compose(correct=rd.terms.Correctness(), brier=rd.terms.Brier(weight=1.0))

# One function per term, so tunix logs rewards/correct, rewards/brier and rewards/rest.
REWARD_FNS = rd.integrations.tunix.component_reward_fns(
    OBJECTIVE, answer_key="answer", match=rd.integrations.numeric_match
)


def grpo_config(num_generations: int = 8):
    """tunix's GRPOConfig with the settings recommended above (needs tunix)."""
    from tunix.rl.grpo.grpo_learner import GRPOConfig

    return GRPOConfig(
        num_generations=num_generations,
        advantage_estimator="drgrpo",  # no per-group std division
        loss_agg_mode="sequence-mean-token-sum-norm",  # Dr. GRPO's length-unbiased loss
        beta=0.0,  # no KL term, so no reference model is needed
    )


def build_learner(rl_cluster, num_generations: int = 8):
    """The GRPOLearner for your ``rl_cluster`` (tunix's RLCluster)."""
    from tunix.rl.grpo.grpo_learner import GRPOLearner

    return GRPOLearner(
        rl_cluster=rl_cluster, algo_config=grpo_config(num_generations), reward_fns=REWARD_FNS
    )


def main() -> int:
    g = 4
    prompts = [rd.integrations.RLCR_SYSTEM_PROMPT + "\n\nWhat is 17 + 25?"] * g
    completions = [
        "<think>7 + 5 = 12, carry 1</think><answer>42</answer><confidence>0.9</confidence>",
        "<answer>41</answer><confidence>0.6</confidence>",  # wrong, unsure
        "<answer>42</answer>",  # no confidence: invalid (Brier needs one)
        "<answer>42</answer><confidence>1.5</confidence>",  # out of [0, 1]: invalid
    ]
    answers = np.repeat(np.array(["42"]), g)  # tunix repeats each batch column G times
    rows = {fn.__name__: fn(prompts, completions, answer=answers) for fn in REWARD_FNS}
    total = np.nansum(list(rows.values()), axis=0)  # tunix sums the functions
    for name, values in rows.items():
        print(f"rewards/{name:<8} {np.round(values, 3).tolist()}")
    print(f"sum (the reward) {np.round(total, 3).tolist()}")
    try:
        print(f"\n{grpo_config(g)}")
    except ImportError:
        print("\n(tunix is not installed: GRPOConfig not built)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
