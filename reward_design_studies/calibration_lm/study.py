"""The LM calibration study as the harness runs it: ``STUDY``.

Importing this module does not import JAX or matplotlib (the CLI imports
every study package to build its parser).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reward_design_studies.harness.study import KeptSamples, Study

from . import report
from .config import CalibrationLMConfig, add_arguments

__all__ = ["DESCRIPTION", "STUDY", "run", "plot"]

DESCRIPTION = "RLCR on a small Transformer LM: confidence written after the answer (calibration-lm)"

# The held-out samples of the last `run`, for `plot`'s reliability diagrams (not in the JSON).
_RAW = KeptSamples()


def run(config: CalibrationLMConfig, progress: bool = False) -> dict[str, Any]:
    """Runs the study (`runner.run_study`); the results dict, JSON-ready."""
    from .runner import run_study

    return _RAW.keep(run_study(config, progress=progress, keep_raw=True), "raw_final")


def plot(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """The PNGs (`plots.make_plots`); reliability diagrams when ``results`` came from `run`."""
    from .plots import make_plots

    return make_plots(results, out_dir, raw=_RAW.get(results))


STUDY = Study(
    name="calibration_lm",
    description=DESCRIPTION,
    config_cls=CalibrationLMConfig,
    run=run,
    table=report.table,
    plot=plot,
    headline=report.headline,
    add_arguments=add_arguments,
    config_from_args=CalibrationLMConfig.from_args,
    quick_help="2 seeds, 80 steps, 128 held-out prompts (a few minutes on 2 cores)",
)
