"""The ``reward-design`` command: ``demo``, ``audit``, ``reproduce`` and ``bench``.

``demo`` and ``audit`` belong to the core. ``reproduce`` and ``bench`` live in
the sibling packages `reward_design_studies` and `reward_design_bench`, which
need the ``studies`` extra (plots, progress bars, the MNIST-1D generator);
each contributes its sub-command through a ``register(subparsers)`` function.
Without the extra the command is still listed, and running it says what to
install.

``reward-design --version`` prints the installed version. When the reader of
the output goes away (``reward-design reproduce --help | head -1``), the command
stops quietly with exit status 141 (128 + SIGPIPE, as a shell tool killed by the
signal) instead of a ``BrokenPipeError`` traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

__all__ = ["main", "build_parser"]

# (command, module with ``register(subparsers)``, extra it needs)
_COMMANDS = (
    ("audit", "reward_design.scoring_rules._cli", None),
    ("reproduce", "reward_design_studies.cli", "studies"),
    ("bench", "reward_design_bench.cli", "studies"),
)


def _cmd_demo(args: argparse.Namespace) -> int:
    from reward_design._demo import run_demo

    print(run_demo(num_prompts=args.prompts, group_size=args.group_size, seed=args.seed))
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("reward-design")
    except PackageNotFoundError:  # run from a source tree that is not installed
        from reward_design import __version__

        return __version__


def _missing_extra(command: str, extra: str, err: ImportError):
    def run(args: argparse.Namespace) -> int:
        print(
            f"reward-design {command} needs the '{extra}' extra "
            f"(pip install 'reward-design[{extra}]'): {err}",
            file=sys.stderr,
        )
        return 2

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reward-design",
        description="Keep learning apart from choosing: reward terms, gates, post-hoc decisions.",
    )
    parser.add_argument("--version", action="version", version=f"reward-design {_version()}")
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

    for command, module_path, extra in _COMMANDS:
        try:
            module = importlib.import_module(module_path)
        except ImportError as err:
            if extra is None:
                raise
            stub = sub.add_parser(command, help=f"(needs the '{extra}' extra)", add_help=False)
            stub.set_defaults(func=_missing_extra(command, extra, err), takes_any_arguments=True)
            continue
        module.register(sub)
    return parser


# Exit status after the reader closed our standard output: 128 + SIGPIPE.
EXIT_BROKEN_PIPE = 141


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    # Known-args parsing, so that a command standing in for a missing extra can still
    # say what to install whatever options follow it; every other command is strict.
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "takes_any_arguments", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return int(args.func(args) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            return _run(argv)
        finally:
            # Output is buffered: a closed pipe often shows only here (or at exit).
            sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`... | head`). Point stdout at /dev/null so that the
        # interpreter's own flush at exit does not raise again, and stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
