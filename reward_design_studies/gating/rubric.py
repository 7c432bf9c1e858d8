"""The gating study's rubric and judge, applied literally to the tokens.

The rubric has K = 6 checks of unequal difficulty (the layout of LLM-judge
rubrics: essential items tied to the answer, cheap items for format, length,
keywords and hedging); the tokens are those of
`reward_design_studies.gating.environment`:

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

``gold`` (both essential items truly pass) is what the rubric's author meant,
``proxy`` (the weighted fraction) what a dense rubric reward pays; a noisy
judge (`flip_checks`) flips each check independently.

References:
  Gunjal et al., "Rubrics as Rewards: Reinforcement Learning Beyond
  Verifiable Domains", arXiv 2507.17746 (rubric categories, weighted sums).
  Xu et al., "Direct Reasoning Optimization", arXiv 2506.13351 (gating on the
  outcome).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from reward_design_studies.gating.environment import ANS, MAYBE, THEREFORE, response_length

__all__ = [
    "ITEM_NAMES",
    "ITEM_CATEGORIES",
    "ITEM_WEIGHTS",
    "ESSENTIAL",
    "rubric_checks",
    "gold",
    "proxy",
    "flip_checks",
]

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


def rubric_checks(tokens: jax.Array, answer: jax.Array) -> jax.Array:
    """The six rubric items, ``[..., T]`` tokens -> ``[..., K]`` bool.

    Args:
      tokens: ``[..., T]`` int responses.
      answer: the correct answer digit, broadcastable to ``tokens.shape[:-1]``.
    """
    t = tokens.shape[-1]
    pos = jnp.arange(t)
    length = response_length(tokens)
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
