"""Proxy-tuning: steer a base model's next-token distribution at decoding time."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from reward_design._checks import check_logits, scalar_hyper

__all__ = ["proxy_tune"]


def proxy_tune(
    base_logits: Any, expert_logits: Any, antiexpert_logits: Any, alpha: Any = 1.0
) -> jax.Array:
    """Proxy-tuned next-token log-probabilities.

        log p(x) = log_softmax(s_base + alpha * (s_expert - s_antiexpert))(x),

    i.e. p is proportional to p_base * (p_expert / p_antiexpert)^alpha: a small
    tuned "expert" and its untuned "anti-expert" give the large base model
    the logit offset that tuning produced, without touching its weights.
    Because the log-softmax normalisers are constants per row, logits and
    log-probabilities give the same result. The decoding-time twin of
    post-hoc decisions: the base stays as trained, the choice is adjusted.

    Args:
      base_logits: ``[..., V]`` logits of the base model.
      expert_logits: ``[..., V]`` logits of the tuned small model.
      antiexpert_logits: ``[..., V]`` logits of the untuned small model.
      alpha: steering strength (traced scalar); 0 returns the base model.

    Returns:
      ``[..., V]`` log-probabilities (broadcast shape of the inputs).

    Raises:
      ValueError: the vocabulary sizes (last axes) differ, the leading
        shapes do not broadcast, or (outside ``jax.jit``) logits or alpha are
        not finite. Models with different tokenizers must be mapped to a
        shared vocabulary first.

    References:
      Liu, Han, Wang, Tsvetkov, Choi, Smith, "Tuning Language Models by
      Proxy", arXiv 2401.08565.
    """
    names = ("base_logits", "expert_logits", "antiexpert_logits")
    arrays = tuple(
        check_logits(value, name=name)
        for name, value in zip(names, (base_logits, expert_logits, antiexpert_logits), strict=True)
    )
    vocab = [jnp.shape(a)[-1] for a in arrays]
    if len(set(vocab)) != 1:
        raise ValueError(
            "proxy_tune needs one shared vocabulary: the last axes of base_logits, "
            f"expert_logits and antiexpert_logits must be equal; got {vocab[0]}, {vocab[1]} "
            f"and {vocab[2]}."
        )
    try:
        jnp.broadcast_shapes(*(jnp.shape(a) for a in arrays))
    except ValueError as err:
        raise ValueError(
            "proxy_tune: the leading (batch/position) shapes must broadcast; got "
            + ", ".join(f"{n} {tuple(jnp.shape(a))}" for n, a in zip(names, arrays, strict=True))
            + "."
        ) from err
    alpha = scalar_hyper(alpha, "alpha", "proxy_tune")
    base, expert, anti = (jnp.asarray(a) for a in arrays)
    return jax.nn.log_softmax(base + alpha * (expert - anti), axis=-1)
