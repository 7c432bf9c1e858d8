"""`Study`: what a study provides, and `run_study`: the flow they all share.

A study package defines ``STUDY = Study(...)`` in its ``__init__.py``: its
name, one line of description, its `StudyConfig` subclass and four functions,

* ``run(config, progress) -> results``: the runs and the results dict
  (`results.check_results`' schema, without ``plots``);
* ``table(results) -> str``: the markdown printed and written beside the JSON
  (`tables.markdown_table` and friends: at most 100 columns);
* ``plot(results, out_dir) -> [paths]``: the PNGs (`plots`);
* ``headline(results) -> str``: one line, the study's main number;

plus, optionally, ``add_arguments(parser)`` for its own CLI options and
``config_from_args(args) -> config`` when they change the config.

`run_study` is ``reward-design reproduce <study>``: config from the options,
run, check, write ``<out>/<name>.json``, ``<out>/<name>.md`` and the PNGs,
print the table, the headline and the paths. Keep a study package's import
light (import jax-heavy, plotting and data modules inside the functions):
the CLI imports every study package to build its parser.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reward_design_studies.harness.config import StudyConfig
from reward_design_studies.harness.results import check_results, resolve_out_dir, write_json
from reward_design_studies.harness.tables import print_table

__all__ = [
    "KeptSamples",
    "Study",
    "StudyOutput",
    "add_common_arguments",
    "config_with_steps_from_args",
    "default_config_from_args",
    "execute",
    "lazy_exports",
    "run_keeping_samples",
    "run_study",
]


def default_config_from_args(config_cls: type[StudyConfig], args: argparse.Namespace):
    """``config_cls.quick(args.seeds)`` with ``--quick``, else ``config_cls.full(args.seeds)``."""
    seeds = getattr(args, "seeds", None)
    if getattr(args, "quick", False):
        return config_cls.quick(seeds)
    return config_cls.full(seeds)


def config_with_steps_from_args(config_cls: type[StudyConfig], args: argparse.Namespace):
    """`default_config_from_args`, with ``steps`` replaced by ``--steps`` when it is given."""
    config = default_config_from_args(config_cls, args)
    steps = getattr(args, "steps", None)
    return config if steps is None else config.replace(steps=steps)


def lazy_exports(module_name: str, lazy: dict[str, str]) -> tuple[Callable, Callable]:
    """A package's ``__getattr__`` and ``__dir__`` for names imported on first use.

    ``lazy`` maps a public name to the submodule that defines it; the first
    access imports that submodule and keeps the value in the package. Use
    ``__getattr__, __dir__ = lazy_exports(__name__, _LAZY)`` after ``__all__``:
    the package's import stays light (no JAX, no matplotlib).
    """
    module = sys.modules[module_name]

    def __getattr__(name: str) -> Any:
        if name in lazy:
            value = getattr(importlib.import_module(f"{module_name}.{lazy[name]}"), name)
            setattr(module, name, value)
            return value
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(module)) | set(module.__all__))

    return __getattr__, __dir__


class KeptSamples:
    """What a study's ``run`` keeps beside its results for its ``plot`` only.

    The harness hands ``plot`` the results dict alone; samples too large for the
    JSON (e.g. the pooled held-out predictions behind reliability diagrams) are
    kept here by `keep` and given back by `get` for those same results only.
    """

    def __init__(self) -> None:
        self._results: dict[str, Any] | None = None
        self._samples: Any = None

    def keep(self, results: dict[str, Any], key: str) -> dict[str, Any]:
        """Moves ``results[key]`` here and returns ``results`` without it."""
        self._samples = results.pop(key)
        self._results = results
        return results

    def get(self, results: dict[str, Any]) -> Any:
        """The samples kept with ``results`` (the same object), else None."""
        return self._samples if self._results is results else None


def run_keeping_samples(package: str, key: str = "raw_final") -> tuple[Callable, Callable]:
    """A study's ``run`` and ``plot`` when its plots need samples kept out of the JSON.

    ``run(config, progress)`` returns ``<package>.runner.run_study(config,
    progress=progress, keep_raw=True)`` with ``results[key]`` kept aside
    (`KeptSamples`); ``plot(results, out_dir)`` returns
    ``<package>.plots.make_plots(results, out_dir, raw=...)`` with those
    samples for the results of the last ``run`` (None for other results).
    Both submodules are imported on first call.
    """
    kept = KeptSamples()

    def run(config: StudyConfig, progress: bool = False) -> dict[str, Any]:
        runner = importlib.import_module(f"{package}.runner")
        return kept.keep(runner.run_study(config, progress=progress, keep_raw=True), key)

    def plot(results: dict[str, Any], out_dir: Path) -> list[Path]:
        plots = importlib.import_module(f"{package}.plots")
        return plots.make_plots(results, out_dir, raw=kept.get(results))

    return run, plot


@dataclasses.dataclass(frozen=True)
class Study:
    """One study, as the harness and the CLI see it.

    Attributes:
      name: CLI name and file stem (``reproduce <name>``, ``<name>.json``).
      description: one line for ``reward-design reproduce --help``.
      config_cls: the study's `StudyConfig` subclass.
      run: ``run(config, progress: bool) -> results`` (see `results`).
      table: ``table(results) -> markdown`` (at most 100 columns wide).
      plot: ``plot(results, out_dir: Path) -> list[Path]`` (PNGs under ``out_dir``).
      headline: ``headline(results) -> str``, one line.
      add_arguments: ``add_arguments(parser)``, the study's own options, or None.
      config_from_args: ``config_from_args(args) -> config``; default
        `default_config_from_args` (``--quick`` and ``--seeds``).
      quick_help: what ``--quick`` runs, for ``--help``.
    """

    name: str
    description: str
    config_cls: type[StudyConfig]
    run: Callable[[Any, bool], dict[str, Any]]
    table: Callable[[dict[str, Any]], str]
    plot: Callable[[dict[str, Any], Path], list[Path]]
    headline: Callable[[dict[str, Any]], str]
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    config_from_args: Callable[[argparse.Namespace], Any] | None = None
    quick_help: str = ""

    def __post_init__(self) -> None:
        if not self.name or not self.name.isidentifier():
            raise ValueError(f"name must be a Python identifier; got {self.name!r}.")
        if not (isinstance(self.config_cls, type) and issubclass(self.config_cls, StudyConfig)):
            raise TypeError(f"config_cls must be a StudyConfig subclass; got {self.config_cls!r}.")
        for field in ("run", "table", "plot", "headline"):
            if not callable(getattr(self, field)):
                raise TypeError(f"{field} must be callable; got {getattr(self, field)!r}.")

    def make_config(self, args: argparse.Namespace) -> StudyConfig:
        """The config the parsed CLI options ask for."""
        if self.config_from_args is not None:
            return self.config_from_args(args)
        return default_config_from_args(self.config_cls, args)


def add_common_arguments(parser: argparse.ArgumentParser, study: Study) -> None:
    """The options every ``reproduce <study>`` takes, then the study's own."""
    full, quick = study.config_cls.full(), study.config_cls.quick()
    parser.add_argument(
        "--quick",
        action="store_true",
        help=study.quick_help or f"the quick mode ({quick.seeds} seeds)",
    )
    parser.add_argument("--out", default=None, help=f"output folder (default results/{study.name})")
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help=f"number of seeds (default {full.seeds}, or {quick.seeds} with --quick)",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNGs")
    if study.add_arguments is not None:
        study.add_arguments(parser)


@dataclasses.dataclass(frozen=True)
class StudyOutput:
    """What `execute` produced: the results and the files written."""

    results: dict[str, Any]
    json_path: Path
    table_path: Path
    plot_paths: list[Path]
    seconds: float

    @property
    def paths(self) -> list[Path]:
        return [self.json_path, self.table_path, *self.plot_paths]


def _relative(path: Path, out_dir: Path) -> str:
    try:
        return path.relative_to(out_dir).as_posix()
    except ValueError:
        return path.name


def execute(
    study: Study,
    config: StudyConfig,
    out_dir: str | Path,
    *,
    plots: bool = True,
    progress: bool = True,
) -> StudyOutput:
    """Runs ``study`` with ``config`` and writes its files under ``out_dir`` (no printing)."""
    out_dir = resolve_out_dir(out_dir, study.name)
    start = time.perf_counter()
    results = study.run(config, progress)
    results["plots"] = []
    plot_paths = [Path(p) for p in study.plot(results, out_dir)] if plots else []
    results["plots"] = [_relative(p, out_dir) for p in plot_paths]
    check_results(results)
    table = study.table(results)
    table_path = out_dir / f"{study.name}.md"
    table_path.write_text(table + "\n", encoding="utf-8")
    json_path = write_json(out_dir / f"{study.name}.json", results)
    return StudyOutput(results, json_path, table_path, plot_paths, time.perf_counter() - start)


def run_study(study: Study, args: argparse.Namespace) -> int:
    """``reward-design reproduce <study>``: the common flow. Returns the exit code."""
    try:
        config = study.make_config(args)
    except (TypeError, ValueError) as err:
        print(f"reproduce {study.name}: {err}", file=sys.stderr)
        return 2
    out_dir = getattr(args, "out", None) or Path("results") / study.name
    output = execute(study, config, out_dir, plots=not getattr(args, "no_plots", False))
    print_table(output.table_path.read_text(encoding="utf-8").rstrip("\n"))
    print(f"\n{study.name}: {study.headline(output.results)}")
    print(f"wrote ({output.seconds:.0f} s):")
    for path in output.paths:
        print(f"  {path}")
    return 0
