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

`Rollouts.validate` checks all of this eagerly, with numpy, outside any
compiled function. Inside ``jax.jit`` nothing is checked by value.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from reward_design._checks import check_finite, check_unit
from reward_design._pytree import pytree_dataclass

__all__ = ["Rollouts"]

_FIELDS = ("correct", "confidence", "rubric", "token_rewards", "token_mask", "mask")


def _as_array_if_python(value: Any) -> Any:
    """Converts Python lists/tuples/scalars to numpy; leaves everything else alone.

    `__post_init__` also runs when JAX unflattens the pytree (with tracers or
    sentinel objects as leaves), so only plain Python containers are touched.
    """
    if isinstance(value, (list, tuple)):
        return np.asarray(value)
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
    was given).

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
            converted = _as_array_if_python(value)
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
        """``[P, G]`` bool: ``mask`` if given, else all True."""
        if self.mask is None:
            return jnp.ones(jnp.shape(self.correct)[:2], dtype=bool)
        return jnp.asarray(self.mask, dtype=bool)

    # -------------------------------------------------------------- validation
    def validate(self, *, allow_empty_groups: bool = False) -> Rollouts:
        """Checks shapes, dtypes and value ranges eagerly; returns ``self``.

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

        correct = _numeric(self.correct, "correct")
        if correct.ndim != 2:
            raise ValueError(
                f"Rollouts.correct must have shape [P, G] (rank 2); got shape {correct.shape}."
            )
        p, g = correct.shape
        if p == 0 or g == 0:
            raise ValueError(f"Rollouts.correct must be non-empty; got shape {correct.shape}.")
        check_unit(correct, "Rollouts.correct")

        if self.confidence is not None:
            conf = _numeric(self.confidence, "confidence")
            _check_shape(conf, (p, g), "confidence", "[P, G]")
            check_unit(conf, "Rollouts.confidence")

        if self.rubric is not None:
            rubric = _numeric(self.rubric, "rubric")
            if rubric.ndim != 3 or rubric.shape[:2] != (p, g):
                raise ValueError(
                    f"Rollouts.rubric must have shape [P, G, K] = [{p}, {g}, K]; "
                    f"got shape {rubric.shape}."
                )
            if rubric.shape[2] == 0:
                raise ValueError("Rollouts.rubric must have at least one item (K >= 1); got K = 0.")
            check_unit(rubric, "Rollouts.rubric")

        if self.token_mask is not None and self.token_rewards is None:
            raise ValueError("Rollouts.token_mask was given without token_rewards.")
        if self.token_rewards is not None:
            tok = _numeric(self.token_rewards, "token_rewards")
            if tok.ndim != 3 or tok.shape[:2] != (p, g):
                raise ValueError(
                    f"Rollouts.token_rewards must have shape [P, G, T] = [{p}, {g}, T]; "
                    f"got shape {tok.shape}."
                )
            check_finite(tok, "Rollouts.token_rewards")
            if self.token_mask is not None:
                tmask = _boolean(self.token_mask, "token_mask")
                _check_shape(tmask, tok.shape, "token_mask", "[P, G, T] (as token_rewards)")

        if self.mask is not None:
            mask = _boolean(self.mask, "mask")
            _check_shape(mask, (p, g), "mask", "[P, G]")
            if not allow_empty_groups:
                empty = np.flatnonzero(~mask.any(axis=1))
                if empty.size:
                    raise ValueError(
                        f"Rollouts.mask has {empty.size} group(s) with no valid member "
                        f"(rows {empty[:5].tolist()}{'...' if empty.size > 5 else ''}); "
                        "pass allow_empty_groups=True if this padding is intended."
                    )
        return self


# ---------------------------------------------------------------- helpers
def _numeric(value: Any, name: str) -> np.ndarray:
    arr = np.asarray(value)
    # jnp.issubdtype also knows bfloat16 and the other ml_dtypes floats, whose
    # numpy dtype kind is "V"; they are checked in float32.
    if arr.dtype == object or not (
        jnp.issubdtype(arr.dtype, jnp.number) or jnp.issubdtype(arr.dtype, jnp.bool_)
    ):
        raise ValueError(
            f"Rollouts.{name} must be a numeric or boolean array; got dtype {arr.dtype}."
        )
    if arr.dtype.kind == "V":
        arr = arr.astype(np.float32)
    return arr


def _boolean(value: Any, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype != np.bool_:
        raise ValueError(f"Rollouts.{name} must be a boolean array; got dtype {arr.dtype}.")
    return arr


def _check_shape(arr: np.ndarray, shape: tuple, name: str, expected: str) -> None:
    if arr.shape != tuple(shape):
        raise ValueError(
            f"Rollouts.{name} must have shape {expected} = {list(shape)}; got shape {arr.shape}."
        )
