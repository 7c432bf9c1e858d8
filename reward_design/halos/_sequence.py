"""Sequence log-probabilities from token log-probabilities.

Preference losses (DPO, KTO, ...) compare log pi(y|x) of whole completions.
The usual recipe (TRL's ``get_batch_logps``, the HALOs repository's
``get_batch_logps``) gathers the log-probability of each target token and
sums it over the completion's tokens, ignoring prompt and padding tokens;
IPO and length-normalised variants use the per-token mean instead.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from reward_design._checks import host_values, real_array

__all__ = ["SequenceLogps", "sequence_logps", "token_logps"]


class SequenceLogps(NamedTuple):
    """Sequence log-probabilities (a pytree).

    Attributes:
      sum: ``[B]`` sum of the valid tokens' log-probabilities, log pi(y|x).
      mean: ``[B]`` per-token mean over valid tokens (0 for a sequence with no
        valid token).
      num_tokens: ``[B]`` number of valid tokens.
    """

    sum: jax.Array
    mean: jax.Array
    num_tokens: jax.Array


def sequence_logps(token_logps: ArrayLike, mask: ArrayLike) -> SequenceLogps:
    """Sums and averages token log-probabilities over the valid tokens.

    ``sum_b = sum_t token_logps[b, t] * mask[b, t]`` and
    ``mean_b = sum_b / sum_t mask[b, t]`` (0 when no token is valid). Masked
    tokens contribute neither value nor gradient, even when they hold
    ``-inf`` or NaN (e.g. the log-probability of a padding id).

    Args:
      token_logps: ``[..., T]`` log-probabilities of the target tokens.
      mask: ``[..., T]`` bool, True for completion tokens that count (prompt
        and padding tokens False).

    Returns:
      `SequenceLogps` with ``sum``, ``mean`` and ``num_tokens`` of shape ``[...]``.

    Raises:
      TypeError: ``mask`` is not boolean, or ``token_logps`` is not real.
      ValueError: rank 0 inputs or mismatched shapes.
    """
    fn = "sequence_logps"
    lp = real_array(token_logps, "token_logps", fn)
    if lp.dtype == jnp.bool_ or not (
        jnp.issubdtype(lp.dtype, jnp.floating) or jnp.issubdtype(lp.dtype, jnp.integer)
    ):
        raise TypeError(f"{fn}: token_logps must hold real numbers; got dtype {lp.dtype}.")
    if not jnp.issubdtype(lp.dtype, jnp.floating):
        lp = lp.astype(jnp.float32)
    m = real_array(mask, "mask", fn)
    if m.dtype != jnp.bool_:
        raise TypeError(f"{fn}: mask must be boolean (True = token counts); got dtype {m.dtype}.")
    if lp.ndim < 1:
        raise ValueError(f"{fn}: token_logps must have shape [..., T]; got a scalar.")
    if m.shape != lp.shape:
        raise ValueError(
            f"{fn}: mask must have the shape of token_logps {lp.shape}; got shape {m.shape}."
        )
    # where, not a product with the mask: masked -inf/NaN reach neither value nor gradient
    total = jnp.sum(jnp.where(m, lp, 0.0), axis=-1)
    count = jnp.sum(m, axis=-1)
    mean = jnp.where(count > 0, total / jnp.maximum(count, 1).astype(lp.dtype), 0.0)
    return SequenceLogps(sum=total, mean=mean.astype(lp.dtype), num_tokens=count)


def token_logps(logits: ArrayLike, tokens: ArrayLike) -> jax.Array:
    """Log-probabilities of the given tokens under ``logits``: ``log_softmax(logits)[tokens]``.

    No shifting is done: align ``tokens[..., t]`` with the logits that predict
    it (for a causal LM, ``logits[:, :-1]`` with ``input_ids[:, 1:]``).

    Args:
      logits: ``[..., T, V]`` unnormalised scores.
      tokens: ``[..., T]`` integer token ids in ``[0, V)``.

    Returns:
      ``[..., T]`` token log-probabilities.

    Raises:
      TypeError: ``tokens`` is not an integer array.
      ValueError: mismatched shapes, or concrete ids outside ``[0, V)``.
    """
    fn = "token_logps"
    lg = real_array(logits, "logits", fn)
    tk = real_array(tokens, "tokens", fn)
    if not jnp.issubdtype(tk.dtype, jnp.integer):
        raise TypeError(f"{fn}: tokens must be integer token ids; got dtype {tk.dtype}.")
    if not jnp.issubdtype(lg.dtype, jnp.floating):
        raise TypeError(f"{fn}: logits must be floating point; got dtype {lg.dtype}.")
    if lg.ndim < 2 or lg.shape[:-1] != tk.shape:
        raise ValueError(
            f"{fn}: logits must have shape tokens.shape + [V] = {tk.shape} + [V]; "
            f"got logits shape {lg.shape}."
        )
    vocab = lg.shape[-1]
    host = host_values(tokens, tk)
    if host is not None and host.size and (host.min() < 0 or host.max() >= vocab):
        raise ValueError(
            f"{fn}: tokens must be ids in [0, {vocab}); got range "
            f"[{int(host.min())}, {int(host.max())}]."
        )
    logp = jax.nn.log_softmax(lg, axis=-1)
    return jnp.take_along_axis(logp, tk[..., None], axis=-1)[..., 0]
