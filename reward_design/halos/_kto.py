"""Kahneman-Tversky Optimization (KTO): a loss from binary desirable/undesirable labels.

With the implied reward ``r = log pi(y|x) - log pi_ref(y|x)`` and a reference
point ``z0 = max(KL, 0)`` (an estimate of KL(pi || pi_ref) on the batch),
KTO's human value of an example is ``sigmoid(beta (r - z0))`` when the
completion is desirable and ``sigmoid(beta (z0 - r))`` when it is not. The
loss is the weighted shortfall from the best value:

  desirable:    L = desirable_weight   * (1 - sigmoid(beta (r - z0)))
  undesirable:  L = undesirable_weight * (1 - sigmoid(beta (z0 - r)))

The reference point carries no gradient: it is an estimate of where the
human's reference sits, not something the policy should move.

References:
  Ethayarajh et al., "KTO: Model Alignment as Prospect Theoretic
  Optimization", arXiv 2402.01306, eq. (7)-(8).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from reward_design._checks import (
    bool_labels,
    float_vector,
    reference_point_array,
    same_length,
    scalar_hyper,
)

__all__ = ["kto_loss", "kto_kl_estimate"]


def kto_loss(
    policy_logps: ArrayLike,
    reference_logps: ArrayLike,
    desirable: ArrayLike,
    kl: ArrayLike,
    beta: ArrayLike = 0.1,
    desirable_weight: ArrayLike = 1.0,
    undesirable_weight: ArrayLike = 1.0,
) -> jax.Array:
    """Per-example KTO losses ``[B]`` (no reduction).

    With ``r = policy_logps - reference_logps`` and the reference point
    ``z0 = stop_gradient(max(kl, 0))``:

      desirable:    ``desirable_weight   * (1 - sigmoid(beta * (r - z0)))``
      undesirable:  ``undesirable_weight * (1 - sigmoid(beta * (z0 - r)))``

    ``1 - sigmoid(u)`` is computed as ``sigmoid(-u)``. Gradients flow into
    ``policy_logps`` only: ``reference_logps`` (a frozen model) and ``kl``
    (the reference point) are stopped. TRL's ``KTOTrainer`` and the HALOs
    repository take the mean of these losses over the batch.

    Args:
      policy_logps: ``[B]`` sequence log-probabilities log pi(y|x).
      reference_logps: ``[B]`` log pi_ref(y|x).
      desirable: ``[B]`` bool, True for desirable (thumbs-up) completions.
      kl: the reference point before clamping: a scalar batch estimate of
        KL(pi || pi_ref) (see `kto_kl_estimate`) or a ``[B]`` array of
        per-example estimates. Use 0 for the "KTO-zero" ablation.
      beta: temperature, > 0 (traced). Larger beta saturates the sigmoid
        sooner, so the policy stays closer to the reference.
      desirable_weight: lambda_D >= 0 (traced).
      undesirable_weight: lambda_U >= 0 (traced). Keep
        ``lambda_D n_D / (lambda_U n_U)`` in [1, 4/3] (`check_kto_weights`).

    Returns:
      ``[B]`` per-example losses, each in ``[0, max(weight)]``.

    Raises:
      TypeError: non-boolean ``desirable`` or non-numeric inputs.
      ValueError: inputs not of rank 1, mismatched lengths, a ``kl`` that is
        neither a scalar nor ``[B]``, non-finite concrete inputs, ``beta <= 0``
        or a negative weight.

    References:
      Ethayarajh et al., "KTO: Model Alignment as Prospect Theoretic
      Optimization", arXiv 2402.01306, eq. (7).
    """
    fn = "kto_loss"
    pol = float_vector(policy_logps, "policy_logps", fn)
    ref = float_vector(reference_logps, "reference_logps", fn)
    same_length(fn, policy_logps=pol, reference_logps=ref)
    lab = bool_labels(desirable, "desirable", fn, pol.shape, of="policy_logps")
    z0 = jax.lax.stop_gradient(jnp.maximum(reference_point_array(kl, "kl", pol.shape[0], fn), 0.0))
    b = scalar_hyper(beta, "beta", fn, low=0.0, low_open=True)
    w_d = scalar_hyper(desirable_weight, "desirable_weight", fn, low=0.0)
    w_u = scalar_hyper(undesirable_weight, "undesirable_weight", fn, low=0.0)
    r = pol - jax.lax.stop_gradient(ref)
    margin = b * (r - z0)
    # desirable: 1 - sigmoid(margin) = sigmoid(-margin); undesirable: sigmoid(margin).
    return jnp.where(lab, w_d * jax.nn.sigmoid(-margin), w_u * jax.nn.sigmoid(margin))


def kto_kl_estimate(
    policy_logps_mismatched: ArrayLike,
    reference_logps_mismatched: ArrayLike,
    mask: ArrayLike | None = None,
) -> jax.Array:
    """KTO's batch reference point: ``max(mean(log pi(y'|x) - log pi_ref(y'|x)), 0)``.

    The pairs ``(x, y')`` are mismatched: each prompt is paired with another
    example's completion (TRL shifts the completions of a batch by one), so
    the mean log-ratio estimates KL(pi || pi_ref) without favouring the
    batch's own completions. The estimate is clamped at 0 and carries no
    gradient. With data-parallel training, average it across devices
    before use (``jax.lax.pmean`` inside ``shard_map``) as TRL and the HALOs
    repository gather it.

    Args:
      policy_logps_mismatched: ``[M]`` log pi(y'|x) of the mismatched pairs.
      reference_logps_mismatched: ``[M]`` log pi_ref(y'|x).
      mask: optional ``[M]`` bool, pairs that count (padding False). An empty
        selection gives 0.

    Returns:
      A scalar, the reference point z0 >= 0, gradient stopped.

    Raises:
      TypeError: non-numeric inputs or a non-boolean mask.
      ValueError: inputs not of rank 1, mismatched lengths or non-finite values.

    References:
      Ethayarajh et al., "KTO: Model Alignment as Prospect Theoretic
      Optimization", arXiv 2402.01306, section 4.1.
    """
    fn = "kto_kl_estimate"
    pol = float_vector(policy_logps_mismatched, "policy_logps_mismatched", fn)
    ref = float_vector(reference_logps_mismatched, "reference_logps_mismatched", fn)
    same_length(fn, policy_logps_mismatched=pol, reference_logps_mismatched=ref)
    diff = pol - ref
    if mask is None:
        mean = jnp.mean(diff) if diff.shape[0] > 0 else jnp.zeros((), diff.dtype)
    else:
        m = bool_labels(
            mask,
            "mask",
            fn,
            pol.shape,
            meaning="True = the pair counts",
            of="policy_logps_mismatched",
        )
        n = jnp.sum(m)
        mean = jnp.sum(jnp.where(m, diff, 0.0)) / jnp.maximum(n, 1).astype(diff.dtype)
    return jax.lax.stop_gradient(jnp.maximum(mean, 0.0))
