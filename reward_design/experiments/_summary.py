"""``reward-design reproduce all``: run every study, then one combined summary."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from reward_design.experiments import available_studies, load_study
from reward_design.experiments._common import write_json

__all__ = ["run_all", "summarize", "format_summary"]


def _study_args(name: str, out: Path, quick: bool, seeds: int | None) -> argparse.Namespace:
    """Parses the study's own options, so its defaults apply, plus the shared flags."""
    module = load_study(name)
    parser = argparse.ArgumentParser(prog=f"reward-design reproduce {name}")
    module.add_arguments(parser)
    argv = ["--out", str(out)]
    if quick:
        argv.append("--quick")
    if seeds is not None:
        argv += ["--seeds", str(seeds)]
    args = parser.parse_args(argv)
    args.study = name
    return args


def summarize(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Flattens each study's ``arms`` into rows ``{study, arm, metric, mean, ci95, n}``."""
    rows = []
    for study, data in results.items():
        for arm, metrics in data.get("arms", {}).items():
            for metric, cell in metrics.items():
                if not isinstance(cell, dict) or "mean" not in cell:
                    continue
                rows.append(
                    {
                        "study": study,
                        "arm": arm,
                        "metric": metric,
                        "mean": cell["mean"],
                        "ci95": cell.get("ci95"),
                        "n": len(cell.get("per_seed", [])),
                    }
                )
    return rows


def _fmt(x: Any) -> str:
    return f"{x:.4g}" if isinstance(x, int | float) else str(x)


def format_summary(rows: list[dict[str, Any]]) -> str:
    """A markdown table of the summary rows."""
    lines = ["| study | arm | metric | mean | 95% CI | seeds |", "|---|---|---|---|---|---|"]
    for r in rows:
        ci = r["ci95"]
        ci_text = f"[{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci else ""
        cells = [r["study"], r["arm"], r["metric"], _fmt(r["mean"]), ci_text, str(r["n"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_all(out: str | None = "results", quick: bool = False, seeds: int | None = None) -> int:
    """Runs every installed study into ``out/<study>/`` and writes ``out/summary.{json,md}``.

    Returns:
      0 if every study succeeded, else 1 (the summary still lists the ones
      that ran).
    """
    root = Path(out or "results")
    root.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    timings: dict[str, float] = {}
    failures: dict[str, str] = {}
    for name in available_studies():
        study_dir = root / name
        args = _study_args(name, study_dir, quick, seeds)
        print(f"\n=== reproduce {name}{' --quick' if quick else ''} -> {study_dir} ===", flush=True)
        start = time.perf_counter()
        code = int(load_study(name).run(args) or 0)
        timings[name] = time.perf_counter() - start
        result_file = study_dir / f"{name}.json"
        if code != 0 or not result_file.exists():
            failures[name] = f"exit code {code}" if code else f"{result_file} not written"
            continue
        results[name] = json.loads(result_file.read_text())
    rows = summarize(results)
    write_json(
        root / "summary.json",
        {"quick": quick, "seeds": seeds, "seconds": timings, "failures": failures, "rows": rows},
    )
    table = format_summary(rows)
    (root / "summary.md").write_text(
        "# reward_design: all studies\n\n" + table + "\n", encoding="utf-8"
    )
    print("\n" + table)
    for name, why in failures.items():
        print(f"study {name} failed: {why}")
    return 1 if failures else 0
