"""The LM policy: pure functions of the Transformer's parameters.

A prompt is ``[B, Lp]`` int32 tokens, left-padded with ``PAD`` (its last
token is real); a completion is ``[B, T]`` int32 tokens, ended by ``EOS`` and
right-padded with ``PAD``. `completion_mask` marks the tokens that count: up
to and including the first ``EOS`` (all T tokens when none was written, a
completion cut at the maximum length). Tokens after it contribute nothing to
log-probabilities, losses or KL.

The policy never writes the ``banned`` tokens (``PAD`` and ``BOS``): their
logits are set to -1e9 (finite, so ``p * log p`` terms stay 0, not NaN) in
every function here, sampling and scoring alike.

`Policy.sample` draws completions with a key/value cache inside one
``jax.lax.scan`` over the T positions (no Python loop over tokens).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .model import Transformer, TransformerConfig, positions_from_mask
from .tokenizer import BOS, EOS, PAD

__all__ = ["Policy", "Sample", "completion_mask", "gather_tokens"]

_NEG = -1e9


class Sample(NamedTuple):
    """Sampled completions (a pytree).

    Attributes:
      tokens: ``[B, T]`` int32, ``PAD`` after the first ``EOS``.
      mask: ``[B, T]`` bool, `completion_mask` of ``tokens``.
      log_probs: ``[B, T]`` float32, log-probability of each sampled token at
        the sampling temperature (0 where ``mask`` is False).
    """

    tokens: jax.Array
    mask: jax.Array
    log_probs: jax.Array


def completion_mask(tokens: jax.Array) -> jax.Array:
    """``[..., T]`` bool: tokens up to and including the first ``EOS`` (never ``PAD``)."""
    is_eos = tokens == EOS
    before = jnp.cumsum(is_eos, axis=-1) - is_eos  # EOS strictly before t
    return (before == 0) & (tokens != PAD)


def _fan_in(owner: str, shape: tuple[int, ...]) -> int:
    """Inputs per output unit of a kernel (``proj`` maps heads x head_dim -> width)."""
    return shape[0] * shape[1] if owner == "proj" else shape[0]


def gather_tokens(log_probs: jax.Array, tokens: jax.Array) -> jax.Array:
    """``log_probs[..., t, tokens[..., t]]``: ``[..., T, V]``, ``[..., T]`` -> ``[..., T]``."""
    return jnp.take_along_axis(log_probs, tokens[..., None], axis=-1)[..., 0]


@dataclasses.dataclass(frozen=True)
class Policy:
    """A decoder-only Transformer policy (hashable: it keys compiled programs).

    Parameters are a Flax variables dict (``policy.init(key)``); every method
    is a pure function of them, traceable and vmappable.

    Args:
      config: the `TransformerConfig`.
      banned: token ids the policy never writes (default ``PAD``, ``BOS``).
    """

    config: TransformerConfig
    banned: tuple[int, ...] = (PAD, BOS)

    def __post_init__(self):
        if not isinstance(self.config, TransformerConfig):
            raise TypeError(
                f"Policy.config must be a TransformerConfig; got {type(self.config).__name__}."
            )
        banned = tuple(int(b) for b in self.banned)
        if EOS in banned or any(not 0 <= b < self.config.vocab_size for b in banned):
            raise ValueError(
                f"Policy.banned must be ids in [0, {self.config.vocab_size}) other than EOS; "
                f"got {banned}."
            )
        object.__setattr__(self, "banned", banned)

    @property
    def module(self) -> Transformer:
        return Transformer(self.config)

    def init(self, key: jax.Array) -> Any:
        """Fresh parameters (a Flax variables dict).

        Weights are ``N(0, 1 / fan_in)`` (LeCun normal; embeddings: fan-in =
        width), biases 0, LayerNorm scales 1. All are drawn with one normal
        draw, which compiles much faster on CPU than Flax's per-layer
        truncated-normal initialisers.
        """
        tokens = jnp.full((1, 2), BOS, jnp.int32)
        shapes = jax.eval_shape(
            self.module.init, key, tokens, jnp.zeros((1, 2), jnp.int32), jnp.ones((1, 2), bool)
        )
        flat, treedef = jax.tree_util.tree_flatten_with_path(shapes)
        sizes = [math.prod(leaf.shape) for _, leaf in flat]
        noise = jnp.split(jax.random.normal(key, (sum(sizes),)), np.cumsum(sizes)[:-1])
        leaves = []
        for (path, leaf), z in zip(flat, noise, strict=True):
            name, owner = path[-1].key, path[-2].key
            if name == "bias":
                leaves.append(jnp.zeros(leaf.shape, leaf.dtype))
            elif name == "scale":
                leaves.append(jnp.ones(leaf.shape, leaf.dtype))
            else:
                fan_in = self.config.width if name == "embedding" else _fan_in(owner, leaf.shape)
                leaves.append((z / np.sqrt(fan_in)).reshape(leaf.shape).astype(leaf.dtype))
        return jax.tree_util.tree_unflatten(treedef, leaves)

    def _mask_banned(self, logits: jax.Array) -> jax.Array:
        if not self.banned:
            return logits
        ban = jnp.zeros(self.config.vocab_size, bool).at[jnp.asarray(self.banned)].set(True)
        return jnp.where(ban, _NEG, logits)

    # ----------------------------------------------------------- full passes
    def forward(self, params: Any, tokens: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``(logits [B, L, V], hidden [B, L, D])`` of a left-padded sequence.

        ``logits[:, i]`` is the distribution of the token after index i.
        ``PAD`` tokens are never attended to; positions count real tokens.
        """
        valid = tokens != PAD
        logits, hidden, _ = self.module.apply(params, tokens, positions_from_mask(valid), valid)
        return self._mask_banned(logits), hidden

    def logits(self, params: Any, tokens: jax.Array) -> jax.Array:
        """``[B, L, V]`` next-token logits (see `forward`)."""
        return self.forward(params, tokens)[0]

    def completion_log_softmax(
        self, params: Any, prompts: jax.Array, completions: jax.Array, temperature: Any = 1.0
    ) -> jax.Array:
        """``[B, T, V]``: log-softmax of ``logits / temperature`` before each completion token."""
        lp = prompts.shape[-1]
        logits = self.logits(params, jnp.concatenate([prompts, completions], axis=-1))
        logits = logits[:, lp - 1 : -1] / temperature
        return jax.nn.log_softmax(logits, axis=-1)

    def token_log_probs(
        self, params: Any, prompts: jax.Array, completions: jax.Array, temperature: Any = 1.0
    ) -> jax.Array:
        """``[B, T]`` log-probability of each completion token; 0 outside `completion_mask`."""
        logp = gather_tokens(
            self.completion_log_softmax(params, prompts, completions, temperature), completions
        )
        return jnp.where(completion_mask(completions), logp, 0.0)

    def sequence_log_probs(
        self, params: Any, prompts: jax.Array, completions: jax.Array, temperature: Any = 1.0
    ) -> jax.Array:
        """``[B]`` log pi(completion | prompt): the sum of `token_log_probs`."""
        return jnp.sum(self.token_log_probs(params, prompts, completions, temperature), axis=-1)

    def prompt_features(self, params: Any, prompts: jax.Array) -> jax.Array:
        """``[B, D]`` final hidden state at the last prompt token (a probe's input)."""
        return self.forward(params, prompts)[1][:, -1]

    # -------------------------------------------------------------- sampling
    def sample(
        self,
        params: Any,
        key: jax.Array,
        prompts: jax.Array,
        length: int,
        temperature: Any = 1.0,
    ) -> Sample:
        """Draws one completion of at most ``length`` tokens per prompt.

        Args:
          params: the policy's parameters.
          key: a PRNG key.
          prompts: ``[B, Lp]`` int32, left-padded.
          length: T, the maximum completion length (static).
          temperature: sampling temperature (traced); 0 means greedy (argmax).

        Returns:
          `Sample`; after the first ``EOS`` every token is ``PAD``.
        """
        b, lp = prompts.shape
        total = lp + length
        if total > self.config.max_len:
            raise ValueError(
                f"prompt ({lp}) + completion ({length}) tokens exceed the policy's max_len "
                f"({self.config.max_len})."
            )
        prompt_valid = prompts != PAD
        logits, _, caches = self.module.apply(
            params, prompts, positions_from_mask(prompt_valid), prompt_valid
        )
        pad = ((0, 0), (0, length), (0, 0), (0, 0))
        caches = [(jnp.pad(k, pad), jnp.pad(v, pad)) for k, v in caches]
        key_valid = jnp.concatenate([prompt_valid, jnp.zeros((b, length), bool)], axis=1)
        start = jnp.sum(prompt_valid, axis=1).astype(jnp.int32)  # 1st completion position
        t_safe = jnp.maximum(temperature, 1e-6)

        def body(carry, xs):
            caches, key_valid, logits, done = carry
            t, k = xs
            logits = self._mask_banned(logits) / t_safe
            drawn = jax.random.categorical(k, logits, axis=-1)
            tok = jnp.where(temperature > 0, drawn, jnp.argmax(logits, axis=-1)).astype(jnp.int32)
            tok = jnp.where(done, PAD, tok)
            logp = jnp.where(done, 0.0, gather_tokens(jax.nn.log_softmax(logits), tok))
            index = lp + t
            key_valid = jax.lax.dynamic_update_slice_in_dim(
                key_valid, (tok != PAD)[:, None], index, axis=1
            )
            nxt, caches = self.module.apply(
                params, tok, start + t, caches, index, key_valid, method=Transformer.step
            )
            return (caches, key_valid, nxt, done | (tok == EOS)), (tok, ~done, logp)

        init = (caches, key_valid, logits[:, -1], jnp.zeros((b,), bool))
        steps = (jnp.arange(length, dtype=jnp.int32), jax.random.split(key, length))
        _, (tokens, mask, logp) = jax.lax.scan(body, init, steps)
        return Sample(tokens=tokens.T, mask=mask.T, log_probs=logp.T)
