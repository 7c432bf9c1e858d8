"""The reproducible studies of reward_design, on one harness.

Each study is a package ``reward_design_studies.<name>`` whose ``STUDY`` is a
`reward_design_studies.harness.Study` (config, run, table, plots, headline).
``reward-design reproduce <name>`` and ``reproduce all`` find the studies
listed in `STUDIES`. The package needs the ``studies`` extra (matplotlib,
rich, mnist1d): ``pip install 'reward-design[studies]'``.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reward_design_studies.harness import Study

__all__ = ["STUDIES", "available_studies", "load_study"]

# name -> package; a study appears in the CLI once its package exists.
STUDIES: dict[str, str] = {
    "misaligned": "reward_design_studies.misaligned",
    "calibration": "reward_design_studies.calibration",
    "gating": "reward_design_studies.gating",
    "calibration-lm": "reward_design_studies.calibration_lm",
    "loss-aversion": "reward_design_studies.loss_aversion",
}


def _installed(path: str) -> bool:
    try:
        return importlib.util.find_spec(path) is not None
    except ImportError:
        return False


def available_studies() -> dict[str, str]:
    """The studies whose packages are installed, ``{name: package}``."""
    return {name: path for name, path in STUDIES.items() if _installed(path)}


def load_study(name: str) -> Study:
    """The `Study` of study ``name`` (its package's ``STUDY``).

    Raises:
      ValueError: for a name that is not an installed study.
      TypeError: if the package defines no ``STUDY``.
    """
    studies = available_studies()
    if name not in studies:
        raise ValueError(f"unknown study {name!r}; available: {sorted(studies)}.")
    module = importlib.import_module(studies[name])
    study = getattr(module, "STUDY", None)
    from reward_design_studies.harness.study import Study

    if not isinstance(study, Study):
        raise TypeError(f"{studies[name]}.STUDY must be a harness Study; got {study!r}.")
    return study
