"""The DPO family: pairwise preference losses on implied-reward margins.

With ``delta = (log pi(y_w|x) - log pi(y_l|x)) - (log pi_ref(y_w|x) - log pi_ref(y_l|x))``
(the difference of the chosen and rejected log-ratios), each loss is a
function of ``delta`` alone:

  sigmoid (DPO):  -log sigmoid(beta delta)
  cDPO:           -(1 - eps) log sigmoid(beta delta) - eps log sigmoid(-beta delta)
  robust:         (-(1 - eps) log sigmoid(beta delta) + eps log sigmoid(-beta delta)) / (1 - 2 eps)
  hinge (SLiC):   max(0, 1 - beta delta)
  ipo:            (delta - 1 / (2 beta))^2

Seen as a HALO, DPO scores the chosen completion against the rejected one as
its reference point, with the value function ``log sigmoid`` (see
`dpo_halo`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from reward_design._checks import is_concrete, preference_pairs, scalar_hyper

__all__ = ["dpo_loss", "DPO_LOSS_TYPES"]

#: The ``loss_type`` values `dpo_loss` accepts.
DPO_LOSS_TYPES: tuple[str, ...] = ("sigmoid", "hinge", "ipo", "robust")


def dpo_loss(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    beta: ArrayLike = 0.1,
    loss_type: str = "sigmoid",
    label_smoothing: ArrayLike = 0.0,
) -> jax.Array:
    """Per-pair DPO-family losses ``[B]`` (no reduction).

    ``delta = (policy_chosen - policy_rejected) - (reference_chosen - reference_rejected)``.

    * ``"sigmoid"``: ``-(1 - eps) log sigmoid(beta delta) - eps log sigmoid(-beta delta)``;
      ``eps = label_smoothing = 0`` is DPO, ``eps > 0`` is conservative DPO
      (cDPO), which assumes each label is flipped with probability eps.
    * ``"robust"``: ``(-(1 - eps) log sigmoid(beta delta) + eps log sigmoid(-beta delta))
      / (1 - 2 eps)``, the unbiased loss under label noise eps (rDPO), eps < 1/2.
    * ``"hinge"``: ``max(0, 1 - beta delta)``, SLiC-HF's calibration loss with
      margin 1/beta.
    * ``"ipo"``: ``(delta - 1/(2 beta))^2``; beta is IPO's tau. The IPO paper
      and TRL use per-token *mean* log-probabilities for this loss (pass
      `sequence_logps(...).mean`).

    Gradients flow into the policy log-probabilities only; the reference
    log-probabilities (a frozen model) are stopped. ``loss_type`` is static:
    under ``jax.jit`` bind it with ``functools.partial`` or
    ``static_argnames``; ``beta`` and ``label_smoothing`` are traced.

    Args:
      policy_chosen_logps: ``[B]`` log pi(y_w|x).
      policy_rejected_logps: ``[B]`` log pi(y_l|x).
      reference_chosen_logps: ``[B]`` log pi_ref(y_w|x).
      reference_rejected_logps: ``[B]`` log pi_ref(y_l|x).
      beta: temperature (IPO's tau), > 0.
      loss_type: one of ``"sigmoid"``, ``"hinge"``, ``"ipo"``, ``"robust"``.
      label_smoothing: eps in [0, 1/2] for ``"sigmoid"`` (cDPO), [0, 1/2) for
        ``"robust"``; must be 0 for ``"hinge"`` and ``"ipo"``.

    Returns:
      ``[B]`` per-pair losses.

    Raises:
      TypeError: non-numeric inputs or a non-string ``loss_type``.
      ValueError: inputs not of rank 1, mismatched lengths, non-finite
        concrete inputs, an unknown ``loss_type``, ``beta <= 0`` or
        ``label_smoothing`` out of range.

    References:
      Rafailov et al., "Direct Preference Optimization: Your Language Model
      is Secretly a Reward Model", arXiv 2305.18290.
      Mitchell, "A note on DPO with noisy preferences & relationship to IPO"
      (cDPO, 2023).
      Chowdhury et al., "Provably Robust DPO: Aligning Language Models with
      Noisy Feedback", arXiv 2403.00409.
      Zhao et al., "SLiC-HF: Sequence Likelihood Calibration with Human
      Feedback", arXiv 2305.10425.
      Azar et al., "A General Theoretical Paradigm to Understand Learning
      from Human Preferences" (IPO), arXiv 2310.12036.
    """
    fn = "dpo_loss"
    if not isinstance(loss_type, str):
        raise TypeError(f"{fn}: loss_type must be a string; got {loss_type!r}.")
    if loss_type not in DPO_LOSS_TYPES:
        raise ValueError(f"{fn}: loss_type must be one of {DPO_LOSS_TYPES}; got {loss_type!r}.")
    pc, pr, rc, rr = preference_pairs(
        fn,
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
    )
    b = scalar_hyper(beta, "beta", fn, low=0.0, low_open=True)
    if loss_type == "sigmoid":
        eps = scalar_hyper(label_smoothing, "label_smoothing", fn, low=0.0, high=0.5)
    elif loss_type == "robust":
        eps = scalar_hyper(
            label_smoothing, "label_smoothing", fn, low=0.0, high=0.5, high_open=True
        )
    else:
        eps = scalar_hyper(label_smoothing, "label_smoothing", fn)
        if is_concrete(label_smoothing) and float(np.asarray(eps)) != 0.0:
            raise ValueError(
                f"{fn}: label_smoothing applies to loss_type 'sigmoid' and 'robust' only; "
                f"got {float(eps)!r} with loss_type {loss_type!r}."
            )
    delta = (pc - pr) - jax.lax.stop_gradient(rc - rr)
    logits = b * delta
    if loss_type == "sigmoid":
        return -(1.0 - eps) * jax.nn.log_sigmoid(logits) - eps * jax.nn.log_sigmoid(-logits)
    if loss_type == "robust":
        return (-(1.0 - eps) * jax.nn.log_sigmoid(logits) + eps * jax.nn.log_sigmoid(-logits)) / (
            1.0 - 2.0 * eps
        )
    if loss_type == "hinge":
        return jax.nn.relu(1.0 - logits)
    return jnp.square(delta - 1.0 / (2.0 * b))
