"""The gating study's environment: "show your work, then answer".

A response is ``T = 8`` tokens from a vocabulary of 14: the digits 0-9 and
``THEREFORE``, ``MAYBE``, ``ANS``, ``EOS``. Prompt i hides a reference working
``(d1, d2, d3)`` and the answer ``a_i = (d1 + d2 + d3) mod 10``; the reference
response ``d1 d2 d3 THEREFORE ANS a_i MAYBE EOS`` passes every rubric item
(the rubric and the judge are in `reward_design_studies.gating.rubric`).

This module holds the task only: the tokens, the prompts, which tokens of a
response are valid, the token-level dense signal (agreement with the
reference), the corrupted demonstrations of the warm start, and the
`reward_design.Rollouts` an objective sees. Everything is vectorised ``jnp``
code over leading batch axes.

References:
  Xu et al., "Direct Reasoning Optimization", arXiv 2506.13351 (token-level
  agreement with a reference as a dense signal).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from reward_design.rollouts import Rollouts

__all__ = [
    "VOCAB",
    "THEREFORE",
    "MAYBE",
    "ANS",
    "EOS",
    "SEQ_LEN",
    "Env",
    "make_env",
    "response_length",
    "token_mask",
    "token_agreement",
    "corrupt",
    "make_rollouts",
]

THEREFORE, MAYBE, ANS, EOS = 10, 11, 12, 13
VOCAB = 14
SEQ_LEN = 8


@struct.dataclass
class Env:
    """One seed's prompts.

    Attributes:
      reference: ``[N, T]`` int32, the reference response of each prompt.
      answer: ``[N]`` int32, the correct answer digit of each prompt.
    """

    reference: jax.Array
    answer: jax.Array


def make_env(key: jax.Array, num_prompts: int) -> Env:
    """Draws ``num_prompts`` prompts: uniform working digits and their answer."""
    digits = jax.random.randint(key, (num_prompts, 3), 0, 10, dtype=jnp.int32)
    answer = jnp.sum(digits, axis=1) % 10
    n = num_prompts
    reference = jnp.concatenate(
        [
            digits,
            jnp.full((n, 1), THEREFORE, jnp.int32),
            jnp.full((n, 1), ANS, jnp.int32),
            answer[:, None],
            jnp.full((n, 1), MAYBE, jnp.int32),
            jnp.full((n, 1), EOS, jnp.int32),
        ],
        axis=1,
    )
    return Env(reference=reference, answer=answer.astype(jnp.int32))


def response_length(tokens: jax.Array) -> jax.Array:
    """``[..., T]`` -> ``[...]``: the number of tokens before the first EOS (T if none)."""
    t = tokens.shape[-1]
    is_eos = tokens == EOS
    return jnp.where(jnp.any(is_eos, axis=-1), jnp.argmax(is_eos, axis=-1), t)


def token_mask(tokens: jax.Array) -> jax.Array:
    """``[..., T]`` bool: the tokens up to and including the first EOS."""
    t = tokens.shape[-1]
    return jnp.arange(t) <= response_length(tokens)[..., None]


def token_agreement(tokens: jax.Array, reference: jax.Array) -> jax.Array:
    """``[..., T]`` float: ``1[y_t = y*_t] / T`` on valid tokens, else 0.

    Summed over t this is the fraction of the T slots that agree with the
    reference response, in [0, 1].
    """
    t = tokens.shape[-1]
    agree = (tokens == reference) & token_mask(tokens)
    return agree.astype(jnp.float32) / t


def corrupt(key: jax.Array, reference: jax.Array, rate: float) -> jax.Array:
    """Demonstrations for the warm start: each token replaced w.p. ``rate`` by a uniform token."""
    k1, k2 = jax.random.split(key)
    replace = jax.random.uniform(k1, reference.shape) < rate
    random_tok = jax.random.randint(k2, reference.shape, 0, VOCAB, dtype=reference.dtype)
    return jnp.where(replace, random_tok, reference)


def make_rollouts(tokens: jax.Array, env: Env, judged: jax.Array) -> Rollouts:
    """What an objective sees of ``[P, G, T]`` responses to the ``P`` prompts of ``env``.

    Args:
      tokens: ``[P, G, T]`` int responses (group g of prompt p).
      env: the prompts.
      judged: ``[P, G, K]`` bool, the rubric checks as the judge reports them
        (`reward_design_studies.gating.rubric.flip_checks` of the true checks).

    Returns:
      `reward_design.Rollouts` with ``correct`` = the judged first item,
      ``rubric`` = the judged checks, ``token_rewards`` = `token_agreement`
      with the prompt's reference and ``token_mask`` = `token_mask`.
    """
    return Rollouts(
        correct=judged[..., 0].astype(jnp.float32),
        rubric=judged.astype(jnp.float32),
        token_rewards=token_agreement(tokens, env.reference[:, None, :]),
        token_mask=token_mask(tokens),
    )
