"""The calibration study's tables and headline, from its results dict (no JAX).

`table` is the markdown written beside the JSON (``calibration.md``) and
printed by ``reward-design reproduce calibration``: the held-out metrics of
every arm with their 95% intervals, then the audit's predictions beside the
trained confidence, then the shared starting state.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from typing import Any

from reward_design_studies.harness.tables import format_cell, markdown_table

__all__ = [
    "METRIC_COLUMNS",
    "metrics_table",
    "audit_table",
    "reference_line",
    "table",
    "headline",
    "confidence_levels",
    "audit_cells",
    "ece_at_accuracy",
]

METRIC_COLUMNS = {
    "accuracy": "accuracy",
    "ece": "ECE",
    "brier": "Brier",
    "auroc": "AUROC",
    "mean_confidence": "mean conf",
    "abs_gap_to_q": "mean abs(c - q)",
    "surely_wrong": "surely wrong",
}
"""Metric -> column of the metrics table (the Brier decomposition is its last column)."""

_PICK = (2, 5, 8)  # q bins centred on 0.25, 0.55, 0.85
_HEADLINE = ("binary", "brier", "log")


def confidence_levels(values: list[Any]) -> str:
    """``"a/b/c"``: the values at q = .25/.55/.85 (``nan`` where a bin is empty)."""
    out = []
    for i in _PICK:
        v = values[i]
        out.append("nan" if v is None or not math.isfinite(v) else f"{v:.2f}")
    return "/".join(out)


def audit_cells(audit: Mapping[str, Any] | None) -> tuple[str, str]:
    """``(calibrated / accuracy-preserving, predicted c*(q))`` cells of one arm's audit."""
    if not audit:
        return "-", "-"
    yes = {True: "yes", False: "no"}
    flags = f"{yes[audit['calibrated']]} / {yes[audit['accuracy_preserving']]}"
    if audit["any_confidence_is_optimal"]:
        return flags, "any"
    return flags, confidence_levels(audit["optimal_confidence"])


def metrics_table(results: Mapping[str, Any], digits: int = 3) -> str:
    """Every arm's held-out metrics, ``mean [95% CI]`` (split to fit 100 columns)."""
    header = ["arm", *METRIC_COLUMNS.values(), "Brier reliability / resolution"]
    rows = []
    for name, m in results["arms"].items():
        decomposition = (
            f"{m['brier_reliability']['mean']:.{digits}f} / "
            f"{m['brier_resolution']['mean']:.{digits}f}"
        )
        rows.append([name, *(m[k] for k in METRIC_COLUMNS), decomposition])
    return markdown_table(header, rows, digits=digits)


def audit_table(results: Mapping[str, Any]) -> str:
    """Every arm's estimator, G, audit verdicts and predicted vs trained confidence."""
    header = [
        "arm",
        "estimator",
        "G",
        "audit: calibrated / acc.-preserving",
        "c*(q) at q=.25/.55/.85",
        "trained c at q=.25/.55/.85",
    ]
    rows = []
    for name in results["arms"]:
        spec = results["arm_specs"][name]
        flags, predicted = audit_cells(results.get("audit", {}).get(name))
        trained = confidence_levels(results["confidence_by_q"][name]["confidence_mean"])
        rows.append([name, spec["estimator"], spec["group_size"], flags, predicted, trained])
    return markdown_table(header, rows)


def reference_line(results: Mapping[str, Any]) -> str:
    """The starting state shared by all arms, the Bayes accuracy and the number of seeds."""
    ref = results["reference"]
    text = (
        f"Bayes accuracy {ref['bayes_accuracy']:.3f}; after warm start (all arms): accuracy "
        f"{format_cell(ref['start_accuracy'])}, mean confidence "
        f"{format_cell(ref['start_mean_confidence'])}. "
        f"Means over {results['config']['seeds']} seeds with 95% t intervals."
    )
    return textwrap.fill(text, width=100, break_long_words=False, break_on_hyphens=False)


def table(results: Mapping[str, Any]) -> str:
    """The study's markdown: metrics table, audit table, reference line."""
    return "\n\n".join([metrics_table(results), audit_table(results), reference_line(results)])


def headline(results: Mapping[str, Any]) -> str:
    """One line: ECE and accuracy of the headline arms binary / brier / log."""
    arms = results["arms"]
    spec = results["arm_specs"][next(n for n in _HEADLINE if n in arms)]
    return (
        f"{ece_at_accuracy(arms)} "
        f"({spec['estimator']}, G = {spec['group_size']}, {results['config']['seeds']} seeds)"
    )


def ece_at_accuracy(arms: Mapping[str, Any]) -> str:
    """``"binary / brier / log: ECE a / b / c at accuracy d / e / f"``: the arms' means.

    The headline arms binary, brier and log, those of them in ``arms``.
    """
    names = [n for n in _HEADLINE if n in arms]

    def means(metric: str) -> str:
        return " / ".join(f"{arms[n][metric]['mean']:.2f}" for n in names)

    return f"{' / '.join(names)}: ECE {means('ece')} at accuracy {means('accuracy')}"
