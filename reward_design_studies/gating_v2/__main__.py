"""``python -m reward_design_studies.gating_v2``: ``reward-design reproduce gating``.

The same options (``--judge-noise E [E ...]`` included: every arm trained at
every level e, each check of each rollout flipped with probability e in the
rubric the objective sees; docs/studies/gating.md, "Judge-noise axis
(pre-registered)"). The committed noise run was made with::

    python -m reward_design_studies.gating_v2 --judge-noise 0 0.1 0.2 \\
        --out benchmarks/results/gating_v2_noise
"""

from __future__ import annotations

import argparse
import sys

from reward_design_studies.harness.study import add_common_arguments, run_study

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Parses the options, runs the study through the harness; returns the exit code."""
    from reward_design_studies.gating import STUDY

    parser = argparse.ArgumentParser(
        prog="python -m reward_design_studies.gating_v2", description=STUDY.description
    )
    add_common_arguments(parser, STUDY)
    return run_study(STUDY, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
