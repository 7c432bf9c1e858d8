"""Opt-in hand-written CPU kernels (``rd.kernels``), called through `jax.ffi`.

The core computes everything as plain XLA programs, one behaviour on every
backend. This sub-package holds a C++ kernel for one hot spot on CPU, used
only where a caller asks for it: `gated_advantages` computes what
``gated.advantages(rollouts, estimator)`` computes for a counting rubric gate
(`AllOf`/`AtLeast`, ``on_reject="drop"``) and a group-relative estimator
(GRPO, Dr. GRPO, RLOO), in one pass over the rubric and the rewards instead
of XLA:CPU's several (docs/performance.md).

    >>> out, adv = rd.kernels.gated_advantages(gated, rollouts, "grpo")

The kernel is compiled with GCC on first use and cached (`kernel_status`
says whether it is in use, and why not). Where it cannot be built, a
`RuntimeWarning` names the reason and the XLA program runs (same results);
programs lowered for GPU or TPU always run the XLA program. No module of the
core imports this package.

What each argument accepts, and what an accepted input means: docs/performance.md,
"Input contract" (the shared rules: docs/concepts.md, "Input checks").
"""

from reward_design.kernels._build import kernel_status as kernel_status
from reward_design.kernels._ffi import ESTIMATORS as ESTIMATORS
from reward_design.kernels._ffi import GROUP_SIZES as GROUP_SIZES
from reward_design.kernels._ffi import gated_group_advantages as gated_group_advantages
from reward_design.kernels._gated import gated_advantages as gated_advantages
from reward_design.kernels._gated import supports as supports

__all__ = [
    "ESTIMATORS",
    "GROUP_SIZES",
    "gated_advantages",
    "gated_group_advantages",
    "kernel_status",
    "supports",
]
