"""`Gate`: the common base of rubric gates (boolean operators only).

A gate is a frozen pytree dataclass called as ``gate(rollouts) -> [P, G]``
bool, the rollouts it accepts. Every gate returns ``verdict & rollouts.valid_mask``:
a masked-out (padding) rollout is never accepted, so gates compose without
re-checking masks. Gates combine with ``&``, ``|`` and ``~`` (`And`, `Or`,
`Not`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Gate"]


class Gate:
    """Base class of gates: gives ``&`` (`And`), ``|`` (`Or`) and ``~`` (`Not`).

    Subclasses are ``flax.struct`` dataclasses implementing
    ``__call__(rollouts) -> [P, G] bool``.
    """

    def __and__(self, other: Any) -> Any:
        from reward_design.gates._combinators import And

        return And(self, other)

    def __or__(self, other: Any) -> Any:
        from reward_design.gates._combinators import Or

        return Or(self, other)

    def __invert__(self) -> Any:
        from reward_design.gates._combinators import Not

        return Not(self)
