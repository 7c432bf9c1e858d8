"""``reward-design reproduce``: the studies' sub-command.

`register` adds ``reproduce <study>`` for every installed study (the common
options ``--quick``, ``--out DIR``, ``--seeds N``, ``--no-plots`` plus the
study's own) and ``reproduce all``. Building the parser imports the study
packages, which import their heavy modules (jax programs, plots, data) only
when they run.

Importing this module raises ImportError when the ``studies`` extra is not
installed, so that the core CLI shows a stub naming the extra.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys

_EXTRA = ("matplotlib", "rich", "mnist1d")
_missing = [name for name in _EXTRA if importlib.util.find_spec(name) is None]
if _missing:
    raise ImportError(
        f"reward_design_studies needs {', '.join(_missing)} (pip install 'reward-design[studies]')."
    )

__all__ = ["register", "main"]


def _cmd_reproduce(args: argparse.Namespace) -> int:
    if getattr(args, "load_error", None):
        print(args.load_error, file=sys.stderr)
        return 2
    if args.study == "all":
        from reward_design_studies.harness.run_all import run_all

        return run_all(out=args.out, quick=args.quick, seeds=args.seeds, plots=not args.no_plots)
    from reward_design_studies import load_study
    from reward_design_studies.harness.study import run_study

    return run_study(load_study(args.study), args)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Adds ``reproduce`` to the ``reward-design`` parser's sub-commands; returns its parser."""
    from reward_design_studies import available_studies, load_study
    from reward_design_studies.harness.study import add_common_arguments

    reproduce = subparsers.add_parser(
        "reproduce",
        help="replay a study (tables, CIs, plots)",
        description="Runs a study and writes its JSON, markdown table and plots under --out.",
    )
    studies = reproduce.add_subparsers(dest="study", required=True, metavar="STUDY")
    for name in available_studies():
        try:
            study = load_study(name)
        except Exception as err:  # a broken study must not take the whole CLI down
            stub = studies.add_parser(name, help=f"(unavailable: {err})", add_help=False)
            stub.add_argument("rest", nargs=argparse.REMAINDER)
            stub.set_defaults(load_error=f"study {name!r} could not be imported: {err!r}")
            continue
        parser = studies.add_parser(name, help=study.description, description=study.description)
        add_common_arguments(parser, study)
    every = studies.add_parser(
        "all",
        help="run every study and write a combined summary (DIR/summary.md, .json)",
        description="Runs every study into DIR/<study>/ and writes DIR/summary.json and .md.",
    )
    every.add_argument("--quick", action="store_true", help="each study's quick mode")
    every.add_argument("--out", default="results", help="output folder (default: results)")
    every.add_argument(
        "--seeds", type=int, default=None, help="seeds per study (default: each study's)"
    )
    every.add_argument("--no-plots", action="store_true", help="skip the PNGs")
    reproduce.set_defaults(func=_cmd_reproduce)
    return reproduce


def main(argv: list[str] | None = None) -> int:
    """``python -m reward_design_studies.cli <study> ...`` (same as ``reward-design reproduce``)."""
    parser = argparse.ArgumentParser(prog="reward-design")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["reproduce", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
