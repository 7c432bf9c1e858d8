"""Sequence log-probabilities vs numpy / scipy references.

The reference recipe is the one in huggingface/trl ``trl/trainer/kto_trainer.py``
(``KTOTrainer.get_batch_logps``) and ContextualAI/HALOs ``train/trainers.py``
(``get_batch_logps``): gather ``log_softmax(logits)`` at the label ids, then sum
(or average, ``average_log_prob=True``) over the non-padding positions.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special

import reward_design as rd

halos = rd.halos


def _jgrad(fun, **kwargs):
    """jax.grad, compiled once (faster than op-by-op under a loaded CPU)."""
    return jax.jit(jax.grad(fun, **kwargs))


def test_sequence_sum_and_mean_match_numpy():
    rng = np.random.default_rng(0)
    lp = -rng.exponential(1.0, (5, 9)).astype(np.float32)
    mask = rng.uniform(size=(5, 9)) > 0.3
    mask[3] = False  # a sequence with no valid token
    out = jax.jit(halos.sequence_logps)(lp, mask)
    s = (lp.astype(np.float64) * mask).sum(-1)
    n = mask.sum(-1)
    np.testing.assert_allclose(out.sum, s, rtol=1e-5)
    np.testing.assert_allclose(out.mean, np.where(n > 0, s / np.maximum(n, 1), 0.0), rtol=1e-5)
    np.testing.assert_array_equal(out.num_tokens, n)


def test_masked_positions_give_no_value_or_gradient_even_if_non_finite():
    lp = np.array([[-1.0, -np.inf, np.nan], [-0.5, -0.25, -2.0]], np.float32)
    mask = np.array([[True, False, False], [True, True, True]])
    out = halos.sequence_logps(lp, mask)
    np.testing.assert_allclose(out.sum, [-1.0, -2.75])
    g = _jgrad(lambda x: halos.sequence_logps(x, mask).sum.sum())(jnp.asarray(lp))
    np.testing.assert_array_equal(g, mask.astype(np.float32))


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_half_precision_sums_accumulate_in_float32(dtype):
    """4096 tokens of 0.01 summed in bfloat16 drift to about 40; accumulated in float32
    the sum is 41 to within one rounding, returned in the input dtype."""
    lp = jnp.full((3, 4096), -0.01, dtype)
    mask = np.ones((3, 4096), bool)
    mask[2, 2048:] = False
    out = jax.jit(halos.sequence_logps)(lp, mask)
    assert out.sum.dtype == dtype and out.mean.dtype == dtype
    exact = np.where(mask, np.asarray(lp, np.float64), 0).sum(-1)
    np.testing.assert_allclose(np.asarray(out.sum, np.float64), exact, rtol=2**-8)
    np.testing.assert_allclose(np.asarray(out.mean, np.float64), exact / mask.sum(-1), rtol=2**-7)
    np.testing.assert_array_equal(out.num_tokens, mask.sum(-1))


def test_token_logps_match_scipy_log_softmax():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, (4, 7, 11)).astype(np.float32)
    tokens = rng.integers(0, 11, (4, 7))
    logp = scipy.special.log_softmax(logits.astype(np.float64), -1)
    expected = np.take_along_axis(logp, tokens[..., None], -1)[..., 0]
    np.testing.assert_allclose(jax.jit(halos.token_logps)(logits, tokens), expected, rtol=1e-5)


def test_end_to_end_logits_to_dpo_loss_matches_numpy():
    """logits -> token log-probs -> masked sums -> DPO, jitted, vs a numpy pipeline."""
    rng = np.random.default_rng(2)
    b, t, v = 3, 6, 8
    logits = {k: rng.normal(0, 2, (b, t, v)).astype(np.float32) for k in ("pc", "pr", "rc", "rr")}
    toks = {k: rng.integers(0, v, (b, t)) for k in ("c", "r")}
    masks = {k: rng.uniform(size=(b, t)) > 0.2 for k in ("c", "r")}

    @functools.partial(jax.jit, static_argnames="loss_type")
    def pipeline(logits, toks, masks, beta, loss_type):
        def seq(lg, tk, m):
            return halos.sequence_logps(halos.token_logps(lg, tk), m)

        pc = seq(logits["pc"], toks["c"], masks["c"])
        pr = seq(logits["pr"], toks["r"], masks["r"])
        rc = seq(logits["rc"], toks["c"], masks["c"])
        rr = seq(logits["rr"], toks["r"], masks["r"])
        if loss_type == "ipo":  # IPO on per-token means (the IPO paper, TRL)
            return halos.dpo_loss(pc.mean, pr.mean, rc.mean, rr.mean, beta, "ipo")
        return halos.dpo_loss(pc.sum, pr.sum, rc.sum, rr.sum, beta, loss_type)

    def np_seq(lg, tk, m, mean=False):
        logp = scipy.special.log_softmax(lg.astype(np.float64), -1)
        lp = np.take_along_axis(logp, tk[..., None], -1)[..., 0]
        s = (lp * m).sum(-1)
        return s / m.sum(-1) if mean else s

    for loss_type in ("sigmoid", "ipo"):
        mean = loss_type == "ipo"
        pc = np_seq(logits["pc"], toks["c"], masks["c"], mean)
        pr = np_seq(logits["pr"], toks["r"], masks["r"], mean)
        rc = np_seq(logits["rc"], toks["c"], masks["c"], mean)
        rr = np_seq(logits["rr"], toks["r"], masks["r"], mean)
        delta = (pc - pr) - (rc - rr)
        expected = np.logaddexp(0, -0.1 * delta) if loss_type == "sigmoid" else (delta - 5.0) ** 2
        got = pipeline(logits, toks, masks, 0.1, loss_type)
        np.testing.assert_allclose(got, expected, rtol=1e-4)


def test_bad_inputs_raise():
    lp = np.zeros((2, 3), np.float32)
    with pytest.raises(TypeError, match="mask must be boolean"):
        halos.sequence_logps(lp, np.ones((2, 3), np.int32))
    with pytest.raises(ValueError, match=r"mask must have the shape of token_logps \(2, 3\)"):
        halos.sequence_logps(lp, np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="got a scalar"):
        halos.sequence_logps(np.float32(0.0), np.bool_(True))
    with pytest.raises(TypeError, match="tokens must be integer token ids"):
        halos.token_logps(np.zeros((2, 3, 5), np.float32), np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="logits must have shape tokens.shape"):
        halos.token_logps(np.zeros((2, 4, 5), np.float32), np.zeros((2, 3), np.int32))
    with pytest.raises(ValueError, match=r"tokens must be ids in \[0, 5\)"):
        halos.token_logps(np.zeros((1, 2, 5), np.float32), np.array([[0, -100]]))
