"""Human-aware loss functions (HALOs): value function + reference point + class weights.

Ethayarajh et al. call a loss a HALO when it scores each example by a
human value function ``v`` of the implied reward measured against a
reference point:

  r   = log pi(y|x) - log pi_ref(y|x)            (implied reward)
  z   = beta * (r - z0)                          (outcome relative to the reference point z0)
  L_i = w_i * (offset - v(s_i * z))              (s_i = +1 desirable, -1 undesirable)

with ``w_i`` the desirable or undesirable class weight. `HALO` builds such a
loss from its parts; KTO, DPO and a full Kahneman-Tversky variant are one
line each:

  KTO:  HALO(value=jax.nn.sigmoid, offset=1.0, clamp_reference=True)
        called with reference_point = the batch KL estimate (no gradient);
  DPO:  HALO(value=jax.nn.log_sigmoid, stop_gradient_reference=False)
        called on the chosen completions with desirable = True and
        reference_point = the rejected completion's implied reward r_l
        (gradient flows through it, as in DPO);
  KT:   HALO(value=KahnemanTverskyValue(0.88, 0.88, 2.25), clamp_reference=True).

References:
  Ethayarajh et al., "KTO: Model Alignment as Prospect Theoretic
  Optimization", arXiv 2402.01306, definition 3.4 and proposition 3.5.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from reward_design._checks import (
    bool_labels,
    float_vector,
    is_concrete,
    reference_point_array,
    same_length,
    set_float_leaf,
)
from reward_design._pytree import pytree_dataclass, static_field
from reward_design.halos._value import KahnemanTverskyValue, as_value_function

__all__ = ["HALO", "kto_halo", "dpo_halo", "kahneman_tversky_halo"]


def _concrete_values(value: Any) -> np.ndarray | None:
    """The values of a concrete numpy/JAX array leaf, or None (tracers, sentinels)."""
    if isinstance(value, np.ndarray | jax.Array) and is_concrete(value):
        return np.asarray(value, dtype=np.float64)
    return None


@pytree_dataclass
class HALO:
    """A human-aware loss built from a value function, a reference point and class weights.

    ``L_i = w_i * (offset - v(s_i * beta * (r_i - z0_i)))`` with
    ``r_i = policy_logps_i - reference_logps_i``, ``s_i = +1`` for desirable
    and ``-1`` for undesirable examples, ``w_i`` the class weight, and the
    reference point ``z0`` given at call time (optionally clamped at 0 and
    with its gradient stopped). The sign convention puts an undesirable
    example whose reward exceeds the reference point in the loss region of
    ``v``, so a loss-averse ``v`` punishes it more than it rewards the
    mirror-image desirable example.

    Numeric fields are traced pytree leaves: one ``jax.jit`` compilation
    serves every ``beta``, weight and value-function parameter, and
    ``jax.vmap`` can sweep them.

    Args:
      value: the value function ``v``, non-decreasing: a pytree dataclass
        with ``__call__`` (e.g. `KahnemanTverskyValue`, whose parameters are
        traced) or any callable ``v(z)`` (static, e.g. ``jax.nn.sigmoid``).
      beta: temperature multiplying ``r - z0`` (traced), > 0.
      desirable_weight: lambda_D (traced), >= 0.
      undesirable_weight: lambda_U (traced), >= 0.
      offset: constant subtracted from ``v`` before weighting (traced);
        shifts the loss, never its gradient. KTO uses 1 (the supremum of
        the sigmoid) so that each loss lies in [0, w].
      stop_gradient_reference: static; stop the gradient through the
        reference point (KTO: True, the point is an estimate; DPO: False,
        the point is the rejected completion's reward, which DPO pushes down).
      clamp_reference: static; use ``max(reference_point, 0)`` (KTO's
        clamped KL estimate).

    References:
      Ethayarajh et al., "KTO: Model Alignment as Prospect Theoretic
      Optimization", arXiv 2402.01306, definition 3.4.
    """

    value: Any
    beta: Any = 0.1
    desirable_weight: Any = 1.0
    undesirable_weight: Any = 1.0
    offset: Any = 0.0
    stop_gradient_reference: bool = static_field(default=True)
    clamp_reference: bool = static_field(default=False)

    def __post_init__(self):
        object.__setattr__(self, "value", as_value_function(self.value))
        for name in ("beta", "desirable_weight", "undesirable_weight", "offset"):
            if getattr(self, name) is None:
                raise TypeError(f"HALO.{name} must be a real number; got None.")
            set_float_leaf(self, name, "HALO")
            leaf = getattr(self, name)
            if isinstance(leaf, np.ndarray) and leaf.ndim != 0:
                raise ValueError(f"HALO.{name} must be a scalar; got shape {leaf.shape}.")
        # Ranges are checked on every concrete value, JAX arrays included
        # (a stacked vector of values to vmap over is checked elementwise).
        beta = _concrete_values(self.beta)
        if beta is not None and np.any(beta <= 0):
            raise ValueError(f"HALO.beta must be > 0; got {beta.tolist()!r}.")
        for name in ("desirable_weight", "undesirable_weight"):
            leaf = _concrete_values(getattr(self, name))
            if leaf is not None and np.any(leaf < 0):
                raise ValueError(f"HALO.{name} must be >= 0; got {leaf.tolist()!r}.")
        for name in ("stop_gradient_reference", "clamp_reference"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"HALO.{name} must be a bool; got {getattr(self, name)!r}.")

    def __call__(
        self,
        policy_logps: ArrayLike,
        reference_logps: ArrayLike,
        desirable: ArrayLike,
        reference_point: ArrayLike = 0.0,
    ) -> jax.Array:
        """Per-example losses ``[B]`` (no reduction).

        Args:
          policy_logps: ``[B]`` log pi(y|x); gradients flow here.
          reference_logps: ``[B]`` log pi_ref(y|x); gradient stopped.
          desirable: ``[B]`` bool, True for desirable examples.
          reference_point: z0, a scalar or ``[B]``, in log-ratio units (the
            same units as ``r``).

        Returns:
          ``[B]`` losses.

        Raises:
          TypeError: non-boolean ``desirable`` or non-numeric inputs.
          ValueError: inputs not of rank 1, mismatched lengths, or a
            reference point that is neither a scalar nor ``[B]``.
        """
        fn = "HALO"
        pol = float_vector(policy_logps, "policy_logps", fn)
        ref = float_vector(reference_logps, "reference_logps", fn)
        same_length(fn, policy_logps=pol, reference_logps=ref)
        lab = bool_labels(desirable, "desirable", fn, pol.shape, of="policy_logps")
        z0 = reference_point_array(reference_point, "reference_point", pol.shape[0], fn)
        if self.clamp_reference:
            z0 = jnp.maximum(z0, 0.0)
        if self.stop_gradient_reference:
            z0 = jax.lax.stop_gradient(z0)
        r = pol - jax.lax.stop_gradient(ref)
        z = self.beta * (r - z0)
        signed = jnp.where(lab, z, -z)
        weight = jnp.where(lab, self.desirable_weight, self.undesirable_weight)
        return weight * (self.offset - self.value(signed))


def kto_halo(
    beta: ArrayLike = 0.1, desirable_weight: ArrayLike = 1.0, undesirable_weight: ArrayLike = 1.0
) -> HALO:
    """KTO as a `HALO`: logistic value, offset 1, clamped reference point without gradient.

    ``kto_halo(beta, wD, wU)(policy, reference, desirable, kl)`` equals
    ``kto_loss(policy, reference, desirable, kl, beta, wD, wU)``.

    References:
      Ethayarajh et al., "KTO", arXiv 2402.01306, eq. (7).
    """
    return HALO(
        value=jax.nn.sigmoid,
        beta=beta,
        desirable_weight=desirable_weight,
        undesirable_weight=undesirable_weight,
        offset=1.0,
        stop_gradient_reference=True,
        clamp_reference=True,
    )


def dpo_halo(beta: ArrayLike = 0.1) -> HALO:
    """DPO as a `HALO`: value ``log sigmoid``, the rejected reward as reference point.

    Call it on the chosen completions, all desirable, with
    ``reference_point = policy_rejected_logps - reference_rejected_logps``::

      dpo_halo(beta)(policy_chosen, reference_chosen, jnp.ones(B, bool),
                     policy_rejected - reference_rejected)

    which equals ``dpo_loss(..., beta, loss_type="sigmoid")`` in value and
    gradient (the reference point keeps its gradient, so the rejected
    completion is pushed down as in DPO).

    References:
      Ethayarajh et al., "KTO", arXiv 2402.01306, proposition 3.5.
      Rafailov et al., "Direct Preference Optimization", arXiv 2305.18290.
    """
    return HALO(value=jax.nn.log_sigmoid, beta=beta, stop_gradient_reference=False)


def kahneman_tversky_halo(
    alpha: ArrayLike = 0.88,
    loss_aversion: ArrayLike = 2.25,
    beta: ArrayLike = 0.1,
    desirable_weight: ArrayLike = 1.0,
    undesirable_weight: ArrayLike = 1.0,
    *,
    alpha_gain: ArrayLike | None = None,
    alpha_loss: ArrayLike | None = None,
) -> HALO:
    """KTO with the full Kahneman-Tversky value function instead of the logistic.

    ``L_i = w_i * -v(s_i * beta * (r_i - z0))`` with
    ``v(z) = z^alpha_gain`` for gains and ``-loss_aversion (-z)^alpha_loss``
    for losses, and KTO's reference point (clamped at 0, no gradient).
    Unlike the logistic value, this ``v`` does not saturate: the loss is
    unbounded below and keeps rewarding larger margins. The KTO paper
    replaced it by the logistic for that reason and for its finite slope at
    the reference point; this constructor is here to study that choice.

    References:
      Ethayarajh et al., "KTO", arXiv 2402.01306, section 4.1.
      Tversky and Kahneman, "Advances in Prospect Theory" (1992).
    """
    value = KahnemanTverskyValue(
        alpha_gain=alpha if alpha_gain is None else alpha_gain,
        alpha_loss=alpha if alpha_loss is None else alpha_loss,
        loss_aversion=loss_aversion,
    )
    return HALO(
        value=value,
        beta=beta,
        desirable_weight=desirable_weight,
        undesirable_weight=undesirable_weight,
        offset=0.0,
        stop_gradient_reference=True,
        clamp_reference=True,
    )
