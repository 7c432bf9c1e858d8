"""The LM lab's Transformer policy against an independent numpy forward pass.

Shapes, per-token log-probabilities (numpy re-implementation of the network,
one prefix at a time), causality, masking of padding and of tokens after
EOS, and sampling (EOS, maximum length, banned tokens, greedy, the cached
sampler's log-probabilities against a full forward pass).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from reward_design_studies.lm.model import TransformerConfig
from reward_design_studies.lm.policy import Policy, completion_mask
from reward_design_studies.lm.tokenizer import BOS, EOS, PAD
from reward_design_studies.lm.warmstart import FAST_COMPILE

V, LP, T = 12, 4, 6
CONFIG = TransformerConfig(vocab_size=V, max_len=LP + T, width=16, depth=2, heads=2, mlp_ratio=2)
POLICY = Policy(CONFIG)


def _fast_jit(fn, **kwargs):
    """jit with XLA's cheap CPU options: these inputs are tiny, compiling is the cost."""
    return jax.jit(fn, compiler_options=FAST_COMPILE, **kwargs)


@_fast_jit
def _perturbed_init(key):
    # Non-zero biases and LayerNorm parameters, so the reference checks them too.
    flat, unravel = ravel_pytree(POLICY.init(key))
    return unravel(flat + 0.1 * jax.random.normal(jax.random.fold_in(key, 1), flat.shape))


@pytest.fixture(scope="module")
def params():
    return _perturbed_init(jax.random.key(0))


# ----------------------------------------------------------- numpy reference
def _layer_norm(x, p, eps=1e-6):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * p["scale"] + p["bias"]


def _gelu(x):  # flax's default (tanh approximation)
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def numpy_next_logprobs(params, tokens: np.ndarray) -> np.ndarray:
    """log p(next token | tokens) for one unpadded sequence, by direct computation."""
    p = jax.tree_util.tree_map(lambda x: np.asarray(x, np.float64), params)["params"]
    n = len(tokens)
    x = p["tok_emb"]["embedding"][tokens] + p["pos_emb"]["embedding"][np.arange(n)]
    for i in range(CONFIG.depth):
        b = p[f"blocks_{i}"]
        h = _layer_norm(x, b["ln1"])
        qkv = np.einsum("td,dchk->tchk", h, b["qkv"]["kernel"]) + b["qkv"]["bias"]
        heads = []
        for hd in range(CONFIG.heads):
            q, k, v = qkv[:, 0, hd], qkv[:, 1, hd], qkv[:, 2, hd]
            s = q @ k.T / np.sqrt(q.shape[-1])
            s = np.where(np.tril(np.ones((n, n), bool)), s, -np.inf)
            w = np.exp(s - s.max(-1, keepdims=True))
            heads.append((w / w.sum(-1, keepdims=True)) @ v)
        a = np.stack(heads, axis=1)  # [t, H, d]
        x = x + np.einsum("thk,hkd->td", a, b["proj"]["kernel"]) + b["proj"]["bias"]
        h = _layer_norm(x, b["ln2"])
        m = _gelu(h @ b["mlp_in"]["kernel"] + b["mlp_in"]["bias"])
        x = x + m @ b["mlp_out"]["kernel"] + b["mlp_out"]["bias"]
    logits = _layer_norm(x, p["ln_f"])[-1] @ p["head"]["kernel"] + p["head"]["bias"]
    logits[[PAD, BOS]] = -np.inf  # never written
    z = logits - logits.max()
    return z - np.log(np.exp(z).sum())


@functools.cache
def _jit(name):
    fns = {
        "logp": _fast_jit(POLICY.token_log_probs),
        "logits": _fast_jit(POLICY.logits),
        "sample": _fast_jit(POLICY.sample, static_argnums=3),
    }
    return fns[name]


PROMPTS = np.array([[PAD, BOS, 5, 6], [BOS, 7, 8, 9]], np.int32)
COMPLETIONS = np.array([[3, 4, 5, EOS, PAD, PAD], [6, 6, 7, 3, 4, 10]], np.int32)


def test_shapes_and_completion_mask(params):
    logits = _jit("logits")(params, jnp.asarray(np.concatenate([PROMPTS, COMPLETIONS], 1)))
    assert logits.shape == (2, LP + T, V)
    assert _jit("logp")(params, PROMPTS, COMPLETIONS).shape == (2, T)
    np.testing.assert_array_equal(
        completion_mask(COMPLETIONS),
        [[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]],  # EOS counts; no EOS: all T (cut)
    )


def test_token_log_probs_equal_direct_prefix_computation(params):
    logp = np.asarray(_jit("logp")(params, PROMPTS, COMPLETIONS))
    for b in range(2):
        prompt = [t for t in PROMPTS[b] if t != PAD]
        mask = np.asarray(completion_mask(COMPLETIONS[b]))
        for t in range(T):
            if not mask[t]:
                assert logp[b, t] == 0.0
                continue
            ref = numpy_next_logprobs(params, np.asarray(prompt + list(COMPLETIONS[b, :t])))
            np.testing.assert_allclose(logp[b, t], ref[COMPLETIONS[b, t]], rtol=1e-4, atol=1e-4)


def test_causal_later_tokens_do_not_change_earlier_logits(params):
    seq = np.concatenate([PROMPTS, COMPLETIONS], 1)
    changed = seq.copy()
    changed[:, 7:] = 11
    a = np.asarray(_jit("logits")(params, seq))
    b = np.asarray(_jit("logits")(params, changed))
    np.testing.assert_array_equal(a[:, :7], b[:, :7])
    assert np.abs(a[:, 7:] - b[:, 7:]).max() > 1e-3


def test_padding_and_tokens_after_eos_contribute_nothing(params):
    base = np.asarray(_jit("logp")(params, PROMPTS, COMPLETIONS))
    # Garbage after EOS changes no log-probability (and they are 0 there).
    garbage = COMPLETIONS.copy()
    garbage[0, 4:] = [9, 10]
    np.testing.assert_array_equal(_jit("logp")(params, PROMPTS, garbage), base)
    # More left padding of the prompt changes nothing either.
    wider = np.concatenate([np.full((2, 2), PAD, np.int32), PROMPTS], 1)
    np.testing.assert_allclose(_jit("logp")(params, wider, COMPLETIONS), base, atol=1e-5)


SAMPLE_PROMPTS = jnp.asarray(np.repeat(PROMPTS, 32, axis=0))  # one shape: one compile


def test_sampling_respects_eos_max_length_and_banned_tokens(params):
    s = _jit("sample")(params, jax.random.key(3), SAMPLE_PROMPTS, T, 1.5)
    tokens, mask = np.asarray(s.tokens), np.asarray(s.mask)
    assert tokens.shape == mask.shape == (64, T)
    assert not np.isin(tokens[mask], [PAD, BOS]).any()
    np.testing.assert_array_equal(mask, completion_mask(tokens))
    for row in tokens:
        hits = np.flatnonzero(row == EOS)
        if hits.size:
            assert (row[hits[0] + 1 :] == PAD).all()
    ended = (tokens == EOS).any(1)
    assert ended.any() and (~ended).any()  # both outcomes occur at this temperature
    assert (mask.sum(1)[~ended] == T).all()  # cut at the maximum length


def test_sampled_log_probs_equal_full_forward(params):
    s = _jit("sample")(params, jax.random.key(4), SAMPLE_PROMPTS, T, 0.7)
    full = _jit("logp")(params, SAMPLE_PROMPTS, s.tokens, 0.7)
    np.testing.assert_allclose(s.log_probs, full, atol=2e-5)


def test_greedy_sampling_takes_the_argmax(params):
    s = _jit("sample")(params, jax.random.key(5), SAMPLE_PROMPTS, T, 0.0)
    tokens = np.asarray(s.tokens)[[0, 32]]  # one row of each prompt
    for b in range(2):
        prompt = [t for t in PROMPTS[b] if t != PAD]
        for t in range(T):
            if tokens[b, t] == PAD:
                break
            ref = numpy_next_logprobs(params, np.asarray(prompt + list(tokens[b, :t])))
            assert tokens[b, t] == np.argmax(ref)


def test_bad_configuration_is_rejected():
    with pytest.raises(ValueError, match="width"):
        TransformerConfig(vocab_size=5, max_len=4, width=10, heads=4)
    with pytest.raises(ValueError, match="banned"):
        Policy(CONFIG, banned=(EOS,))
    with pytest.raises(ValueError, match="max_len"):
        POLICY.sample({}, jax.random.key(0), jnp.asarray(PROMPTS), 7)
