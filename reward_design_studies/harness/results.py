"""The results file every study writes, and its schema.

A study's ``run`` returns one dict, written as ``<out>/<study>.json``. The keys
every study has (`REQUIRED_KEYS`):

* ``experiment``: the study's name (str);
* ``config``: the configuration (dict, at least the `StudyConfig` fields);
* ``arms``: ``{arm: {metric: cell}}`` at the study's headline setting, each
  cell `stats.metric_summary`'s ``{"mean", "ci95": [low, high], "per_seed"}``;
* ``comparisons``: ``{"a - b": {metric: cell}}``, each cell
  `stats.paired_difference_ci`'s ``{"mean", "low", "high", ...}``;
* ``metadata``: `run_metadata` (versions, machine, time);
* ``timings_s``: ``{phase: seconds}``;
* ``plots``: the PNGs written, relative to the results file (``[]`` without plots).

Any other key is the study's own (sweeps, curves, diagnostics, ...).
"""

from __future__ import annotations

import json
import math
import numbers
import os
import platform
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "REQUIRED_KEYS",
    "check_results",
    "run_metadata",
    "to_jsonable",
    "write_json",
    "read_json",
    "resolve_out_dir",
]

REQUIRED_KEYS: dict[str, type | tuple[type, ...]] = {
    "experiment": str,
    "config": dict,
    "arms": dict,
    "comparisons": dict,
    "metadata": dict,
    "timings_s": dict,
    "plots": (list, tuple),
}


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _check_arm_cell(where: str, cell: Any) -> None:
    if not isinstance(cell, Mapping) or not {"mean", "ci95", "per_seed"} <= set(cell):
        raise ValueError(
            f"results[{where}] must be a metric_summary cell with keys "
            f"'mean', 'ci95', 'per_seed'; got {cell!r:.200}."
        )
    ci = cell["ci95"]
    if not isinstance(ci, list | tuple) or len(ci) != 2:
        raise ValueError(f"results[{where}]['ci95'] must be [low, high]; got {ci!r}.")
    if not isinstance(cell["per_seed"], list | tuple) or not cell["per_seed"]:
        raise ValueError(
            f"results[{where}]['per_seed'] must be a non-empty list; got {cell['per_seed']!r}."
        )


def _check_comparison_cell(where: str, cell: Any) -> None:
    if not isinstance(cell, Mapping) or not {"mean", "low", "high"} <= set(cell):
        raise ValueError(
            f"results[{where}] must be a paired_difference_ci cell with keys "
            f"'mean', 'low', 'high'; got {cell!r:.200}."
        )


def _check_table(name: str, table: Mapping[str, Any], check_cell) -> None:
    for row, cells in table.items():
        if not isinstance(cells, Mapping):
            raise ValueError(
                f"results[{name!r}][{row!r}] must be a dict {{metric: cell}}; "
                f"got {type(cells).__name__}."
            )
        for metric, cell in cells.items():
            check_cell(f"{name!r}][{row!r}][{metric!r}", cell)


def check_results(results: Mapping[str, Any]) -> None:
    """Checks a study's results against the schema above.

    Raises:
      ValueError: naming the first missing or malformed key.
    """
    if not isinstance(results, Mapping):
        raise ValueError(f"results must be a dict; got {type(results).__name__}.")
    for key, kind in REQUIRED_KEYS.items():
        if key not in results:
            raise ValueError(f"results lack the required key {key!r}; got {sorted(results)}.")
        if not isinstance(results[key], kind):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise ValueError(
                f"results[{key!r}] must be a {names}; got {type(results[key]).__name__}."
            )
    if not results["experiment"]:
        raise ValueError("results['experiment'] must name the study; got ''.")
    if not results["arms"]:
        raise ValueError("results['arms'] must hold at least one arm; got {}.")
    _check_table("arms", results["arms"], _check_arm_cell)
    _check_table("comparisons", results["comparisons"], _check_comparison_cell)
    for name, seconds in results["timings_s"].items():
        if not _is_number(seconds):
            raise ValueError(f"results['timings_s'][{name!r}] must be seconds; got {seconds!r}.")
    for path in results["plots"]:
        if not isinstance(path, str) or Path(path).is_absolute():
            raise ValueError(
                f"results['plots'] must hold paths relative to the results file; got {path!r}."
            )


def run_metadata(config: Mapping[str, Any]) -> dict[str, Any]:
    """What to store beside results: the config, versions, machine, time."""
    import jax

    return {
        "config": config,
        "jax_version": jax.__version__,
        "jax_backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "python": platform.python_version(),
        "machine": platform.platform(),
        "cpu_count": os.cpu_count(),
        "timestamp_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def to_jsonable(obj: Any) -> Any:
    """``obj`` with numpy/JAX arrays as lists, numpy scalars as Python numbers.

    Non-finite floats become ``None`` (NaN) and ``"inf"`` / ``"-inf"``, so the
    file is strict JSON.
    """
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "__array__"):
        return to_jsonable(np.asarray(obj))
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Writes ``data`` (numpy/JAX arrays allowed) as indented JSON; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_jsonable(data), indent=2) + "\n", encoding="utf-8")
    return path


def read_json(path: str | os.PathLike) -> Any:
    """Reads a file written by `write_json`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def resolve_out_dir(out: str | os.PathLike | None, study: str) -> Path:
    """``out``, or ``results/<study>`` under the current directory; created."""
    path = Path(out) if out else Path("results") / study
    path.mkdir(parents=True, exist_ok=True)
    return path
