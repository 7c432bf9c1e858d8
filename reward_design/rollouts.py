"""The `Rollouts` pytree: one batch of P prompts x G sampled completions.

Shapes (docs/concepts.md):

* ``correct``       ``[P, G]``  float or bool, 1 = the completion is correct.
* ``confidence``    ``[P, G]``  optional, the stated confidence in [0, 1].
* ``rubric``        ``[P, G, K]`` optional, bool (item passed) or a judge's
  probability of passing in [0, 1].
* ``token_rewards`` ``[P, G, T]`` optional, per-token rewards.
* ``token_mask``    ``[P, G, T]`` optional bool, valid tokens (needs ``token_rewards``).
* ``mask``          ``[P, G]``  optional bool, valid members of ragged groups
  (``None`` means every member is valid).

Input contract (docs/concepts.md, "Input checks: eager and under jit"):

* `Rollouts.validate` checks all of this eagerly, with numpy, on every
  member (padding included).
* Every objective, term and gate checks its ``rollouts`` argument itself
  (`check_rollouts`): that it is a `Rollouts` and its ranks, shapes and
  dtypes, on every call (under ``jax.jit`` at trace time); and, when the
  arrays are concrete (an eager call), the values of the *valid* members
  (``mask`` True): ``correct``, ``confidence`` and ``rubric`` finite and in
  [0, 1], ``token_rewards`` finite on valid tokens. Masked-out members and
  tokens may hold anything; they are never read.
* Inside ``jax.jit`` no value is checked (out-of-range numbers are used as
  written); ``rd.compose(..., count_invalid=True)`` counts them in
  ``RewardOutput.stats["input/invalid_rollouts"]``.
* Masks (``mask``, ``token_mask``) are boolean arrays; a mask of any other
  dtype raises ``ValueError`` (0/1 values: ``.astype(bool)``).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from reward_design._checks import _is_real, first_bad, is_concrete
from reward_design._pytree import pytree_dataclass

__all__ = ["Rollouts", "check_rollouts", "checked_call", "invalid_members"]

_FIELDS = ("correct", "confidence", "rubric", "token_rewards", "token_mask", "mask")
_BOOL_FIELDS = ("token_mask", "mask")

# True while an objective/gate that has checked its rollouts calls its terms
# and gates: they skip the value checks already done (`checked_call`).
_IN_CHECKED_CALL: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "reward_design_rollouts_checked", default=False
)


def _as_array_if_python(value: Any, name: str) -> Any:
    """Converts Python lists/tuples/scalars to numpy; leaves everything else alone.

    `__post_init__` also runs when JAX unflattens the pytree (with tracers or
    sentinel objects as leaves), so only plain Python containers are touched.
    """
    if isinstance(value, (list, tuple)):
        try:
            return np.asarray(value)
        except ValueError as err:  # numpy: "inhomogeneous shape"
            raise ValueError(
                f"Rollouts.{name} must be a rectangular array; got a ragged nested "
                f"{type(value).__name__} (rows of different lengths). Pad the groups to one "
                "size and mark the padding with Rollouts.mask."
            ) from err
    if isinstance(value, (bool, int, float)) and not isinstance(value, np.generic):
        return np.asarray(value)
    return value


@pytree_dataclass
class Rollouts:
    """A batch of P prompts x G samples per prompt, as arrays.

    Construct from numpy arrays, JAX arrays or nested lists; lists and Python
    scalars are turned into numpy arrays, so each field given holds an array
    (``jax.typing.ArrayLike``; a ``jax.Array`` inside ``jax.jit``). Call
    `validate` once at the boundary of your training step (it raises
    ``ValueError`` naming the field, the expected shape or range, and what
    was given). Objectives, terms and gates also check the rollouts they are
    given (see the module docstring).

    Example:
      >>> r = Rollouts(correct=[[1, 0], [1, 1]], confidence=[[0.9, 0.2], [0.6, 0.7]])
      >>> r.validate().shape
      (2, 2)
    """

    correct: ArrayLike
    confidence: ArrayLike | None = None
    rubric: ArrayLike | None = None
    token_rewards: ArrayLike | None = None
    token_mask: ArrayLike | None = None
    mask: ArrayLike | None = None

    def __post_init__(self):
        for name in _FIELDS:
            value = getattr(self, name)
            converted = _as_array_if_python(value, name)
            if converted is not value:
                object.__setattr__(self, name, converted)

    # ------------------------------------------------------------------ shapes
    @property
    def shape(self) -> tuple[int, int]:
        """``(P, G)``: prompts x samples per prompt."""
        return tuple(jnp.shape(self.correct)[:2])

    @property
    def num_prompts(self) -> int:
        return self.shape[0]

    @property
    def group_size(self) -> int:
        return self.shape[1]

    @property
    def valid_mask(self) -> jax.Array:
        """``[P, G]`` bool: ``mask`` if given, else all True.

        Raises:
          ValueError: ``mask`` is not a boolean array (0/1 numbers are not
            cast: convert them with ``.astype(bool)``).
        """
        if self.mask is None:
            return jnp.ones(jnp.shape(self.correct)[:2], dtype=bool)
        _, dtype = _meta(self.mask, "mask")
        _require_bool(dtype, "mask")
        return jnp.asarray(self.mask)

    # -------------------------------------------------------------- validation
    def validate(self, *, allow_empty_groups: bool = False) -> Rollouts:
        """Checks shapes, dtypes and value ranges eagerly; returns ``self``.

        Every member is checked, masked-out ones included (padding is marked
        with ``mask``, never with NaN).

        Args:
          allow_empty_groups: if False (default), a group (row) whose ``mask``
            is all False is an error. Padding helpers that add masked-out
            groups on purpose pass True.

        Returns:
          ``self``, so that ``r = Rollouts(...).validate()`` reads naturally.

        Raises:
          ValueError: naming the field, the expected shape or range and what
            was given, for wrong ranks, mismatched leading shapes, values out
            of range, NaN/inf, non-boolean masks, or ``token_mask`` without
            ``token_rewards``.
        """
        for name in _FIELDS:
            value = getattr(self, name)
            if value is not None and isinstance(value, jax.core.Tracer):
                raise ValueError(
                    f"Rollouts.validate() must be called eagerly, outside jax.jit/vmap; "
                    f"field {name!r} is a tracer."
                )
        _check_static(self, "")
        _check_values(self, "", valid_only=False)
        if self.mask is not None and not allow_empty_groups:
            mask = np.asarray(self.mask)
            empty = np.flatnonzero(~mask.any(axis=1))
            if empty.size:
                raise ValueError(
                    f"Rollouts.mask has {empty.size} group(s) with no valid member "
                    f"(rows {empty[:5].tolist()}{'...' if empty.size > 5 else ''}); "
                    "pass allow_empty_groups=True if this padding is intended."
                )
        return self


# ------------------------------------------------------ checks of an argument
def check_rollouts(rollouts: Any, owner: str) -> Rollouts:
    """The ``rollouts`` argument of an objective, term or gate, checked.

    Always: a `Rollouts` whose fields have the ranks, shapes and dtypes of
    the module docstring (under ``jax.jit`` once per trace). When every field
    is concrete (an eager call): the values of the valid members, unless an
    enclosing objective or gate has already checked them (`checked_call`).

    Args:
      rollouts: the argument.
      owner: who checks, for the messages (e.g. ``"Brier"``).

    Returns:
      ``rollouts``.

    Raises:
      TypeError: ``rollouts`` is not a `Rollouts`. ValueError: naming the
        field, what was expected and what was given.
    """
    if not isinstance(rollouts, Rollouts):
        raise TypeError(
            f"{owner}: rollouts must be a reward_design.Rollouts; got "
            f"{type(rollouts).__name__}. Build one with rd.Rollouts(correct=..., "
            "confidence=..., ...)."
        )
    _check_static(rollouts, owner)
    if not _IN_CHECKED_CALL.get() and _readable(rollouts):
        _check_values(rollouts, owner, valid_only=True)
    return rollouts


@contextlib.contextmanager
def checked_call() -> Iterator[None]:
    """Inside: `check_rollouts` skips the value checks (the caller has run them)."""
    token = _IN_CHECKED_CALL.set(True)
    try:
        yield
    finally:
        _IN_CHECKED_CALL.reset(token)


def invalid_members(rollouts: Rollouts) -> jax.Array:
    """``[P, G]`` bool, jittable: valid members holding a value outside its range.

    Out of range: ``correct``, ``confidence`` or a ``rubric`` item NaN/inf or
    outside [0, 1]; a ``token_rewards`` entry NaN/inf on a valid token.
    Masked-out members are never counted.
    """
    mask = rollouts.valid_mask

    def outside_unit(x: Any) -> jax.Array:
        x = jnp.asarray(x)
        if x.dtype == jnp.bool_:
            return jnp.zeros(x.shape, bool)
        return ~((x >= 0) & (x <= 1))  # NaN compares False: outside

    bad = outside_unit(rollouts.correct)
    if rollouts.confidence is not None:
        bad = bad | outside_unit(rollouts.confidence)
    if rollouts.rubric is not None:
        bad = bad | jnp.any(outside_unit(rollouts.rubric), axis=-1)
    if rollouts.token_rewards is not None:
        tok = ~jnp.isfinite(jnp.asarray(rollouts.token_rewards))
        if rollouts.token_mask is not None:
            tok = tok & jnp.asarray(rollouts.token_mask)
        bad = bad | jnp.any(tok, axis=-1)
    return bad & mask


# ---------------------------------------------------------------- helpers
def _meta(value: Any, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """``(shape, dtype)`` of a field without reading its values (tracers included)."""
    if isinstance(value, jax.core.Tracer | jax.Array | np.ndarray | np.generic):
        return tuple(value.shape), np.dtype(value.dtype)
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        try:
            return tuple(shape), np.dtype(dtype)
        except TypeError:
            pass
    try:
        arr = np.asarray(value)
    except Exception:  # noqa: BLE001 - reported below as a wrong type
        arr = np.asarray(None)
    if arr.dtype == object:
        raise ValueError(
            f"Rollouts.{name} must be a numeric or boolean array; got {type(value).__name__}."
        )
    return arr.shape, arr.dtype


def _require_bool(dtype: np.dtype, name: str, pre: str = "") -> None:
    if dtype != np.bool_:
        raise ValueError(
            f"{pre}Rollouts.{name} must be a boolean array; got dtype {dtype}. "
            "Convert 0/1 values with .astype(bool)."
        )


def _require_numeric(dtype: np.dtype, name: str, pre: str = "") -> None:
    if not (_is_real(dtype) or dtype == np.bool_):
        raise ValueError(
            f"{pre}Rollouts.{name} must be a numeric or boolean array; got dtype {dtype}."
        )


def _prefix(owner: str) -> str:
    return f"{owner}: " if owner else ""


def _check_static(r: Rollouts, owner: str) -> tuple[int, int]:
    """Ranks, shapes and dtypes of every field; returns ``(P, G)``."""
    pre = _prefix(owner)
    meta = {name: _meta(getattr(r, name), name) for name in _FIELDS if getattr(r, name) is not None}
    if "correct" not in meta:
        raise ValueError(f"{pre}Rollouts.correct is required ([P, G]); got None.")
    for name, (_, dtype) in meta.items():
        if name in _BOOL_FIELDS:
            _require_bool(dtype, name, pre)
        else:
            _require_numeric(dtype, name, pre)
    shape = meta["correct"][0]
    if len(shape) != 2:
        raise ValueError(
            f"{pre}Rollouts.correct must have shape [P, G] (rank 2); got shape {shape}."
        )
    p, g = shape
    if p == 0 or g == 0:
        raise ValueError(f"{pre}Rollouts.correct must be non-empty; got shape {shape}.")
    for name in ("confidence", "mask"):
        if name in meta and meta[name][0] != (p, g):
            raise ValueError(
                f"{pre}Rollouts.{name} must have shape [P, G] = {[p, g]} (as correct); "
                f"got shape {meta[name][0]}."
            )
    if "rubric" in meta:
        got = meta["rubric"][0]
        if len(got) != 3 or got[:2] != (p, g):
            raise ValueError(
                f"{pre}Rollouts.rubric must have shape [P, G, K] = [{p}, {g}, K]; got shape {got}."
            )
        if got[2] == 0:
            raise ValueError(
                f"{pre}Rollouts.rubric must have at least one item (K >= 1); got K = 0."
            )
    if "token_mask" in meta and "token_rewards" not in meta:
        raise ValueError(f"{pre}Rollouts.token_mask was given without token_rewards.")
    if "token_rewards" in meta:
        got = meta["token_rewards"][0]
        if len(got) != 3 or got[:2] != (p, g):
            raise ValueError(
                f"{pre}Rollouts.token_rewards must have shape [P, G, T] = [{p}, {g}, T]; "
                f"got shape {got}."
            )
        if "token_mask" in meta and meta["token_mask"][0] != got:
            raise ValueError(
                f"{pre}Rollouts.token_mask must have shape [P, G, T] (as token_rewards) = "
                f"{list(got)}; got shape {meta['token_mask'][0]}."
            )
    return p, g


def _readable(r: Rollouts) -> bool:
    """Every field concrete and readable on this process (not a tracer, not a
    multi-host global array)."""
    for name in _FIELDS:
        value = getattr(r, name)
        if value is None:
            continue
        if not is_concrete(value):
            return False
        if isinstance(value, jax.Array) and not value.is_fully_addressable:
            return False
    return True


def _host(value: Any) -> np.ndarray:
    arr = np.asarray(value)
    return arr.astype(np.float32) if arr.dtype.kind == "V" else arr  # bfloat16 & co.


def _check_values(r: Rollouts, owner: str, *, valid_only: bool) -> None:
    """Value checks (concrete fields): every member, or only the valid ones."""
    pre = _prefix(owner)
    where = None
    scope = ""
    if valid_only and r.mask is not None:
        where = np.asarray(r.mask)
        scope = " (checked on the valid members; masked-out ones are not read)"

    def check(name: str, unit: bool, sel: np.ndarray | None) -> None:
        arr = _host(getattr(r, name))
        if arr.dtype == np.bool_:
            return
        sel = np.ones(arr.shape, bool) if sel is None else np.broadcast_to(sel, arr.shape)
        bad = sel & ~np.isfinite(arr)
        if bad.any():
            raise ValueError(
                f"{pre}Rollouts.{name} must be finite; got NaN/inf in {first_bad(bad, arr)}{scope}."
            )
        if unit:
            bad = sel & ((arr < 0) | (arr > 1))
            if bad.any():
                raise ValueError(
                    f"{pre}Rollouts.{name} must lie in [0, 1]; got {first_bad(bad, arr)} "
                    f"outside (range given [{arr[sel].min()}, {arr[sel].max()}]){scope}."
                )

    check("correct", True, where)
    if r.confidence is not None:
        check("confidence", True, where)
    if r.rubric is not None:
        check("rubric", True, None if where is None else where[..., None])
    if r.token_rewards is not None:
        tokens = None if where is None else where[..., None]
        if valid_only and r.token_mask is not None:
            tmask = np.asarray(r.token_mask)
            tokens = tmask if tokens is None else tokens & tmask
        check("token_rewards", False, tokens)
