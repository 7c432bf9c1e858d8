"""Rubric gates: accept or reject rollouts and groups; dense rewards only inside.

A gate turns a rubric (``Rollouts.rubric``, ``[P, G, K]``, booleans or a
judge's P(pass)) into a categorical verdict, ``gate(rollouts) -> [P, G]`` bool;
`Gated` puts a gate in front of any objective, and `GroupFilter` rejects
whole groups without learning signal. ``rd.terms.RubricScore`` is the dense
baseline (the rubric as a reward); see docs/gates.md.

What each argument accepts, and what an accepted input means: docs/gates.md,
"Input contract" (the shared rules: docs/concepts.md, "Input checks").
"""

from reward_design.gates._all_of import AllOf as AllOf
from reward_design.gates._at_least import AtLeast as AtLeast
from reward_design.gates._base import And as And
from reward_design.gates._base import FunctionGate as FunctionGate
from reward_design.gates._base import Gate as Gate
from reward_design.gates._base import Not as Not
from reward_design.gates._base import Or as Or
from reward_design.gates._base import gate_from_fn as gate_from_fn
from reward_design.gates._essential import Essential as Essential
from reward_design.gates._gated import Gated as Gated
from reward_design.gates._group_filter import GroupFilter as GroupFilter
from reward_design.gates._rubric import rubric_passes as rubric_passes
from reward_design.gates._weighted_threshold import WeightedThreshold as WeightedThreshold

__all__ = [
    "AllOf",
    "And",
    "AtLeast",
    "Essential",
    "FunctionGate",
    "Gate",
    "Gated",
    "GroupFilter",
    "Not",
    "Or",
    "WeightedThreshold",
    "gate_from_fn",
    "rubric_passes",
]
