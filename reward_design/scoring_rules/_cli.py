"""``reward-design audit MODULE:FUNCTION``: audit a user's confidence reward from the shell."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable

import numpy as np

__all__ = ["register", "load_reward", "plot_report"]

_ESTIMATORS = ("none", "grpo", "dr_grpo", "rloo")


def load_reward(target: str) -> Callable:
    """Imports ``MODULE:FUNCTION`` (a dotted module, or a path to a ``.py`` file).

    The current directory is put on ``sys.path`` first, as ``python -m`` does.

    Raises:
      ValueError: ``target`` is not of the form ``MODULE:FUNCTION``, the module
        cannot be imported, or the attribute is missing or not callable.
    """
    module_name, sep, attr = target.rpartition(":")
    if not sep or not module_name or not attr:
        raise ValueError(
            f"expected MODULE:FUNCTION (e.g. my_rewards:rlcr or path/to/file.py:rlcr); "
            f"got {target!r}."
        )
    if module_name.endswith(".py") or os.sep in module_name:
        if not os.path.isfile(module_name):
            raise ValueError(f"no such file: {module_name!r}.")
        name = os.path.splitext(os.path.basename(module_name))[0]
        spec = importlib.util.spec_from_file_location(name, module_name)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as err:  # noqa: BLE001 - the user's file, reported in one line
            raise ValueError(
                f"running {module_name!r} raised {type(err).__name__}: {_first_line(err)}"
            ) from err
    else:
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise ValueError(f"cannot import module {module_name!r}: {err}") from err
        except Exception as err:  # noqa: BLE001 - the user's module, reported in one line
            raise ValueError(
                f"importing {module_name!r} raised {type(err).__name__}: {_first_line(err)}"
            ) from err
    fn = module
    for part in attr.split("."):
        if not hasattr(fn, part):
            raise ValueError(f"{module_name!r} has no attribute {attr!r}.")
        fn = getattr(fn, part)
    if not callable(fn):
        raise ValueError(f"{target!r} is not callable (got {type(fn).__name__}).")
    return fn


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else ""


def plot_report(reports: list, path: str, title: str | None = None) -> None:
    """Writes a PNG: optimal confidence vs q (left) and V(q) (right), one line per report.

    Raises:
      ImportError: matplotlib is missing (it comes with the ``studies`` extra).
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ImportError(
            "reward-design audit --plot needs matplotlib: "
            "pip install 'reward-design[studies]' (or pip install matplotlib)."
        ) from err

    fig = Figure(figsize=(9.0, 4.0))
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    left.plot([0, 1], [0, 1], linestyle="--", color="0.5", label="c* = q (calibrated)")
    for rep in reports:
        label = rep.estimator or "expected reward"
        if rep.estimator:
            label += f" (G={rep.group_size})"
        left.plot(rep.q, rep.optimal_confidence, marker=".", label=label)
        right.plot(rep.q, rep.value, marker=".", label=label)
    left.set_xlabel("success probability q")
    left.set_ylabel("optimal stated confidence c*")
    left.set_xlim(0, 1)
    left.set_ylim(-0.02, 1.02)
    left.legend(fontsize="small")
    right.set_xlabel("success probability q")
    right.set_ylabel("value V(q) (expected reward at c*)")
    right.set_xlim(0, 1)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    parent = os.path.dirname(os.fspath(path))
    if parent:
        os.makedirs(parent, exist_ok=True)
    fig.savefig(path, dpi=120, format="png")


def _table(report) -> str:
    rows = ["     q   optimal c    value V(q)"]
    n = len(report.q)
    idx = np.arange(n) if n <= 21 else np.unique(np.linspace(0, n - 1, 11).round().astype(int))
    for i in idx:
        rows.append(
            f"  {report.q[i]:4.2f}   {report.optimal_confidence[i]:9.3f}   {report.value[i]:11.4f}"
        )
    return "\n".join(rows)


def _cmd_audit(args: argparse.Namespace) -> int:
    from reward_design.scoring_rules._audit import audit_confidence_reward

    try:
        fn = load_reward(args.target)
    except ValueError as err:
        print(f"reward-design audit: {err}", file=sys.stderr)
        return 2
    estimators = args.estimator or ["none"]
    reports = []
    for est in estimators:
        try:
            rep = audit_confidence_reward(
                fn,
                None if est == "none" else est,
                group_size=args.group_size,
                exploration=args.exploration,
                num_samples=args.num_samples,
                seed=args.seed,
            )
        except (TypeError, ValueError) as err:
            # Bad options (--group-size 1) and rewards the audit cannot run (Python `if` or
            # math.log on its array arguments): one line naming the fix, no traceback.
            message = _first_line(err).replace("audit_confidence_reward: ", "", 1)
            for option in ("group_size", "exploration", "num_samples", "seed"):
                if message.startswith(f"{option} must"):
                    message = "--" + option.replace("_", "-") + message[len(option) :]
            print(f"reward-design audit: {message}", file=sys.stderr)
            return 2
        reports.append(rep)
        print(rep.summary)
        print(_table(rep))
        print()
    if args.plot:
        try:
            plot_report(reports, args.plot, title=args.target)
        except ImportError as err:
            print(f"reward-design audit: {err}", file=sys.stderr)
            return 2
        print(f"wrote {args.plot}")
    if args.strict and not all(
        r.calibrated
        and r.accuracy_preserving
        and (r.answer_choice is None or r.answer_choice.preserving)
        for r in reports
    ):
        return 1
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the ``audit`` sub-command (called by `reward_design.cli`)."""
    p = subparsers.add_parser(
        "audit",
        help="audit a confidence reward: calibrated? accuracy-preserving? (per estimator)",
        description="Imports reward_fn(confidence, correct) -> reward from MODULE:FUNCTION "
        "and prints the IncentiveReport of rd.scoring_rules.audit_confidence_reward: without "
        "an estimator the expected-reward analysis, with one the point where GRPO / Dr. GRPO "
        "/ RLOO updates drive the stated confidence.",
    )
    p.add_argument("target", metavar="MODULE:FUNCTION", help="e.g. my_rewards:rlcr or f.py:rlcr")
    p.add_argument(
        "--estimator",
        action="append",
        choices=_ESTIMATORS,
        help="none (expected reward, default), grpo, dr_grpo or rloo; repeat for several",
    )
    p.add_argument("--group-size", type=int, default=8, help="samples per question G (default 8)")
    p.add_argument(
        "--exploration",
        type=float,
        default=0.25,
        help="logit-space std of the stated confidence (estimators; default 0.25)",
    )
    p.add_argument("--num-samples", type=int, default=8192, help="Monte Carlo samples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", metavar="PATH", help="write a PNG of c*(q) and V(q)")
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 1 unless every audit is calibrated and accuracy-preserving "
        "(with estimators: also under answer choice)",
    )
    p.set_defaults(func=_cmd_audit)
