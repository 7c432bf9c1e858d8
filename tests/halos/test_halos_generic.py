"""The generic HALO constructor: KTO, DPO and Kahneman-Tversky variants as instances.

Each instance is checked against a numpy reference written from the published
formulas: huggingface/trl ``trl/trainer/kto_trainer.py`` (``KTOTrainer.kto_loss``)
and ContextualAI/HALOs ``train/trainers.py`` (``KTOTrainer.loss``) for KTO;
TRL ``trl/trainer/dpo_trainer.py`` (``DPOTrainer.dpo_loss``, "sigmoid") for DPO;
and, for the Kahneman-Tversky variant, the HALO definition of Ethayarajh et
al. (arXiv 2402.01306, definition 3.4) with the value function of Tversky &
Kahneman (1992) eq. (5).
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reward_design as rd

halos = rd.halos


def _jgrad(fun, **kwargs):
    """jax.grad, compiled once (faster than op-by-op under a loaded CPU)."""
    return jax.jit(jax.grad(fun, **kwargs))


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_kt(z, a_gain, a_loss, lam):
    return np.where(z >= 0, np.abs(z) ** a_gain, -lam * np.abs(z) ** a_loss)


def _batch(b=10, seed=0):
    rng = np.random.default_rng(seed)
    pol = rng.normal(-20.0, 5.0, b).astype(np.float32)
    ref = (pol + rng.normal(0.0, 2.0, b)).astype(np.float32)
    lab = rng.uniform(size=b) > 0.5
    lab[:2] = [True, False]
    return pol, ref, lab


def test_kto_instance_matches_trl_formula_and_kto_loss():
    pol, ref, lab = _batch()
    kl, beta, w_d, w_u = 0.8, 0.3, 1.2, 0.9
    r = pol.astype(np.float64) - ref
    expected = np.where(
        lab, w_d * (1 - np_sigmoid(beta * (r - kl))), w_u * (1 - np_sigmoid(beta * (kl - r)))
    )
    loss = halos.kto_halo(beta, w_d, w_u)
    np.testing.assert_allclose(loss(pol, ref, lab, kl), expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        loss(pol, ref, lab, kl),
        halos.kto_loss(pol, ref, lab, kl, beta, w_d, w_u),
        rtol=1e-5,
        atol=1e-7,
    )
    # The one-line spelling of the docs is the same loss.
    one_line = halos.HALO(
        value=jax.nn.sigmoid,
        beta=beta,
        desirable_weight=w_d,
        undesirable_weight=w_u,
        offset=1.0,
        clamp_reference=True,
    )
    np.testing.assert_allclose(one_line(pol, ref, lab, -2.0), loss(pol, ref, lab, 0.0), rtol=1e-6)
    g = _jgrad(lambda k: one_line(pol, ref, lab, k).sum())(jnp.float32(0.5))
    assert float(g) == 0.0


def test_dpo_instance_matches_dpo_loss_in_value_and_gradient():
    """DPO is a HALO whose reference point is the rejected completion's implied reward."""
    rng = np.random.default_rng(1)
    pc, pr, rc, rr = (rng.normal(-25, 5, 8).astype(np.float32) for _ in range(4))
    beta = 0.2
    ones = np.ones(8, bool)

    def via_halo(pc, pr):
        return halos.dpo_halo(beta)(pc, rc, ones, pr - rr)

    def direct(pc, pr):
        return halos.dpo_loss(pc, pr, rc, rr, beta)

    delta = (pc.astype(np.float64) - pr) - (rc.astype(np.float64) - rr)
    trl = np.logaddexp(0.0, -beta * delta)  # -log sigmoid(beta delta)
    np.testing.assert_allclose(via_halo(pc, pr), trl, rtol=1e-4)
    np.testing.assert_allclose(via_halo(pc, pr), direct(pc, pr), rtol=1e-5)
    g_halo = _jgrad(lambda a, b: via_halo(a, b).sum(), argnums=(0, 1))(pc, pr)
    g_dpo = _jgrad(lambda a, b: direct(a, b).sum(), argnums=(0, 1))(pc, pr)
    for a, b in zip(g_halo, g_dpo, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8)
    assert np.abs(np.asarray(g_halo[1])).min() > 0  # the rejected completion is pushed down


@pytest.mark.parametrize("a_gain,a_loss,lam", [(0.88, 0.88, 2.25), (0.6, 0.9, 1.5)])
def test_kahneman_tversky_instance_matches_definition(a_gain, a_loss, lam):
    pol, ref, lab = _batch(seed=2)
    beta, w_d, w_u, kl = 0.5, 1.0, 1.3, 0.4
    loss = halos.kahneman_tversky_halo(
        loss_aversion=lam,
        beta=beta,
        desirable_weight=w_d,
        undesirable_weight=w_u,
        alpha_gain=a_gain,
        alpha_loss=a_loss,
    )
    r = pol.astype(np.float64) - ref
    z = beta * (r - kl)
    signed = np.where(lab, z, -z)
    expected = np.where(lab, w_d, w_u) * -np_kt(signed, a_gain, a_loss, lam)
    np.testing.assert_allclose(loss(pol, ref, lab, kl), expected, rtol=1e-4, atol=1e-6)


def test_loss_aversion_penalises_undesirable_gains_more():
    """A mirror-image pair: the undesirable example above the reference point costs lambda
    times what the desirable one above it earns (the prospect-theory asymmetry)."""
    loss = halos.kahneman_tversky_halo(alpha=1.0, loss_aversion=2.25, beta=1.0)
    pol = np.array([-9.0, -9.0], np.float32)
    ref = np.array([-10.0, -10.0], np.float32)  # r = 1 for both, reference point 0
    out = np.asarray(loss(pol, ref, np.array([True, False]), 0.0))
    np.testing.assert_allclose(out, [-1.0, 2.25], rtol=1e-6)


def test_halo_hyperparameters_traced_no_recompile():
    pol, ref, lab = _batch()
    chex.clear_trace_counter()
    f = jax.jit(chex.assert_max_traces(lambda loss, p, r, d, z: loss(p, r, d, z), n=1))
    for beta, w_d, w_u in [(0.1, 1.0, 1.0), (0.7, 1.3, 0.8)]:
        f(halos.kto_halo(beta, w_d, w_u), pol, ref, lab, 0.5)
    chex.clear_trace_counter()
    g = jax.jit(chex.assert_max_traces(lambda loss, p, r, d, z: loss(p, r, d, z), n=1))
    for alpha, lam in [(0.88, 2.25), (0.5, 1.0), (1.0, 4.0)]:
        out = g(halos.kahneman_tversky_halo(alpha, lam), pol, ref, lab, 0.5)
        z = 0.1 * (pol.astype(np.float64) - ref - 0.5)
        np.testing.assert_allclose(
            out, -np_kt(np.where(lab, z, -z), alpha, alpha, lam), rtol=1e-4, atol=1e-6
        )


def test_vmap_sweeps_loss_aversion():
    pol, ref, lab = _batch()
    lams = jnp.array([1.0, 2.25, 3.0])
    swept = jax.vmap(lambda lam: halos.kahneman_tversky_halo(loss_aversion=lam)(pol, ref, lab))(
        lams
    )
    for i, lam in enumerate(np.asarray(lams)):
        single = halos.kahneman_tversky_halo(loss_aversion=float(lam))(pol, ref, lab)
        np.testing.assert_allclose(swept[i], single, rtol=1e-6)


def test_gradient_of_kt_halo_closed_form():
    """L = -w v(s z), z = beta r, so dL/dr = -w beta s v'(s z).

    v'(u) = a u^(a-1) for gains and lam a (-u)^(a-1) for losses.
    """
    pol, ref, lab = _batch(seed=3)
    beta, lam, a = 0.5, 2.0, 0.8
    loss = halos.kahneman_tversky_halo(alpha=a, loss_aversion=lam, beta=beta)
    g = _jgrad(lambda p: loss(p, ref, lab, 0.0).sum())(pol)
    z = beta * (pol.astype(np.float64) - ref)
    u = np.where(lab, z, -z)
    vprime = np.where(u > 0, a * np.abs(u) ** (a - 1), lam * a * np.abs(u) ** (a - 1))
    expected = -beta * vprime * np.where(lab, 1.0, -1.0)
    np.testing.assert_allclose(g, expected, rtol=1e-4)


def test_bad_inputs_raise():
    pol, ref, lab = _batch()
    loss = halos.kto_halo()
    with pytest.raises(ValueError, match="reference_logps must have the shape of policy_logps"):
        loss(pol, ref[:4], lab)
    with pytest.raises(TypeError, match="desirable must be a boolean array"):
        loss(pol, ref, lab.astype(np.int64))
    with pytest.raises(ValueError, match="reference_point must be a scalar or have shape"):
        loss(pol, ref, lab, np.zeros(2))
    with pytest.raises(TypeError, match="value must be a callable"):
        halos.HALO(value=3.0)
    with pytest.raises(ValueError, match="HALO.beta must be > 0"):
        halos.HALO(value=jax.nn.sigmoid, beta=0.0)
    with pytest.raises(ValueError, match="HALO.undesirable_weight must be >= 0"):
        halos.HALO(value=jax.nn.sigmoid, undesirable_weight=-1.0)
    with pytest.raises(ValueError, match="must be finite"):
        halos.HALO(value=jax.nn.sigmoid, offset=float("inf"))
    with pytest.raises(TypeError, match="clamp_reference must be a bool"):
        halos.HALO(value=jax.nn.sigmoid, clamp_reference=1)


def test_out_of_range_jax_array_hyperparameters_raise():
    # Only numpy values were range-checked: a JAX scalar such as jnp.asarray(-0.1)
    # was accepted silently.
    with pytest.raises(ValueError, match="HALO.beta must be > 0"):
        halos.HALO(value=jax.nn.sigmoid, beta=jnp.asarray(-0.1))
    with pytest.raises(ValueError, match="HALO.desirable_weight must be >= 0"):
        halos.HALO(value=jax.nn.sigmoid, desirable_weight=jnp.asarray([1.0, -2.0]))
    with pytest.raises(ValueError, match="KahnemanTverskyValue.loss_aversion must be > 0"):
        halos.KahnemanTverskyValue(loss_aversion=jnp.asarray(0.0))
