"""Study: the rubric as a gate vs the rubric as a dense reward, under GRPO.

``reward-design reproduce gating`` runs the second version (the default,
``--environment v2``): a gameable rubric judged on the text of a
Transformer policy's completions, gold measured by an exact checker on
held-out prompts (the package `reward_design_studies.gating_v2`,
docs/studies/gating.md). ``--environment v1`` runs the first version,
this package's own modules below (a GRU policy on 32 prompts, gold = the
gate's own predicate: it measured learning speed, not hacking).

The first version:

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

``reward-design reproduce gating [--environment v1|v2] [--judge-noise E ...] [--quick] [--out DIR]
[--seeds N] [--steps N] [--no-plots]`` runs `STUDY` through the harness; from
Python, ``run_study(GatingConfig.quick())`` runs the first version and
``run_study(GatingV2Config.quick())`` the second. This package imports only
the configs on import; jax and matplotlib are imported when the study runs.

References:
  Xu et al., "Direct Reasoning Optimization: LLMs Can Reward and Refine
  Their Own Reasoning for Open-Ended Tasks", arXiv 2506.13351.
  Gunjal et al., "Rubrics as Rewards: Reinforcement Learning Beyond
  Verifiable Domains", arXiv 2507.17746.
  Shao et al., "DeepSeekMath" (GRPO), arXiv 2402.03300.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from reward_design_studies.gating.config import ARMS as ARMS
from reward_design_studies.gating.config import GatingConfig as GatingConfig
from reward_design_studies.gating.config import add_arguments as _add_v1_arguments
from reward_design_studies.gating.config import config_from_args as _v1_config_from_args
from reward_design_studies.gating_v2.config import GatingV2Config as GatingV2Config
from reward_design_studies.harness import Study
from reward_design_studies.harness.study import default_config_from_args

__all__ = ["ARMS", "DESCRIPTION", "GatingConfig", "GatingV2Config", "STUDY", "run_study"]

DESCRIPTION = (
    "rubric as gate vs rubric as dense reward under GRPO, on a gameable rubric "
    "(DRO, Rubrics as Rewards)"
)


def _is_v2(results: dict[str, Any]) -> bool:
    return results.get("environment") == "v2"


def run_study(config: GatingConfig | GatingV2Config, progress: bool = False) -> dict[str, Any]:
    """Runs the study: a `GatingV2Config` runs the second version, a `GatingConfig` the first."""
    if isinstance(config, GatingV2Config):
        from reward_design_studies.gating_v2.study import run as run_v2

        return run_v2(config, progress)
    from reward_design_studies.gating.study import run

    return run(config, progress)


def _table(results: dict[str, Any]) -> str:
    if _is_v2(results):
        from reward_design_studies.gating_v2.study import table as table_v2

        return table_v2(results)
    from reward_design_studies.gating.study import table

    return table(results)


def _headline(results: dict[str, Any]) -> str:
    if _is_v2(results):
        from reward_design_studies.gating_v2.study import headline as headline_v2

        return headline_v2(results)
    from reward_design_studies.gating.study import headline

    return headline(results)


def _plot(results: dict[str, Any], out_dir: Path) -> list[Path]:
    if _is_v2(results):
        from reward_design_studies.gating_v2.plots import plot as plot_v2

        return plot_v2(results, out_dir)
    from reward_design_studies.gating.plots import plot

    return plot(results, out_dir)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--environment",
        choices=("v2", "v1"),
        default="v2",
        help="v2: the gameable rubric on held-out prompts (default); v1: the first version",
    )
    _add_v1_arguments(parser)
    parser.add_argument(
        "--judge-noise",
        type=float,
        nargs="+",
        default=None,
        metavar="E",
        help="v2: judge-noise levels e in [0, 0.5], every arm trained at every level "
        "(each check flipped with probability e in what the objective sees)",
    )


def _config_from_args(args: argparse.Namespace) -> GatingConfig | GatingV2Config:
    """``--environment``, ``--quick``, ``--seeds``, ``--steps`` and ``--judge-noise`` as a
    config."""
    noise = getattr(args, "judge_noise", None)
    if getattr(args, "environment", "v2") == "v1":
        if noise is not None:
            raise ValueError(
                "--judge-noise is for the second version; the first version's noise "
                "levels are part of its configuration."
            )
        return _v1_config_from_args(args)
    config = default_config_from_args(GatingV2Config, args)
    if noise is not None:
        config = config.replace(judge_noise=tuple(noise))
    steps = getattr(args, "steps", None)
    if steps is None:
        return config
    return config.replace(steps=steps, eval_every=min(config.eval_every, steps))


_QUICK = GatingV2Config.quick()

STUDY = Study(
    name="gating",
    description=DESCRIPTION,
    config_cls=GatingV2Config,
    run=run_study,
    table=_table,
    plot=_plot,
    headline=_headline,
    add_arguments=_add_arguments,
    config_from_args=_config_from_args,
    quick_help=f"{_QUICK.seeds} seeds, {_QUICK.steps} steps (v2; a few minutes on 2 CPU cores)",
)
