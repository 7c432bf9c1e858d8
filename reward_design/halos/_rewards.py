"""Implicit rewards of reference-anchored preference losses, for logging.

DPO and KTO train a policy whose implied reward is
``r(x, y) = beta * (log pi(y|x) - log pi_ref(y|x))`` (up to a prompt-only
term). Trainers log its value on chosen / rejected (desirable / undesirable)
completions, the margin between them and how often the chosen one wins.
These are metrics: gradients are stopped.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from reward_design._checks import float_vector, preference_pairs, same_length, scalar_hyper

__all__ = ["implicit_reward", "PreferenceRewards", "preference_rewards"]


def implicit_reward(
    policy_logps: ArrayLike, reference_logps: ArrayLike, beta: ArrayLike = 0.1
) -> jax.Array:
    """``beta * (policy_logps - reference_logps)``, with gradients stopped.

    Args:
      policy_logps: ``[B]`` sequence log-probabilities under the policy.
      reference_logps: ``[B]`` the same under the reference model.
      beta: the loss's temperature, > 0.

    Returns:
      ``[B]`` implicit rewards (a metric: no gradient flows through it).

    References:
      Rafailov et al., "Direct Preference Optimization: Your Language Model
      is Secretly a Reward Model", arXiv 2305.18290, eq. (5).
    """
    fn = "implicit_reward"
    pol = float_vector(policy_logps, "policy_logps", fn)
    ref = float_vector(reference_logps, "reference_logps", fn)
    same_length(fn, policy_logps=pol, reference_logps=ref)
    b = scalar_hyper(beta, "beta", fn, low=0.0, low_open=True)
    return jax.lax.stop_gradient(b * (pol - ref))


class PreferenceRewards(NamedTuple):
    """Implicit rewards of a batch of preference pairs (a pytree of ``[B]`` arrays).

    Attributes:
      chosen: ``beta * (log pi - log pi_ref)`` of the chosen completions.
      rejected: the same for the rejected completions.
      margin: ``chosen - rejected``.
      accuracy: 1.0 where ``chosen > rejected``, else 0.0 (TRL's
        ``rewards/accuracies``).
    """

    chosen: jax.Array
    rejected: jax.Array
    margin: jax.Array
    accuracy: jax.Array


def preference_rewards(
    policy_chosen_logps: ArrayLike,
    policy_rejected_logps: ArrayLike,
    reference_chosen_logps: ArrayLike,
    reference_rejected_logps: ArrayLike,
    beta: ArrayLike = 0.1,
) -> PreferenceRewards:
    """The DPO trainers' logged rewards for each preference pair, gradients stopped.

    Args:
      policy_chosen_logps: ``[B]`` log pi(y_w|x).
      policy_rejected_logps: ``[B]`` log pi(y_l|x).
      reference_chosen_logps: ``[B]`` log pi_ref(y_w|x).
      reference_rejected_logps: ``[B]`` log pi_ref(y_l|x).
      beta: temperature, > 0.

    Returns:
      `PreferenceRewards` of ``[B]`` arrays.

    References:
      Rafailov et al., "Direct Preference Optimization", arXiv 2305.18290.
    """
    fn = "preference_rewards"
    pc, pr, rc, rr = preference_pairs(
        fn,
        policy_chosen_logps,
        policy_rejected_logps,
        reference_chosen_logps,
        reference_rejected_logps,
    )
    b = scalar_hyper(beta, "beta", fn, low=0.0, low_open=True)
    chosen = jax.lax.stop_gradient(b * (pc - rc))
    rejected = jax.lax.stop_gradient(b * (pr - rr))
    margin = chosen - rejected
    return PreferenceRewards(
        chosen=chosen,
        rejected=rejected,
        margin=margin,
        accuracy=(margin > 0).astype(jnp.result_type(chosen.dtype, jnp.float32)),
    )
