"""The loss-aversion study's policy: an MLP encoder with one head over the responses.

``features(params, x)`` is the representation the probe reads (two ReLU
layers); ``logits(params, x)`` scores the ``2 K + 1`` responses with a
linear head, the single-step analogue of a language model's sequence
log-probabilities. `warm_start` is the supervised stage: encoder and an
answer head fitted to labelled examples, then the response head built from
it (both styles share the answer's row; the abstention row is a bias set so
that the reference policy abstains at a chosen mean rate). That network is
pi_ref and the initialisation of every arm of a seed.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

__all__ = ["init_params", "features", "logits", "log_probs", "warm_start", "abstain_bias"]


def init_params(key: jax.Array, dim: int, hidden: int, num_out: int) -> dict[str, jax.Array]:
    """LeCun-normal weights, zero biases: ``{w1, b1, w2, b2, wo, bo}``."""
    k1, k2, k3 = jax.random.split(key, 3)

    def dense(k, n_in, n_out):
        return jax.random.normal(k, (n_in, n_out)) / jnp.sqrt(n_in)

    return {
        "w1": dense(k1, dim, hidden),
        "b1": jnp.zeros(hidden),
        "w2": dense(k2, hidden, hidden),
        "b2": jnp.zeros(hidden),
        "wo": dense(k3, hidden, num_out) * 0.1,
        "bo": jnp.zeros(num_out),
    }


def features(params: dict, x: jax.Array) -> jax.Array:
    """``[N, hidden]``: the frozen representation the probe reads."""
    h = jax.nn.relu(x @ params["w1"] + params["b1"])
    return jax.nn.relu(h @ params["w2"] + params["b2"])


def logits(params: dict, x: jax.Array) -> jax.Array:
    """``[N, num_out]`` response scores."""
    return features(params, x) @ params["wo"] + params["bo"]


def log_probs(params: dict, x: jax.Array) -> jax.Array:
    """``[N, num_out]`` log pi(response | x)."""
    return jax.nn.log_softmax(logits(params, x), axis=-1)


def abstain_bias(answer_logits: np.ndarray, rate: float) -> float:
    """The abstention logit b with ``mean_x sigmoid(b - logsumexp(answer_logits(x))) = rate``."""
    lse = np.logaddexp.reduce(np.asarray(answer_logits, np.float64), axis=-1)
    lo, hi = float(lse.min()) - 50.0, float(lse.max()) + 50.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        mean = np.mean(1.0 / (1.0 + np.exp(lse - mid)))
        lo, hi = (mid, hi) if mean < rate else (lo, mid)
    return 0.5 * (lo + hi)


def warm_start(
    key: jax.Array,
    x: jax.Array,
    y: jax.Array,
    *,
    hidden: int,
    num_classes: int,
    steps: int,
    learning_rate: float,
    abstain_rate: float,
    persuasive_share: float,
) -> dict[str, jax.Array]:
    """Supervised stage, then pi_ref's response head.

    Fits encoder + a ``K``-way answer head to ``(x, y)`` by full-batch Adam
    on cross-entropy, then sets response ``2 a + s`` to the answer row ``a``
    plus ``log`` of the style's share (``persuasive_share`` for s = 1) and
    the abstention row to zero weights and the bias of `abstain_bias`.

    Returns:
      the reference parameters (``wo: [hidden, 2K + 1]``).
    """
    params = init_params(key, x.shape[1], hidden, num_classes)
    opt = optax.adam(learning_rate)

    def loss(p):
        lp = log_probs(p, x)
        return -jnp.mean(jnp.take_along_axis(lp, y[:, None], axis=1))

    def step(carry, _):
        p, s = carry
        g = jax.grad(loss)(p)
        updates, s = opt.update(g, s, p)
        return (optax.apply_updates(p, updates), s), None

    (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
    ans = logits(params, x)
    style = jnp.log(jnp.array([1.0 - persuasive_share, persuasive_share]))
    wo = jnp.repeat(params["wo"], 2, axis=1)
    bo = jnp.repeat(params["bo"], 2) + jnp.tile(style, num_classes)
    b_abs = abstain_bias(np.asarray(ans), abstain_rate)
    params["wo"] = jnp.concatenate([wo, jnp.zeros((hidden, 1))], axis=1)
    params["bo"] = jnp.concatenate([bo, jnp.array([b_abs], dtype=bo.dtype)])
    return params
