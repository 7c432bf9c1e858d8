"""`Gated`: a rubric gate in front of any objective (dense rewards only inside)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from reward_design._checks import check_scalar
from reward_design._pytree import pytree_dataclass, static_field, wrap_callable
from reward_design.compose import RewardOutput
from reward_design.gates._base import as_gate
from reward_design.gates._group_filter import GroupFilter
from reward_design.rollouts import Rollouts, check_rollouts, checked_call

__all__ = ["Gated"]

_ON_REJECT = ("floor", "drop")


@pytree_dataclass
class Gated:
    """An objective that lets ``inner`` reward only the rollouts ``gate`` accepts.

    ``gated(rollouts)`` evaluates ``out = inner(rollouts)`` and the gate, and
    returns a `RewardOutput` with

    * ``accepted = gate(rollouts) & rollouts.valid_mask & out.accepted``
      (narrowed further by ``group_filter``: members of rejected groups are
      not accepted);
    * ``total``:

      - ``on_reject="floor"``: ``floor`` for valid rollouts the gate rejects,
        the inner total elsewhere. Rejected rollouts stay in their group as a
        low reward: compute advantages over the valid members,
        ``rd.advantages.grpo(out.total, mask=rollouts.valid_mask)``.
      - ``on_reject="drop"``: the inner total, unchanged. Rejected rollouts
        are meant to be excluded: ``rd.advantages.grpo(out.total,
        mask=out.accepted)`` gives them advantage 0 and leaves them out of
        the group mean and std.

      `evaluate` returns the right advantage mask for either mode (and for
      group filters), so ``out, mask = gated.evaluate(r);
      grpo(out.total, mask=mask)`` works in both.
    * ``components``: the inner components, unchanged (for logging; with
      ``"floor"`` the total of a rejected rollout is not their sum).
    * ``stats``: the inner stats plus the batch statistics
      ``gate/pass_rate`` (valid rollouts passing the gate),
      ``gate/rollouts_kept`` (valid rollouts accepted after group
      filtering), ``gate/rollouts_in_update`` (valid rollouts that enter the
      advantage statistics), ``gate/groups_kept`` (non-empty groups with at
      least one member in the update) and, with a group filter,
      ``gate/groups_below_min`` and ``gate/groups_degenerate`` (fractions of
      non-empty groups rejected for each reason; a group may have both).
      Inner stats whose names clash are renamed ``inner/<name>``.

    With a `GroupFilter`, a group needs ``min_accepted`` accepted members,
    and (``drop_degenerate``) the rewards that enter its advantage
    statistics must not all be equal: over the accepted members with
    ``"drop"``, over all valid members (floors included) with ``"floor"``.

    Args:
      gate: a gate (``gate(rollouts) -> [P, G] bool``), e.g. `AllOf`; a plain
        function is wrapped in `FunctionGate`.
      inner: any objective returning `RewardOutput`, e.g. ``rd.compose(...)``
        or another `Gated`; its own ``accepted`` is respected (AND-ed).
      on_reject: ``"floor"`` or ``"drop"`` (static).
      floor: the reward of a rejected rollout with ``"floor"`` (traced).
      group_filter: optional `GroupFilter`.

    Raises:
      ValueError: for an unknown ``on_reject`` or a NaN/inf/non-scalar
        ``floor``; when called, if the gate's verdict or the inner total is
        not ``[P, G]``. TypeError: if ``gate`` or ``inner`` is not callable,
        if ``group_filter`` is not a `GroupFilter`, or (when called) if
        ``inner`` does not return a `RewardOutput` or the gate a boolean array.

    Example:
      >>> dense = rd.compose(rubric=rd.terms.RubricScore(), tokens=rd.terms.TokenReward())
      >>> gated = Gated(AllOf(), rd.compose(tokens=rd.terms.TokenReward()))

    References:
      Xu et al., "Direct Reasoning Optimization" (DRO), arXiv 2506.13351.
      Yu et al., "DAPO", arXiv 2503.14476.
    """

    gate: Any
    inner: Any
    on_reject: str = static_field(default="floor")
    floor: Any = 0.0
    group_filter: Any = None

    def __post_init__(self):
        if self.on_reject not in _ON_REJECT:
            raise ValueError(f"Gated.on_reject must be 'floor' or 'drop'; got {self.on_reject!r}.")
        check_scalar(self, "floor", "Gated")
        gate = as_gate(self.gate, "Gated.gate")
        if gate is not self.gate:
            object.__setattr__(self, "gate", gate)
        if not callable(self.inner):
            raise TypeError(
                "Gated.inner must be an objective, inner(rollouts) -> RewardOutput "
                f"(e.g. rd.compose(...)); got {self.inner!r}."
            )
        inner = wrap_callable(self.inner, "Gated.inner", "inner(rollouts) -> RewardOutput")
        if inner is not self.inner:
            object.__setattr__(self, "inner", inner)
        gf = self.group_filter
        if gf is not None and not isinstance(gf, GroupFilter):
            raise TypeError(f"Gated.group_filter must be a GroupFilter or None; got {gf!r}.")

    def evaluate(self, rollouts: Rollouts) -> tuple[RewardOutput, jax.Array]:
        """Returns ``(output, advantage_mask)``.

        ``advantage_mask`` (``[P, G]`` bool) marks the members that enter the
        group statistics of an advantage estimator: the valid members of
        kept groups with ``"floor"``, ``output.accepted`` with ``"drop"``.
        """
        check_rollouts(rollouts, "Gated")
        with checked_call():
            inner_out = self.inner(rollouts)
            passed = self.gate(rollouts)
        if not isinstance(inner_out, RewardOutput):
            raise TypeError(
                "Gated.inner must return a RewardOutput (e.g. an rd.compose(...) objective); "
                f"got {type(inner_out).__name__}."
            )
        rollout_mask = rollouts.valid_mask
        p, g = rollout_mask.shape
        inner_total = jnp.asarray(inner_out.total)
        if inner_total.shape != (p, g):
            raise ValueError(
                f"Gated.inner returned total of shape {inner_total.shape}; expected [P, G] = "
                f"{[p, g]}."
            )
        accepted = jnp.asarray(inner_out.accepted)
        if accepted.shape != (p, g) or accepted.dtype != jnp.bool_:
            raise ValueError(
                f"Gated.inner returned accepted of shape {accepted.shape} and dtype "
                f"{accepted.dtype}; expected a [P, G] = {[p, g]} boolean array."
            )
        valid = rollout_mask & accepted
        try:
            passed = jnp.asarray(passed)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"Gated.gate must return a [P, G] boolean array; got {type(passed).__name__}."
            ) from err
        if passed.shape != (p, g):
            raise ValueError(
                f"Gated.gate must return a [P, G] = {[p, g]} array; got shape {passed.shape}."
            )
        if passed.dtype != jnp.bool_:
            raise TypeError(f"Gated.gate must return a boolean array; got dtype {passed.dtype}.")
        return self._assemble(inner_out, inner_total, rollout_mask, valid, passed & valid)

    def _assemble(
        self,
        inner_out: RewardOutput,
        inner_total: jax.Array,
        rollout_mask: jax.Array,
        valid: jax.Array,
        passed: jax.Array,
    ) -> tuple[RewardOutput, jax.Array]:
        """Totals, group filter, stats and the advantage mask from the gate's verdict
        (``passed``, already AND-ed with ``valid``)."""
        p, g = rollout_mask.shape
        if self.on_reject == "floor":
            floor = jnp.asarray(self.floor, dtype=inner_total.dtype)
            total = jnp.where(valid & ~passed, floor, inner_total)
            signal = valid
        else:
            total = inner_total
            signal = passed

        nonempty = jnp.any(rollout_mask, axis=1)
        n_groups = jnp.maximum(jnp.sum(nonempty), 1).astype(jnp.float32)
        stats: dict[str, jax.Array] = {}
        if self.group_filter is not None:
            keep, too_few, degenerate = self.group_filter.verdicts(total, passed, signal)
            stats["gate/groups_below_min"] = jnp.sum(too_few & nonempty) / n_groups
            stats["gate/groups_degenerate"] = jnp.sum(degenerate & nonempty) / n_groups
        else:
            keep = jnp.ones((p,), dtype=bool)
        accepted = passed & keep[:, None]
        advantage_mask = signal & keep[:, None]

        n_valid = jnp.maximum(jnp.sum(rollout_mask), 1).astype(jnp.float32)
        stats["gate/pass_rate"] = jnp.sum(passed) / n_valid
        stats["gate/rollouts_kept"] = jnp.sum(accepted) / n_valid
        stats["gate/rollouts_in_update"] = jnp.sum(advantage_mask) / n_valid
        stats["gate/groups_kept"] = jnp.sum(jnp.any(advantage_mask, axis=1) & nonempty) / n_groups

        merged: dict[str, jax.Array] = {}
        for name, value in dict(inner_out.stats).items():
            merged[f"inner/{name}" if name in stats else name] = value
        merged.update(stats)
        out = RewardOutput(
            total=total, components=dict(inner_out.components), accepted=accepted, stats=merged
        )
        return out, advantage_mask

    def __call__(self, rollouts: Rollouts) -> RewardOutput:
        return self.evaluate(rollouts)[0]

    def advantages(
        self,
        rollouts: Rollouts,
        estimator: str | Callable[..., jax.Array] = "grpo",
        **estimator_kwargs: Any,
    ) -> tuple[RewardOutput, jax.Array]:
        """Returns ``(output, advantages)``: `evaluate`, then an advantage estimator.

        Exactly ``out, mask = self.evaluate(rollouts);
        adv = estimator(out.total, mask=mask, **estimator_kwargs)``, on every
        backend. (On CPU, ``rd.kernels.gated_advantages`` computes the same with a
        hand-written kernel for the configurations it implements; an explicit
        opt-in, see docs/performance.md.)

        Args:
          rollouts: the batch.
          estimator: ``"grpo"``, ``"dr_grpo"``, ``"rloo"`` (the functions of
            `rd.advantages`) or any ``fn(rewards, mask=..., **kwargs)``.
          **estimator_kwargs: passed to the estimator (``eps``, ``ddof``, ...).

        Returns:
          ``(output, advantages)``: the `RewardOutput` of `evaluate` and ``[P, G]``
          advantages (0 for members outside the advantage mask).

        Raises:
          ValueError: for an unknown estimator name. TypeError: if ``estimator``
            is neither a name nor a function.
        """
        from reward_design import advantages as adv_lib

        if isinstance(estimator, str):
            names = ("grpo", "dr_grpo", "rloo")
            if estimator not in names:
                raise ValueError(
                    f"Gated.advantages: estimator must be one of {names} or a function; "
                    f"got {estimator!r}."
                )
            fn = getattr(adv_lib, estimator)
        elif callable(estimator):
            fn = estimator
        else:
            raise TypeError(
                f"Gated.advantages: estimator must be a name or a function; got {estimator!r}."
            )
        out, mask = self.evaluate(rollouts)
        return out, fn(out.total, mask=mask, **estimator_kwargs)
