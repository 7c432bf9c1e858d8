"""The one table formatter of the studies: markdown that fits 100 columns.

`markdown_table` lays out a header and rows as an aligned markdown table; when
the lines would be wider than ``max_width`` it splits the columns into
several tables, each repeating the key columns (the first ``key_columns``).
`arms_table` and `comparisons_table` build the usual tables of a results
file from its cells (`arms_and_comparisons`: both under a title);
`print_table` prints one to the terminal.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

__all__ = [
    "MAX_WIDTH",
    "format_cell",
    "markdown_table",
    "arms_table",
    "comparisons_table",
    "arms_and_comparisons",
    "p_value_text",
    "print_table",
]

MAX_WIDTH = 100


def _number(x: Any, digits: int, signed: bool) -> str:
    if x is None:
        return "nan"
    if isinstance(x, str):  # "inf" / "-inf" as written by write_json
        return x
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def format_cell(cell: Any, digits: int = 3, signed: bool = False) -> str:
    """One table cell: ``"mean [low, high]"`` for a results cell, else the value.

    Args:
      cell: a `stats.metric_summary` cell (``ci95``), a `stats.paired_difference_ci`
        cell (``low``/``high``), a number or anything else (``str``).
      digits: decimals of the numbers.
      signed: write ``+`` on positive numbers (for differences).
    """
    if isinstance(cell, Mapping) and "mean" in cell:
        if "ci95" in cell:
            lo, hi = cell["ci95"]
        elif "low" in cell and "high" in cell:
            lo, hi = cell["low"], cell["high"]
        else:
            return _number(cell["mean"], digits, signed)
        parts = (_number(v, digits, signed) for v in (cell["mean"], lo, hi))
        mean, lo, hi = parts
        return f"{mean} [{lo}, {hi}]"
    if isinstance(cell, bool) or cell is None:
        return str(cell)
    if isinstance(cell, int):
        return str(cell)
    if isinstance(cell, float):
        return _number(cell, digits, signed)
    return str(cell)


def _escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _lines(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(3, len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    fmt = "| " + " | ".join(f"{{:<{w}}}" for w in widths) + " |"
    lines = [fmt.format(*header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [fmt.format(*row) for row in rows]
    return lines


def _width(column: int, header: Sequence[str], rows: Sequence[Sequence[str]]) -> int:
    return max(3, len(header[column]), *(len(r[column]) for r in rows)) + 3


def markdown_table(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    key_columns: int = 1,
    max_width: int = MAX_WIDTH,
    digits: int = 3,
) -> str:
    """An aligned markdown table, split into several when wider than ``max_width``.

    Args:
      header: column names.
      rows: one sequence of cells per row (`format_cell` formats each).
      key_columns: leading columns repeated in every part of a split table.
      max_width: the widest line allowed (a single column wider than what is
        left beside the key columns still gets a table of its own).
      digits: decimals of numeric cells.

    Returns:
      The table(s) as markdown, parts separated by a blank line.
    """
    header = [_escape(h) for h in header]
    if not header:
        raise ValueError("header must name at least one column; got [].")
    if not 0 <= key_columns < len(header):
        raise ValueError(
            f"key_columns must be in [0, {len(header) - 1}] for {len(header)} columns; "
            f"got {key_columns}."
        )
    text_rows = []
    for row in rows:
        row = list(row)
        if len(row) != len(header):
            raise ValueError(f"each row needs {len(header)} cells (the header); got {row!r}.")
        text_rows.append([_escape(format_cell(c, digits)) for c in row])
    keys = list(range(key_columns))
    base = 1 + sum(_width(i, header, text_rows) for i in keys)
    parts: list[list[int]] = []
    current: list[int] = []
    used = base
    for col in range(key_columns, len(header)):
        w = _width(col, header, text_rows)
        if current and used + w > max_width:
            parts.append(current)
            current, used = [], base
        current.append(col)
        used += w
    parts.append(current)
    tables = []
    for cols in parts:
        picked = keys + cols
        lines = _lines([header[i] for i in picked], [[r[i] for i in picked] for r in text_rows])
        tables.append("\n".join(lines))
    return "\n\n".join(tables)


def arms_table(
    results: Mapping[str, Any],
    metrics: Sequence[str] | None = None,
    *,
    arms: Sequence[str] | None = None,
    digits: int = 3,
    max_width: int = MAX_WIDTH,
) -> str:
    """``results["arms"]`` as a table: one row per arm, ``mean [95% CI]`` per metric.

    Args:
      results: a results dict (see `results.check_results`).
      metrics: the columns (default: the first arm's metrics, in order).
      arms: the rows (default: every arm, in order).
    """
    table = results["arms"]
    arms = list(table) if arms is None else list(arms)
    if not arms:
        raise ValueError("results['arms'] is empty; nothing to tabulate.")
    metrics = list(table[arms[0]]) if metrics is None else list(metrics)
    rows = [[arm, *(table[arm].get(m, "") for m in metrics)] for arm in arms]
    return markdown_table(["arm", *metrics], rows, digits=digits, max_width=max_width)


def comparisons_table(
    results: Mapping[str, Any],
    metrics: Sequence[str] | None = None,
    *,
    comparisons: Sequence[str] | None = None,
    digits: int = 3,
    max_width: int = MAX_WIDTH,
) -> str:
    """``results["comparisons"]``: one row per ``a - b``, signed ``mean [95% CI]`` per metric."""
    table = results["comparisons"]
    names = list(table) if comparisons is None else list(comparisons)
    if not names:
        return ""
    metrics = list(table[names[0]]) if metrics is None else list(metrics)
    rows = [
        [name, *(format_cell(table[name].get(m, ""), digits, signed=True) for m in metrics)]
        for name in names
    ]
    return markdown_table(["comparison", *metrics], rows, digits=digits, max_width=max_width)


def arms_and_comparisons(
    results: Mapping[str, Any], title: str, metrics: Sequence[str], compared: Sequence[str]
) -> str:
    """``title``, the `arms_table` of ``metrics``, then the paired differences of ``compared``.

    The paired differences (`comparisons_table`, under "Paired differences
    (same seeds):") only when ``results`` has comparisons; parts are separated
    by a blank line.
    """
    parts = [title, arms_table(results, metrics)]
    if results["comparisons"]:
        parts += ["Paired differences (same seeds):", comparisons_table(results, compared)]
    return "\n\n".join(parts)


def p_value_text(cell: Mapping[str, Any]) -> str:
    """``" (p=0.012)"`` for a `stats.paired_difference_ci` cell; ``""`` without a p-value or NaN."""
    p = cell.get("p_value")
    return "" if p is None or p != p else f" (p={p:.2g})"


def print_table(markdown: str, file: TextIO | None = None) -> None:
    """Prints a table (or any markdown text) as it is, to ``file`` (default stdout).

    The markdown is already aligned and at most `MAX_WIDTH` columns wide, so
    it reads the same in a terminal, a log and the ``.md`` file.
    """
    print(markdown, file=file or sys.stdout, flush=True)
