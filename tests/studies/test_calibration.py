"""The calibration study (RLCR): task, policy, training loop, results schema and CLI, tiny size."""

import argparse
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
from scipy.special import log_softmax

import reward_design as rd
from reward_design_studies import load_study
from reward_design_studies.calibration import (
    METRICS,
    STUDY,
    CalibrationConfig,
    ConfidencePolicy,
    FactoredConfidencePolicy,
    GaussianMixtureTask,
    TrainSettings,
    arm_specs,
    family_objective,
    make_plots,
    run_study,
    train_arms,
)
from reward_design_studies.harness import check_results, execute, read_json
from reward_design_studies.harness.study import add_common_arguments

TINY = dict(
    seeds=2,
    steps=10,
    eval_every=5,
    warm_start_steps=0,
    test_questions=128,
    num_prompts=4,
    group_size=8,
    rollouts_per_step=32,
    group_sizes=(8,),
    brier_weights=(1.0, 2.0),
    estimators=("dr_grpo", "grpo"),
    hidden=16,
    audit_samples=256,
)


def test_task_posterior_is_the_bayes_posterior():
    task = GaussianMixtureTask(num_classes=5, dim=3, separation=1.3, noise=0.7, task_seed=3)
    qs = task.sample(jax.random.key(0), 64)
    mu = task.means
    dens = np.stack(
        [
            stats.multivariate_normal(mu[k], 0.7**2 * np.eye(3)).pdf(np.asarray(qs.x))
            for k in range(5)
        ],
        axis=1,
    )
    np.testing.assert_allclose(qs.posterior, dens / dens.sum(1, keepdims=True), atol=1e-5)
    assert np.asarray(qs.label).dtype == np.int32
    with pytest.raises(ValueError, match="noise"):
        GaussianMixtureTask(noise=0.0)


def test_policy_log_prob_and_confidence_levels():
    policy = FactoredConfidencePolicy(num_classes=4, num_levels=5, hidden=8)
    assert isinstance(policy, ConfidencePolicy)
    x = jax.random.normal(jax.random.key(1), (3, 4))
    params = policy.init(jax.random.key(2), x)
    actions = policy.sample(params, jax.random.key(3), x, 6)
    answer_logits, conf_logits = (np.asarray(v, np.float64) for v in policy.logits(params, x))
    la, lc = log_softmax(answer_logits, -1), log_softmax(conf_logits, -1)
    a, lev = np.asarray(actions.answer), np.asarray(actions.level)
    expected = np.array(
        [[la[i, a[i, j]] + lc[i, a[i, j], lev[i, j]] for j in range(6)] for i in range(3)]
    )
    np.testing.assert_allclose(policy.log_prob(params, x, actions), expected, rtol=1e-5, atol=1e-5)
    _, conf = policy.decode(actions)
    np.testing.assert_allclose(conf, lev / 4.0, atol=1e-7)


def test_confidence_head_starts_overconfident():
    policy = FactoredConfidencePolicy()
    x = jax.random.normal(jax.random.key(4), (16, 4))
    _, conf_logits = jax.jit(policy.logits)(jax.jit(policy.init)(jax.random.key(5), x), x)
    mean_conf = jnp.sum(jax.nn.softmax(conf_logits, -1) * jnp.asarray(policy.levels), -1)
    # slope 10 over 21 levels: sum_l l e^{10 l} / sum_l e^{10 l}
    lv = policy.levels.astype(np.float64)
    closed = np.sum(lv * np.exp(10 * lv)) / np.sum(np.exp(10 * lv))
    np.testing.assert_allclose(mean_conf, closed, atol=0.02)
    assert closed > 0.9


@pytest.fixture(scope="module")
def tiny_results():
    config = CalibrationConfig(**TINY)
    return config, run_study(config, audit=True, keep_raw=True)


def test_schema(tiny_results):
    config, res = tiny_results
    check_results({k: v for k, v in res.items() if k != "raw_final"})
    assert res["experiment"] == "calibration"
    assert res["config"]["seeds"] == 2 and res["config"]["mode"] == "full"
    assert set(res["arms"]) == {"binary", "brier", "log", "brier_w2", "brier_grpo_g8"}
    for arm, metrics in res["arms"].items():
        assert set(metrics) == set(METRICS), arm
        for cell in metrics.values():
            assert set(cell) == {"mean", "ci95", "per_seed"}
            assert len(cell["per_seed"]) == config.seeds
            if np.all(np.isfinite(cell["per_seed"])):
                assert cell["ci95"][0] <= cell["mean"] <= cell["ci95"][1]
                assert cell["mean"] == pytest.approx(np.mean(cell["per_seed"]))
        assert 0 <= metrics["accuracy"]["mean"] <= 1 and 0 <= metrics["ece"]["mean"] <= 1
        assert arm in res["curves"] and arm in res["confidence_by_q"] and arm in res["audit"]
        audit = res["audit"][arm]
        assert len(audit["optimal_confidence"]) == len(audit["q"])
    assert set(res["comparisons"]) == {f"{a} - binary" for a in res["arms"] if a != "binary"}
    assert res["sweep"]["arms"] == ["brier", "brier_w2"]
    # The audit's verdicts on the rewards (the known answers of docs/scoring-rules.md).
    assert res["audit"]["binary"]["any_confidence_is_optimal"]
    assert res["audit"]["binary"]["mean_abs_gap_trained_vs_predicted"] is None
    assert not res["audit"]["binary"]["expected_reward"]["calibrated"]
    assert res["audit"]["brier"]["expected_reward"]["calibrated"]
    assert res["audit"]["brier"]["expected_reward"]["accuracy_preserving"]
    assert not res["audit"]["log"]["expected_reward"]["accuracy_preserving"]
    assert not res["audit"]["brier_w2"]["expected_reward"]["accuracy_preserving"]
    assert res["estimator_axis"] == {"dr_grpo": {"8": "brier"}, "grpo": {"8": "brier_grpo_g8"}}


def test_metrics_match_numpy_on_the_raw_samples(tiny_results):
    config, res = tiny_results
    for arm, (conf, correct) in res["raw_final"].items():
        conf = conf.reshape(config.seeds, -1)
        correct = correct.reshape(config.seeds, -1)
        m = res["arms"][arm]
        np.testing.assert_allclose(m["accuracy"]["per_seed"], correct.mean(1), atol=1e-12)
        np.testing.assert_allclose(m["mean_confidence"]["per_seed"], conf.mean(1), atol=1e-6)
        np.testing.assert_allclose(
            m["brier"]["per_seed"], ((conf - correct) ** 2).mean(1), atol=1e-6
        )
        # Murphy decomposition with one group per confidence level (exact on the grid).
        for s in range(config.seeds):
            levels = np.round(conf[s] * (config.num_levels - 1)).astype(int)
            acc = correct[s].mean()
            rel = resol = 0.0
            for lev in np.unique(levels):
                sel = levels == lev
                w = sel.mean()
                rel += w * (conf[s][sel].mean() - correct[s][sel].mean()) ** 2
                resol += w * (correct[s][sel].mean() - acc) ** 2
            assert m["brier_reliability"]["per_seed"][s] == pytest.approx(rel, abs=1e-5)
            assert m["brier_resolution"]["per_seed"][s] == pytest.approx(resol, abs=1e-5)
            brier = ((conf[s] - correct[s]) ** 2).mean()
            assert rel - resol + acc * (1 - acc) == pytest.approx(brier, abs=1e-5)


def test_arms_trained_identically_except_objective(tiny_results):
    config, res = tiny_results
    specs = res["arm_specs"]
    training = [s["training"] for s in specs.values()]
    assert all(t == training[0] for t in training)
    # Headline and sweep arms: same estimator, P and G; only the objective weights differ.
    same = [n for n, s in specs.items() if set(s["roles"]) & {"headline", "sweep"}]
    for name in same:
        s = specs[name]
        assert (s["estimator"], s["group_size"], s["num_prompts"]) == (
            config.estimator,
            config.group_size,
            config.num_prompts,
        )
    objectives = {
        name: (specs[name]["objective"]["brier"], specs[name]["objective"]["log"]) for name in same
    }
    assert objectives["binary"] == (0.0, 0.0)
    assert objectives["brier"] == (1.0, 0.0)
    assert objectives["log"] == (0.0, 1.0)
    assert len(set(objectives.values())) == len(objectives)
    # Every arm started from the same parameters (per seed).
    prints = list(res["reference"]["init_fingerprints"].values())
    assert all(np.allclose(p, prints[0], rtol=0, atol=0) for p in prints)


def test_table_and_headline_fit_the_terminal(tiny_results):
    _, res = tiny_results
    text = STUDY.table(res)
    assert max(len(line) for line in text.splitlines()) <= 100
    for arm in res["arms"]:
        assert f"| {arm} " in text
    line = STUDY.headline(res)
    assert "\n" not in line and line.startswith("binary / brier / log: ECE")


def test_plots_include_reliability_diagrams(tiny_results, tmp_path):
    _, res = tiny_results
    paths = make_plots(res, tmp_path, raw=res["raw_final"])
    names = sorted(p.name for p in paths)
    assert names == sorted(
        ["curves.png", "weight_sweep.png", "confidence_vs_q.png", "estimators.png"]
        + [f"reliability_{a}.png" for a in ("binary", "brier", "log")]
    )
    assert all(p.stat().st_size > 0 for p in paths)


def _tiny_setup(policy=None):
    config = CalibrationConfig(**TINY)
    task, policy = config.task(), policy or config.policy()
    test = task.sample(jax.random.key(7), 64)
    settings = TrainSettings(steps=10, num_prompts=4, group_size=8, eval_every=5)
    return task, policy, test, settings


def test_binary_arm_is_exactly_correctness_alone():
    """The zero-weight family objective trains exactly like compose(correct=Correctness())."""
    task, policy, test, settings = _tiny_setup()
    family, alone = (
        train_arms([objective], [settings], policy=policy, task=task, seeds=[0, 1], test=test)[0]
        for objective in (family_objective(0.0, 0.0), rd.compose(correct=rd.terms.Correctness()))
    )
    for a, b in zip(
        jax.tree_util.tree_leaves(family.final_params),
        jax.tree_util.tree_leaves(alone.final_params),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(family.final[1], alone.final[1])


_TRACES = {"log_prob": 0}


@dataclasses.dataclass(frozen=True)
class _TraceCountingPolicy(FactoredConfidencePolicy):
    """Counts how often the training step is traced (log_prob runs only there)."""

    def log_prob(self, params, x, actions):
        _TRACES["log_prob"] += 1
        return super().log_prob(params, x, actions)


def test_weights_and_estimators_do_not_recompile():
    """Objective weights and the estimator are traced: one compiled program for all of them."""
    task, policy, test, _ = _tiny_setup(_TraceCountingPolicy(hidden=16))
    finals, traces = [], []
    for weights, estimator in (((0.0, 0.0), "dr_grpo"), ((1.0, 0.0), "grpo"), ((0.0, 2.0), "rloo")):
        arm = TrainSettings(
            steps=10, num_prompts=4, group_size=8, eval_every=5, estimator=estimator
        )
        run = train_arms(
            [family_objective(*weights)], [arm], policy=policy, task=task, seeds=[0, 1], test=test
        )[0]
        finals.append(run.final[1])
        traces.append(_TRACES["log_prob"])
    assert traces[0] >= 1 and traces[1] == traces[0] and traces[2] == traces[0]
    # ... and they did change what was trained.
    assert not np.array_equal(finals[0], finals[1])
    assert not np.array_equal(finals[1], finals[2])


def test_train_arms_rejects_mismatched_objectives():
    task, policy, test, settings = _tiny_setup()
    with pytest.raises(ValueError, match="pytree structure"):
        train_arms(
            [family_objective(0.0, 0.0), rd.compose(correct=rd.terms.Correctness())],
            [settings, settings],
            policy=policy,
            task=task,
            seeds=[0],
            test=test,
        )
    with pytest.raises(ValueError, match="estimator"):
        TrainSettings(steps=10, num_prompts=4, group_size=8, eval_every=5, estimator="ppo")


def test_config_modes_and_checks():
    full, quick = CalibrationConfig.full(), CalibrationConfig.quick()
    sizes = ("seeds", "steps", "test_questions", "audit_samples")
    assert [getattr(full, k) for k in sizes] == [5, 2000, 4096, 2048]
    assert [getattr(quick, k) for k in sizes] == [3, 1000, 2048, 512]
    assert quick.is_quick and not full.is_quick
    # Only those four fields differ between the modes (same arms).
    assert set(arm_specs(full)) == set(arm_specs(quick))
    assert len(arm_specs(full)) == 15  # 3 headline + 4 more sweep + 8 more estimator arms
    shifted = CalibrationConfig(**TINY, seed_offset=3)
    assert arm_specs(shifted)["binary"].to_dict(shifted)["training"]["seeds"] == [3, 4]
    for bad, name in (
        ({"estimator": "ppo"}, "estimator"),
        ({"brier_weights": (2.0,)}, "brier_weights"),
        ({"group_sizes": (3,)}, "group_sizes"),
        ({"log_eps": 0.5}, "log_eps"),
        ({"seeds": 0}, "seeds"),
    ):
        with pytest.raises(ValueError, match=name):
            CalibrationConfig(**bad)


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_common_arguments(parser, STUDY)
    return STUDY.make_config(parser.parse_args(argv))


def test_cli_arguments():
    assert load_study("calibration") is STUDY
    config = _parse(["--quick", "--seeds", "4", "--out", "x"])
    assert (config.seeds, config.steps, config.mode) == (4, 1000, "quick")
    config = _parse(["--headline-only", "--num-prompts", "64"])
    assert set(arm_specs(config)) == {"binary", "brier", "log"}
    assert (config.num_prompts, config.rollouts_per_step) == (64, 512)
    assert (config.seeds, config.steps) == (5, 2000)
    assert _parse(["--quick", "--steps", "200"]).steps == 200


def test_harness_writes_json_table_and_plots(tmp_path):
    """The harness flow end to end: the JSON reads back, the reliability diagrams are drawn."""
    config = CalibrationConfig(**{**TINY, "seeds": 1, "estimators": ("dr_grpo",)})
    out = execute(STUDY, config, tmp_path, progress=False)
    written = read_json(out.json_path)
    check_results(written)
    assert "raw_final" not in written
    assert written["arms"]["brier"]["accuracy"]["per_seed"] == pytest.approx(
        out.results["arms"]["brier"]["accuracy"]["per_seed"]
    )
    assert "reliability_brier.png" in written["plots"]
    assert all((tmp_path / p).exists() for p in written["plots"])
    assert out.table_path.read_text().startswith("| arm")
