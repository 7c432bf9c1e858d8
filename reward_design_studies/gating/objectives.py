"""The gating study's arms: the only thing that differs between them is the objective.

* ``dense``: ``compose(rubric=RubricScore(w), tokens=TokenReward())``;
* ``gated_floor``: ``Gated(Essential([0, 1]), compose(tokens=TokenReward()),
  on_reject="floor", group_filter=GroupFilter(1, drop_degenerate=True))``;
* ``gated_drop``: the same with ``on_reject="drop"``.
"""

from __future__ import annotations

from typing import Any

import reward_design as rd
from reward_design_studies.gating.config import ARMS
from reward_design_studies.gating.rubric import ESSENTIAL, ITEM_WEIGHTS

__all__ = ["make_objective"]


def make_objective(arm: str, floor: float = 0.0) -> Any:
    """The objective of ``arm`` (one of `ARMS`); everything else is shared.

    Raises:
      ValueError: ``arm`` is not one of `ARMS`.
    """
    if arm == "dense":
        return rd.compose(rubric=rd.terms.RubricScore(ITEM_WEIGHTS), tokens=rd.terms.TokenReward())
    if arm in ("gated_floor", "gated_drop"):
        return rd.gates.Gated(
            rd.gates.Essential(ESSENTIAL),
            rd.compose(tokens=rd.terms.TokenReward()),
            on_reject=arm.removeprefix("gated_"),
            floor=floor,
            group_filter=rd.gates.GroupFilter(min_accepted=1, drop_degenerate=True),
        )
    raise ValueError(f"arm must be one of {list(ARMS)}; got {arm!r}.")
