"""The studies' harness: one config, statistics, JSON schema, table, plot and run flow.

Every study under `reward_design_studies` is a `Study` with a `StudyConfig`
subclass; `run_study` is the flow of ``reward-design reproduce <study>`` and
`run_all` that of ``reproduce all``.
"""

from reward_design_studies.harness.config import StudyConfig as StudyConfig
from reward_design_studies.harness.progress import progress as progress
from reward_design_studies.harness.results import REQUIRED_KEYS as REQUIRED_KEYS
from reward_design_studies.harness.results import check_results as check_results
from reward_design_studies.harness.results import read_json as read_json
from reward_design_studies.harness.results import resolve_out_dir as resolve_out_dir
from reward_design_studies.harness.results import run_metadata as run_metadata
from reward_design_studies.harness.results import to_jsonable as to_jsonable
from reward_design_studies.harness.results import write_json as write_json
from reward_design_studies.harness.run_all import run_all as run_all
from reward_design_studies.harness.stats import bootstrap_ci as bootstrap_ci
from reward_design_studies.harness.stats import compare_arms as compare_arms
from reward_design_studies.harness.stats import mean_ci as mean_ci
from reward_design_studies.harness.stats import metric_summary as metric_summary
from reward_design_studies.harness.stats import paired_difference_ci as paired_difference_ci
from reward_design_studies.harness.stats import summarise_arms as summarise_arms
from reward_design_studies.harness.study import Study as Study
from reward_design_studies.harness.study import StudyOutput as StudyOutput
from reward_design_studies.harness.study import add_common_arguments as add_common_arguments
from reward_design_studies.harness.study import execute as execute
from reward_design_studies.harness.study import run_study as run_study
from reward_design_studies.harness.tables import arms_and_comparisons as arms_and_comparisons
from reward_design_studies.harness.tables import arms_table as arms_table
from reward_design_studies.harness.tables import comparisons_table as comparisons_table
from reward_design_studies.harness.tables import format_cell as format_cell
from reward_design_studies.harness.tables import markdown_table as markdown_table
from reward_design_studies.harness.tables import p_value_text as p_value_text
from reward_design_studies.harness.tables import print_table as print_table

__all__ = [
    "REQUIRED_KEYS",
    "Study",
    "StudyConfig",
    "StudyOutput",
    "add_common_arguments",
    "arms_and_comparisons",
    "arms_table",
    "bootstrap_ci",
    "check_results",
    "compare_arms",
    "comparisons_table",
    "execute",
    "format_cell",
    "markdown_table",
    "mean_ci",
    "metric_summary",
    "p_value_text",
    "paired_difference_ci",
    "print_table",
    "progress",
    "read_json",
    "resolve_out_dir",
    "run_all",
    "run_metadata",
    "run_study",
    "summarise_arms",
    "to_jsonable",
    "write_json",
]
