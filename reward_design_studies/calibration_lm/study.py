"""The LM calibration study as the harness runs it: ``STUDY``.

Importing this module does not import JAX or matplotlib (the CLI imports
every study package to build its parser).
"""

from __future__ import annotations

from reward_design_studies.harness.study import Study, run_keeping_samples

from . import report
from .config import CalibrationLMConfig, add_arguments

__all__ = ["DESCRIPTION", "STUDY", "run", "plot"]

DESCRIPTION = "RLCR on a small Transformer LM: confidence written after the answer (calibration-lm)"

# `runner.run_study` with the held-out samples kept aside (not in the JSON) for
# `plots.make_plots`' reliability diagrams; the two modules are imported on first call.
run, plot = run_keeping_samples(__package__)


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
