"""Study: can a loss-averse objective be learned without sophistry?

KTO (Ethayarajh et al., arXiv 2402.01306) weights undesirable outcomes by
lambda_U against lambda_D for desirable ones, after Kahneman and Tversky's
loss aversion; DPO is a HALO too. "Misaligned by Design" (Autor et al.,
arXiv 2511.07699) found that putting an asymmetric utility into the training
loss can make a better chooser on a worse representation. This study asks
whether KTO's loss-aversion knob pushes a policy towards *sophistry*
(winning a foolable rater's approval without being right), and whether
training symmetrically and applying the asymmetry at decision time
(`rd.posthoc`) avoids it. Design and results: docs/studies/loss-aversion.md.

Modules, by concern:

* `config`: `LossAversionConfig` (``full()``: the committed run, ``quick()``);
* `environment`: the task with a known posterior, the responses (answer x
  style, abstain), the foolable `Rater`, feedback and DPO pairs;
* `policy`: the MLP policy and its supervised warm start (pi_ref);
* `data`: per-seed warm start, feedback and evaluation prompts;
* `training`: KTO, DPO and the approval maximiser, batched over runs;
* `metrics`: decisions (greedy, post-hoc), gold utility, sophistry, probe;
* `study`: the run; `report`: the table and headline; `plots`: the PNGs.

``reward-design reproduce loss-aversion [--quick] [--out DIR] [--seeds N]
[--steps N] [--no-plots]``; from Python, ``run_study(LossAversionConfig.quick())``.
Importing this package imports only its config (no JAX, no matplotlib).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reward_design_studies.harness import Study
from reward_design_studies.loss_aversion.config import LossAversionConfig as LossAversionConfig
from reward_design_studies.loss_aversion.config import add_arguments, config_from_args

__all__ = ["DESCRIPTION", "LossAversionConfig", "STUDY", "run_study"]

DESCRIPTION = "KTO loss aversion vs post-hoc choosing: approval without competence (sophistry)"


def run_study(config: LossAversionConfig, progress: bool = False) -> dict[str, Any]:
    """Runs the study (`study.run`): ``run_study(LossAversionConfig.quick())`` -> results dict."""
    from reward_design_studies.loss_aversion.study import run

    return run(config, progress)


def _table(results: dict[str, Any]) -> str:
    from reward_design_studies.loss_aversion.report import table

    return table(results)


def _headline(results: dict[str, Any]) -> str:
    from reward_design_studies.loss_aversion.report import headline

    return headline(results)


def _plot(results: dict[str, Any], out_dir: Path) -> list[Path]:
    from reward_design_studies.loss_aversion.plots import make_plots

    return make_plots(results, out_dir)


_QUICK = LossAversionConfig.quick()

STUDY = Study(
    name="loss_aversion",
    description=DESCRIPTION,
    config_cls=LossAversionConfig,
    run=run_study,
    table=_table,
    plot=_plot,
    headline=_headline,
    add_arguments=add_arguments,
    config_from_args=config_from_args,
    quick_help=f"{_QUICK.seeds} seeds, {_QUICK.steps} steps (about 2 minutes on 2 CPU cores)",
)
