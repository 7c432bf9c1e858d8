"""A small decoder-only Transformer in Flax (linen), with an explicit key/value cache.

Pre-LayerNorm blocks (causal multi-head self-attention, GELU MLP), learned
token and position embeddings, an untied output head. Two entry points share
the parameters:

* ``__call__(tokens, positions, key_valid)``: the whole sequence at once,
  returning logits, the last hidden states and every layer's keys/values;
* ``step(token, position, cache, index, key_valid)``: one new token at
  sequence index ``index``, reading and updating the cache (sampling).

A query at index i attends to the keys at indices ``j <= i`` whose
``key_valid[j]`` is True, and to itself (padding is never attended to by
other tokens, and nothing attends to a later index). Positions are
explicit, so left-padded prompts get positions counted from their first real
token (`positions_from_mask`).
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

__all__ = ["TransformerConfig", "Transformer", "positions_from_mask"]

_NEG = -1e9  # masked scores (finite: no NaN from masked rows or their gradients)


@dataclasses.dataclass(frozen=True)
class TransformerConfig:
    """Sizes of the Transformer (hashable; it keys compiled programs).

    Args:
      vocab_size: V, the tokenizer's ``size``.
      max_len: the longest sequence (prompt + completion) it will see.
      width: model width D (a multiple of ``heads``).
      depth: number of blocks.
      heads: attention heads.
      mlp_ratio: the MLP's hidden width is ``mlp_ratio * width``.
    """

    vocab_size: int
    max_len: int
    width: int = 64
    depth: int = 2
    heads: int = 4
    mlp_ratio: int = 4

    def __post_init__(self):
        for name in ("vocab_size", "max_len", "width", "depth", "heads", "mlp_ratio"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"TransformerConfig.{name} must be an int >= 1; got {value!r}.")
        if self.width % self.heads:
            raise ValueError(
                f"TransformerConfig.width ({self.width}) must be a multiple of heads "
                f"({self.heads})."
            )

    @property
    def head_dim(self) -> int:
        return self.width // self.heads


def positions_from_mask(valid: jax.Array) -> jax.Array:
    """``[B, L]`` int32 positions: the number of valid tokens before each index."""
    return jnp.maximum(jnp.cumsum(valid.astype(jnp.int32), axis=-1) - 1, 0)


def _attend(q, k, v, allowed):
    """``q [B,Q,H,d]``, ``k, v [B,K,H,d]``, ``allowed [B,Q,K]`` -> ``[B,Q,H,d]``."""
    scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) / jnp.sqrt(jnp.float32(q.shape[-1]))
    scores = jnp.where(allowed[:, None], scores, _NEG)
    return jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(scores, axis=-1), v)


class _Block(nn.Module):
    config: TransformerConfig

    def setup(self):
        c = self.config
        self.ln1 = nn.LayerNorm()
        self.qkv = nn.DenseGeneral((3, c.heads, c.head_dim))
        self.proj = nn.DenseGeneral(c.width, axis=(-2, -1))
        self.ln2 = nn.LayerNorm()
        self.mlp_in = nn.Dense(c.mlp_ratio * c.width)
        self.mlp_out = nn.Dense(c.width)

    def _mlp(self, x):
        return x + self.mlp_out(nn.gelu(self.mlp_in(self.ln2(x))))

    def __call__(self, x, allowed):
        qkv = self.qkv(self.ln1(x))
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        x = x + self.proj(_attend(q, k, v, allowed))
        return self._mlp(x), (k, v)

    def step(self, x, cache, index, allowed):
        """``x [B,1,D]`` at sequence index ``index``; ``cache = (k, v) [B,L,H,d]``."""
        qkv = self.qkv(self.ln1(x))
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        k_all = jax.lax.dynamic_update_slice_in_dim(cache[0], k, index, axis=1)
        v_all = jax.lax.dynamic_update_slice_in_dim(cache[1], v, index, axis=1)
        x = x + self.proj(_attend(q, k_all, v_all, allowed))
        return self._mlp(x), (k_all, v_all)


class Transformer(nn.Module):
    """The policy network: tokens -> next-token logits."""

    config: TransformerConfig

    def setup(self):
        c = self.config
        self.tok_emb = nn.Embed(c.vocab_size, c.width)
        self.pos_emb = nn.Embed(c.max_len, c.width)
        self.blocks = [_Block(c) for _ in range(c.depth)]
        self.ln_f = nn.LayerNorm()
        self.head = nn.Dense(c.vocab_size)

    def __call__(self, tokens, positions, key_valid):
        """Logits ``[B,L,V]``, hidden states ``[B,L,D]`` and per-layer ``(k, v)``.

        Args:
          tokens: ``[B, L]`` int32.
          positions: ``[B, L]`` int32 position ids (`positions_from_mask`).
          key_valid: ``[B, L]`` bool, the tokens others may attend to.
        """
        length = tokens.shape[1]
        causal = jnp.tril(jnp.ones((length, length), bool))
        # Every query sees itself, so a padding query attends to nothing later.
        allowed = causal[None] & (key_valid[:, None, :] | jnp.eye(length, dtype=bool)[None])
        x = self.tok_emb(tokens) + self.pos_emb(positions)
        caches = []
        for block in self.blocks:
            x, kv = block(x, allowed)
            caches.append(kv)
        h = self.ln_f(x)
        return self.head(h), h, caches

    def step(self, token, position, caches, index, key_valid):
        """Logits ``[B,V]`` of the token after ``token [B]`` written at ``index``.

        Args:
          token: ``[B]`` int32, the token at sequence index ``index``.
          position: ``[B]`` int32, its position id.
          caches: per-layer ``(k, v)`` of shape ``[B, L, H, d]``.
          index: scalar int32 sequence index.
          key_valid: ``[B, L]`` bool, including ``index`` itself.

        Returns:
          ``(logits [B, V], caches)`` with ``index`` written into the caches.
        """
        length = key_valid.shape[1]
        idx = jnp.arange(length)
        allowed = (idx <= index)[None, None, :] & (key_valid | (idx == index)[None])[:, None, :]
        x = self.tok_emb(token[:, None]) + self.pos_emb(position[:, None])
        new = []
        for block, cache in zip(self.blocks, caches, strict=True):
            x, kv = block.step(x, cache, index, allowed)
            new.append(kv)
        return self.head(self.ln_f(x))[:, 0], new
