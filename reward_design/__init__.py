"""reward_design: keep learning apart from choosing.

Composable, JIT-compiled reward terms, rubric gates, post-hoc decision rules
and preference losses in JAX. See docs/concepts.md.

After ``import reward_design as rd`` every sub-package is an attribute
(``rd.gates``, ``rd.scoring_rules``, ``rd.integrations``, ...), imported on
first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from reward_design import advantages as advantages
from reward_design import terms as terms
from reward_design.compose import Objective as Objective
from reward_design.compose import RewardOutput as RewardOutput
from reward_design.compose import compose as compose
from reward_design.rollouts import Rollouts as Rollouts

__version__ = "0.1.0"

# Sub-packages imported lazily on first attribute access.
_LAZY_SUBMODULES = (
    "scoring_rules",
    "calibration",
    "gates",
    "posthoc",
    "halos",
    "integrations",
    "distributed",
    "kernels",
)

__all__ = [
    "Objective",
    "RewardOutput",
    "Rollouts",
    "advantages",
    "compose",
    "terms",
    *_LAZY_SUBMODULES,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBMODULES:
        module = importlib.import_module(f"reward_design.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'reward_design' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))
