"""KTO loss, KL reference point and weight-range check vs numpy references.

The numpy references below follow the published definitions, written here
independently:

* huggingface/trl, ``trl/trainer/kto_trainer.py``, ``KTOTrainer.kto_loss``
  (loss_type "kto"): ``kl = mean(policy_KL_logps - reference_KL_logps)``
  clamped at 0 and detached; chosen losses ``1 - sigmoid(beta (logratio - kl))``,
  rejected losses ``1 - sigmoid(beta (kl - logratio))``, concatenated as
  ``(desirable_weight * chosen, undesirable_weight * rejected)``.
* ContextualAI/HALOs, ``train/trainers.py``, ``KTOTrainer.loss``: the same
  formulas with the KL estimate from mismatched pairs (x, y').
* TRL's ``KTOTrainer.__init__`` weight-range check (eq. (8) of arXiv 2402.01306):
  ``desirable_weight in [n_U w_U / n_D, 1.33 n_U w_U / n_D]`` or
  ``undesirable_weight in [n_D w_D / n_U / 1.33, n_D w_D / n_U]``.
"""

import warnings

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import reward_design as rd

halos = rd.halos


def _jgrad(fun, **kwargs):
    """jax.grad, compiled once (faster than op-by-op under a loaded CPU)."""
    return jax.jit(jax.grad(fun, **kwargs))


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def trl_style_kto(policy, reference, labels, policy_kl, reference_kl, beta, w_d, w_u):
    """TRL KTOTrainer.kto_loss, in numpy: returns losses in the *input* order."""
    kl = max(float(np.mean(policy_kl - reference_kl)), 0.0)
    chosen_idx = [i for i in range(len(labels)) if labels[i]]
    rejected_idx = [i for i in range(len(labels)) if not labels[i]]
    chosen_logratios = policy[chosen_idx] - reference[chosen_idx]
    rejected_logratios = policy[rejected_idx] - reference[rejected_idx]
    chosen_losses = 1 - np_sigmoid(beta * (chosen_logratios - kl))
    rejected_losses = 1 - np_sigmoid(beta * (kl - rejected_logratios))
    losses = np.concatenate([w_d * chosen_losses, w_u * rejected_losses])
    out = np.empty(len(labels))
    out[chosen_idx + rejected_idx] = losses
    return out, kl


def _batch(b=12, seed=0):
    rng = np.random.default_rng(seed)
    policy = rng.normal(-40.0, 8.0, b)
    reference = policy + rng.normal(0.0, 3.0, b)
    labels = rng.uniform(size=b) > 0.4
    labels[:2] = [True, False]
    # Mismatched pairs as TRL builds them: completions shifted by one in the batch.
    policy_kl = policy[np.r_[b - 1, 0 : b - 1]] + rng.normal(1.0, 2.0, b)
    reference_kl = policy_kl - rng.normal(0.5, 1.0, b)
    return (
        policy.astype(np.float32),
        reference.astype(np.float32),
        labels,
        policy_kl.astype(np.float32),
        reference_kl.astype(np.float32),
    )


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("beta,w_d,w_u", [(0.1, 1.0, 1.0), (0.5, 1.0, 1.33), (2.0, 0.75, 1.0)])
def test_kto_loss_matches_trl_formula(jit, beta, w_d, w_u):
    pol, ref, lab, pkl, rkl = _batch()
    expected, kl_expected = trl_style_kto(
        pol.astype(np.float64), ref.astype(np.float64), lab, pkl, rkl, beta, w_d, w_u
    )

    def run(pol, ref, lab, pkl, rkl, beta, w_d, w_u):
        kl = halos.kto_kl_estimate(pkl, rkl)
        return halos.kto_loss(pol, ref, lab, kl, beta, w_d, w_u), kl

    f = jax.jit(run) if jit else run
    got, kl = f(pol, ref, lab, pkl, rkl, beta, w_d, w_u)
    np.testing.assert_allclose(kl, kl_expected, rtol=1e-5)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    assert got.shape == (12,)


def test_kl_estimate_is_clamped_at_zero_and_masked():
    """HALOs repository: KL = mean(policy_KL - reference_KL).clamp(min=0)."""
    pol = np.array([-5.0, -6.0, -7.0], np.float32)
    assert float(halos.kto_kl_estimate(pol, pol + 1.0)) == 0.0  # mean -1 -> clamp to 0
    ref = pol - np.array([1.0, 2.0, 30.0], np.float32)
    mask = np.array([True, True, False])
    np.testing.assert_allclose(halos.kto_kl_estimate(pol, ref, mask), 1.5, rtol=1e-6)
    np.testing.assert_allclose(halos.kto_kl_estimate(pol, ref), 11.0, rtol=1e-6)
    assert float(halos.kto_kl_estimate(pol, ref, np.zeros(3, bool))) == 0.0


def test_negative_kl_argument_is_clamped():
    pol, ref, lab, *_ = _batch()
    np.testing.assert_allclose(
        halos.kto_loss(pol, ref, lab, -3.0), halos.kto_loss(pol, ref, lab, 0.0), rtol=1e-6
    )


def test_per_example_reference_point():
    pol, ref, lab, *_ = _batch()
    kl = np.linspace(-1.0, 4.0, 12).astype(np.float32)
    z0 = np.maximum(kl, 0.0)
    r = pol.astype(np.float64) - ref
    expected = np.where(lab, 1 - np_sigmoid(0.3 * (r - z0)), 1 - np_sigmoid(0.3 * (z0 - r)))
    np.testing.assert_allclose(halos.kto_loss(pol, ref, lab, kl, 0.3), expected, rtol=1e-5)


def test_gradient_closed_form():
    """dL/dr = -w_D beta s(u)(1 - s(u)) (desirable), +w_U beta s(v)(1 - s(v)) (undesirable)."""
    pol, ref, lab, *_ = _batch()
    beta, w_d, w_u, kl = 0.4, 1.2, 0.9, 0.7
    grad = _jgrad(lambda p: halos.kto_loss(p, ref, lab, kl, beta, w_d, w_u).sum())(pol)
    r = pol.astype(np.float64) - ref
    u = beta * (r - kl)
    s = np_sigmoid(u)
    expected = np.where(lab, -w_d * beta * s * (1 - s), w_u * beta * s * (1 - s))
    np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-8)
    # The reference model is frozen: no gradient into its log-probabilities.
    g_ref = _jgrad(lambda q: halos.kto_loss(pol, q, lab, kl, beta).sum())(ref)
    np.testing.assert_array_equal(g_ref, np.zeros_like(ref))


def test_zero_gradient_through_reference_point():
    """The reference point z0 = max(KL, 0) carries no gradient (TRL: ``.detach()``)."""
    pol, ref, lab, pkl, rkl = _batch()
    g_kl = _jgrad(lambda k: halos.kto_loss(pol, ref, lab, k, 0.5).sum())(jnp.float32(2.0))
    assert float(g_kl) == 0.0

    def total(p, pk):
        return halos.kto_loss(p, ref, lab, halos.kto_kl_estimate(pk, rkl), 0.5).sum()

    g_pol, g_pkl = _jgrad(total, argnums=(0, 1))(pol, pkl)
    np.testing.assert_array_equal(g_pkl, np.zeros_like(pkl))

    # The same expression with a differentiable reference point would move it.
    def leaky(pk):
        z0 = jnp.maximum(jnp.mean(pk - rkl), 0.0)
        r = pol - ref
        return jnp.where(lab, jax.nn.sigmoid(-0.5 * (r - z0)), jax.nn.sigmoid(0.5 * (r - z0))).sum()

    assert np.abs(np.asarray(_jgrad(leaky)(pkl))).max() > 1e-4
    assert np.abs(np.asarray(g_pol)).max() > 1e-4


def test_hyperparameters_are_traced_no_recompile():
    pol, ref, lab, *_ = _batch()
    chex.clear_trace_counter()
    f = jax.jit(chex.assert_max_traces(halos.kto_loss, n=1))
    for beta, w_d, w_u in [(0.1, 1.0, 1.0), (0.5, 1.33, 1.0), (1.0, 0.2, 3.0)]:
        expected, _ = trl_style_kto(pol, ref, lab, np.zeros(1), np.zeros(1), beta, w_d, w_u)
        np.testing.assert_allclose(
            f(pol, ref, lab, 0.0, beta, w_d, w_u), expected, rtol=1e-5, atol=1e-6
        )


def test_vmap_sweeps_beta():
    pol, ref, lab, *_ = _batch()
    betas = jnp.array([0.05, 0.1, 0.5, 1.0])
    got = jax.vmap(lambda b: halos.kto_loss(pol, ref, lab, 0.2, b))(betas)
    for i, b in enumerate(np.asarray(betas)):
        np.testing.assert_allclose(got[i], halos.kto_loss(pol, ref, lab, 0.2, float(b)), rtol=1e-6)


def test_bad_inputs_raise():
    pol, ref, lab, *_ = _batch()
    with pytest.raises(ValueError, match=r"reference_logps must have the shape of policy_logps"):
        halos.kto_loss(pol, ref[:-1], lab, 0.0)
    with pytest.raises(ValueError, match=r"desirable must have the shape of policy_logps \(12,\)"):
        halos.kto_loss(pol, ref, lab[:-1], 0.0)
    with pytest.raises(TypeError, match="desirable must be a boolean array"):
        halos.kto_loss(pol, ref, lab.astype(np.int32), 0.0)
    with pytest.raises(TypeError, match="desirable must be a boolean array"):
        halos.kto_loss(pol, ref, lab.astype(np.float32), 0.0)
    with pytest.raises(ValueError, match=r"policy_logps must have shape \[B\]"):
        halos.kto_loss(pol[None], ref[None], lab[None], 0.0)
    with pytest.raises(ValueError, match="kl must be a scalar or have shape"):
        halos.kto_loss(pol, ref, lab, np.zeros(3))
    with pytest.raises(ValueError, match="policy_logps must be finite"):
        halos.kto_loss(np.where(lab, np.nan, pol), ref, lab, 0.0)
    with pytest.raises(ValueError, match=r"beta must be in \(0.0, inf\)"):
        halos.kto_loss(pol, ref, lab, 0.0, beta=0.0)
    with pytest.raises(ValueError, match="undesirable_weight must be in"):
        halos.kto_loss(pol, ref, lab, 0.0, undesirable_weight=-1.0)
    with pytest.raises(TypeError, match="mask must be a boolean array"):
        halos.kto_kl_estimate(pol, ref, mask=np.ones(12, np.int8))
    with pytest.raises(ValueError, match="reference_logps_mismatched must have the shape"):
        halos.kto_kl_estimate(pol, ref[:3])
    # Shape and dtype checks also fire while tracing under jit.
    with pytest.raises(TypeError, match="desirable must be a boolean array"):
        jax.jit(halos.kto_loss)(pol, ref, lab.astype(np.int32), 0.0)


# --- weight range -----------------------------------------------------------------


def trl_in_range(n_d, n_u, w_d, w_u, factor=4.0 / 3.0):
    """TRL KTOTrainer.__init__ check, with the paper's exact 4/3 for TRL's 1.33."""
    des_lo, des_hi = n_u * w_u / n_d, n_u * w_u / n_d * factor
    und_lo, und_hi = n_d * w_d / n_u / factor, n_d * w_d / n_u
    return (des_lo <= w_d <= des_hi) or (und_lo <= w_u <= und_hi)


def test_weight_check_warns_outside_range():
    with pytest.warns(UserWarning, match=r"outside \[1, 4/3\]"):
        check = halos.check_kto_weights(800, 200)
    assert check.ratio == pytest.approx(4.0) and not check.in_range
    # TRL's recommended ranges (lower bounds identical; TRL rounds 4/3 to 1.33).
    assert check.desirable_weight_range == pytest.approx((0.25, 0.25 * 4 / 3))
    assert check.undesirable_weight_range == pytest.approx((3.0, 4.0))
    with pytest.warns(UserWarning, match="desirable_weight in"):
        halos.check_kto_weights(100, 100, desirable_weight=2.0)


@pytest.mark.parametrize(
    "n_d,n_u,w_d,w_u",
    [(800, 200, 1.0, 3.5), (200, 800, 4.5, 1.0), (50, 50, 1.0, 1.0), (90, 100, 1.2, 1.0)],
)
def test_weight_check_silent_in_range(n_d, n_u, w_d, w_u):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check = halos.check_kto_weights(n_d, n_u, w_d, w_u)
    assert check.in_range
    assert 1.0 <= check.ratio <= 4.0 / 3.0


def test_weight_check_agrees_with_trl_rule_on_a_grid():
    rng = np.random.default_rng(3)
    for _ in range(300):
        n_d, n_u = (int(x) for x in rng.integers(1, 1000, 2))
        if n_d == n_u:
            continue
        w_d, w_u = (float(x) for x in rng.uniform(0.1, 5.0, 2))
        check = halos.check_kto_weights(n_d, n_u, w_d, w_u, warn=False)
        ratio = w_d * n_d / (w_u * n_u)
        if min(abs(ratio - 1.0), abs(ratio - 4.0 / 3.0)) < 1e-9:
            continue
        assert check.in_range == trl_in_range(n_d, n_u, w_d, w_u)
        assert check.ratio == pytest.approx(ratio)


def test_weight_check_bad_input():
    with pytest.raises(ValueError, match="num_desirable must be an integer >= 0"):
        halos.check_kto_weights(-1, 10)
    with pytest.raises(ValueError, match="num_undesirable must be an integer >= 0"):
        halos.check_kto_weights(10, 2.5)
    with pytest.raises(ValueError, match="both 0"):
        halos.check_kto_weights(0, 0)
    with pytest.raises(ValueError, match="undesirable_weight must be finite and >= 0"):
        halos.check_kto_weights(10, 10, undesirable_weight=-1.0)
    with pytest.warns(UserWarning, match="ratio|outside"):
        check = halos.check_kto_weights(10, 0)
    assert check.ratio == np.inf and check.undesirable_weight_range is None


_jit_kto = jax.jit(halos.kto_loss)


@given(
    r=st.lists(st.floats(-50.0, 50.0), min_size=2, max_size=2),
    kl=st.floats(-5.0, 5.0),
    beta=st.floats(0.01, 3.0),
    w_d=st.floats(0.0, 3.0),
    w_u=st.floats(0.0, 3.0),
)
def test_kto_loss_bounded_and_monotone(r, kl, beta, w_d, w_u):
    """Each loss lies in [0, weight]; raising r lowers desirable and raises undesirable losses."""
    lo, hi = sorted(r)
    pol = np.array([lo, hi, lo, hi], np.float32)
    lab = np.array([True, True, False, False])
    out = np.asarray(_jit_kto(pol, np.zeros(4, np.float32), lab, kl, beta, w_d, w_u))
    weights = np.array([w_d, w_d, w_u, w_u])
    assert np.all(out >= 0) and np.all(out <= weights * (1 + 1e-6))
    assert out[1] <= out[0] + 1e-7  # desirable: higher reward, lower loss
    assert out[3] >= out[2] - 1e-7  # undesirable: higher reward, higher loss


def test_bfloat16_inputs():
    pol, ref, lab, *_ = _batch()
    got = halos.kto_loss(pol.astype(jnp.bfloat16), ref.astype(jnp.bfloat16), lab, 0.3, 0.1)
    expected = halos.kto_loss(
        pol.astype(jnp.bfloat16).astype(np.float32),
        ref.astype(jnp.bfloat16).astype(np.float32),
        lab,
        0.3,
        0.1,
    )
    np.testing.assert_allclose(np.asarray(got, np.float32), expected, atol=1e-2)
