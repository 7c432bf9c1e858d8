"""Audit your own confidence reward before you train with it.

    python examples/audit_your_reward.py                 # three rewards, every estimator
    python examples/audit_your_reward.py --estimators none,dr_grpo
    reward-design audit examples/audit_your_reward.py:confidence_bonus --estimator grpo

A reward that mixes correctness with a confidence term is written as
``reward(confidence, correct)``, elementwise, in jax.numpy. The audit asks two
questions (docs/scoring-rules.md): is stating your true success probability q
the best confidence (*calibrated*), and does a more likely correct answer always
pay more (*accuracy-preserving*)? First under the expected reward, then under
the advantage estimator the trainer uses (GRPO with std scaling, TRL's default;
Dr. GRPO; RLOO), because the trainer follows advantages, not the expected reward.
"""

from __future__ import annotations

import argparse
import time

import reward_design as rd


def rlcr(confidence, correct):
    """Correctness + Brier (RLCR): calibrated and accuracy-preserving in expectation."""
    return correct - (confidence - correct) ** 2


def confidence_bonus(confidence, correct):
    """A tempting hand-made reward: +0.5 c when right, -0.5 c when wrong.

    Linear in c, so the best confidence is 0 or 1, never q: not calibrated.
    """
    return correct + 0.5 * confidence * (2.0 * correct - 1.0)


def heavy_brier(confidence, correct):
    """Correctness + 2 x Brier: still calibrated, but a sure miss (q near 0) beats a
    likely-wrong guess, V(q) = q - 2 q (1 - q) falls on [0, 1/4]: not accuracy-preserving
    (the calibration study's Brier weights above 1 cost accuracy)."""
    return correct - 2.0 * rd.scoring_rules.brier_binary(confidence, correct)


REWARDS = {"rlcr": rlcr, "confidence_bonus": confidence_bonus, "heavy_brier": heavy_brier}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rewards", default=",".join(REWARDS), help="comma-separated names")
    parser.add_argument(
        "--estimators", default="none,grpo,dr_grpo,rloo", help="none = the expected reward"
    )
    parser.add_argument("--group-size", type=int, default=8, help="G for the estimator audits")
    args = parser.parse_args(argv)

    for name in args.rewards.split(","):
        for estimator in args.estimators.split(","):
            start = time.perf_counter()
            report = rd.scoring_rules.audit_confidence_reward(
                REWARDS[name],
                None if estimator == "none" else estimator,
                group_size=args.group_size,
            )
            label = (
                "expected reward" if estimator == "none" else f"{estimator}, G={args.group_size}"
            )
            print(
                f"{name:<17} {label:<16} calibrated={str(report.calibrated):<5} "
                f"accuracy-preserving={str(report.accuracy_preserving):<5} "
                f"({time.perf_counter() - start:.1f} s)"
            )
            print(f"    {report.summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
