"""The gating study's policy: a GRU that writes a response token by token.

The policy is a Flax module conditioned on the prompt id; `sample` draws
responses left to right (after the first EOS every token is EOS, padding),
`log_probs` gives the teacher-forced log-probabilities of given responses.
Neither knows the rubric; only the vocabulary and the response length of
`reward_design_studies.gating.environment`.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from reward_design_studies.gating.environment import EOS, SEQ_LEN, VOCAB

__all__ = ["BOS", "Policy", "sample", "log_probs"]

BOS = VOCAB  # the extra input token that starts every response


class Policy(nn.Module):
    """A GRU that writes ``T`` tokens left to right, conditioned on the prompt id.

    Input at step t: prompt embedding (``prompt_dim``) + previous token
    embedding (``token_dim``) + position embedding (``token_dim``); a linear
    head maps the ``hidden`` state to the ``VOCAB`` logits.
    """

    num_prompts: int
    hidden: int = 64
    prompt_dim: int = 32
    token_dim: int = 16

    def setup(self):
        self.prompt_emb = nn.Embed(self.num_prompts, self.prompt_dim)
        self.tok_emb = nn.Embed(VOCAB + 1, self.token_dim)
        self.pos_emb = nn.Embed(SEQ_LEN, self.token_dim)
        self.cell = nn.GRUCell(
            features=self.hidden, recurrent_kernel_init=nn.initializers.lecun_normal()
        )
        self.head = nn.Dense(VOCAB)

    def initial_carry(self, batch: int) -> jax.Array:
        return jnp.zeros((batch, self.hidden), jnp.float32)

    def step(self, carry, prompt_ids, prev, t):
        x = jnp.concatenate(
            [
                self.prompt_emb(prompt_ids),
                self.tok_emb(prev),
                self.pos_emb(jnp.full(prompt_ids.shape, t, jnp.int32)),
            ],
            axis=-1,
        )
        carry, h = self.cell(carry, x)
        return carry, self.head(h)

    def __call__(self, prompt_ids):
        """Logits ``[B, V]`` of the first token (used to create the parameters)."""
        carry = self.initial_carry(prompt_ids.shape[0])
        prev = jnp.full(prompt_ids.shape, BOS, jnp.int32)
        return self.step(carry, prompt_ids, prev, 0)[1]


def sample(model: Policy, params, key: jax.Array, prompt_ids: jax.Array) -> jax.Array:
    """``[B, T]`` responses to ``prompt_ids [B]``; after the first EOS every token is EOS."""
    b = prompt_ids.shape[0]

    def body(carry, xs):
        h, prev, done = carry
        t, k = xs
        h, logits = model.apply(params, h, prompt_ids, prev, t, method="step")
        tok = jax.random.categorical(k, logits).astype(jnp.int32)
        tok = jnp.where(done, EOS, tok)
        return (h, tok, done | (tok == EOS)), tok

    init = (
        jnp.zeros((b, model.hidden), jnp.float32),
        jnp.full((b,), BOS, jnp.int32),
        jnp.zeros((b,), bool),
    )
    steps = jnp.arange(SEQ_LEN, dtype=jnp.int32)
    _, tokens = jax.lax.scan(body, init, (steps, jax.random.split(key, SEQ_LEN)))
    return tokens.T


def log_probs(model: Policy, params, prompt_ids: jax.Array, tokens: jax.Array) -> jax.Array:
    """Teacher-forced log-probabilities ``[B, T, V]`` of ``tokens [B, T]`` (a scan over t)."""
    b = prompt_ids.shape[0]
    prev = jnp.concatenate([jnp.full((b, 1), BOS, jnp.int32), tokens[:, :-1]], axis=1)

    def body(h, xs):
        t, prev_t = xs
        h, logits = model.apply(params, h, prompt_ids, prev_t, t, method="step")
        return h, logits

    steps = jnp.arange(SEQ_LEN, dtype=jnp.int32)
    h0 = jnp.zeros((b, model.hidden), jnp.float32)
    _, logits = jax.lax.scan(body, h0, (steps, prev.T))
    return jax.nn.log_softmax(jnp.swapaxes(logits, 0, 1), axis=-1)
