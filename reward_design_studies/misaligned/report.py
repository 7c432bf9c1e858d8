"""The misaligned study's table and headline line (at most 100 columns)."""

from __future__ import annotations

from typing import Any

from reward_design_studies.harness import arms_table, format_cell, markdown_table
from reward_design_studies.misaligned.config import HEADLINE_COMPARISON, METRICS

__all__ = ["SWEEP_METRICS", "table", "headline"]

# The paired differences the sweep table shows, per (task, cost ratio, steps).
SWEEP_METRICS = ("test_utility", "test_weighted_loss", "probe_accuracy", "accuracy")


def table(results: dict[str, Any]) -> str:
    """The headline arms and a sweep table of paired differences, as markdown."""
    head = results["config"]["headline"]
    lines = [
        f"### Headline: {head['task']}, cost ratio {head['cost_ratio']:g}, "
        f"{head['steps']} steps ({results['config']['seeds']} seeds, mean [95% CI])",
        "",
        arms_table(results, METRICS),
        "",
        f"### Sweep: {HEADLINE_COMPARISON.replace(' - ', ' minus ')} (paired over seeds)",
        "",
    ]
    rows = [
        [
            row["task"],
            f"{row['cost_ratio']:g}",
            row["steps"],
            *(
                format_cell(row["comparisons"][HEADLINE_COMPARISON][m], 4, signed=True)
                for m in SWEEP_METRICS
            ),
        ]
        for row in results["sweep"]
    ]
    header = ["task", "cost ratio", "steps", *(f"Δ {m}" for m in SWEEP_METRICS)]
    lines.append(markdown_table(header, rows, key_columns=3))
    return "\n".join(lines)


def headline(results: dict[str, Any]) -> str:
    """One line: the paired utility difference at the headline setting."""
    head = results["config"]["headline"]
    cell = format_cell(results["comparisons"][HEADLINE_COMPARISON]["test_utility"], 3, signed=True)
    return (
        f"Δ utility post-hoc − weighted argmax, {head['task']} r={head['cost_ratio']:g} "
        f"{head['steps']} steps: {cell}"
    )
