"""The gating study's environment: "show your work, then answer".

A response is ``T = 8`` tokens from a vocabulary of 14: the digits 0-9 and
``THEREFORE``, ``MAYBE``, ``ANS``, ``EOS``. Prompt i hides a reference working
``(d1, d2, d3)`` and the answer ``a_i = (d1 + d2 + d3) mod 10``; the reference
response ``d1 d2 d3 THEREFORE ANS a_i MAYBE EOS`` passes every rubric item.

The rubric has K = 6 checks of unequal difficulty, applied literally to the
tokens (the layout of LLM-judge rubrics: essential items tied to the answer,
cheap items for format, length, keywords and hedging):

====  ======================  ==========  ======  ==========================================
k     item                    category    weight  passes when
====  ======================  ==========  ======  ==========================================
0     ``answer_correct``      Essential   1.0     the answer (digit after the first ANS) is a_i
1     ``reasoning_supports``  Essential   1.0     >= 3 digits before ANS, sum mod 10 = answer
2     ``format``              Important   0.7     one ANS, followed by a digit, ends with EOS
3     ``conclusion``          Optional    0.3     THEREFORE right before the first ANS
4     ``hedging``             Optional    0.3     a MAYBE before EOS
5     ``length``              Optional    0.3     5 <= tokens before EOS <= 7
====  ======================  ==========  ======  ==========================================

Everything here is vectorised ``jnp`` code over leading batch axes.

References:
  Gunjal et al., "Rubrics as Rewards: Reinforcement Learning Beyond
  Verifiable Domains", arXiv 2507.17746 (rubric categories, weighted sums).
  Xu et al., "Direct Reasoning Optimization", arXiv 2506.13351 (token-level
  agreement with a reference as a dense signal; gating on the outcome).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

__all__ = [
    "VOCAB",
    "THEREFORE",
    "MAYBE",
    "ANS",
    "EOS",
    "SEQ_LEN",
    "ITEM_NAMES",
    "ITEM_CATEGORIES",
    "ITEM_WEIGHTS",
    "ESSENTIAL",
    "Env",
    "make_env",
    "rubric_checks",
    "token_mask",
    "token_agreement",
    "gold",
    "proxy",
    "flip_checks",
    "corrupt",
]

THEREFORE, MAYBE, ANS, EOS = 10, 11, 12, 13
VOCAB = 14
SEQ_LEN = 8
ITEM_NAMES = (
    "answer_correct",
    "reasoning_supports",
    "format",
    "conclusion",
    "hedging",
    "length",
)
ITEM_CATEGORIES = ("essential", "essential", "important", "optional", "optional", "optional")
ITEM_WEIGHTS = np.array([1.0, 1.0, 0.7, 0.3, 0.3, 0.3], dtype=np.float32)
ESSENTIAL = (0, 1)


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


def _length(tokens: jax.Array) -> jax.Array:
    """Number of tokens before the first EOS (T if there is none)."""
    t = tokens.shape[-1]
    is_eos = tokens == EOS
    return jnp.where(jnp.any(is_eos, axis=-1), jnp.argmax(is_eos, axis=-1), t)


def token_mask(tokens: jax.Array) -> jax.Array:
    """``[..., T]`` bool: the tokens up to and including the first EOS."""
    t = tokens.shape[-1]
    return jnp.arange(t) <= _length(tokens)[..., None]


def rubric_checks(tokens: jax.Array, answer: jax.Array) -> jax.Array:
    """The six rubric items, ``[..., T]`` tokens -> ``[..., K]`` bool.

    Args:
      tokens: ``[..., T]`` int responses.
      answer: the correct answer digit, broadcastable to ``tokens.shape[:-1]``.
    """
    t = tokens.shape[-1]
    pos = jnp.arange(t)
    length = _length(tokens)
    has_eos = length < t
    before_eos = pos < length[..., None]
    is_ans = (tokens == ANS) & before_eos
    has_ans = jnp.any(is_ans, axis=-1)
    j = jnp.argmax(is_ans, axis=-1)  # first ANS (0 if none; guarded by has_ans)
    nxt = jnp.minimum(j + 1, t - 1)
    stated = jnp.take_along_axis(tokens, nxt[..., None], axis=-1)[..., 0]
    answer_exists = has_ans & (j + 1 < length) & (stated <= 9)

    is_digit = tokens <= 9
    working = is_digit & (pos < j[..., None])
    n_digits = jnp.sum(working, axis=-1)
    digit_sum = jnp.sum(jnp.where(working, tokens, 0), axis=-1)

    prev = jnp.take_along_axis(tokens, jnp.maximum(j - 1, 0)[..., None], axis=-1)[..., 0]

    answer_correct = answer_exists & (stated == answer)
    reasoning_supports = answer_exists & (n_digits >= 3) & (digit_sum % 10 == stated)
    fmt = (jnp.sum(is_ans, axis=-1) == 1) & answer_exists & has_eos
    conclusion = has_ans & (j >= 1) & (prev == THEREFORE)
    hedging = jnp.any((tokens == MAYBE) & before_eos, axis=-1)
    length_ok = (length >= 5) & (length <= 7)
    return jnp.stack(
        [answer_correct, reasoning_supports, fmt, conclusion, hedging, length_ok], axis=-1
    )


def token_agreement(tokens: jax.Array, reference: jax.Array) -> jax.Array:
    """``[..., T]`` float: ``1[y_t = y*_t] / T`` on valid tokens, else 0.

    Summed over t this is the fraction of the T slots that agree with the
    reference response, in [0, 1].
    """
    t = tokens.shape[-1]
    agree = (tokens == reference) & token_mask(tokens)
    return agree.astype(jnp.float32) / t


def gold(checks: jax.Array) -> jax.Array:
    """``[...]`` bool: every essential item truly passes (what the author meant)."""
    return jnp.all(checks[..., list(ESSENTIAL)], axis=-1)


def proxy(checks: jax.Array, weights: jax.Array | np.ndarray = ITEM_WEIGHTS) -> jax.Array:
    """``[...]`` float: the weighted rubric fraction ``sum_k w_k pass_k / sum_k w_k``."""
    w = jnp.asarray(weights, jnp.float32)
    return checks.astype(jnp.float32) @ w / jnp.sum(w)


def flip_checks(key: jax.Array, checks: jax.Array, noise: jax.Array) -> jax.Array:
    """A noisy judge: each check flipped independently with probability ``noise``."""
    flips = jax.random.uniform(key, checks.shape) < noise
    return checks ^ flips


def corrupt(key: jax.Array, reference: jax.Array, rate: float) -> jax.Array:
    """Demonstrations for the warm start: each token replaced w.p. ``rate`` by a uniform token."""
    k1, k2 = jax.random.split(key)
    replace = jax.random.uniform(k1, reference.shape) < rate
    random_tok = jax.random.randint(k2, reference.shape, 0, VOCAB, dtype=reference.dtype)
    return jnp.where(replace, random_tok, reference)
