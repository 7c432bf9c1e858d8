"""`GroupFilter`: accept or reject whole groups (DAPO-style dynamic sampling)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from reward_design._checks import check_scalar, is_concrete, real_array
from reward_design._pytree import pytree_dataclass, static_field

__all__ = ["GroupFilter"]


@pytree_dataclass
class GroupFilter:
    """Rejects whole groups (rows of ``[P, G]``) that carry no usable learning signal.

    Group i is rejected when

    * fewer than ``min_accepted`` of its members are accepted
      (``sum_j accepted_ij < min_accepted``), or
    * ``drop_degenerate`` is True and its *signal members* (by default the
      accepted members) have equal rewards:
      ``max_j r_ij - min_j r_ij <= atol`` over those members, or fewer than
      two of them. Group-relative advantages of such a group are all zero,
      so it only dilutes the batch; DAPO's dynamic sampling drops it and
      resamples.

    ``filter(rewards, accepted)`` returns ``accepted & keep[:, None]``;
    `verdicts` gives the per-group decisions for logging.

    Args:
      min_accepted: minimum number of accepted members a group needs
        (traced; a non-negative integer; default 1).
      drop_degenerate: static; also reject groups whose signal members all
        have the same reward (default True).
      atol: absolute tolerance of "the same reward" (traced; >= 0; default
        1e-6). Raise it when rewards carry rounding noise of their own.

    Raises:
      ValueError: if ``min_accepted`` is negative or not an integer, if
        ``atol`` is negative, NaN or inf.

    References:
      Yu et al., "DAPO: An Open-Source LLM Reinforcement Learning System at
      Scale", arXiv 2503.14476 (dynamic sampling).
      Xu et al., "Direct Reasoning Optimization" (DRO), arXiv 2506.13351
      (dynamic data filtering, a related group-level filter).
    """

    min_accepted: Any = 1
    drop_degenerate: bool = static_field(default=True)
    atol: Any = 1e-6

    def __post_init__(self):
        check_scalar(self, "min_accepted", "GroupFilter")
        check_scalar(self, "atol", "GroupFilter")
        if not isinstance(self.drop_degenerate, (bool, np.bool_)):
            raise TypeError(
                f"GroupFilter.drop_degenerate must be a bool; got {self.drop_degenerate!r}."
            )
        if is_concrete(self.min_accepted):
            m = float(np.asarray(self.min_accepted))
            if m < 0 or m != round(m):
                raise ValueError(
                    f"GroupFilter.min_accepted must be a non-negative integer; got {m:g}."
                )
        if is_concrete(self.atol) and float(np.asarray(self.atol)) < 0:
            raise ValueError(
                f"GroupFilter.atol must be >= 0; got {float(np.asarray(self.atol)):g}."
            )

    def verdicts(
        self,
        rewards: ArrayLike,
        accepted: ArrayLike,
        signal_mask: ArrayLike | None = None,
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Per-group decisions.

        Args:
          rewards: ``[P, G]`` rewards (e.g. ``RewardOutput.total``).
          accepted: ``[P, G]`` bool, the accepted members.
          signal_mask: ``[P, G]`` bool, the members whose rewards enter the
            advantage statistics, checked for degeneracy (default
            ``accepted``). `Gated` with ``on_reject="floor"`` passes every
            valid member here, since floored rejections are part of the group.

        Returns:
          ``(keep, too_few, degenerate)``, each ``[P]`` bool:
          ``keep = ~too_few & ~degenerate`` (``degenerate`` is all False when
          ``drop_degenerate`` is False).

        Raises:
          ValueError: for shapes other than ``[P, G]``; TypeError for
            non-boolean masks.
        """
        fn = "GroupFilter"
        r = real_array(rewards, "rewards", fn)
        acc = real_array(accepted, "accepted", fn)
        sig = acc if signal_mask is None else real_array(signal_mask, "signal_mask", fn)
        if r.ndim != 2:
            raise ValueError(
                f"GroupFilter: rewards must have shape [P, G] (rank 2); got shape {r.shape}."
            )
        for name, m in (("accepted", acc), ("signal_mask", sig)):
            if m.shape != r.shape:
                raise ValueError(
                    f"GroupFilter: {name} must have the shape of rewards {r.shape}; "
                    f"got shape {m.shape}."
                )
            if m.dtype != jnp.bool_:
                raise TypeError(f"GroupFilter: {name} must be boolean; got dtype {m.dtype}.")
        r = r.astype(jnp.float32)
        n_accepted = jnp.sum(acc, axis=-1).astype(jnp.float32)
        too_few = n_accepted < jnp.asarray(self.min_accepted, jnp.float32)
        if self.drop_degenerate:
            hi = jnp.max(jnp.where(sig, r, -jnp.inf), axis=-1)
            lo = jnp.min(jnp.where(sig, r, jnp.inf), axis=-1)
            n_signal = jnp.sum(sig, axis=-1)
            spread = jnp.where(n_signal >= 2, hi - lo, 0.0)
            degenerate = spread <= jnp.asarray(self.atol, jnp.float32)
        else:
            degenerate = jnp.zeros(too_few.shape, dtype=bool)
        return ~too_few & ~degenerate, too_few, degenerate

    def keep(
        self, rewards: ArrayLike, accepted: ArrayLike, signal_mask: ArrayLike | None = None
    ) -> jax.Array:
        """``[P]`` bool: the groups kept (see `verdicts`)."""
        return self.verdicts(rewards, accepted, signal_mask)[0]

    def __call__(
        self, rewards: ArrayLike, accepted: ArrayLike, signal_mask: ArrayLike | None = None
    ) -> jax.Array:
        """``[P, G]`` bool: ``accepted & keep[:, None]``."""
        keep = self.keep(rewards, accepted, signal_mask)
        return jnp.asarray(accepted) & keep[:, None]
