"""The misaligned study's table and headline line (at most 100 columns)."""

from __future__ import annotations

from typing import Any

from reward_design_studies.harness import arms_table, format_cell, markdown_table
from reward_design_studies.misaligned.config import COMPARISONS, HEADLINE_COMPARISON, METRICS

__all__ = ["SWEEP_METRICS", "table", "tuned_table", "headline"]

# The paired differences the sweep table shows, per (task, cost ratio, steps).
SWEEP_METRICS = ("test_utility", "test_weighted_loss", "probe_accuracy", "accuracy")
# The paired differences the tuned table puts beside the fixed-budget ones.
TUNED_METRICS = ("test_utility", "test_weighted_loss", "probe_accuracy")
# Short arm names for the comparison column (the table stays within 100 columns).
SHORT = {
    "symmetric_posthoc": "posthoc",
    "symmetric_posthoc_uncalibrated": "posthoc uncal.",
    "symmetric_argmax": "sym. argmax",
    "utility_weighted_argmax": "wtd argmax",
    "utility_weighted_bayes": "wtd bayes",
}


def _chosen_summary(chosen: dict[str, dict[str, list]]) -> list[list[Any]]:
    rows = []
    for arm, c in chosen.items():
        rates = sorted(set(c["learning_rate"]))
        counts = ", ".join(f"{r:g}: {c['learning_rate'].count(r)}" for r in rates)
        steps = sorted(c["steps"])
        median = steps[len(steps) // 2]
        rows.append([arm, counts, f"{median} [{steps[0]}, {steps[-1]}]"])
    return rows


def tuned_table(results: dict[str, Any]) -> str:
    """The tuned arms, their choices and the paired differences beside the fixed budget."""
    tuned = results["tuned"]
    selections = tuned["selections"]
    steps = tuned["steps"]
    rates = ", ".join(f"{r:g}" for r in tuned["learning_rates"])
    lines = [
        f"### Tuned on validation: {tuned['task']}, cost ratio {tuned['cost_ratio']:g}",
        "",
        f"Each arm picks its model's learning rate ({rates}) and stopping step",
        f"({', '.join(map(str, steps[:2]))}, ..., {steps[-1]}) by the validation utility "
        "of its own decisions;",
        "the test split is scored once (mean [95% CI]).",
        "",
        arms_table(selections["val_utility"], METRICS),
        "",
        markdown_table(
            ["arm", "learning rates chosen (count)", "steps chosen (median [min, max])"],
            _chosen_summary(selections["val_utility"]["chosen"]),
        ),
        "",
        "### Paired differences: fixed budget vs tuned (val utility / own validation loss)",
        "",
        "posthoc = symmetric_posthoc, uncal. = uncalibrated, wtd = utility_weighted.",
        "",
    ]
    rows = []
    for a, b in COMPARISONS:
        name = f"{a} - {b}"
        for m in TUNED_METRICS:
            cells = (
                results["comparisons"][name][m],
                selections["val_utility"]["comparisons"][name][m],
                selections["own_loss"]["comparisons"][name][m],
            )
            label = f"{SHORT[a]} − {SHORT[b]}"
            rows.append([label, m, *(format_cell(c, 3, signed=True) for c in cells)])
    header = ["comparison", "metric", "fixed budget", "tuned: val utility", "tuned: own loss"]
    lines.append(markdown_table(header, rows, key_columns=2))
    return "\n".join(lines)


def table(results: dict[str, Any]) -> str:
    """The headline arms and a sweep table of paired differences, as markdown."""
    cfg = results["config"]
    head = cfg["headline"]
    seeds = f"seeds {cfg.get('seed_offset', 0)}-{cfg.get('seed_offset', 0) + cfg['seeds'] - 1}"
    block = "Confirmatory block (pre-registered). " if cfg.get("confirmatory_block") else ""
    lines = [
        f"### {block}Headline: {head['task']}, cost ratio {head['cost_ratio']:g}, "
        f"{head['steps']} steps ({seeds}, mean [95% CI])",
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
    if "tuned" in results:
        lines += ["", tuned_table(results)]
    return "\n".join(lines)


def headline(results: dict[str, Any]) -> str:
    """One line: the paired utility difference at the headline setting."""
    head = results["config"]["headline"]
    cell = format_cell(results["comparisons"][HEADLINE_COMPARISON]["test_utility"], 3, signed=True)
    return (
        f"Δ utility post-hoc − weighted argmax, {head['task']} r={head['cost_ratio']:g} "
        f"{head['steps']} steps: {cell}"
    )
