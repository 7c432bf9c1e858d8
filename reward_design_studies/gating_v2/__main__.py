"""``python -m reward_design_studies.gating_v2``: the gating study (v2) with judge noise.

The options of ``reward-design reproduce gating`` plus ``--judge-noise E [E ...]``:
every arm trained at every level e (each check of each rollout flipped with
probability e in the rubric the objective sees; docs/studies/gating.md,
"Judge-noise axis (pre-registered)"). Without ``--judge-noise`` it is the
default study. For example::

    python -m reward_design_studies.gating_v2 --judge-noise 0.2 \\
        --out benchmarks/results/gating_v2_noise
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from reward_design_studies.harness.study import add_common_arguments, run_study

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Parses the options, runs the study through the harness; returns the exit code."""
    from reward_design_studies.gating import STUDY

    parser = argparse.ArgumentParser(
        prog="python -m reward_design_studies.gating_v2",
        description="the gating study (v2) with the judge-noise axis",
    )
    add_common_arguments(parser, STUDY)
    parser.add_argument(
        "--judge-noise",
        type=float,
        nargs="+",
        default=[],
        metavar="E",
        help="judge-noise levels e in [0, 0.5]; every arm runs at every level",
    )
    args = parser.parse_args(argv)
    if args.environment != "v2":
        parser.error("--judge-noise is for the second version (--environment v2).")
    try:
        config = STUDY.make_config(args).replace(judge_noise=tuple(args.judge_noise))
    except (TypeError, ValueError) as err:
        parser.error(str(err))
    study = dataclasses.replace(STUDY, config_from_args=lambda _args: config)
    return run_study(study, args)


if __name__ == "__main__":
    sys.exit(main())
