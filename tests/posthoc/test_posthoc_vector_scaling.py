"""Vector scaling."""

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import log_softmax

import reward_design as rd

P = rd.posthoc


def test_recovers_scales_and_biases_and_matches_scipy():
    rng = np.random.default_rng(0)
    n, c = 8000, 3
    logits = rng.normal(size=(n, c)) * 2.0
    w_true = np.array([0.5, 1.0, 2.0])
    b_true = np.array([0.3, -0.5, 0.2])
    probs = np.exp(log_softmax(logits * w_true + b_true, axis=1))
    labels = (probs.cumsum(1) > rng.random((n, 1))).argmax(1)
    cal = P.VectorScaling().fit(logits, labels)
    np.testing.assert_allclose(cal.w_, w_true, atol=0.12)
    np.testing.assert_allclose(cal.b_, b_true - b_true.mean(), atol=0.1)

    def nll(theta):
        w, b = theta[:c], theta[c:]
        return -np.mean(log_softmax(logits * w + b, axis=1)[np.arange(n), labels])

    ref = minimize(nll, np.r_[np.ones(c), np.zeros(c)], method="BFGS", options={"gtol": 1e-9})
    assert cal.nll_ == pytest.approx(ref.fun, rel=1e-4)
    np.testing.assert_allclose(cal.w_, ref.x[:c], atol=2e-3)
    out = np.asarray(cal(logits[:10]))
    np.testing.assert_allclose(
        out, np.exp(log_softmax(logits[:10] * ref.x[:c] + ref.x[c:], axis=1)), atol=1e-3
    )
    with pytest.raises(ValueError, match=r"logits must have shape \[..., 3\]"):
        cal(np.zeros((2, 4)))
