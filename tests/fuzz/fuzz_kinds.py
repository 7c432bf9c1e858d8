"""Argument kinds for the fuzz suite: a valid value and malformed values of each.

A `Kind` draws, for a shape context `Ctx` (the sizes P, G, K, T, N, C of
one call), either a valid value of its argument or a malformed one: a wrong
rank or size, an empty array, a ragged nested list, a wrong dtype (strings,
complex, objects, booleans where numbers go and numbers where booleans
go), NaN/inf, a value out of range, None, a string, a dict. A malformed
value may still be one the library documents as accepted (a list, a boolean
as 0/1): the suite then checks the result instead of the error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax.numpy as jnp
import numpy as np
from hypothesis import strategies as st

# ------------------------------------------------------------------ shapes


@dataclass(frozen=True)
class Ctx:
    """The sizes of one call: P prompts x G samples, K rubric items, T tokens,
    N examples, C classes."""

    P: int
    G: int
    K: int
    T: int
    N: int
    C: int


CTX = st.builds(
    Ctx,
    P=st.integers(1, 3),
    G=st.integers(1, 4),
    K=st.integers(1, 3),
    T=st.integers(1, 3),
    N=st.integers(1, 4),
    C=st.integers(2, 3),
)

# The fast profile keeps one size per axis, so that JAX compiles each program once for
# the whole run; the long profile varies them.
FAST_CTX = st.just(Ctx(P=2, G=3, K=2, T=2, N=3, C=3))

JUNK = (None, "abc", b"abc", {"a": 1}, object(), 3 + 2j)


class Kind:
    """An argument: ``valid(ctx)`` and ``bad(ctx)`` strategies; ``names``: words an
    error message about this argument may use instead of its parameter name."""

    names: tuple[str, ...] = ()

    def valid(self, ctx: Ctx) -> st.SearchStrategy:
        raise NotImplementedError

    def bad(self, ctx: Ctx) -> st.SearchStrategy:
        raise NotImplementedError


# ------------------------------------------------------------------ arrays


def _elements(kind: str, low: float, high: float) -> st.SearchStrategy:
    if kind == "bool":
        return st.booleans()
    if kind == "index":
        return st.integers(int(low), int(high))
    return st.floats(low, high, allow_nan=False)


def _simplex_rows(rng_draw: Any, shape: tuple[int, ...]) -> np.ndarray:
    w = rng_draw(
        st.lists(st.floats(0.05, 1.0), min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))
    )
    arr = np.asarray(w, dtype=np.float64).reshape(shape)
    return (arr / arr.sum(axis=-1, keepdims=True)).astype(np.float32)


@dataclass
class Arr(Kind):
    """An array argument.

    Args:
      shape: the valid shape from the context.
      values: ``"real"`` (in [low, high]), ``"unit"`` ([0, 1]), ``"prob"`` (rows on the
        simplex), ``"bool"``, ``"index"`` (integers in [0, high(ctx)]), ``"binary"``
        (0/1 floats).
      low, high: the range of ``"real"`` values (``high`` of ``"index"``: a function of ctx).
      optional: None is valid (and the default).
      names: see `Kind`.
    """

    shape: Callable[[Ctx], tuple[int, ...]]
    values: str = "real"
    low: float = -5.0
    high: Any = 5.0
    optional: bool = False
    names: tuple[str, ...] = ()

    def _high(self, ctx: Ctx) -> float:
        return self.high(ctx) if callable(self.high) else self.high

    def valid(self, ctx: Ctx) -> st.SearchStrategy:
        shape = self.shape(ctx)

        @st.composite
        def draw(draw_: Any) -> Any:
            if self.optional and draw_(st.booleans()):
                return None
            if self.values == "prob":
                arr = _simplex_rows(draw_, shape)
            elif self.values == "binary":
                arr = (
                    np.asarray(
                        draw_(
                            st.lists(
                                st.sampled_from([0.0, 1.0]),
                                min_size=int(np.prod(shape)),
                                max_size=int(np.prod(shape)),
                            )
                        )
                    )
                    .reshape(shape)
                    .astype(np.float32)
                )
            else:
                low, high = (0.0, 1.0) if self.values == "unit" else (self.low, self._high(ctx))
                n = int(np.prod(shape))
                items = draw_(st.lists(_elements(self.values, low, high), min_size=n, max_size=n))
                dtype = {"bool": bool, "index": np.int32}.get(self.values, np.float32)
                arr = np.asarray(items, dtype=dtype).reshape(shape)
            form = draw_(
                st.sampled_from(["numpy", "jax", "list"] if arr.ndim else ["numpy", "jax"])
            )
            if form == "jax":
                return jnp.asarray(arr)
            if form == "list":
                return arr.tolist()
            return arr

        return draw()

    def bad(self, ctx: Ctx) -> st.SearchStrategy:
        shape = self.shape(ctx)

        @st.composite
        def draw(draw_: Any) -> Any:
            base = np.asarray(draw_(self.valid(ctx).filter(lambda v: v is not None)))
            how = draw_(
                st.sampled_from(
                    [
                        "rank+",
                        "rank-",
                        "size",
                        "empty",
                        "ragged",
                        "str",
                        "complex",
                        "object",
                        "swap_dtype",
                        "nan",
                        "inf",
                        "range",
                        "junk",
                        "scalar",
                    ]
                )
            )
            if how == "rank+":
                return np.stack([base, base], axis=-1)
            if how == "rank-":
                return base[..., 0] if base.ndim else base.reshape(1)
            if how == "size" and base.ndim:
                axis = draw_(st.integers(0, base.ndim - 1))
                return np.concatenate([base, np.take(base, [0], axis=axis)], axis=axis)
            if how == "empty":
                return np.zeros((0,) + shape[1:], base.dtype) if shape else np.zeros((0,))
            if how == "ragged":
                return [[1.0], [1.0, 0.0]] if len(shape) <= 1 else [[[1.0]], [[1.0, 0.0]]]
            if how == "str":
                return np.full(shape, "x")
            if how == "complex":
                return base.astype(np.complex64)
            if how == "object":
                out = np.empty(shape, dtype=object)
                out[...] = None
                return out
            if how == "swap_dtype":
                return base.astype(np.float32) if base.dtype == bool else base.astype(bool)
            if how in ("nan", "inf") and base.size and base.dtype.kind == "f":
                out = base.copy()
                out.flat[draw_(st.integers(0, base.size - 1))] = np.nan if how == "nan" else -np.inf
                return out
            if how == "range" and base.size and self.values in ("unit", "prob", "index", "binary"):
                out = base.astype(np.float32 if self.values != "index" else np.int32).copy()
                out.flat[0] = 1.5 if self.values != "index" else self._high(ctx) + 1
                return out
            if how == "scalar":
                return 0.5
            return draw_(st.sampled_from(JUNK))

        return draw()


# ----------------------------------------------------------------- scalars


@dataclass
class Num(Kind):
    """A real scalar in [low, high] (open ends if ``low_open``/``high_open``)."""

    low: float = -5.0
    high: float = 5.0
    low_open: bool = False
    high_open: bool = False
    optional: bool = False
    names: tuple[str, ...] = ()

    def valid(self, ctx: Ctx) -> st.SearchStrategy:
        nums = st.floats(
            self.low,
            self.high,
            exclude_min=self.low_open,
            exclude_max=self.high_open,
            allow_nan=False,
        )
        forms = st.one_of(nums, nums.map(np.float32), nums.map(jnp.float32))
        return st.one_of(st.none(), forms) if self.optional else forms

    def bad(self, ctx: Ctx) -> st.SearchStrategy:
        return st.sampled_from(
            [
                np.nan,
                np.inf,
                -np.inf,
                self.low - 1.0,
                self.high + 1.0,
                True,
                np.array([0.5, 0.5]),
                *JUNK,
            ]
        )


@dataclass
class Int(Kind):
    """A static integer >= ``low`` (and <= ``high``)."""

    low: int = 0
    high: int = 4
    names: tuple[str, ...] = ()

    def valid(self, ctx: Ctx) -> st.SearchStrategy:
        return st.integers(self.low, self.high)

    def bad(self, ctx: Ctx) -> st.SearchStrategy:
        return st.sampled_from([self.low - 1, 2.5, True, "3", np.nan, *JUNK])


@dataclass
class Choice(Kind):
    """One of ``options`` (strings, static)."""

    options: Sequence[Any]
    names: tuple[str, ...] = ()

    def valid(self, ctx: Ctx) -> st.SearchStrategy:
        return st.sampled_from(list(self.options))

    def bad(self, ctx: Ctx) -> st.SearchStrategy:
        return st.sampled_from(["bogus", "", 3, None, ["grpo"]])


@dataclass
class Flag(Kind):
    """A Python bool."""

    names: tuple[str, ...] = ()

    def valid(self, ctx: Ctx) -> st.SearchStrategy:
        return st.booleans()

    def bad(self, ctx: Ctx) -> st.SearchStrategy:
        return st.sampled_from(["yes", 2, None, np.array([True, False])])


@dataclass
class Obj(Kind):
    """Any value built by ``make(ctx)`` (a callable, a component); malformed: ``junk``."""

    make: Callable[[Ctx], st.SearchStrategy]
    junk: Sequence[Any] = (3, "f", None, {"a": 1})
    names: tuple[str, ...] = ()

    def valid(self, ctx: Ctx) -> st.SearchStrategy:
        return self.make(ctx)

    def bad(self, ctx: Ctx) -> st.SearchStrategy:
        return st.sampled_from(list(self.junk))


TEXT_CHARS = "<>/answercofidt 0123456789.%-eé\n"


@dataclass
class Text(Kind):
    """Text input: ``str`` and ``bytes`` valid; numbers, None, lists, dicts malformed
    (documented as "no text", not an error, for the parser and the matchers)."""

    names: tuple[str, ...] = ()
    tags: bool = True

    def valid(self, ctx: Ctx) -> st.SearchStrategy:
        plain = st.text(alphabet=TEXT_CHARS, max_size=40)
        rlcr = st.builds(
            lambda a, c: f"<answer>{a}</answer><confidence>{c}</confidence>",
            st.text(alphabet="abc 12", max_size=4),
            st.sampled_from(["0.5", "1", "nan", "2", "80%", "", "0.25 "]),
        )
        strs = st.one_of(plain, rlcr) if self.tags else plain
        return st.one_of(strs, strs.map(str.encode))

    def bad(self, ctx: Ctx) -> st.SearchStrategy:
        return st.sampled_from([None, 3, 2.5, ["<answer>x</answer>"], {"a": 1}, bytearray(b"x")])


@dataclass
class Const(Kind):
    """A fixed valid value (no malformed variants): arguments the entry does not fuzz."""

    value: Any = None
    names: tuple[str, ...] = ()

    def valid(self, ctx: Ctx) -> st.SearchStrategy:
        return st.just(self.value)

    def bad(self, ctx: Ctx) -> st.SearchStrategy:
        return st.just(self.value)


# --------------------------------------------------------------- entries


@dataclass
class Entry:
    """A public entry point: how to call it, its arguments' kinds, its contract.

    ``call(**args)`` makes the call; ``check(result, args, ctx, bad)`` asserts
    the documented contract of a result (``bad``: the arguments drawn
    malformed, so a check may relax itself for accepted odd inputs);
    ``examples``: hypothesis examples in the fast and the long profile; ``fast_valid``:
    whether the fast profile also draws all-valid arguments.
    """

    name: str
    call: Callable[..., Any]
    params: dict[str, Kind]
    check: Callable[[Any, dict, Ctx, set], None] | None = None
    examples: tuple[int, int] = (3, 20)
    max_bad: int = 2
    other_errors: tuple[type[BaseException], ...] = ()
    covers: tuple[str, ...] = field(default_factory=tuple)
    # False for entries whose valid call takes seconds (a compile of an audit or a fit):
    # the fast profile then draws only malformed arguments for them (the long profile
    # and the entry's unit tests run valid ones).
    fast_valid: bool = True
