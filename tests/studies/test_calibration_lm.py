"""The LM calibration study: rewards, judge and metrics against direct computations; one
compiled program and one start/stream for all arms; the results pass the harness schema.

The default run checks the pieces without training; the slow tests train a tiny policy
(one compile for every arm, one start and one random stream) and run the whole pipeline
(warm start, every arm, metrics, audit, table, plots, schema).
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from reward_design_studies import lm
from reward_design_studies.calibration_lm import CalibrationLMConfig
from reward_design_studies.calibration_lm import metrics as M
from reward_design_studies.calibration_lm.arms import OutcomeJudge, arm_specs, reward_fn

TINY = dict(
    width=8,
    depth=1,
    heads=1,
    mlp_ratio=1,
    levels=4,
    num_classes=3,
    confidence_levels=5,
    steps=4,
    eval_every=1,
    warm_start_steps=2,
    eval_prompts=8,
    eval_samples=2,
    num_prompts=4,
    group_size=8,  # the answer-choice audit of the log reward fails at G = 4, 32 samples
    audit_samples=32,
    floor_draws=2,
    fast_compile=True,
)


def _config(seeds=2, **changes) -> CalibrationLMConfig:
    return CalibrationLMConfig.quick(seeds).replace(**{**TINY, **changes})


# ------------------------------------------------------------------ numpy references
def _np_ece(c, y, bins):
    """Guo et al.'s ECE with the library's bins: [k/B, (k+1)/B), the last closed."""
    idx = np.minimum((c * bins).astype(int), bins - 1)
    return sum(
        (idx == b).mean() * abs(y[idx == b].mean() - c[idx == b].mean())
        for b in range(bins)
        if (idx == b).any()
    )


def _np_auroc(s, y):
    pos, neg = s[y > 0.5], s[y <= 0.5]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (pos.size * neg.size)


def _evals(seed=0, s=2, p=6, g=5, levels=11):
    rng = np.random.default_rng(seed)
    q = rng.random((s, p, g))
    fmt = rng.random((s, p, g)) < 0.9
    y = (rng.random((s, p, g)) < q) & fmt
    c = np.where(fmt, rng.integers(0, levels, (s, p, g)) / (levels - 1), 0.0)
    return {
        "confidence": c.astype(np.float32),
        "judge/outcome": y.astype(np.float32),
        "judge/success_probability": np.where(fmt, q, 0.0).astype(np.float32),
        "judge/format": fmt.astype(np.float32),
    }


def test_metrics_equal_direct_numpy_computations():
    ev = _evals()
    got = M.seed_metrics(ev, num_bins=15)
    for s in range(2):
        c = ev["confidence"][s].ravel().astype(np.float64)
        y = ev["judge/outcome"][s].ravel().astype(np.float64)
        q = ev["judge/success_probability"][s].ravel().astype(np.float64)
        np.testing.assert_allclose(got["accuracy"][s], y.mean(), rtol=1e-6)
        np.testing.assert_allclose(got["ece"][s], _np_ece(c, y, 15), atol=1e-6)
        np.testing.assert_allclose(got["brier"][s], np.mean((c - y) ** 2), rtol=1e-5)
        np.testing.assert_allclose(got["auroc"][s], _np_auroc(c, y), atol=1e-6)
        np.testing.assert_allclose(got["mean_confidence"][s], c.mean(), rtol=1e-6)
        np.testing.assert_allclose(got["overconfidence"][s], c.mean() - y.mean(), atol=1e-7)
        np.testing.assert_allclose(got["abs_gap_to_q"][s], np.abs(c - q).mean(), rtol=1e-5)
        np.testing.assert_allclose(got["format"][s], ev["judge/format"][s].mean(), rtol=1e-6)
        stated = np.round(q * 10) / 10
        np.testing.assert_allclose(M.ece_oracle(ev, 15, 11)[s], _np_ece(stated, y, 15), atol=1e-6)


def test_ece_floor_is_the_ece_of_redrawn_outcomes_and_confidence_by_q_bins():
    ev = _evals(p=40, g=10)
    floor = M.ece_floor(ev, 15, draws=3, seed=7)
    rng = np.random.default_rng(7)
    for s in range(2):
        c = ev["confidence"][s].ravel().astype(np.float64)
        direct = np.mean(
            [_np_ece(c, (rng.random(c.shape) < c).astype(float), 15) for _ in range(3)]
        )
        np.testing.assert_allclose(floor[s], direct, atol=1e-6)
    edges = np.linspace(0, 1, 11)
    by_q = M.confidence_by_q(ev, edges)
    c, q, f = (ev[k] for k in ("confidence", "judge/success_probability", "judge/format"))
    sel = (q >= 0.3) & (q < 0.4) & (f > 0.5)
    np.testing.assert_allclose(by_q["count"][3], sel.sum())
    direct = np.mean([c[s][sel[s]].mean() for s in range(2)])
    np.testing.assert_allclose(by_q["confidence_mean"][3], direct, rtol=1e-5)


def test_rewards_equal_their_formulas_and_the_judge_denoises():
    config = CalibrationLMConfig()
    specs = arm_specs(config)
    assert set(specs) >= {"binary", "brier", "log", "binary_grpo", "brier_grpo"}
    c = np.array([0.0, 0.3, 0.7, 1.0, 0.5], np.float32)
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0], np.float32)
    cl = np.clip(c, 0.01, 0.99)
    expected = {
        "binary": y,
        "brier": y - (c - y) ** 2,
        "log": y + y * np.log(cl) + (1 - y) * np.log(1 - cl),
        "confidence_bonus": y + 0.5 * c,
    }
    for name, want in expected.items():
        np.testing.assert_allclose(reward_fn(specs[name], config)(c, y), want, rtol=1e-5)
    # The judge: y for every arm in the metrics, q in `correct` when denoised.
    task = lm.MixtureTask(num_classes=3, dim=2, levels=4, confidence_levels=5)
    batch = task.sample_prompts(jax.random.key(0), 3, "train")
    answers = jnp.array([[0, 1], [2, 0], [1, 1]])
    tokens = jax.vmap(
        lambda a: task.format.render(
            a, jnp.array([4, 2, 0]), task.completion_len, batch.tokens[:, 1:]
        ),
        1,
        1,
    )(answers)
    comps = lm.Completions(tokens, lm.completion_mask(tokens), jnp.zeros(tokens.shape))
    for d in (0.0, 1.0):
        rollouts, extra = OutcomeJudge(task.judge(), d)(batch, comps, jax.random.key(1))
        q = np.take_along_axis(np.asarray(batch.info["posterior"]), np.asarray(answers), 1)
        y = (np.asarray(answers) == np.asarray(batch.info["label"])[:, None]).astype(float)
        np.testing.assert_allclose(extra["outcome"], y)
        np.testing.assert_allclose(rollouts.correct, (1 - d) * y + d * q, rtol=1e-6)
        np.testing.assert_allclose(
            rollouts.confidence, np.broadcast_to([[1.0], [0.5], [0.0]], (3, 2))
        )


def test_config_checks_and_cli_options():
    with pytest.raises(ValueError, match="steps"):
        CalibrationLMConfig(steps=30, eval_every=10)
    with pytest.raises(ValueError, match="log_eps"):
        CalibrationLMConfig(log_eps=0.7)
    with pytest.raises(ValueError, match="group_size"):
        CalibrationLMConfig(group_size=1)
    args = argparse.Namespace(quick=True, seeds=3, steps=160)
    config = CalibrationLMConfig.from_args(args)
    assert (config.mode, config.seeds, config.steps) == ("quick", 3, 160)
    from reward_design_studies import load_study

    assert load_study("calibration-lm").name == "calibration_lm"


@pytest.mark.slow
def test_all_arms_share_one_compile_one_start_and_one_stream():
    config = _config(seeds=2)
    task = config.task()
    policy = config.policy(task)
    rl = lm.RLConfig(
        num_prompts=4,
        group_size=4,
        steps=2,
        eval_every=1,
        eval_samples=2,
        kl=False,
        fast_compile=True,
    )
    specs = arm_specs(config)
    arms = [s.arm(config, task) for s in specs.values()]
    prog = lm.programs(policy, task, rl)
    before = prog.chunk_traces
    runs = lm.train(policy, task, arms, seeds=config.seed_list, config=rl, eval_prompts=4)
    assert prog.chunk_traces - before == 1  # every arm in one compiled program
    first = runs[0]
    for run in runs[1:]:
        np.testing.assert_array_equal(run.init_fingerprint, first.init_fingerprint)
        # step 0: same parameters and keys -> the same completions and outcomes
        for k in ("length", "judge/outcome", "confidence"):
            np.testing.assert_array_equal(run.train_metrics[k][:, 0], first.train_metrics[k][:, 0])
        np.testing.assert_array_equal(run.evals[0]["confidence"], first.evals[0]["confidence"])


@pytest.mark.slow
def test_study_pipeline_writes_results_that_pass_the_schema(tmp_path):
    from reward_design_studies.calibration_lm import STUDY
    from reward_design_studies.harness.results import check_results, read_json
    from reward_design_studies.harness.study import execute

    out = execute(STUDY, _config(), tmp_path, progress=False)
    data = read_json(out.json_path)
    check_results(data)
    assert data["experiment"] == "calibration_lm"
    assert set(data["arms"]["brier"]) >= set(M.METRICS) | set(M.DIAGNOSTICS)
    assert "binary: final - start" in data["comparisons"]
    assert {p.name for p in out.plot_paths} >= {
        "curves.png",
        "diagnostics.png",
        "reliability_brier.png",
    }
    assert "ECE floor" in out.table_path.read_text()
    assert np.isfinite(data["arms"]["binary"]["ece"]["mean"])
    fps = data["reference"]["init_fingerprints"]
    assert all(v == fps["binary"] for v in fps.values())
