"""Array-level adapters: a trainer's flat batch <-> ``[P, G]`` groups.

Trainers keep completions flat. TRL orders them prompt-major: the
``num_generations`` completions of a prompt are contiguous, and rewards are
grouped with ``rewards.view(-1, num_generations)``. verl tags each sample
with a group id (``non_tensor_batch["uid"]``, one uuid per prompt) and
groups by id wherever the samples sit. `FlatIndex` covers both: it maps each
flat sample to ``(row, col)`` of a ``[P, G]`` layout, with a mask for ragged
groups, so that `Rollouts`, `rd.compose` objectives and `rd.advantages` can
be used inside such a trainer, and the advantages put back in flat order.

The index is computed eagerly with numpy (group ids are data); the gathers
`to_grouped` / `to_flat` are plain indexing and run under ``jax.jit``. This
module never imports torch: CPU tensors are read through ``numpy.asarray``.

Example (TRL order, G = 4)::

    r, index = flat.rollouts_from_flat(correct=c, confidence=p, group_size=4)
    out = objective(r)
    adv = flat.to_flat(rd.advantages.grpo(out.total, mask=out.accepted), index)  # [N]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from reward_design._checks import host_array, real_array
from reward_design.rollouts import Rollouts

__all__ = [
    "FlatIndex",
    "flat_advantages",
    "flat_index",
    "rollouts_from_flat",
    "to_flat",
    "to_grouped",
]


@dataclass(frozen=True)
class FlatIndex:
    """Where each of N flat samples sits in a ``[P, G]`` layout.

    Attributes:
      rows: ``[N]`` int, the group (prompt) of each sample; groups are
        numbered in order of first appearance in the flat batch.
      cols: ``[N]`` int, the sample's position in its group (flat order).
      mask: ``[P, G]`` bool, True where a sample sits (False: padding of a
        group smaller than G).
      group_ids: ``[P]`` the id of each group (``arange(P)`` for
        ``group_size`` layouts).
    """

    rows: np.ndarray
    cols: np.ndarray
    mask: np.ndarray
    group_ids: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """``(P, G)``."""
        return self.mask.shape

    @property
    def num_samples(self) -> int:
        """N."""
        return int(self.rows.shape[0])


def flat_index(
    group_ids: Any = None, *, group_size: int | None = None, num_samples: int | None = None
) -> FlatIndex:
    """Builds the flat -> ``[P, G]`` map from group ids or a fixed group size.

    Args:
      group_ids: ``[N]`` ids (ints or strings, e.g. verl's ``uid``): samples
        with equal ids form a group. Groups are ordered by first appearance
        and keep their samples' flat order; groups may differ in size
        (G is the largest, the rest is masked).
      group_size: alternatively G, for prompt-major contiguous batches
        (TRL's ``num_generations``): sample i is in group ``i // G``.
      num_samples: N, required with ``group_size``.

    Returns:
      A `FlatIndex`.

    Raises:
      ValueError: if both or neither of ``group_ids``/``group_size`` are
        given, ``group_ids`` is not 1-D and non-empty, ``group_size`` is not
        a positive integer, or N is not a multiple of ``group_size``.
    """
    if (group_ids is None) == (group_size is None):
        raise ValueError(
            "give exactly one of group_ids ([N] group id per sample) or group_size "
            f"(G, prompt-major order); got group_ids={'None' if group_ids is None else '...'} "
            f"and group_size={group_size!r}."
        )
    if group_size is not None:
        if isinstance(group_size, bool) or not isinstance(group_size, (int, np.integer)):
            raise ValueError(f"group_size must be a positive integer; got {group_size!r}.")
        if group_size < 1:
            raise ValueError(f"group_size must be a positive integer; got {group_size!r}.")
        if num_samples is None:
            raise ValueError("num_samples (N) is required with group_size.")
        _check_count(num_samples)
        n, g = int(num_samples), int(group_size)
        if n < 1 or n % g:
            raise ValueError(f"num_samples must be a positive multiple of group_size={g}; got {n}.")
        i = np.arange(n)
        return FlatIndex(
            rows=i // g, cols=i % g, mask=np.ones((n // g, g), bool), group_ids=np.arange(n // g)
        )

    ids = host_array(group_ids, "group_ids", "flat_index")
    if ids.ndim != 1 or ids.shape[0] == 0:
        raise ValueError(f"group_ids must have shape [N] with N >= 1; got shape {ids.shape}.")
    if num_samples is not None:
        _check_count(num_samples)
    if num_samples is not None and int(num_samples) != ids.shape[0]:
        raise ValueError(f"group_ids has {ids.shape[0]} entries but num_samples={num_samples}.")
    try:
        uniq, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    except TypeError as err:
        raise ValueError(
            f"group_ids must be mutually comparable (all ints or all strings); got {err}."
        ) from err
    inverse = inverse.reshape(-1)
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(uniq))
    rows = rank[inverse]
    perm = np.argsort(rows, kind="stable")
    counts = np.bincount(rows, minlength=len(uniq))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    cols = np.empty_like(rows)
    cols[perm] = np.arange(len(rows)) - starts[rows[perm]]
    mask = np.zeros((len(uniq), int(counts.max())), bool)
    mask[rows, cols] = True
    return FlatIndex(rows=rows, cols=cols, mask=mask, group_ids=uniq[np.argsort(first)])


def _array(values: Any, name: str = "values", fn: str = "") -> Any:
    if isinstance(values, jax.Array):
        return values
    return host_array(values, name, fn)


def to_grouped(values: Any, index: FlatIndex, fill_value: Any = 0) -> jax.Array:
    """``[N, ...]`` flat values -> ``[P, G, ...]``; padding slots get ``fill_value``.

    Raises:
      TypeError: ``index`` is not a `FlatIndex`, ``values`` not an array of
        numbers or booleans. ValueError: if ``values`` does not have N rows.
    """
    return _to_grouped(values, index, fill_value, "values", "to_grouped")


def _to_grouped(values: Any, index: FlatIndex, fill_value: Any, name: str, fn: str) -> jax.Array:
    _check_index(index, fn)
    fill = (
        np.asarray(fill_value) if isinstance(fill_value, bool | int | float | np.generic) else None
    )
    if fill is None and isinstance(fill_value, jax.Array | np.ndarray) and fill_value.ndim == 0:
        fill = fill_value
    if fill is None or fill.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: fill_value must be a real or boolean scalar; got {fill_value!r}.")
    x = real_array(_array(values, name, fn), name, fn)
    if x.ndim < 1 or x.shape[0] != index.num_samples:
        raise ValueError(
            f"{fn}: {name} must have shape [N, ...] with N = {index.num_samples} (one entry "
            f"per sample); got shape {x.shape}."
        )
    p, g = index.shape
    x = jnp.asarray(x)  # float64 numpy -> JAX's default float, as everywhere in JAX
    out = jnp.full((p, g, *x.shape[1:]), fill_value, dtype=x.dtype)
    return out.at[index.rows, index.cols].set(x)


def to_flat(grouped: Any, index: FlatIndex) -> jax.Array:
    """``[P, G, ...]`` (e.g. advantages) -> ``[N, ...]`` in the trainer's flat order.

    Raises:
      TypeError: ``index`` is not a `FlatIndex`. ValueError: if ``grouped``
        does not start with ``[P, G]``.
    """
    _check_index(index, "to_flat")
    x = real_array(_array(grouped, "grouped", "to_flat"), "grouped", "to_flat")
    if x.ndim < 2 or tuple(x.shape[:2]) != index.shape:
        raise ValueError(
            f"grouped must have shape [P, G, ...] = {list(index.shape)}; got shape {x.shape}."
        )
    return jnp.asarray(x)[index.rows, index.cols]


def rollouts_from_flat(
    correct: Any,
    confidence: Any = None,
    rubric: Any = None,
    token_rewards: Any = None,
    token_mask: Any = None,
    *,
    group_ids: Any = None,
    group_size: int | None = None,
    validate: bool = True,
) -> tuple[Rollouts, FlatIndex]:
    """Flat per-sample fields -> ``(Rollouts [P, G], FlatIndex)``.

    Args:
      correct: ``[N]``; confidence: ``[N]``; rubric: ``[N, K]``;
        token_rewards / token_mask: ``[N, T]`` (each optional but correct).
      group_ids: ``[N]`` group id per sample, or
      group_size: G for prompt-major contiguous batches.
      validate: run `Rollouts.validate` (eager, raises ValueError on bad
        shapes or values).

    Returns:
      ``(rollouts, index)``; ``rollouts.mask`` is set when groups are ragged
      (None otherwise), padding slots hold zeros (False for token_mask).
    """
    fn = "rollouts_from_flat"
    correct = real_array(_array(correct, "correct", fn), "correct", fn)
    if correct.ndim != 1 or correct.shape[0] == 0:
        raise ValueError(
            f"{fn}: correct must have shape [N] with N >= 1 (one entry per sample); got shape "
            f"{correct.shape}."
        )
    index = flat_index(group_ids, group_size=group_size, num_samples=correct.shape[0])
    ragged = not bool(index.mask.all())

    def group(value: Any, name: str, fill: Any = 0) -> Any:
        return None if value is None else _to_grouped(value, index, fill, name, fn)

    rollouts = Rollouts(
        correct=group(correct, "correct"),
        confidence=group(confidence, "confidence"),
        rubric=group(rubric, "rubric"),
        token_rewards=group(token_rewards, "token_rewards"),
        token_mask=group(token_mask, "token_mask", False),
        mask=jnp.asarray(index.mask) if ragged else None,
    )
    if validate:
        rollouts.validate()
    return rollouts, index


def _flat_advantages_impl(rewards, keep, rows, cols, grouped_mask, estimator, kwargs):
    p, g = grouped_mask.shape
    grouped = jnp.zeros((p, g), rewards.dtype).at[rows, cols].set(rewards)
    mask = grouped_mask & jnp.zeros((p, g), bool).at[rows, cols].set(keep)
    return estimator(grouped, mask=mask, **dict(kwargs))[rows, cols]


# One program per (N, P, G, estimator, options): grouping, estimator and
# scatter-back fused, instead of dispatching each operation eagerly.
_flat_advantages = jax.jit(_flat_advantages_impl, static_argnames=("estimator", "kwargs"))


def flat_advantages(
    rewards: Any,
    *,
    group_ids: Any = None,
    group_size: int | None = None,
    estimator: Callable[..., jax.Array] | None = None,
    mask: Any = None,
    **estimator_kwargs: Any,
) -> jax.Array:
    """Group-relative advantages of flat ``[N]`` rewards, returned flat ``[N]``.

    Groups the rewards (`flat_index`), applies ``estimator(rewards [P, G],
    mask=[P, G], **estimator_kwargs)`` (default `rd.advantages.grpo`) with
    padding and ``mask == False`` samples masked out, and scatters back, in
    one jitted program.

    Args:
      rewards: ``[N]`` rewards.
      group_ids / group_size: the grouping (see `flat_index`).
      estimator: e.g. `rd.advantages.grpo`, `dr_grpo`, `rloo`.
      mask: optional ``[N]`` bool, samples to exclude (advantage 0).
      **estimator_kwargs: passed on (e.g. ``eps``, ``scale``); they are
        static (hashable values).
    """
    from reward_design import advantages as _advantages

    fn = "flat_advantages"
    if estimator is None:
        estimator = _advantages.grpo
    if not callable(estimator):
        raise TypeError(
            f"{fn}: estimator must be a function estimator(rewards, mask=..., **kwargs), e.g. "
            f"rd.advantages.grpo; got {estimator!r}."
        )
    try:
        kwargs = tuple(sorted(estimator_kwargs.items()))
        hash(kwargs)
    except TypeError as err:
        raise TypeError(
            f"{fn}: estimator_kwargs must be hashable values (they are static); got "
            f"{estimator_kwargs!r}."
        ) from err
    r = real_array(_array(rewards, "rewards", fn), "rewards", fn)
    if r.ndim != 1:
        raise ValueError(f"{fn}: rewards must have shape [N]; got shape {r.shape}.")
    if not jnp.issubdtype(r.dtype, jnp.floating):
        r = r.astype(jnp.float32)
    index = flat_index(group_ids, group_size=group_size, num_samples=r.shape[0])
    if mask is None:
        keep = np.ones(r.shape, bool)
    else:
        keep = _array(mask, "mask", fn)
        if keep.shape != r.shape or keep.dtype != np.bool_:
            raise ValueError(
                f"{fn}: mask must be a boolean array of shape {r.shape}; got {keep.dtype} "
                f"{keep.shape}."
            )
    return _flat_advantages(
        r,
        keep,
        index.rows,
        index.cols,
        index.mask,
        estimator=estimator,
        kwargs=kwargs,
    )


def _check_count(num_samples: Any) -> None:
    if isinstance(num_samples, bool) or not isinstance(num_samples, int | np.integer):
        raise TypeError(f"flat_index: num_samples must be an integer N; got {num_samples!r}.")


def _check_index(index: Any, fn: str) -> None:
    if not isinstance(index, FlatIndex):
        raise TypeError(
            f"{fn}: index must be a FlatIndex (from flat_index or rollouts_from_flat); got "
            f"{type(index).__name__}."
        )
