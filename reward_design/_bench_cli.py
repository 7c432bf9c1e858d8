"""Registers ``reward-design bench`` (see `reward_design.bench`)."""

from __future__ import annotations

import argparse


def _cmd_bench(args: argparse.Namespace) -> int:
    from reward_design import bench

    return bench.run(args)


def register(sub: argparse._SubParsersAction) -> None:
    from reward_design import bench

    parser = sub.add_parser(
        "bench",
        help="speed: compiled objective vs numpy, a Python loop and the memory floor",
        description=bench.__doc__.splitlines()[0],
    )
    bench.add_arguments(parser)
    parser.set_defaults(func=_cmd_bench)
