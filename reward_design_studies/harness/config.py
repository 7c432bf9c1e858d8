"""`StudyConfig`: the one config style of every study.

A study's configuration is a frozen dataclass that subclasses `StudyConfig`.
The base holds what every study has (how many seeds, where they start,
which mode this is); a subclass adds its own fields, all with defaults, and
says what its two modes are:

* ``full(seeds=None)``: the dataclass defaults (the committed run);
* ``quick(seeds=None)``: the defaults with the class's ``QUICK`` overrides
  and ``mode="quick"``.

Override the two classmethods instead when a mode is more than field changes.
A subclass that validates its fields calls ``super().__post_init__()``
(`check_int` checks a count); `StudyConfig.part` hands a component (a task,
a policy, the trainer's settings) the fields it takes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, Self, TypeVar

__all__ = ["StudyConfig", "check_int"]

T = TypeVar("T")


def check_int(value: Any, name: str, minimum: int = 1) -> None:
    """Raises unless ``value`` is an integer (not a bool) of at least ``minimum``.

    Raises:
      ValueError: naming ``name``, "a positive integer" for ``minimum=1``,
        "a non-negative integer" for ``minimum=0``.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        what = {0: "a non-negative integer", 1: "a positive integer"}.get(
            minimum, f"an integer >= {minimum}"
        )
        raise ValueError(f"{name} must be {what}; got {value!r}.")


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
        check_int(self.seeds, "seeds")
        check_int(self.seed_offset, "seed_offset", minimum=0)
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

    def part(self, cls: type[T]) -> T:
        """The dataclass ``cls`` built from this configuration's fields of the same names.

        The part of the configuration a component takes: each field of ``cls``
        that this configuration has gets its value; the others keep ``cls``'s
        defaults.
        """
        own = {f.name for f in dataclasses.fields(self)}
        names = [f.name for f in dataclasses.fields(cls) if f.init and f.name in own]
        return cls(**{name: getattr(self, name) for name in names})

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict (tuples stay tuples; `write_json` writes them as lists)."""
        return dataclasses.asdict(self)
