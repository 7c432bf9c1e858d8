"""The ``reward-design`` command: ``demo``, ``reproduce <study>`` and more.

Each sub-command is a function ``_cmd_<name>(args) -> int``; studies are
discovered from `reward_design.experiments.STUDIES`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main", "build_parser"]


def _cmd_demo(args: argparse.Namespace) -> int:
    from reward_design._demo import run_demo

    print(run_demo(num_prompts=args.prompts, group_size=args.group_size, seed=args.seed))
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from reward_design.experiments import load_study

    if getattr(args, "load_error", None):
        print(args.load_error, file=sys.stderr)
        return 2
    if args.study == "all":
        from reward_design.experiments._summary import run_all

        return run_all(out=args.out, quick=args.quick, seeds=args.seeds)
    study = load_study(args.study)
    return int(study.run(args) or 0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reward-design",
        description="Keep learning apart from choosing: reward terms, gates, post-hoc decisions.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo",
        help="correctness + Brier on synthetic well- and over-confident policies",
        description="Scores synthetic rollouts of a calibrated, an overconfident and a "
        "hedging policy with correctness alone and with correctness + Brier (RLCR).",
    )
    demo.add_argument("--prompts", type=int, default=2048, help="prompts P (default 2048)")
    demo.add_argument("--group-size", type=int, default=8, help="samples per prompt G")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_cmd_demo)

    from reward_design.experiments import available_studies, load_study

    reproduce = sub.add_parser("reproduce", help="replay a study (tables, CIs, plots)")
    studies = reproduce.add_subparsers(dest="study", required=True)
    for name in available_studies():
        try:
            module = load_study(name)
        except Exception as err:  # a broken study must not take the whole CLI down
            sp = studies.add_parser(name, help=f"(unavailable: {err})")
            sp.set_defaults(load_error=f"study {name!r} could not be imported: {err!r}")
            continue
        sp = studies.add_parser(name, help=getattr(module, "DESCRIPTION", name))
        module.add_arguments(sp)
    every = studies.add_parser(
        "all", help="run every study and write a combined summary (DIR/summary.md, .json)"
    )
    every.add_argument("--quick", action="store_true", help="each study's quick mode")
    every.add_argument("--out", default="results", help="output folder (default: results)")
    every.add_argument(
        "--seeds", type=int, default=None, help="seeds per study (default: each study's)"
    )
    reproduce.set_defaults(func=_cmd_reproduce)

    _register_optional_commands(sub)
    return parser


def _register_optional_commands(sub: argparse._SubParsersAction) -> None:
    """Commands contributed by sub-packages (``audit``, ``bench``)."""
    import importlib
    import importlib.util

    for module_path in ("reward_design.scoring_rules._cli", "reward_design._bench_cli"):
        try:
            spec = importlib.util.find_spec(module_path)
        except ModuleNotFoundError:
            spec = None
        if spec is None:
            continue
        importlib.import_module(module_path).register(sub)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
