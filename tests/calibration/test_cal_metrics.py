"""Calibration metrics against scikit-learn and independent numpy references."""

import jax
import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, roc_auc_score

import reward_design as rd

cal = rd.calibration
RNG = np.random.default_rng(1)
N = 2000
CONF = RNG.uniform(size=N)
# miscalibrated on purpose: true success probability conf^1.5
CORRECT = (RNG.uniform(size=N) < CONF**1.5).astype(np.int32)


def np_bins(conf, correct, num_bins, strategy):
    """Reference binning with a Python loop over bins, [e_k, e_k+1), last closed."""
    if strategy == "uniform":
        edges = np.linspace(0, 1, num_bins + 1)
    else:
        edges = np.percentile(conf, np.linspace(0, 100, num_bins + 1))
    out = []
    for k in range(num_bins):
        lo, hi = edges[k], edges[k + 1]
        sel = (conf >= lo) & ((conf < hi) if k < num_bins - 1 else (conf <= hi))
        out.append(sel)
    # resolve overlaps from duplicate quantile edges: keep the last bin that claims a point
    owner = np.full(len(conf), -1)
    for k, sel in enumerate(out):
        owner[sel] = k
    return edges, owner


def np_ece_mce(conf, correct, num_bins=15, strategy="uniform"):
    _, owner = np_bins(conf, correct, num_bins, strategy)
    ece, mce = 0.0, 0.0
    for k in range(num_bins):
        sel = owner == k
        if sel.any():
            gap = abs(correct[sel].mean() - conf[sel].mean())
            ece += sel.mean() * gap
            mce = max(mce, gap)
    return ece, mce


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
@pytest.mark.parametrize("num_bins", [5, 15])
def test_ece_and_mce_match_numpy_reference(strategy, num_bins):
    ece_ref, mce_ref = np_ece_mce(CONF, CORRECT, num_bins, strategy)
    ece = cal.expected_calibration_error(CONF, CORRECT, num_bins=num_bins, strategy=strategy)
    mce = cal.maximum_calibration_error(CONF, CORRECT, num_bins=num_bins, strategy=strategy)
    np.testing.assert_allclose(ece, ece_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mce, mce_ref, rtol=1e-5, atol=1e-6)
    assert ece > 0.05  # the data are miscalibrated by construction


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_bins_match_sklearn_calibration_curve(strategy):
    bins = cal.reliability_bins(CONF, CORRECT, num_bins=10, strategy=strategy)
    prob_true, prob_pred = calibration_curve(CORRECT, CONF, n_bins=10, strategy=strategy)
    full = np.asarray(bins.counts) > 0
    np.testing.assert_allclose(np.asarray(bins.accuracy)[full], prob_true, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(bins.mean_confidence)[full], prob_pred, rtol=1e-5)
    assert np.asarray(bins.counts).sum() == N
    # ECE from sklearn's per-bin values weighted by our counts
    ece_sk = np.sum(np.asarray(bins.counts)[full] / N * np.abs(prob_true - prob_pred))
    np.testing.assert_allclose(
        cal.expected_calibration_error(CONF, CORRECT, num_bins=10, strategy=strategy),
        ece_sk,
        rtol=1e-5,
    )


def test_bin_edges_are_left_closed_last_bin_closed():
    conf = np.array([0.0, 0.2, 0.4, 0.99, 1.0])
    bins = cal.reliability_bins(conf, np.ones(5), num_bins=5)
    np.testing.assert_array_equal(bins.counts, [1, 1, 1, 0, 2])
    assert np.isnan(np.asarray(bins.accuracy)[3])


def test_calibrated_sample_has_small_ece_and_constant_confidence_has_zero():
    conf = RNG.uniform(size=20000)
    correct = RNG.uniform(size=20000) < conf
    assert float(cal.expected_calibration_error(conf, correct)) < 0.02
    # a constant confidence equal to the accuracy: ECE 0, AUROC 0.5
    const = np.full(N, CORRECT.mean())
    np.testing.assert_allclose(cal.expected_calibration_error(const, CORRECT), 0.0, atol=2e-5)
    np.testing.assert_allclose(cal.auroc(const, CORRECT), 0.5)


def test_jit_and_mask():
    f = jax.jit(cal.expected_calibration_error, static_argnames=("num_bins", "strategy"))
    np.testing.assert_allclose(
        f(CONF, CORRECT, num_bins=10, strategy="quantile"),
        cal.expected_calibration_error(CONF, CORRECT, num_bins=10, strategy="quantile"),
        rtol=1e-6,
    )
    mask = RNG.uniform(size=N) < 0.6
    for strategy in ("uniform", "quantile"):
        masked = cal.expected_calibration_error(CONF, CORRECT, strategy=strategy, mask=mask)
        subset = cal.expected_calibration_error(CONF[mask], CORRECT[mask], strategy=strategy)
        np.testing.assert_allclose(masked, subset, rtol=1e-5)
    np.testing.assert_allclose(
        cal.auroc(CONF, CORRECT, mask=mask), roc_auc_score(CORRECT[mask], CONF[mask]), rtol=1e-5
    )
    d_masked = cal.brier_decomposition(CONF, CORRECT, mask=mask)
    d_subset = cal.brier_decomposition(CONF[mask], CORRECT[mask])
    np.testing.assert_allclose(d_masked.reliability, d_subset.reliability, rtol=1e-5)
    # [P, G] rollout-shaped inputs work as well
    np.testing.assert_allclose(
        cal.expected_calibration_error(CONF.reshape(40, 50), CORRECT.reshape(40, 50)),
        cal.expected_calibration_error(CONF, CORRECT),
        rtol=1e-6,
    )


def test_brier_decomposition_identity_and_sklearn():
    # forecasts on a grid of 10 values, one per bin: Murphy's identity is exact
    grid = (np.arange(10) + 0.5) / 10
    conf = RNG.choice(grid, size=N)
    correct = (RNG.uniform(size=N) < conf**2).astype(np.int32)
    d = cal.brier_decomposition(conf, correct, num_bins=10)
    ref = brier_score_loss(correct, conf)
    np.testing.assert_allclose(d.brier, ref, rtol=1e-5)
    np.testing.assert_allclose(d.reliability - d.resolution + d.uncertainty, ref, rtol=1e-4)
    base = correct.mean()
    np.testing.assert_allclose(d.uncertainty, base * (1 - base), rtol=1e-5)
    # reliability from sklearn's calibration curve
    prob_true, prob_pred = calibration_curve(correct, conf, n_bins=10)
    counts = np.array([(conf == g).sum() for g in grid])
    np.testing.assert_allclose(
        d.reliability, np.sum(counts / N * (prob_true - prob_pred) ** 2), rtol=1e-4
    )
    np.testing.assert_allclose(
        d.resolution, np.sum(counts / N * (prob_true - base) ** 2), rtol=1e-4
    )
    # continuous forecasts: brier is still exact
    d2 = cal.brier_decomposition(CONF, CORRECT)
    np.testing.assert_allclose(d2.brier, brier_score_loss(CORRECT, CONF), rtol=1e-5)


def test_auroc_matches_sklearn_with_ties():
    conf = np.round(CONF, 1)  # many ties
    np.testing.assert_allclose(cal.auroc(conf, CORRECT), roc_auc_score(CORRECT, conf), rtol=1e-6)
    np.testing.assert_allclose(cal.auroc(CONF, CORRECT), roc_auc_score(CORRECT, CONF), rtol=1e-6)
    np.testing.assert_allclose(
        jax.jit(cal.auroc)(CONF, CORRECT), roc_auc_score(CORRECT, CONF), rtol=1e-6
    )
    assert float(cal.auroc(CONF, CORRECT.astype(bool))) > 0.7


def test_auroc_of_large_samples_does_not_overflow():
    # n_pos * n_neg > 2^31 (int32 counts overflowed and gave a negative AUROC)
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, size=100_000)
    c = np.clip(0.3 * y + rng.uniform(0, 0.7, size=y.shape), 0, 1)
    np.testing.assert_allclose(cal.auroc(c, y), roc_auc_score(y, c), rtol=1e-5)


def test_multiclass_metrics_take_a_mask():
    # same shapes and bins as the test below, so the compiled binning is reused
    rng = np.random.default_rng(8)
    probs = rng.dirichlet(np.ones(5), size=1500)
    labels = rng.integers(0, 5, size=1500)
    mask = rng.uniform(size=1500) < 0.5
    p, y = probs[mask], labels[mask]
    ref_top, _ = np_ece_mce(p.max(1), (p.argmax(1) == y).astype(float), 15, "uniform")
    np.testing.assert_allclose(
        cal.top_label_calibration_error(probs, labels, mask=mask), ref_top, rtol=1e-5
    )
    # quantile edges come from the masked rows only
    ref_cw = np.mean(
        [np_ece_mce(p[:, k], (y == k).astype(float), 8, "quantile")[0] for k in range(5)]
    )
    np.testing.assert_allclose(
        cal.classwise_calibration_error(probs, labels, 8, "quantile", mask=mask), ref_cw, rtol=1e-5
    )
    with pytest.raises(ValueError, match="mask"):
        cal.classwise_calibration_error(probs, labels, mask=mask[:10])


def test_top_label_and_classwise_ece_match_numpy():
    probs = RNG.dirichlet(np.ones(5) * 0.7, size=1500)
    labels = np.array([RNG.choice(5, p=p**2 / (p**2).sum()) for p in probs])
    top = probs.max(1)
    hit = (probs.argmax(1) == labels).astype(float)
    ref_top, _ = np_ece_mce(top, hit, 15, "uniform")
    np.testing.assert_allclose(cal.top_label_calibration_error(probs, labels), ref_top, rtol=1e-5)
    ref_cw = np.mean(
        [np_ece_mce(probs[:, k], (labels == k).astype(float), 15, "uniform")[0] for k in range(5)]
    )
    np.testing.assert_allclose(cal.classwise_calibration_error(probs, labels), ref_cw, rtol=1e-5)
    ref_cw_q = np.mean(
        [np_ece_mce(probs[:, k], (labels == k).astype(float), 8, "quantile")[0] for k in range(5)]
    )
    np.testing.assert_allclose(
        cal.classwise_calibration_error(probs, labels, num_bins=8, strategy="quantile"),
        ref_cw_q,
        rtol=1e-5,
    )


def test_reliability_diagram_writes_png(tmp_path):
    path = tmp_path / "sub" / "rel.png"
    fig = cal.reliability_diagram(CONF, CORRECT, path=path, num_bins=10, title="test")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    top, bottom = fig.axes
    heights = [bar.get_height() for bar in top.patches]
    np.testing.assert_allclose(heights, calibration_curve(CORRECT, CONF, n_bins=10)[0], rtol=1e-5)
    counts = [bar.get_height() for bar in bottom.patches]
    np.testing.assert_array_equal(counts, np.histogram(CONF, bins=10, range=(0, 1))[0])


class TestErrors:
    def test_shapes_and_ranges(self):
        with pytest.raises(ValueError, match="same shape"):
            cal.expected_calibration_error(CONF, CORRECT[:10])
        with pytest.raises(ValueError, match=r"confidence must lie in \[0, 1\]"):
            cal.expected_calibration_error(CONF + 0.5, CORRECT)
        with pytest.raises(ValueError, match="confidence must be finite"):
            cal.brier_decomposition(np.array([np.nan, 0.5]), np.array([0, 1]))
        with pytest.raises(ValueError, match="correct must be 0 or 1"):
            cal.auroc(np.array([0.2, 0.5]), np.array([0.5, 1.0]))
        with pytest.raises(ValueError, match="both classes"):
            cal.auroc(np.array([0.2, 0.5]), np.array([1, 1]))
        with pytest.raises(ValueError, match="strategy"):
            cal.expected_calibration_error(CONF, CORRECT, strategy="equal")
        with pytest.raises(ValueError, match="num_bins"):
            cal.maximum_calibration_error(CONF, CORRECT, num_bins=0)
        with pytest.raises(TypeError, match="mask must be a boolean array"):
            cal.expected_calibration_error(CONF, CORRECT, mask=np.ones(N))
        with pytest.raises(ValueError, match="selects no element"):
            cal.expected_calibration_error(CONF, CORRECT, mask=np.zeros(N, bool))

    def test_multiclass_inputs(self):
        probs = RNG.dirichlet(np.ones(3), size=10)
        with pytest.raises(ValueError, match=r"labels must be class indices in \[0, 3\)"):
            cal.top_label_calibration_error(probs, np.full(10, 3))
        with pytest.raises(TypeError, match="integer"):
            cal.classwise_calibration_error(probs, np.zeros(10))
        with pytest.raises(ValueError, match=r"\[N, C\]"):
            cal.classwise_calibration_error(probs[:, 0], np.zeros(10, int))
