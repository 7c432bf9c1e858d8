"""The bench's result: machine description, JSON, a table that fits 100 columns, a plot.

The result (`reward_design_bench.suite.run_benchmark`) is a dict::

    {"benchmark", "schema_version", "machine", "kernel", "ynn_off", "config",
     "copy_bandwidth_bytes_per_s", "copy_bandwidth_measurements",
     "timestamp_utc", "rows": [step row per size], "text": text row or None}

A step row holds ``seconds`` (medians; ``kernel``, ``loop`` and
``ours_ynn_off`` None where not measured), ``spread`` (`timing.summarize` per implementation),
``ratios``, ``retraces``, ``compile_s``, ``floor_bytes``, ``kernel_runs``
and ``variants``; the text row ``seconds``, ``spread``, ``ratios``,
``max_abs_diff`` and ``agree``. `check_result` checks that shape.
"""

from __future__ import annotations

import json
import math
import os
import platform
import textwrap
from pathlib import Path
from typing import Any

__all__ = ["WIDTH", "machine", "check_result", "format_table", "write_json", "plot_results"]

#: The table's width in columns.
WIDTH = 100

_ROW_KEYS = ("rollouts", "seconds", "spread", "ratios", "retraces", "compile_s", "floor_bytes")
_STEP_TIMES = ("ours", "kernel", "numpy", "loop", "floor", "extra_term", "dispatch")
_TEXT_KEYS = ("completions", "seconds", "spread", "ratios", "max_abs_diff", "agree")


def machine() -> dict[str, Any]:
    """Platform, CPU count, Python and JAX versions, backend, devices and load average."""
    import jax

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [d.device_kind for d in jax.devices()],
        "load_average_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def check_result(result: dict[str, Any]) -> None:
    """Raises ValueError naming the first missing key of the result's schema."""
    for key in ("machine", "kernel", "config", "copy_bandwidth_bytes_per_s", "rows", "text"):
        if key not in result:
            raise ValueError(f"result must have key {key!r}; got keys {sorted(result)}.")
    for i, row in enumerate(result["rows"]):
        for key in _ROW_KEYS:
            if key not in row:
                raise ValueError(f"result['rows'][{i}] must have key {key!r}; got {sorted(row)}.")
        for key in _STEP_TIMES:
            if key not in row["seconds"]:
                raise ValueError(f"result['rows'][{i}]['seconds'] must have key {key!r}.")
    if result["text"] is not None:
        for key in _TEXT_KEYS:
            if key not in result["text"]:
                raise ValueError(f"result['text'] must have key {key!r}.")


def write_json(result: dict[str, Any], path: str | os.PathLike) -> Path:
    """Writes the result as indented JSON (parent folders created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def _cell(value: float | None, width: int, spec: str) -> str:
    """A right-aligned table cell; "-" for a value not measured."""
    if value is None:
        return f"{'-':>{width}}"
    return f"{format(value, spec):>{width}}"


def _ms(seconds: float | None, width: int) -> str:
    """Milliseconds to 3 significant digits, never in exponent form; "-" if not measured."""
    if seconds is None:
        return f"{'-':>{width}}"
    ms = seconds * 1e3
    digits = 2 - math.floor(math.log10(ms)) if ms > 0 else 3
    return f"{ms:>{width}.{max(digits, 0)}f}"


def _iqr_percent(summary: dict[str, float]) -> float:
    return (summary["q3"] - summary["q1"]) / summary["median"] * 100


def _header(result: dict[str, Any]) -> list[str]:
    m, cfg, kernel = result["machine"], result["config"], result["kernel"]
    devices = ", ".join(sorted(set(m["devices"])))
    tokens = f" + token mean (T = {cfg['tokens']})" if cfg.get("tokens") else ""
    text = (
        f"reward_design bench: {m['backend']} ({devices}), {m['cpu_count']} CPUs, "
        f"jax {m['jax']}, {m['platform']}. Copy bandwidth "
        f"{result['copy_bandwidth_bytes_per_s'] / 1e9:.1f} GB/s. Step = correctness + Brier"
        f"{tokens} + AllOf gate (drop) + GRPO advantages, G = {cfg['group_size']}, "
        f"K = {cfg['rubric_items']}, inputs {cfg['input_dtype']}. Ours = Gated.evaluate + "
        "rd.advantages.grpo (the default path); kernel = rd.kernels.gated_advantages (opt-in; "
        f"{'runs' if kernel['available'] else 'not run: ' + kernel['reason']}). "
        "Times are medians of interleaved calls."
    )
    return textwrap.wrap(text, WIDTH)


def _ratio_lines(rows: list[dict[str, Any]]) -> list[str]:
    sweep = rows[0].get("sweep", 16)
    lines = [
        "",
        "ratios (numpy/ours and loop/ours: higher is better; ours/floor: 1 is the least possible)",
        f"{'rollouts':>9}{'numpy/ours':>11}{'loop/ours':>10}{'ours/floor':>11}{'ours/kernel':>12}"
        f"{'kern/floor':>11}{'+1 term':>9}{f'vmap{sweep}/1':>9}{f'{sweep} calls':>9}"
        f"{'retraces':>9}",
    ]
    for row in rows:
        q = row["ratios"]
        extra = f"{q['extra_term_overhead'] * 100:+.0f}%"
        lines.append(
            f"{row['rollouts']:>9}{_cell(q['numpy_over_ours'], 11, '.1f')}"
            f"{_cell(q['loop_over_ours'], 10, '.0f')}{_cell(q['ours_over_floor'], 11, '.2f')}"
            f"{_cell(q['ours_over_kernel'], 12, '.2f')}"
            f"{_cell(q['kernel_over_floor'], 11, '.2f')}{extra:>9}"
            f"{_cell(q['vmap_over_one'], 9, '.1f')}{_cell(q['separate_over_one'], 9, '.1f')}"
            f"{sum(row['retraces'].values()):>9}"
        )
    return lines


def _time_lines(rows: list[dict[str, Any]]) -> list[str]:
    sweep = rows[0].get("sweep", 16)
    lines = [
        "",
        "times (ms, medians of interleaved calls; IQR% = interquartile range / median of ours)",
        f"{'rollouts':>9}{'ours':>9}{'IQR%':>6}{'kernel':>9}{'numpy':>9}{'loop':>10}{'floor':>10}"
        f"{'+1 term':>9}{f'vmap{sweep}':>9}{'dispatch':>9}{'compile s':>10}",
    ]
    for row in rows:
        s = row["seconds"]
        lines.append(
            f"{row['rollouts']:>9}{_ms(s['ours'], 9)}{_iqr_percent(row['spread']['ours']):>6.0f}"
            f"{_ms(s['kernel'], 9)}{_ms(s['numpy'], 9)}{_ms(s['loop'], 10)}{_ms(s['floor'], 10)}"
            f"{_ms(s['extra_term'], 9)}{_ms(s[f'vmap{sweep}'], 9)}{_ms(s['dispatch'], 9)}"
            f"{row['compile_s']:>10.2f}"
        )
    return lines


def _ynn_off_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The step compiled with XLA:CPU's YNN library fusions off, where it was timed."""
    rows = [row for row in rows if row["seconds"].get("ours_ynn_off") is not None]
    if not rows:
        return []
    lines = [
        "",
        "ours compiled with XLA:CPU's YNN library fusions off (compiler option",
        "xla_cpu_experimental_ynn_fusion_type=''; see docs/performance.md), same run",
        f"{'rollouts':>9}{'ours ms':>10}{'YNN off ms':>12}{'ours/off':>10}{'off/floor':>11}"
        f"{'numpy/off':>11}",
    ]
    for row in rows:
        s = row["seconds"]
        off = s["ours_ynn_off"]
        lines.append(
            f"{row['rollouts']:>9}{_ms(s['ours'], 10)}{_ms(off, 12)}"
            f"{_cell(s['ours'] / off, 10, '.2f')}{_cell(off / s['floor'], 11, '.2f')}"
            f"{_cell(s['numpy'] / off, 11, '.1f')}"
        )
    return lines


def _variant_lines(rows: list[dict[str, Any]]) -> list[str]:
    rows = [row for row in rows if row.get("variants")]
    if not rows:
        return []
    names = list(rows[0]["variants"])
    name_w = max(len(n) for n in names) + 2
    per_chunk = max(1, (WIDTH - name_w) // 11)
    lines = []
    for start in range(0, len(rows), per_chunk):
        chunk = rows[start : start + per_chunk]
        lines += [
            "",
            "other objectives, same inner terms (ms, medians; ours, with the YNN fusions off,",
            "and with the kernel, where measured)",
        ]
        lines.append(f"{'rollouts':<{name_w}}" + "".join(f"{r['rollouts']:>11}" for r in chunk))
        lines.append(
            f"{'AllOf gate + GRPO (the step)':<{name_w}}"
            + "".join(_ms(r["seconds"]["ours"], 11) for r in chunk)
        )
        lines += _alternative_lines([r["seconds"] for r in chunk], name_w)
        for name in names:
            cells = [r["variants"][name] for r in chunk]
            lines.append(f"{name:<{name_w}}" + "".join(_ms(c["ours"], 11) for c in cells))
            lines += _alternative_lines(cells, name_w)
    return lines


def _alternative_lines(cells: list[dict[str, Any]], name_w: int) -> list[str]:
    """Lines under a variant: its time with the YNN fusions off and with the kernel."""
    lines = []
    for key, label in (("ours_ynn_off", "  YNN fusions off"), ("kernel", "  with the kernel")):
        if any(c.get(key) is not None for c in cells):
            lines.append(f"{label:<{name_w}}" + "".join(_ms(c.get(key), 11) for c in cells))
    return lines


def _text_lines(text: dict[str, Any] | None) -> list[str]:
    if text is None:
        return []
    s, spread = text["seconds"], text["spread"]
    return [
        "",
        f"TRL reward function, {text['completions']} RLCR-format completions per call",
        "(correctness + Brier; every call gets a batch it has not seen; ms, medians)",
        f"  ours, rd.integrations.trl.reward_func     {_ms(s['ours'], 9)}"
        f"   IQR {_iqr_percent(spread['ours']):3.0f}%",
        f"  hand-written (regex, exact match, Python) {_ms(s['handwritten'], 9)}"
        f"   IQR {_iqr_percent(spread['handwritten']):3.0f}%",
        f"  ours/hand-written {text['ratios']['ours_over_handwritten']:.2f}; same values: "
        f"max |difference| {text['max_abs_diff']:.1e} "
        f"({'agree' if text['agree'] else 'DIFFER'} to 1e-7)",
    ]


def format_table(result: dict[str, Any]) -> str:
    """The result as text, no line over `WIDTH` columns: ratios first, then times."""
    rows = result["rows"]
    lines = _header(result)
    if rows:
        lines += _ratio_lines(rows) + _time_lines(rows) + _ynn_off_lines(rows)
        lines += _variant_lines(rows)
        if any(row["seconds"]["kernel"] is None for row in rows) and result["kernel"]["available"]:
            lines.append("kernel '-': a group size the kernel does not take")
        if any(row["seconds"]["loop"] is None for row in rows):
            lines.append("loop '-': not timed above --loop-cap rollouts")
    lines += _text_lines(result.get("text"))
    return "\n".join(lines)


_SERIES = (
    ("loop", "Python loop (per completion)", "o-"),
    ("numpy", "numpy (vectorised)", "s-"),
    ("ours", "ours: Gated.evaluate + grpo (default)", "D-"),
    ("ours_ynn_off", "ours, XLA:CPU YNN fusions off", "D--"),
    ("kernel", "ours with the opt-in CPU kernel", "D:"),
    ("extra_term", "ours + 1 term", "d--"),
    ("floor", "memory floor", "k:"),
    ("dispatch", "trivial jitted call", "k-."),
)


def plot_results(result: dict[str, Any], path: str | os.PathLike) -> Path:
    """PNG: median time vs rollouts per implementation (log-log), and the text row's bars."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    text = result.get("text")
    fig = Figure(figsize=(11.0 if text else 6.5, 4.5), layout="constrained")
    axes = fig.subplots(1, 2 if text else 1, squeeze=False)[0]
    ax = axes[0]
    for key, label, style in _SERIES:
        points = [
            (row["rollouts"], row["seconds"][key])
            for row in result["rows"]
            if row["seconds"].get(key) is not None
        ]
        if points:
            ax.plot(*zip(*points, strict=True), style, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rollouts (P x G)")
    ax.set_ylabel("seconds per step (median)")
    m = result["machine"]
    ax.set_title(f"step: rewards, gate, GRPO; {m['backend']}, {m['cpu_count']} CPUs", fontsize=10)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    if text:
        names = ["ours", "handwritten"]
        axes[1].bar(
            ["ours\n(trl.reward_func)", "hand-written\n(regex + Python)"],
            [text["seconds"][n] * 1e3 for n in names],
            yerr=[[(text["seconds"][n] - text["spread"][n]["q1"]) * 1e3 for n in names],
                  [(text["spread"][n]["q3"] - text["seconds"][n]) * 1e3 for n in names]],
            color=["tab:blue", "tab:gray"],
        )  # fmt: skip
        axes[1].set_ylabel("ms per call (median, quartiles)")
        axes[1].set_title(f"TRL reward function, {text['completions']} completions", fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
