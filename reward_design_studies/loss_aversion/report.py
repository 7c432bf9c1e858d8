"""The loss-aversion study's table and headline, from its results dict (no JAX)."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

from reward_design_studies.harness.tables import (
    arms_table,
    comparisons_table,
    format_cell,
    markdown_table,
)
from reward_design_studies.loss_aversion.metrics import METRICS

__all__ = ["TABLE_METRICS", "table", "headline", "headline_comparison"]

TABLE_METRICS = METRICS
"""The arms table's columns: every metric (`metrics.METRICS`)."""
_COMPARED = ("gold_utility", "sophistry_rate", "probe_accuracy", "accuracy")


def headline_comparison(results: Mapping[str, Any]) -> str:
    """The pre-registered comparison's name: ``kto_<max lambda> - symmetric_posthoc``."""
    return next(iter(results["comparisons"]))


def _sweep_table(results: Mapping[str, Any]) -> str:
    header = ["lambda", "arm", "gold_utility", "sophistry_rate", "answer_rate"]
    rows = []
    for lam, arms in results["by_lambda"].items():
        for arm, m in arms.items():
            name = f"kto_{lam}" if arm == "kto" else arm
            rows.append([lam, name, *(m[k] for k in header[2:])])
    return markdown_table(header, rows, key_columns=2)


def _check_table(results: Mapping[str, Any]) -> str:
    env = results["environment_check"]["policies"]
    header = ["policy", "approval", "sophistry_rate", "gold_utility", "persuasion_rate"]
    return markdown_table(header, [[p, *(m[k] for k in header[1:])] for p, m in env.items()])


def _weights_line(results: Mapping[str, Any]) -> str:
    w = results["kto_weight_check"]
    parts = [
        f"{arm}: ratio {v['ratio']:.2f} ({'in' if v['in_range'] else 'outside'})"
        for arm, v in w["arms"].items()
    ]
    text = (
        f"KTO weight check (rd.halos.check_kto_weights, n_D = {w['num_desirable_per_seed']}, "
        f"n_U = {w['num_undesirable_per_seed']} per seed; recommended lambda_D n_D / "
        f"(lambda_U n_U) in [1, 4/3]): " + "; ".join(parts) + "."
    )
    return textwrap.fill(text, width=100, break_long_words=False, break_on_hyphens=False)


def table(results: Mapping[str, Any]) -> str:
    """Arms at the headline lambda_h, paired differences, the sweep, the environment check."""
    cfg = results["config"]
    ref = results["reference"]
    title = textwrap.fill(
        f"loss-aversion: arms at rater loss lambda_h = {results['lambda_h']:g} "
        f"({cfg['seeds']} seeds, {cfg['steps']} steps; mean [95% CI] over seeds). "
        f"Bayes accuracy {format_cell(ref['bayes_accuracy'])}; probe on raw inputs "
        f"{format_cell(ref['probe_accuracy_raw_inputs'])}.",
        width=100,
    )
    parts = [
        title,
        arms_table(results, TABLE_METRICS),
        "Paired differences (same seeds):",
        comparisons_table(results, _COMPARED),
        "Each lambda as the rater's loss (KTO trained with that lambda; post-hoc\n"
        "threshold lambda / (1 + lambda)):",
        _sweep_table(results),
        "Environment check (can this world produce sophistry? not an arm comparison):",
        _check_table(results),
        _weights_line(results),
    ]
    return "\n\n".join(parts)


def headline(results: Mapping[str, Any]) -> str:
    """One line: the pre-registered comparison's gold utility and sophistry rate."""
    name = headline_comparison(results)
    cell = results["comparisons"][name]
    return (
        f"{name} at lambda_h = {results['lambda_h']:g}: gold utility "
        f"{format_cell(cell['gold_utility'], signed=True)}, sophistry rate "
        f"{format_cell(cell['sophistry_rate'], signed=True)} ({results['config']['seeds']} seeds)"
    )
