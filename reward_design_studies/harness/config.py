"""`StudyConfig`: the one config style of every study.

A study's configuration is a frozen dataclass that subclasses `StudyConfig`.
The base holds what every study has (how many seeds, where they start,
which mode this is); a subclass adds its own fields, all with defaults, and
says what its two modes are:

* ``full(seeds=None)``: the dataclass defaults (the committed run);
* ``quick(seeds=None)``: the defaults with the class's ``QUICK`` overrides
  and ``mode="quick"``.

Override the two classmethods instead when a mode is more than field changes.
A subclass that validates its fields calls ``super().__post_init__()``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, Self

__all__ = ["StudyConfig"]


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """Base of every study's configuration.

    Attributes:
      seeds: number of seeds; seed ``s`` of a run is ``seed_offset + s``.
      seed_offset: first seed (0: seeds 0 .. seeds-1).
      mode: ``"full"`` or ``"quick"`` (recorded in the JSON; `full` and
        `quick` set it).
    """

    QUICK: ClassVar[Mapping[str, Any]] = {}

    seeds: int = 5
    seed_offset: int = 0
    mode: str = "full"

    def __post_init__(self) -> None:
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or self.seeds < 1:
            raise ValueError(f"seeds must be a positive integer; got {self.seeds!r}.")
        if (
            isinstance(self.seed_offset, bool)
            or not isinstance(self.seed_offset, int)
            or self.seed_offset < 0
        ):
            raise ValueError(
                f"seed_offset must be a non-negative integer; got {self.seed_offset!r}."
            )
        if self.mode not in ("full", "quick"):
            raise ValueError(f"mode must be 'full' or 'quick'; got {self.mode!r}.")

    @classmethod
    def full(cls, seeds: int | None = None) -> Self:
        """The full run: the dataclass defaults (``seeds`` replaces the default count)."""
        return cls() if seeds is None else cls(seeds=seeds)

    @classmethod
    def quick(cls, seeds: int | None = None) -> Self:
        """The quick run: the defaults changed by ``QUICK``, with ``mode="quick"``."""
        changes = {**cls.QUICK, "mode": "quick"}
        if seeds is not None:
            changes["seeds"] = seeds
        return cls(**changes)

    @property
    def seed_list(self) -> list[int]:
        """The seeds of the run: ``seed_offset, ..., seed_offset + seeds - 1``."""
        return list(range(self.seed_offset, self.seed_offset + self.seeds))

    @property
    def is_quick(self) -> bool:
        """Whether this is the quick mode."""
        return self.mode == "quick"

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict (tuples stay tuples; `write_json` writes them as lists)."""
        return dataclasses.asdict(self)
