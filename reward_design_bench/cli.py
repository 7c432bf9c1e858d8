"""``reward-design bench``: registered by the core CLI through `register`.

Importing this module is cheap (no JAX, no plotting); it raises ImportError
when the ``studies`` extra (matplotlib, rich) is not installed, so that the
core CLI shows its "needs the studies extra" stub instead.

    reward-design bench --quick
    python -m reward_design_bench.cli --json speed.json --plot speed.png
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence

for _package in ("matplotlib", "rich"):
    if importlib.util.find_spec(_package) is None:
        raise ImportError(f"reward_design_bench needs {_package} (the 'studies' extra)")

__all__ = ["register", "add_arguments", "run", "main"]

DESCRIPTION = (
    "Speed of the step (correctness + Brier, an AllOf gate, GRPO) against numpy, a Python "
    "loop, the same program compiled with XLA:CPU's YNN reductions off, the opt-in CPU "
    "kernel and the memory floor, and of the TRL reward function "
    "against a hand-written one; timings interleaved (docs/performance.md)."
)
_DEFAULT_SIZES = "256,4096,65536,1048576"  # reward_design_bench.suite.DEFAULT_SIZES


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1; got {value}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0; got {value}")
    return value


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be comma-separated integers; got {text!r}"
        ) from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"must be positive integers; got {text!r}")
    return sizes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The bench's options."""
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=_sizes(_DEFAULT_SIZES),
        help=f"comma-separated numbers of rollouts P x G (default {_DEFAULT_SIZES})",
    )
    parser.add_argument("--group-size", type=_positive, default=8, help="G (default 8)")
    parser.add_argument("--rubric-items", type=_non_negative, default=8, help="K (default 8)")
    parser.add_argument(
        "--tokens",
        type=_non_negative,
        default=0,
        help="T > 0 adds [P, G, T] per-token rewards and a token-mean term (default 0: none)",
    )
    parser.add_argument(
        "--input-dtype",
        choices=("float32", "bfloat16"),
        default="float32",
        help="storage dtype of correct/confidence (terms compute in float32)",
    )
    parser.add_argument(
        "--repeats", type=_positive, default=20, help="interleaved rounds per row (default 20)"
    )
    parser.add_argument(
        "--loop-cap",
        type=_non_negative,
        default=65_536,
        help="time the Python loop only up to this many rollouts (default 65536)",
    )
    parser.add_argument(
        "--text-completions",
        type=_non_negative,
        default=1024,
        help="completions per call of the TRL reward function row (default 1024; 0: no row)",
    )
    parser.add_argument(
        "--no-variants", action="store_true", help="skip the other-objectives table"
    )
    parser.add_argument(
        "--quick", action="store_true", help="sizes up to 65536 and at most 5 rounds"
    )
    parser.add_argument("--json", default=None, help="write the result JSON here")
    parser.add_argument("--plot", default=None, help="write the PNG here")


def run(args: argparse.Namespace) -> int:
    """Runs the bench with parsed options; prints the table, writes JSON/PNG if asked."""
    from reward_design_bench import report, suite

    sizes, repeats = list(args.sizes), args.repeats
    if args.quick:
        sizes = [s for s in sizes if s <= 65_536] or sizes[:1]
        repeats = min(repeats, 5)
    bad = [s for s in sizes if s % args.group_size]
    if bad:
        print(
            f"--sizes must be multiples of --group-size {args.group_size}; got {bad}",
            file=sys.stderr,
        )
        return 2
    result = suite.run_benchmark(
        sizes,
        args.group_size,
        args.rubric_items,
        repeats,
        args.loop_cap,
        input_dtype=args.input_dtype,
        num_tokens=args.tokens,
        text_completions=args.text_completions,
        variants=not args.no_variants,
        progress=lambda line: print(line, flush=True),
    )
    print(report.format_table(result))
    if args.json:
        print(f"wrote {report.write_json(result, args.json)}")
    if args.plot:
        print(f"wrote {report.plot_results(result, args.plot)}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the ``bench`` sub-command (imports nothing heavy)."""
    parser = subparsers.add_parser(
        "bench",
        help="speed: the step vs numpy, a Python loop, the CPU kernel and the memory floor",
        description=DESCRIPTION,
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m reward_design_bench.cli`` / ``benchmarks/speed.py``: the same as the command."""
    parser = argparse.ArgumentParser(prog="reward-design bench", description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
