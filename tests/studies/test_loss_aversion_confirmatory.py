"""The loss-aversion confirmatory round: Holm's correction and the paired tests against hand
computation and scipy, the power calculation against a known value and a simulation, and the
round's arms against the study's own run and the committed numbers (both slow)."""

import math

import numpy as np
import pytest
from scipy import stats

from reward_design_studies.loss_aversion import confirmatory as C
from reward_design_studies.loss_aversion.config import LossAversionConfig

TINY = dict(
    train_prompts=300,
    val_prompts=300,
    test_prompts=300,
    probe_prompts=200,
    steps=20,
    approval_steps=20,
    sft_steps=20,
)


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 3 * 0.01, 2 * 0.03, max(1 * 0.04, 0.06)
    np.testing.assert_allclose(C.holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(C.holm([0.02, 0.04]), [0.04, 0.04])
    np.testing.assert_allclose(C.holm([0.6, 0.01]), [0.6, 0.02])
    np.testing.assert_allclose(C.holm([0.7, 0.9]), [1.0, 1.0])  # capped at 1
    np.testing.assert_allclose(C.holm([float("nan"), 0.01]), [1.0, 0.02])
    assert C.holm([]) == []
    with pytest.raises(ValueError, match="p_values"):
        C.holm([1.5])


def test_hypothesis_tests_match_scipy_and_a_hand_interval():
    rng = np.random.default_rng(0)
    n = 10
    base = rng.normal(size=n)
    rows = {
        "kto_1.4": {"sophistry_rate": base + 0.5 + rng.normal(0, 0.3, n)},
        "kto_1": {"sophistry_rate": base},
        "ref_posthoc": {"gold_utility": base + rng.normal(0, 1.0, n)},
        "symmetric_posthoc": {"gold_utility": base},
    }
    out = C.hypothesis_tests(rows)
    assert list(out) == ["C1", "C2"]
    raw = []
    for name, (a, b, metric) in C.HYPOTHESES.items():
        va, vb = np.asarray(rows[a][metric]), np.asarray(rows[b][metric])
        d = va - vb
        half = stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / math.sqrt(n)
        h = out[name]
        assert (h["a"], h["b"], h["metric"], h["n"]) == (a, b, metric, n)
        np.testing.assert_allclose(
            [h["mean"], h["low"], h["high"]], [d.mean(), d.mean() - half, d.mean() + half]
        )
        np.testing.assert_allclose(h["p_value"], stats.ttest_rel(va, vb).pvalue)
        assert h["n_positive"] == int(np.sum(d > 0))
        raw.append(h["p_value"])
    lo, hi = sorted(raw)
    np.testing.assert_allclose(
        sorted([out["C1"]["p_holm"], out["C2"]["p_holm"]]), [2 * lo, max(2 * lo, hi)]
    )
    assert out["C1"]["verdict"] == "confirmed"
    assert out["C2"]["verdict"] == "not confirmed"


def test_verdict_needs_the_registered_sign():
    base = np.linspace(0.0, 1.0, 8)
    wiggle = np.array([0.01, -0.02, 0.015, 0.0, -0.01, 0.02, -0.015, 0.005])
    rows = {
        "kto_1.4": {"sophistry_rate": base - 0.3 + wiggle},  # clearly lower: wrong direction
        "kto_1": {"sophistry_rate": base},
        "ref_posthoc": {"gold_utility": base + 0.3 + wiggle},
        "symmetric_posthoc": {"gold_utility": base},
    }
    out = C.hypothesis_tests(rows)
    assert out["C1"]["p_holm"] < 0.05 and out["C1"]["verdict"].startswith("contradicted")
    assert out["C2"]["verdict"] == "confirmed"


def test_power_against_a_known_value_and_a_simulation():
    # two-sided paired t, d_z = 0.5, n = 34, alpha 0.05: power 0.808 (G*Power's table value)
    assert abs(C.power_paired_t(0.5, 1.0, 34) - 0.808) < 0.002
    rng = np.random.default_rng(1)
    n, effect, sd, alpha = 6, 1.2, 1.0, 0.05
    d = rng.normal(effect, sd, size=(40_000, n))
    t = d.mean(1) / (d.std(1, ddof=1) / math.sqrt(n))
    simulated = np.mean(np.abs(t) > stats.t.ppf(1 - alpha / 2, n - 1))
    assert abs(C.power_paired_t(effect, sd, n, alpha) - simulated) < 0.01
    k = C.seeds_needed(0.5, 1.0, power=0.9)
    assert C.power_paired_t(0.5, 1.0, k) >= 0.9 > C.power_paired_t(0.5, 1.0, k - 1)
    assert C.seeds_needed(0.5, 1.0, power=0.9, minimum=100) == 100


def test_power_calculation_from_the_committed_exploratory_values():
    calc = C.power_calculation()
    assert calc["n"] == 10  # the pre-registered number of seeds: the minimum binds
    c1, c2 = calc["rows"]["C1"], calc["rows"]["C2"]
    assert c1["exploratory_seeds"] == c2["exploratory_seeds"] == 10
    np.testing.assert_allclose(
        [c1["observed_mean"], c2["observed_mean"]], [0.099, 0.155], atol=5e-4
    )
    assert c1["n_needed_alpha_0.025"] <= 10 and c2["n_needed_alpha_0.025"] <= 10
    assert min(c1["power_at_n_alpha_0.025"], c2["power_at_n_alpha_0.025"]) >= 0.9


@pytest.mark.slow
def test_arms_are_the_studys_own_tiny():
    """kto_1 and symmetric_posthoc at lambda_h = 2.25 equal the study's run (same batch shapes).

    Slow: the study's run compiles its environment check and DPO too (about 40 s).
    """
    from reward_design_studies.loss_aversion.study import run as study_run

    config = LossAversionConfig.quick(seeds=2).replace(**TINY)
    rows, weights = C.per_seed_values(config)
    assert set(rows) == {"kto_1", "kto_1.4", "symmetric_posthoc", "ref_posthoc", "gold_oracle"}
    assert set(weights) >= {"kto_1", "kto_1.4", "num_desirable_per_seed"}
    study = study_run(config.replace(lambdas=(1.0, 2.25)))
    for metric in ("sophistry_rate", "persuasion_rate", "accuracy"):
        np.testing.assert_allclose(
            rows["kto_1"][metric], study["arms"]["kto_1"][metric]["per_seed"], rtol=1e-12
        )
    for metric in ("gold_utility", "sophistry_rate", "answer_rate"):
        np.testing.assert_allclose(
            rows["symmetric_posthoc"][metric],
            study["by_lambda"]["2.25"]["symmetric_posthoc"][metric]["per_seed"],
            rtol=1e-12,
        )


@pytest.mark.slow
def test_offset_zero_reproduces_the_committed_numbers():
    """Seeds 0-9 of the full configuration against the committed main and exploratory JSONs.

    Ten seeds, as the round runs: the runs are batched with ``jax.vmap``, and
    with another number of runs XLA's float rounding differs (two seeds agree
    to about 1e-3 only). About a minute on two cores.
    """
    from reward_design_studies.harness import read_json

    root = C._ROOT / "benchmarks/results/loss_aversion"
    main = read_json(root / "loss_aversion.json")
    exp = read_json(root / "exploratory" / "exploratory.json")
    rows, _ = C.per_seed_values(LossAversionConfig.full(10))
    committed = {
        "kto_1": main["arms"]["kto_1"]["sophistry_rate"]["per_seed"][:10],
        "kto_1.4": [r[-1] for r in exp["curves_per_seed"]["kto_1.4"]["sophistry_rate"]],
        "symmetric_posthoc": main["by_lambda"]["2.25"]["symmetric_posthoc"]["gold_utility"][
            "per_seed"
        ][:10],
        "ref_posthoc": exp["posthoc_on_reference"]["ref_posthoc@2.25"]["gold_utility"]["per_seed"],
    }
    for arm, values in committed.items():
        metric = "sophistry_rate" if arm.startswith("kto") else "gold_utility"
        np.testing.assert_allclose(rows[arm][metric], values, rtol=1e-9, err_msg=arm)
