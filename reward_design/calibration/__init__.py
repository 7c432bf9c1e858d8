"""Calibration metrics: ECE variants, Brier decomposition, AUROC, reliability diagrams.

Argument order follows the scoring rules: ``metric(confidence, correct)``,
confidence first. Binary metrics take ``confidence [...]`` in [0, 1] and
``correct [...]`` (bool or 0/1) of the same shape, with an optional boolean
``mask`` for padded rollouts; multiclass metrics take ``probs [N, C]`` and
integer ``labels [N]``. Inputs are checked eagerly when concrete; every metric
is jittable with ``num_bins`` and ``strategy`` static.

What each argument accepts, and what an accepted input means: docs/calibration.md,
"Input contract" (the shared rules: docs/concepts.md, "Input checks").
"""

from reward_design.calibration._auroc import auroc as auroc
from reward_design.calibration._binning import ReliabilityBins as ReliabilityBins
from reward_design.calibration._binning import bin_edges as bin_edges
from reward_design.calibration._binning import reliability_bins as reliability_bins
from reward_design.calibration._brier_decomposition import (
    BrierDecomposition as BrierDecomposition,
)
from reward_design.calibration._brier_decomposition import (
    brier_decomposition as brier_decomposition,
)
from reward_design.calibration._ece import (
    classwise_calibration_error as classwise_calibration_error,
)
from reward_design.calibration._ece import (
    expected_calibration_error as expected_calibration_error,
)
from reward_design.calibration._ece import (
    maximum_calibration_error as maximum_calibration_error,
)
from reward_design.calibration._ece import (
    top_label_calibration_error as top_label_calibration_error,
)
from reward_design.calibration._reliability_diagram import (
    reliability_diagram as reliability_diagram,
)

__all__ = [
    "BrierDecomposition",
    "ReliabilityBins",
    "auroc",
    "bin_edges",
    "brier_decomposition",
    "classwise_calibration_error",
    "expected_calibration_error",
    "maximum_calibration_error",
    "reliability_bins",
    "reliability_diagram",
    "top_label_calibration_error",
]
