"""DPO-family losses and implicit rewards vs numpy references.

References written here in numpy from the published definitions:

* huggingface/trl, ``trl/trainer/dpo_trainer.py``, ``DPOTrainer.dpo_loss``:
  ``logits = (policy_chosen - policy_rejected) - (reference_chosen - reference_rejected)``;
  "sigmoid": ``-logsigmoid(beta logits) (1 - ls) - logsigmoid(-beta logits) ls``;
  "robust": ``(-logsigmoid(beta logits) (1 - ls) + logsigmoid(-beta logits) ls) / (1 - 2 ls)``;
  "hinge": ``relu(1 - beta logits)``; "ipo": ``(logits - 1 / (2 beta))^2``;
  ``chosen_rewards = beta (policy_chosen - reference_chosen)`` (detached), same for rejected.
* ContextualAI/HALOs, ``train/trainers.py``: ``DPOTrainer.loss``
  ``-logsigmoid(chosen_rewards - rejected_rewards)`` and ``CDPOTrainer.loss``
  ``(1 - eps) forward + eps reverse``.
"""

import functools

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


def np_logsigmoid(x):
    return -np.logaddexp(0.0, -x)


def trl_dpo(pc, pr, rc, rr, beta, loss_type, ls=0.0):
    pc, pr, rc, rr = (np.asarray(a, np.float64) for a in (pc, pr, rc, rr))
    logits = (pc - pr) - (rc - rr)
    if loss_type == "sigmoid":
        return -np_logsigmoid(beta * logits) * (1 - ls) - np_logsigmoid(-beta * logits) * ls
    if loss_type == "robust":
        return (-np_logsigmoid(beta * logits) * (1 - ls) + np_logsigmoid(-beta * logits) * ls) / (
            1 - 2 * ls
        )
    if loss_type == "hinge":
        return np.maximum(0.0, 1 - beta * logits)
    if loss_type == "ipo":
        return (logits - 1 / (2 * beta)) ** 2
    raise AssertionError(loss_type)


def halos_repo_dpo(pc, pr, rc, rr, beta, eps=0.0):
    """ContextualAI/HALOs DPOTrainer / CDPOTrainer.loss on sequence log-probs."""
    chosen = beta * (np.float64(pc) - rc)
    rejected = beta * (np.float64(pr) - rr)
    forward = -np_logsigmoid(chosen - rejected)
    reverse = -np_logsigmoid(rejected - chosen)
    return (1 - eps) * forward + eps * reverse


def _pairs(b=10, seed=0):
    rng = np.random.default_rng(seed)
    pc = rng.normal(-30, 6, b)
    pr = rng.normal(-32, 6, b)
    rc = pc + rng.normal(0, 4, b)
    rr = pr + rng.normal(0, 4, b)
    return tuple(a.astype(np.float32) for a in (pc, pr, rc, rr))


CASES = [
    ("sigmoid", 0.1, 0.0),
    ("sigmoid", 0.5, 0.2),
    ("sigmoid", 0.05, 0.5),
    ("robust", 0.1, 0.1),
    ("hinge", 0.1, 0.0),
    ("hinge", 1.0, 0.0),
    ("ipo", 0.1, 0.0),
    ("ipo", 0.5, 0.0),
]


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("loss_type,beta,ls", CASES)
def test_dpo_loss_matches_trl(jit, loss_type, beta, ls):
    pc, pr, rc, rr = _pairs()
    f = functools.partial(halos.dpo_loss, loss_type=loss_type)
    if jit:
        f = jax.jit(f)
    got = f(pc, pr, rc, rr, beta, label_smoothing=ls)
    np.testing.assert_allclose(got, trl_dpo(pc, pr, rc, rr, beta, loss_type, ls), rtol=1e-4)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_dpo_and_cdpo_match_halos_repository(eps):
    pc, pr, rc, rr = _pairs(seed=1)
    got = halos.dpo_loss(pc, pr, rc, rr, beta=0.2, label_smoothing=eps)
    np.testing.assert_allclose(got, halos_repo_dpo(pc, pr, rc, rr, 0.2, eps), rtol=1e-4)


def test_dpo_at_zero_margin_is_log_two():
    """delta = 0 gives -log sigmoid(0) = log 2 for every beta (the DPO starting point)."""
    x = np.array([-10.0, -20.0], np.float32)
    np.testing.assert_allclose(halos.dpo_loss(x, x - 1, x, x - 1, 0.7), np.log(2.0), rtol=1e-6)


@pytest.mark.parametrize(
    "loss_type,ls", [("sigmoid", 0.0), ("sigmoid", 0.25), ("hinge", 0.0), ("ipo", 0.0)]
)
def test_dpo_gradients_closed_form(loss_type, ls):
    """dL/d(policy_chosen) = -dL/d(policy_rejected) = dL/d delta; reference gets none."""
    pc, pr, rc, rr = _pairs(seed=2)
    beta = 0.3
    grads = _jgrad(
        lambda *a: halos.dpo_loss(*a, beta=beta, loss_type=loss_type, label_smoothing=ls).sum(),
        argnums=(0, 1, 2, 3),
    )(pc, pr, rc, rr)
    delta = (pc.astype(np.float64) - pr) - (rc.astype(np.float64) - rr)
    x = beta * delta
    sig = 1 / (1 + np.exp(-x))
    if loss_type == "sigmoid":
        d_delta = beta * (-(1 - ls) * (1 - sig) + ls * sig)
    elif loss_type == "hinge":
        d_delta = np.where(1 - x > 0, -beta, 0.0)
    else:
        d_delta = 2 * (delta - 1 / (2 * beta))
    np.testing.assert_allclose(grads[0], d_delta, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(grads[1], -d_delta, rtol=1e-4, atol=1e-7)
    np.testing.assert_array_equal(grads[2], 0.0)
    np.testing.assert_array_equal(grads[3], 0.0)


def test_dpo_beta_and_smoothing_are_traced():
    pc, pr, rc, rr = _pairs()

    def loss(b, ls):
        return halos.dpo_loss(pc, pr, rc, rr, b, "sigmoid", ls)

    chex.clear_trace_counter()
    f = jax.jit(chex.assert_max_traces(loss, n=1))
    for beta, ls in [(0.1, 0.0), (0.5, 0.1), (0.01, 0.4)]:
        np.testing.assert_allclose(
            f(beta, ls), trl_dpo(pc, pr, rc, rr, beta, "sigmoid", ls), rtol=1e-4
        )
    betas = jnp.array([0.1, 0.2, 0.4])
    swept = jax.vmap(lambda b: halos.dpo_loss(pc, pr, rc, rr, b, "ipo"))(betas)
    for i, b in enumerate(np.asarray(betas)):
        np.testing.assert_allclose(swept[i], trl_dpo(pc, pr, rc, rr, b, "ipo"), rtol=1e-4)


def test_implicit_rewards_match_trl_logging():
    pc, pr, rc, rr = _pairs(seed=4)
    beta = 0.25
    rewards = jax.jit(halos.preference_rewards)(pc, pr, rc, rr, beta)
    chosen = beta * (pc.astype(np.float64) - rc)
    rejected = beta * (pr.astype(np.float64) - rr)
    np.testing.assert_allclose(rewards.chosen, chosen, rtol=1e-5)
    np.testing.assert_allclose(rewards.rejected, rejected, rtol=1e-5)
    np.testing.assert_allclose(rewards.margin, chosen - rejected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(rewards.accuracy, (chosen > rejected).astype(np.float32))
    np.testing.assert_allclose(halos.implicit_reward(pc, rc, beta), chosen, rtol=1e-5)
    # Metrics only: gradients are stopped.
    g = _jgrad(lambda p: halos.preference_rewards(p, pr, rc, rr, beta).margin.sum())(pc)
    np.testing.assert_array_equal(g, 0.0)
    g = _jgrad(lambda p: halos.implicit_reward(p, rc, beta).sum())(pc)
    np.testing.assert_array_equal(g, 0.0)


def test_bad_inputs_raise():
    pc, pr, rc, rr = _pairs()
    with pytest.raises(ValueError, match="policy_rejected_logps must have the shape"):
        halos.dpo_loss(pc, pr[:-2], rc, rr)
    with pytest.raises(ValueError, match="reference_rejected_logps must have the shape"):
        halos.dpo_loss(pc, pr, rc, rr[:3])
    with pytest.raises(ValueError, match="loss_type must be one of"):
        halos.dpo_loss(pc, pr, rc, rr, loss_type="kto_pair")
    with pytest.raises(TypeError, match="loss_type must be a string"):
        halos.dpo_loss(pc, pr, rc, rr, loss_type=None)
    with pytest.raises(ValueError, match="label_smoothing applies to loss_type"):
        halos.dpo_loss(pc, pr, rc, rr, loss_type="ipo", label_smoothing=0.1)
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0.0, 0.5\]"):
        halos.dpo_loss(pc, pr, rc, rr, label_smoothing=0.7)
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0.0, 0.5\)"):
        halos.dpo_loss(pc, pr, rc, rr, loss_type="robust", label_smoothing=0.5)
    with pytest.raises(ValueError, match="beta must be in"):
        halos.dpo_loss(pc, pr, rc, rr, beta=-0.1)
    with pytest.raises(ValueError, match="policy_chosen_logps must be finite"):
        halos.dpo_loss(np.full_like(pc, np.inf), pr, rc, rr)
    with pytest.raises(TypeError, match="policy_chosen_logps must hold real numbers"):
        halos.dpo_loss(pc.astype(bool), pr, rc, rr)
    with pytest.raises(ValueError, match="must have shape"):
        halos.preference_rewards(pc[:, None], pr, rc, rr)


@pytest.mark.parametrize("eps", [0.05, 0.2, 0.4])
def test_cdpo_optimum_is_the_noise_adjusted_margin(eps):
    """cDPO is minimised where sigmoid(beta delta) = 1 - eps, i.e. beta delta = log((1-eps)/eps)."""
    beta = 0.5
    star = np.log((1 - eps) / eps) / beta

    def loss_at(delta):
        z = jnp.zeros(1)
        return halos.dpo_loss(jnp.reshape(delta, (1,)), z, z, z, beta, label_smoothing=eps)[0]

    np.testing.assert_allclose(_jgrad(loss_at)(jnp.float32(star)), 0.0, atol=1e-6)
    assert float(loss_at(star)) < float(loss_at(star + 0.5))
    assert float(loss_at(star)) < float(loss_at(star - 0.5))


def test_ipo_and_hinge_targets():
    """IPO is 0 exactly at delta = 1/(2 beta); the hinge is 0 once beta delta >= 1."""
    beta = 0.25
    delta = np.array([1 / (2 * beta), 1 / beta, 1 / beta + 3.0], np.float32)
    z = np.zeros(3, np.float32)
    np.testing.assert_allclose(halos.dpo_loss(delta, z, z, z, beta, "ipo")[0], 0.0, atol=1e-10)
    np.testing.assert_array_equal(halos.dpo_loss(delta, z, z, z, beta, "hinge")[1:], 0.0)
