"""Study: the rubric as a gate vs the rubric as a dense reward, under GRPO.

The claim tested (DRO, arXiv 2506.13351; Rubrics as Rewards, arXiv
2507.17746): a rubric turned into a dense reward (weighted fraction of items
passed) lets a policy collect the cheap items and neglect the essential
ones, whereas the same rubric used as a gate, with a fine-grained reward
acting only inside the accepted set, keeps proxy and true quality together.
The design and the results are in docs/studies/gating.md.

Modules, by concern:

* `config`: `GatingConfig` (``full()``: the committed run, ``quick()``), the arm names;
* `environment`: the task ("show your work, then answer"), tokens, prompts,
  the token-level signal and the `reward_design.Rollouts` an objective sees;
* `rubric`: the six rubric checks, gold, proxy and the noisy judge;
* `policy`: the GRU policy, sampling and teacher-forced log-probabilities;
* `objectives`: `make_objective(arm)`, the only thing that differs between arms;
* `training`: warm start, the jitted GRPO chunk, evaluation;
* `metrics`: per-run arrays -> per-seed values, JSON cells, curves;
* `study`: the run (`study.run(config)`), the table and the headline;
* `plots`: the three figures.

``reward-design reproduce gating [--quick] [--out DIR] [--seeds N] [--steps N]
[--no-plots]`` runs `STUDY` through the harness; from Python,
``run_study(GatingConfig.quick())`` returns the results dict. This package imports only
its config on import; jax and matplotlib are imported when the study runs.

References:
  Xu et al., "Direct Reasoning Optimization: LLMs Can Reward and Refine
  Their Own Reasoning for Open-Ended Tasks", arXiv 2506.13351.
  Gunjal et al., "Rubrics as Rewards: Reinforcement Learning Beyond
  Verifiable Domains", arXiv 2507.17746.
  Shao et al., "DeepSeekMath" (GRPO), arXiv 2402.03300.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reward_design_studies.gating.config import ARMS as ARMS
from reward_design_studies.gating.config import GatingConfig as GatingConfig
from reward_design_studies.gating.config import add_arguments, config_from_args
from reward_design_studies.harness import Study

__all__ = ["ARMS", "DESCRIPTION", "GatingConfig", "STUDY", "run_study"]

DESCRIPTION = "rubric as gate vs rubric as dense reward under GRPO (DRO, Rubrics as Rewards)"


def run_study(config: GatingConfig, progress: bool = False) -> dict[str, Any]:
    """Runs the study (`study.run`): ``run_study(GatingConfig.quick())`` -> results dict."""
    from reward_design_studies.gating.study import run

    return run(config, progress)


def _table(results: dict[str, Any]) -> str:
    from reward_design_studies.gating.study import table

    return table(results)


def _headline(results: dict[str, Any]) -> str:
    from reward_design_studies.gating.study import headline

    return headline(results)


def _plot(results: dict[str, Any], out_dir: Path) -> list[Path]:
    from reward_design_studies.gating.plots import plot

    return plot(results, out_dir)


_QUICK = GatingConfig.quick()

STUDY = Study(
    name="gating",
    description=DESCRIPTION,
    config_cls=GatingConfig,
    run=run_study,
    table=_table,
    plot=_plot,
    headline=_headline,
    add_arguments=add_arguments,
    config_from_args=config_from_args,
    quick_help=(
        f"{_QUICK.seeds} seeds, {_QUICK.steps} steps, noise {list(_QUICK.noise_levels)} "
        "(about 2 minutes on 2 CPU cores)"
    ),
)
