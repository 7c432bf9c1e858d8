"""Threshold tuning on a validation split."""

import numpy as np
import pytest

import reward_design as rd

P = rd.posthoc


def _brute(scores, labels, cost, w):
    cands = np.concatenate([[-np.inf], np.unique(scores), [np.inf]])
    best = np.inf
    for t in cands:
        d = (scores >= t).astype(int)
        best = min(best, np.sum(w * cost[labels, d]) / w.sum())
    return best


@pytest.mark.parametrize("seed", range(4))
def test_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = 300
    scores = np.round(rng.normal(size=n), 1)
    labels = (rng.random(n) < 1 / (1 + np.exp(-2 * scores))).astype(int)
    cost = rng.uniform(0, 5, size=(2, 2))
    w = rng.uniform(0.1, 2.0, size=n) if seed % 2 else np.ones(n)
    res = P.tune_threshold(scores, labels, cost, sample_weight=None if seed % 2 == 0 else w)
    assert res.mean_cost == pytest.approx(_brute(scores, labels, cost, w), rel=1e-9)
    d = (scores >= res.threshold).astype(int)
    assert np.sum(w * cost[labels, d]) / w.sum() == pytest.approx(res.mean_cost, rel=1e-9)


def test_converges_to_bayes_threshold_on_calibrated_probabilities():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=200_000)
    labels = (rng.random(p.shape[0]) < p).astype(int)
    cost = P.binary_cost_matrix(c_fp=1.0, c_fn=4.0)
    res = P.tune_threshold(p, labels, cost)
    assert res.threshold == pytest.approx(float(P.binary_threshold(cost)), abs=0.02)


def test_extremes():
    scores = np.array([0.1, 0.2, 0.3])
    # false negatives free, positives costly: decide 0 everywhere
    assert P.tune_threshold(scores, [1, 1, 0], [[0.0, 1.0], [0.0, 0.0]]).threshold == np.inf
    # false positives free: decide 1 everywhere
    assert P.tune_threshold(scores, [0, 1, 0], [[0.0, 0.0], [1.0, 0.0]]).threshold == -np.inf
    res = P.tune_threshold(scores, [0, 1, 1], 1 - np.eye(2))
    assert res.threshold == pytest.approx(0.15) and res.mean_cost == 0.0


def test_errors():
    with pytest.raises(ValueError, match=r"\[2, 2\]"):
        P.tune_threshold([0.1, 0.2], [0, 1], np.zeros((3, 3)))
    with pytest.raises(ValueError, match="labels must be binary"):
        P.tune_threshold([0.1, 0.2], [0, 2], 1 - np.eye(2))
