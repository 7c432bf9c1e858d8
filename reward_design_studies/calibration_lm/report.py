"""The LM calibration study's tables and headline, from its results dict (no JAX)."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

from reward_design_studies.calibration.report import (
    audit_cells,
    confidence_levels,
    ece_at_accuracy,
)
from reward_design_studies.harness.tables import format_cell, markdown_table

__all__ = ["METRIC_COLUMNS", "DIAGNOSTIC_COLUMNS", "table", "headline"]

METRIC_COLUMNS = {
    "accuracy": "accuracy",
    "ece": "ECE",
    "auroc": "AUROC",
    "mean_confidence": "mean conf",
    "overconfidence": "overconf.",
    "abs_gap_to_q": "mean abs(c - q)",
    "brier": "Brier",
    "format": "format",
}
DIAGNOSTIC_COLUMNS = {
    "ece": "ECE",
    "ece_floor": "ECE floor",
    "ece_oracle": "ECE of q",
    "conf_sd_given_xa": "sd(c | x, a)",
    "conf_slope_on_q": "slope of c on q",
    "ece_late_change": "ECE last quarter",
}


def _rows(results: Mapping[str, Any], columns: Mapping[str, str]) -> list[list[Any]]:
    rows = [["start (all arms)", *(results["start"]["metrics"].get(k, "-") for k in columns)]]
    for name, m in results["arms"].items():
        rows.append([name, *(m[k] for k in columns)])
    return rows


def audit_table(results: Mapping[str, Any]) -> str:
    """Each arm's audit verdicts and predicted c*(q) beside the trained confidence."""
    header = [
        "arm",
        "estimator",
        "audit: calibrated / acc.-pres.",
        "c*(q) at q=.25/.55/.85",
        "trained c at q=.25/.55/.85",
    ]
    rows = []
    for name in results["arms"]:
        a = results["audit"][name]
        flags, predicted = audit_cells(a)
        trained = confidence_levels(results["confidence_by_q"][name]["confidence_mean"])
        rows.append([name, a["estimator"], flags, predicted, trained])
    return markdown_table(header, rows)


def reference_line(results: Mapping[str, Any]) -> str:
    ref = results["reference"]
    cfg = results["config"]
    text = (
        f"Bayes accuracy of the held-out questions {ref['bayes_accuracy']:.3f} "
        f"({ref['heldout_questions']} questions never trained on; "
        f"{cfg['eval_prompts']} x {cfg['eval_samples']} held-out completions per seed). "
        f"Means over {cfg['seeds']} seeds with 95% t intervals; 'start' is the warm-started "
        f"policy every arm of a seed starts from."
    )
    return textwrap.fill(text, width=100, break_long_words=False, break_on_hyphens=False)


def table(results: Mapping[str, Any]) -> str:
    """Metrics table, diagnostics table, audit table, drift of binary, reference line."""
    metrics = markdown_table(["arm", *METRIC_COLUMNS.values()], _rows(results, METRIC_COLUMNS))
    diag = markdown_table(["arm", *DIAGNOSTIC_COLUMNS.values()], _rows(results, DIAGNOSTIC_COLUMNS))
    comps = results["comparisons"]
    drift_rows = []
    for name in results["arms"]:
        c = comps[f"{name}: final - start"]
        drift_rows.append(
            [name, *(format_cell(c[k], signed=True) for k in ("mean_confidence", "overconfidence"))]
        )
    drift = markdown_table(["arm: final - start", "mean conf", "overconfidence"], drift_rows)
    return "\n\n".join([metrics, diag, audit_table(results), drift, reference_line(results)])


def headline(results: Mapping[str, Any]) -> str:
    """ECE and accuracy of binary / brier / log, and binary's confidence drift."""
    drift = results["comparisons"]["binary: final - start"]["mean_confidence"]
    return (
        f"{ece_at_accuracy(results['arms'])}; binary's mean "
        f"confidence moved {format_cell(drift, 3, signed=True)} from the start "
        f"(dr_grpo, G = {results['config']['group_size']}, {results['config']['seeds']} seeds)"
    )
