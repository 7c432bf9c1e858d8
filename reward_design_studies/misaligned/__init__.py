"""Study: symmetric training + post-hoc choosing vs utility-weighted training.

"Misaligned by Design" (Autor, Caplin, Martin, Marx, arXiv 2511.07699) trains
classifiers under asymmetric error costs in two ways and finds that training
with the ordinary, symmetric cross-entropy and applying the costs only at
decision time ("ex-post weighting") beats putting the costs into the training
loss ("weighted training"), even on the cost-weighted objective itself: the
weighted loss correctly incentivises *choosing* but weakens the incentive to
*learn* features. This study replays that comparison on data that needs no
download, with the library's own post-hoc tools:

* tasks (`environment`): scikit-learn ``digits`` as a rare-positive binary
  task (digit 8 vs rest, like a diagnosis) and the procedural MNIST-1D
  10-class task with one critical class;
* costs: every error costs 1, missing the critical class costs ``r`` (the
  cost ratio); binary: ``cost = [[0, 1], [r, 0]]``;
* one network, optimiser, minibatch sequence, number of steps and seed per
  pairing (`training`); the arms differ only in the training loss:
  ``symmetric`` (``optax.softmax_cross_entropy_with_integer_labels``) or
  ``utility_weighted`` (`rd.posthoc.utility_weighted_cross_entropy`);
* decision rules, the reported arms (`config.ARMS`): ``symmetric_posthoc``
  (temperature-scaled on the validation split, then
  `rd.posthoc.bayes_decision`), ``symmetric_posthoc_uncalibrated``,
  ``symmetric_argmax`` (reference), ``utility_weighted_argmax`` (what
  practitioners do) and ``utility_weighted_bayes`` (the costs counted twice);
* metrics (`metrics`): test utility, the weighted loss, accuracy, ECE,
  critical-class recall and a linear probe of the representation;
* optionally (``tune``, `tuning`): every arm tuned on validation, its
  learning rate and stopping step chosen by its own validation utility.

Run it with ``reward-design reproduce misaligned [--quick] [--out DIR] [--seeds N]``
(``--tune``, ``--seed-offset N``; ``--confirmatory`` is the second round's
pre-registered block) or call `run` with a `MisalignedConfig`. Modules:
`config`, `environment`, `training`, `metrics`, `evaluation`, `tuning`,
`study` (the run), `report` (table, headline), `plots`.

References:
  Autor, Caplin, Martin, Marx, "Misaligned by Design: Incentive Failures in
  Machine Learning", arXiv 2511.07699.
  Elkan, "The Foundations of Cost-Sensitive Learning", IJCAI 2001.
  Guo, Pleiss, Sun, Weinberger, "On Calibration of Modern Neural Networks",
  arXiv 1706.04599.
  Greydanus, "Scaling down Deep Learning" (MNIST-1D), arXiv 2011.14439.
"""

from reward_design_studies.harness import Study
from reward_design_studies.misaligned.config import ARMS as ARMS
from reward_design_studies.misaligned.config import COMPARISONS as COMPARISONS
from reward_design_studies.misaligned.config import CONFIRMATORY as CONFIRMATORY
from reward_design_studies.misaligned.config import METRICS as METRICS
from reward_design_studies.misaligned.config import MisalignedConfig as MisalignedConfig
from reward_design_studies.misaligned.config import add_arguments as add_arguments
from reward_design_studies.misaligned.config import config_from_args as config_from_args
from reward_design_studies.misaligned.plots import plot as plot
from reward_design_studies.misaligned.report import headline as headline
from reward_design_studies.misaligned.report import table as table
from reward_design_studies.misaligned.study import run as run

__all__ = [
    "ARMS",
    "COMPARISONS",
    "CONFIRMATORY",
    "METRICS",
    "MisalignedConfig",
    "STUDY",
    "add_arguments",
    "config_from_args",
    "headline",
    "plot",
    "run",
    "table",
]

STUDY = Study(
    name="misaligned",
    description="Misaligned by Design (arXiv 2511.07699): symmetric training + post-hoc "
    "Bayes decisions vs utility-weighted training, on digits and MNIST-1D",
    config_cls=MisalignedConfig,
    run=run,
    table=table,
    plot=plot,
    headline=headline,
    add_arguments=add_arguments,
    config_from_args=config_from_args,
    quick_help="3 seeds, budgets 300/1000 steps (under 3 minutes on 2 CPU cores)",
)
