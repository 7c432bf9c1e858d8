"""`gated_advantages`: `Gated.advantages` computed with the CPU kernel, on request."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from reward_design._pytree import StaticCallable
from reward_design.compose import Objective, RewardOutput
from reward_design.gates import AllOf, AtLeast, FunctionGate, Gated, rubric_passes
from reward_design.kernels._ffi import ESTIMATORS, gated_group_advantages
from reward_design.rollouts import Rollouts, check_rollouts, checked_call

__all__ = ["gated_advantages", "supports"]

_GRPO_KWARGS = ("eps", "ddof", "scale", "axis_name")
SUPPORTED = (
    "a Gated with on_reject='drop' and no group_filter, whose gate is exactly AllOf or "
    "AtLeast (boolean or probability rubric), with the estimator 'grpo' (eps a scalar, "
    "ddof an int, scale='group', no axis_name), 'dr_grpo' or 'rloo' (no options)"
)


def _unsupported(gated: Any, estimator: Any, kwargs: dict[str, Any]) -> str | None:
    """Why the kernel does not implement this configuration (None when it does)."""
    if type(gated) is not Gated:
        return f"gated must be a Gated; got {type(gated).__name__}"
    if gated.on_reject != "drop":
        return f"gated.on_reject must be 'drop'; got {gated.on_reject!r}"
    if gated.group_filter is not None:
        return "gated.group_filter must be None; got a GroupFilter"
    if type(gated.gate) not in (AllOf, AtLeast):
        return f"gated.gate must be AllOf or AtLeast; got {type(gated.gate).__name__}"
    if not isinstance(estimator, str) or estimator not in ESTIMATORS:
        return f"estimator must be one of {ESTIMATORS}; got {estimator!r}"
    if estimator != "grpo":
        if kwargs:
            return f"{estimator} takes no estimator options here; got {sorted(kwargs)}"
        return None
    unknown = sorted(set(kwargs) - set(_GRPO_KWARGS))
    if unknown:
        return f"grpo's options must be among {_GRPO_KWARGS}; got {unknown}"
    if kwargs.get("scale", "group") != "group":
        return f"grpo's scale must be 'group'; got {kwargs['scale']!r}"
    if kwargs.get("axis_name") is not None:
        return f"grpo's axis_name must be None; got {kwargs['axis_name']!r}"
    if jnp.ndim(kwargs.get("eps", 0.0)) != 0:
        return f"grpo's eps must be a scalar; got shape {jnp.shape(kwargs['eps'])}"
    ddof = kwargs.get("ddof", 1)
    if isinstance(ddof, bool) or not isinstance(ddof, int):
        return f"grpo's ddof must be a Python int; got {ddof!r}"
    return None


def supports(gated: Any, estimator: Any = "grpo", **estimator_kwargs: Any) -> bool:
    """Whether `gated_advantages` implements this configuration (it raises otherwise).

    Args:
      gated: the objective.
      estimator: the estimator name.
      **estimator_kwargs: the estimator's options.

    Returns:
      True for a `Gated` with ``on_reject="drop"`` and no group filter, whose
      gate is exactly `AllOf` or `AtLeast`, with ``"grpo"`` (scalar ``eps``,
      int ``ddof``, ``scale="group"``, no ``axis_name``), ``"dr_grpo"`` or
      ``"rloo"`` (no options); False otherwise.
    """
    return _unsupported(gated, estimator, estimator_kwargs) is None


def _verdict(rollouts: Rollouts, passed: jax.Array) -> jax.Array:
    """The kernel's gate verdict, handed to `Gated.evaluate` as a `FunctionGate`."""
    del rollouts
    return passed


def gated_advantages(
    gated: Gated, rollouts: Rollouts, estimator: str = "grpo", **estimator_kwargs: Any
) -> tuple[RewardOutput, jax.Array]:
    """``gated.advantages(rollouts, estimator, **estimator_kwargs)`` with the CPU kernel.

    Returns what `Gated.advantages` returns (the `RewardOutput` of
    ``gated.evaluate(rollouts)``, stats included, and the advantages), with the
    gate's item count and the estimator computed by one hand-written kernel
    that reads the rubric and the rewards once (docs/performance.md). Results
    agree with `Gated.advantages` to float rounding; gradients (with respect to
    the rewards and everything they are computed from) are the XLA program's.

    The kernel implements one family of configurations: a `Gated` with
    ``on_reject="drop"`` and no ``group_filter``, whose gate is exactly `AllOf`
    or `AtLeast` (a probability rubric is thresholded first, one more pass
    over it), and the estimator ``"grpo"`` (options ``eps`` a scalar, ``ddof``
    a Python int, ``scale="group"``, no ``axis_name``), ``"dr_grpo"`` or
    ``"rloo"``. `supports` says whether a configuration is one of them.

    The XLA program (the same as `Gated.advantages`'s, up to rounding) runs
    instead of the kernel in programs lowered for a platform other than the
    CPU, where the default backend is not the CPU, for group sizes outside
    `GROUP_SIZES`, for float64 totals, and where the kernel is not available:
    no GCC or a failed build (one `RuntimeWarning` naming why) or
    ``REWARD_DESIGN_CPU_KERNELS=0``; `kernel_status` tells which. Under a
    multi-device CPU mesh call it inside ``jax.shard_map`` (whole groups per
    shard): XLA cannot partition the custom call and gathers the batch
    otherwise.

    Args:
      gated: the objective (see above).
      rollouts: the batch.
      estimator: ``"grpo"``, ``"dr_grpo"`` or ``"rloo"`` (static).
      **estimator_kwargs: ``eps`` (traced) and ``ddof`` (static) for ``"grpo"``.

    Returns:
      ``(output, advantages)``: as `Gated.advantages`.

    Raises:
      TypeError: if ``gated`` is not a `Gated`. ValueError: naming the argument,
        for a configuration the kernel does not implement (use
        ``gated.advantages`` for those), and the errors of `Gated.evaluate`.
    """
    reason = _unsupported(gated, estimator, estimator_kwargs)
    if reason is not None:
        error = TypeError if not isinstance(gated, Gated) else ValueError
        raise error(
            f"rd.kernels.gated_advantages: {reason}. The kernel implements {SUPPORTED}; "
            "gated.advantages(...) computes every configuration."
        )
    check_rollouts(rollouts, "rd.kernels.gated_advantages")
    with checked_call():  # the values are checked once, here
        return _gated_advantages(gated, rollouts, estimator, estimator_kwargs)


def _gated_advantages(
    gated: Gated, rollouts: Rollouts, estimator: str, estimator_kwargs: dict[str, Any]
) -> tuple[RewardOutput, jax.Array]:
    inner_out = gated.inner(rollouts)
    if not isinstance(inner_out, RewardOutput):
        raise TypeError(
            "Gated.inner must return a RewardOutput (e.g. an rd.compose(...) objective); "
            f"got {type(inner_out).__name__}."
        )
    shape = rollouts.valid_mask.shape
    total = jnp.asarray(inner_out.total)
    if total.shape != shape:
        raise ValueError(
            f"Gated.inner returned total of shape {total.shape}; expected [P, G] = {list(shape)}."
        )
    rewards = total if jnp.issubdtype(total.dtype, jnp.floating) else total.astype(jnp.float32)
    gate = gated.gate
    # The gate's own checks (rubric present and [P, G, K], AtLeast.k <= K): traced, not run.
    jax.eval_shape(gate, rollouts)
    passes = rubric_passes(rollouts, gate.pass_threshold, type(gate).__name__)
    k = gate.k if isinstance(gate, AtLeast) else passes.shape[-1]
    # An `Objective` (exactly: a subclass may narrow `accepted`) accepts the valid
    # members; without a rollout mask that is every member, and the kernel reads no mask.
    all_valid = rollouts.mask is None and type(gated.inner) is Objective
    valid = rollouts.valid_mask & jnp.asarray(inner_out.accepted, dtype=bool)
    adv, passed = gated_group_advantages(
        rewards,
        passes,
        None if all_valid else valid,
        k,
        estimator=estimator,
        eps=estimator_kwargs.get("eps", 1e-6),
        ddof=estimator_kwargs.get("ddof", 1),
    )
    # Totals, accepted and stats: Gated.evaluate itself, given the inner output and
    # the kernel's verdict (so they cannot drift from the core's definitions).
    given = gated.replace(
        gate=FunctionGate(fn=_verdict, params=passed),
        inner=StaticCallable(fn=lambda _: inner_out),
    )
    out, _ = given.evaluate(rollouts)
    return out, adv
