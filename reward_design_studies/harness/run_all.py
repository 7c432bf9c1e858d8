"""``reward-design reproduce all``: every study, then one combined summary.

Each study runs through the same flow as ``reproduce <study>`` (its own
defaults, plus the shared ``--quick`` / ``--seeds`` / ``--no-plots``) into
``<out>/<study>/``. Then ``<out>/summary.json`` and ``<out>/summary.md``
collect each study's headline and every arm's metrics, and the terminal gets
one headline line per study and the paths written.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from reward_design_studies.harness.results import write_json
from reward_design_studies.harness.study import Study, add_common_arguments, execute
from reward_design_studies.harness.tables import format_cell, markdown_table

__all__ = ["study_args", "summary_rows", "summary_markdown", "run_all"]


def study_args(
    study: Study, out: Path, quick: bool, seeds: int | None, plots: bool = True
) -> argparse.Namespace:
    """The options of ``reproduce <study>`` with the shared flags (the study's defaults apply)."""
    parser = argparse.ArgumentParser(prog=f"reward-design reproduce {study.name}")
    add_common_arguments(parser, study)
    argv = ["--out", str(out)]
    if quick:
        argv.append("--quick")
    if seeds is not None:
        argv += ["--seeds", str(seeds)]
    if not plots:
        argv.append("--no-plots")
    return parser.parse_args(argv)


def summary_rows(results: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each study's ``arms`` as rows ``{study, arm, metric, mean, ci95, n}``."""
    rows = []
    for name, data in results.items():
        for arm, metrics in data.get("arms", {}).items():
            for metric, cell in metrics.items():
                if not isinstance(cell, Mapping) or "mean" not in cell:
                    continue
                rows.append(
                    {
                        "study": name,
                        "arm": arm,
                        "metric": metric,
                        "mean": cell["mean"],
                        "ci95": cell.get("ci95"),
                        "n": len(cell.get("per_seed", [])),
                    }
                )
    return rows


def summary_markdown(
    headlines: Mapping[str, str],
    rows: list[dict[str, Any]],
    failures: Mapping[str, str],
) -> str:
    """The ``summary.md`` text: headlines (with seeds), failures, then every arm's metrics."""
    seeds = {r["study"]: r["n"] for r in rows}
    lines = ["# reward_design studies", ""]
    lines += [
        f"- **{name}** ({seeds.get(name, '?')} seeds): {text}" for name, text in headlines.items()
    ]
    lines += [f"- **{name}**: FAILED ({why})" for name, why in failures.items()]
    cells = [
        [
            r["study"],
            r["arm"],
            r["metric"],
            format_cell({"mean": r["mean"], "ci95": r["ci95"]} if r["ci95"] else r["mean"], 4),
        ]
        for r in rows
    ]
    table = markdown_table(["study", "arm", "metric", "mean [95% CI]"], cells, key_columns=3)
    return "\n".join([*lines, "", table, ""])


def _registry() -> tuple[list[str], Callable[[str], Study]]:
    from reward_design_studies import available_studies, load_study

    return list(available_studies()), load_study


def run_all(
    out: str | Path | None = "results",
    quick: bool = False,
    seeds: int | None = None,
    plots: bool = True,
    studies: Mapping[str, Study] | None = None,
) -> int:
    """Runs every study into ``out/<study>/`` and writes ``out/summary.{json,md}``.

    Args:
      out: the root folder (default ``results``).
      quick: each study's quick mode.
      seeds: seeds of every study (default: each study's own).
      plots: write each study's PNGs.
      studies: ``{name: Study}`` to run instead of the installed ones.

    Returns:
      0 if every study succeeded, else 1 (the summary still lists the ones
      that ran, and names the failures).
    """
    root = Path(out or "results")
    root.mkdir(parents=True, exist_ok=True)
    if studies is None:
        names, load = _registry()
    else:
        names, load = list(studies), studies.__getitem__
    results: dict[str, Any] = {}
    headlines: dict[str, str] = {}
    files: dict[str, list[str]] = {}
    seconds: dict[str, float] = {}
    failures: dict[str, str] = {}
    for name in names:
        start = time.perf_counter()
        try:
            study = load(name)
            args = study_args(study, root / name, quick, seeds, plots)
            print(f"\n=== reproduce {name}{' --quick' if quick else ''} -> {args.out} ===")
            output = execute(study, study.make_config(args), args.out, plots=plots)
        except Exception as err:  # one broken study must not stop the others
            traceback.print_exc(file=sys.stderr)
            failures[name] = f"{type(err).__name__}: {err}"
            continue
        finally:
            seconds[name] = time.perf_counter() - start
        results[name] = output.results
        headlines[name] = study.headline(output.results)
        files[name] = [str(p) for p in output.paths]
    rows = summary_rows(results)
    summary = {
        "quick": quick,
        "seeds": seeds,
        "seconds": seconds,
        "headlines": headlines,
        "failures": failures,
        "files": files,
        "rows": rows,
    }
    json_path = write_json(root / "summary.json", summary)
    md_path = root / "summary.md"
    md_path.write_text(summary_markdown(headlines, rows, failures), encoding="utf-8")
    print()
    for name in names:
        if name in failures:
            print(f"{name}: FAILED ({failures[name]})")
        else:
            print(f"{name}: {headlines[name]}")
            print(f"  {seconds[name]:.0f} s, wrote:")
            for path in files[name]:
                print(f"    {path}")
    print(f"summary: {json_path}, {md_path}")
    return 1 if failures else 0
