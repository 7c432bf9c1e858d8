"""Reproducible studies, as importable code.

Each study is a module ``reward_design.experiments.<name>`` that defines

* ``DESCRIPTION: str`` — one line for ``reward-design reproduce --help``;
* ``add_arguments(parser: argparse.ArgumentParser) -> None`` — its options
  (every study takes ``--quick``, ``--out DIR`` and ``--seeds N``);
* ``run(args: argparse.Namespace) -> int`` — runs it, writes results
  (JSON, tables, PNG) under ``args.out`` and returns an exit code.

``reward-design reproduce <name>`` finds studies listed in `STUDIES`.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

__all__ = ["STUDIES", "available_studies", "load_study"]

# name -> module path; a study appears in the CLI once its module exists.
STUDIES: dict[str, str] = {
    "misaligned": "reward_design.experiments.misaligned",
    "calibration": "reward_design.experiments.calibration",
    "gating": "reward_design.experiments.gating",
}


def available_studies() -> dict[str, str]:
    """The studies whose modules are installed."""
    return {
        name: path for name, path in STUDIES.items() if importlib.util.find_spec(path) is not None
    }


def load_study(name: str) -> ModuleType:
    """Imports study ``name``; raises ValueError for unknown names."""
    studies = available_studies()
    if name not in studies:
        raise ValueError(f"unknown study {name!r}; available: {sorted(studies)}.")
    return importlib.import_module(studies[name])
