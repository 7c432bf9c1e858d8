"""Group-relative advantage estimators over ``[P, G]`` rewards, with masks.

Each row is one group (G samples of one prompt). Statistics use only the
valid members (``mask``); masked-out members get advantage 0 (whatever their
reward, NaN included). Groups with a single valid member, or constant
rewards, give advantage 0. A non-finite reward of a *valid* member makes its
group's advantages non-finite in every estimator, a lone member's included:
the bad reward shows in the training metrics instead of silently becoming 0.

The statistics are plain ``jnp`` reductions over G, written as the formulas
(the GRPO variance in the two-pass centred form); docs/performance.md gives
their cost in a full reward step.

What each argument accepts, and what an accepted input means: docs/concepts.md,
"Input checks: eager and under jit".

References:
  Shao et al., "DeepSeekMath" (GRPO), arXiv 2402.03300.
  Liu et al., "Understanding R1-Zero-Like Training: A Critical Perspective"
  (Dr. GRPO), arXiv 2503.20783.
  Ahmadian et al., "Back to Basics: Revisiting REINFORCE Style Optimization
  for Learning from Human Feedback in LLMs" (RLOO), arXiv 2402.14740.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from reward_design._checks import host_array, host_values, real_array, scalar_hyper

__all__ = ["grpo", "dr_grpo", "rloo", "group_mean", "group_std"]


def _prepare(rewards: ArrayLike, mask: ArrayLike | None, fn: str) -> tuple[jax.Array, jax.Array]:
    r = real_array(rewards, "rewards", fn)
    if r.ndim != 2:
        raise ValueError(f"{fn}: rewards must have shape [P, G] (rank 2); got shape {r.shape}.")
    if not jnp.issubdtype(r.dtype, jnp.floating) or jnp.finfo(r.dtype).bits < 32:
        # Integers, bool and half-precision rewards are computed in float32: group
        # statistics in bfloat16 lose about two significant digits.
        r = r.astype(jnp.float32)
    if mask is None:
        m = jnp.ones(r.shape, dtype=bool)
    else:
        if isinstance(mask, list | tuple):
            mask = host_array(mask, "mask", fn)
        if not hasattr(mask, "dtype") or not hasattr(mask, "shape"):
            raise ValueError(f"{fn}: mask must be a boolean array; got {type(mask).__name__}.")
        if np.dtype(mask.dtype) != np.bool_:
            raise ValueError(
                f"{fn}: mask must be boolean; got dtype {mask.dtype}. Convert 0/1 values with "
                ".astype(bool)."
            )
        m = jnp.asarray(mask)
        if m.shape != r.shape:
            raise ValueError(
                f"{fn}: mask must have the shape of rewards {r.shape}; got shape {m.shape}."
            )
        if m.dtype != jnp.bool_:
            raise ValueError(
                f"{fn}: mask must be boolean; got dtype {m.dtype}. Convert 0/1 values with "
                ".astype(bool)."
            )
    return r, m


def _check_eps(eps: Any, shape: tuple[int, ...]) -> Any:
    """GRPO's ``eps``: a real scalar (or an array broadcasting to ``[P, 1]``/``[P, G]``, one
    per group or member), finite and >= 0 when concrete."""
    if jnp.ndim(eps) == 0:
        return scalar_hyper(eps, "eps", "grpo", low=0.0)
    arr = real_array(eps, "eps", "grpo", allow_bool=False)
    try:
        ok = jnp.broadcast_shapes(arr.shape, shape) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"grpo: eps must be a scalar or broadcast to rewards {tuple(shape)} (e.g. [P, 1]); "
            f"got shape {arr.shape}."
        )
    host = host_values(eps, arr)
    if host is not None and not np.all(np.isfinite(host) & (host >= 0)):
        raise ValueError(f"grpo: eps must be finite and >= 0; got {host.tolist()}.")
    return arr


def _check_ddof(ddof: int, fn: str) -> None:
    if isinstance(ddof, bool) or not isinstance(ddof, int | np.integer) or ddof < 0:
        raise ValueError(f"{fn}: ddof must be a non-negative integer (static); got {ddof!r}.")


def _shift(r: jax.Array, m: jax.Array) -> jax.Array:
    """Subtracts each group's largest valid reward.

    Advantages are shift-invariant; centring on a value taken from the group
    makes constant groups exactly 0 (no rounding residue) and reduces
    cancellation for large rewards.
    """
    top = jnp.max(jnp.where(m, r, -jnp.inf), axis=-1, keepdims=True)
    top = jnp.where(jnp.isfinite(top), top, 0.0)
    return jnp.where(m, r - jax.lax.stop_gradient(top), 0.0)


def group_mean(rewards: ArrayLike, mask: ArrayLike | None = None) -> jax.Array:
    """``[P, 1]`` mean of each group's valid members (0 for empty groups)."""
    r, m = _prepare(rewards, mask, "group_mean")
    n = jnp.sum(m, axis=-1, keepdims=True)
    return jnp.sum(jnp.where(m, r, 0.0), axis=-1, keepdims=True) / jnp.maximum(n, 1)


def _safe_sqrt(x: jax.Array) -> jax.Array:
    # sqrt has an infinite derivative at 0; the double where keeps gradients finite.
    positive = x > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1.0)), 0.0)


def _variance(sum_sq: jax.Array, n: jax.Array, ddof: int) -> jax.Array:
    """Variance from a sum of squared deviations over n members (0 when n <= ddof)."""
    return jnp.where(n > ddof, sum_sq / jnp.maximum(n - ddof, 1), 0.0)


def group_std(rewards: ArrayLike, mask: ArrayLike | None = None, ddof: int = 1) -> jax.Array:
    """``[P, 1]`` standard deviation of each group's valid members.

    ``ddof=1`` (default) is the unbiased form that TRL and verl use
    (``torch.std``). Groups with ``n <= ddof`` valid members get 0.
    """
    _check_ddof(ddof, "group_std")
    r, m = _prepare(rewards, mask, "group_std")
    r = jnp.where(m, r, 0.0)  # masked-out values (even NaN) reach neither value nor gradient
    n = jnp.sum(m, axis=-1, keepdims=True)
    mean = jnp.sum(r, axis=-1, keepdims=True) / jnp.maximum(n, 1)
    sq = jnp.sum(jnp.where(m, jnp.square(r - mean), 0.0), axis=-1, keepdims=True)
    return _safe_sqrt(_variance(sq, n, ddof))


def grpo(
    rewards: ArrayLike,
    mask: ArrayLike | None = None,
    eps: float = 1e-6,
    ddof: int = 1,
    scale: str = "group",
    axis_name: str | None = None,
) -> jax.Array:
    """GRPO advantages: ``A_ij = (r_ij - mean_i) / (std_i + eps)``.

    Args:
      rewards: ``[P, G]`` rewards.
      mask: ``[P, G]`` bool, valid members (None: all valid).
      eps: added to the standard deviation.
      ddof: delta degrees of freedom of the std (1: unbiased, as TRL/verl).
      scale: ``"group"`` divides by each group's std (the GRPO paper, TRL's
        default ``scale_rewards="group"``); ``"batch"`` divides by the std of
        all valid rewards in the batch (TRL's ``"batch"``); ``"none"`` does
        not divide (equivalent to `dr_grpo`). Static.
      axis_name: only for ``scale="batch"`` inside ``jax.shard_map``/``pmap``:
        the mapped axis over which the batch is split, so the batch std is
        computed with collectives over all shards. Under plain ``jax.jit``
        on sharded arrays leave it None (XLA inserts the reduction).

    Returns:
      ``[P, G]`` advantages, 0 for masked-out members.
    """
    if not isinstance(scale, str) or scale not in ("group", "batch", "none"):
        raise ValueError(f"grpo: scale must be 'group', 'batch' or 'none'; got {scale!r}.")
    if axis_name is not None and not isinstance(axis_name, str):
        raise TypeError(
            f"grpo: axis_name must be a mesh axis name (str) or None; got {axis_name!r}."
        )
    _check_ddof(ddof, "grpo")
    raw, m = _prepare(rewards, mask, "grpo")
    eps = _check_eps(eps, raw.shape)
    r = _shift(raw, m)  # 0 on masked-out members
    n = jnp.sum(m, axis=-1, keepdims=True)
    mean = jnp.sum(r, axis=-1, keepdims=True) / jnp.maximum(n, 1)
    centred = jnp.where(m, r - mean, 0.0)
    if scale == "group":
        sq = jnp.sum(jnp.square(centred), axis=-1, keepdims=True)
        out = centred / (_safe_sqrt(_variance(sq, n, ddof)) + eps)
    elif scale == "batch":

        def total(x: jax.Array) -> jax.Array:
            x = jnp.sum(x)
            return x if axis_name is None else jax.lax.psum(x, axis_name)

        # Zero the masked-out rewards first: where(m, f(raw), 0) alone would
        # still send 0 * f'(nan) = nan into the gradient of the batch mean.
        valid = jnp.where(m, raw, 0.0)
        n_all = total(m.astype(jnp.float32))
        mean = total(valid) / jnp.maximum(n_all, 1)
        sq = total(jnp.where(m, jnp.square(valid - mean), 0.0))
        out = centred / (_safe_sqrt(_variance(sq, n_all, ddof)) + eps)
    else:
        out = centred
    return jnp.where(m, out, 0.0)


def dr_grpo(rewards: ArrayLike, mask: ArrayLike | None = None) -> jax.Array:
    """Dr. GRPO advantages: ``A_ij = r_ij - mean_i`` (no std division).

    Args:
      rewards: ``[P, G]`` rewards.
      mask: ``[P, G]`` bool, valid members (None: all valid).

    Returns:
      ``[P, G]`` advantages, 0 for masked-out members.
    """
    r, m = _prepare(rewards, mask, "dr_grpo")
    r = _shift(r, m)
    return jnp.where(m, r - group_mean(r, m), 0.0)


def rloo(rewards: ArrayLike, mask: ArrayLike | None = None) -> jax.Array:
    """RLOO advantages: ``A_ij = r_ij - mean of the other valid members of group i``.

    Equivalently ``n / (n - 1) * (r_ij - mean_i)`` for a group with n valid
    members; groups with one valid member get 0.

    Args:
      rewards: ``[P, G]`` rewards.
      mask: ``[P, G]`` bool, valid members (None: all valid).

    Returns:
      ``[P, G]`` advantages, 0 for masked-out members.
    """
    r, m = _prepare(rewards, mask, "rloo")
    r = _shift(r, m)  # 0 on masked-out members
    n = jnp.sum(m, axis=-1, keepdims=True)
    total = jnp.sum(r, axis=-1, keepdims=True)
    others_mean = (total - r) / jnp.maximum(n - 1, 1)
    # A lone member has no baseline: its advantage is 0, written `0 * r` so that a
    # non-finite reward still shows (see the module docstring) and the gradient is 0.
    return jnp.where(m, jnp.where(n > 1, r - others_mean, 0.0 * r), 0.0)
