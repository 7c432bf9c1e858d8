"""The calibration study as the harness runs it: ``STUDY``.

``reward-design reproduce calibration`` builds the configuration with
`CalibrationConfig.from_args`, calls `run` (the arms, metrics and audit of
`runner.run_study`), then `plot`, `report.table` and `report.headline`.
Importing this module does not import JAX or matplotlib: the CLI imports
every study package to build its parser.
"""

from __future__ import annotations

from reward_design_studies.harness.study import Study, run_keeping_samples

from . import report
from .config import CalibrationConfig, add_arguments

__all__ = ["DESCRIPTION", "STUDY", "run", "plot"]

DESCRIPTION = "RLCR: binary vs Brier vs log confidence rewards in a GRPO loop (calibration)"

# `runner.run_study` with the held-out samples kept aside (not in the JSON) for
# `plots.make_plots`' reliability diagrams; the two modules are imported on first call.
run, plot = run_keeping_samples(__package__)


STUDY = Study(
    name="calibration",
    description=DESCRIPTION,
    config_cls=CalibrationConfig,
    run=run,
    table=report.table,
    plot=plot,
    headline=report.headline,
    add_arguments=add_arguments,
    config_from_args=CalibrationConfig.from_args,
    quick_help="3 seeds, 1000 steps, 2048 held-out questions (a few minutes at most on 2 cores)",
)
