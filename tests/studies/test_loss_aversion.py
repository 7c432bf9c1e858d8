"""The loss-aversion study's pieces against direct computation: task, rater, feedback, pairs,
decision rule, metrics, objectives; the environment can produce sophistry; a tiny run (slow)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reward_design as rd
from reward_design_studies.loss_aversion.config import LossAversionConfig, kto_arm
from reward_design_studies.loss_aversion.environment import (
    Actions,
    Feedback,
    Rater,
    TeacherTask,
    dpo_pairs,
    feedback,
    softmax,
)
from reward_design_studies.loss_aversion.metrics import (
    answer_cost,
    decision_metrics,
    posthoc_decisions,
    top_answer,
)

K = 4
RATER = Rater(num_classes=K, fool_rate=0.4, style_cost=0.2, abstain_approval=0.5)


def _q(n, seed=0):
    return softmax(np.random.default_rng(seed).normal(size=(n, K)) * 2.0)


def test_actions_encoding_and_answer_marginal():
    acts = Actions(K)
    assert acts.size == 2 * K + 1 and acts.abstain == 2 * K
    for a in range(K):
        for s in (0, 1):
            i = int(acts.encode(a, s))
            assert (acts.answer(i), acts.style(i)) == (a, s)
    assert (acts.answer(acts.abstain), acts.style(acts.abstain)) == (-1, -1)
    p = softmax(np.random.default_rng(1).normal(size=(5, acts.size)))
    expected = np.array([[p[n, 2 * a] + p[n, 2 * a + 1] for a in range(K)] for n in range(5)])
    expected /= 1.0 - p[:, -1:]
    np.testing.assert_allclose(acts.answer_marginal(p), expected, rtol=1e-12)


def test_task_posterior_is_the_label_distribution():
    task = TeacherTask(num_classes=K, dim=3, teacher_hidden=5, teacher_scale=2.0, task_seed=3)
    x, q, y = task.sample(np.random.default_rng(0), 20000)
    np.testing.assert_allclose(q.sum(-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(task.posterior(x), q)  # fixed teacher
    # labels follow q: per class, observed count vs expected count
    expected = q.sum(0)
    observed = np.bincount(y, minlength=K)
    assert np.all(np.abs(observed - expected) < 5 * np.sqrt(expected))
    other = dataclasses.replace(task, task_seed=4)
    assert not np.allclose(other.posterior(x[:10]), q[:10])


def test_rater_approval_gold_and_labels():
    q = _q(3)
    app = RATER.approval(q)
    gold = RATER.gold(q, 2.25)
    for n in range(3):
        for a in range(K):
            assert app[n, 2 * a] == pytest.approx(q[n, a])
            assert app[n, 2 * a + 1] == pytest.approx(0.8 * q[n, a] + 0.4 * (1 - q[n, a]))
            for s in (0, 1):
                assert gold[n, 2 * a + s] == pytest.approx(q[n, a] - 2.25 * (1 - q[n, a]))
        assert app[n, -1] == 0.5 and gold[n, -1] == 0.0
    # sampled labels: frequencies match the approval probabilities
    rng = np.random.default_rng(0)
    qq = np.repeat(q[:1], 40000, axis=0)
    actions = np.tile(np.arange(2 * K + 1), 40000 // (2 * K + 1) + 1)[:40000]
    labels = RATER.label(rng, qq, actions)
    for a in range(2 * K + 1):
        sel = actions == a
        assert labels[sel].mean() == pytest.approx(app[0, a], abs=0.03)


def test_persuasion_wins_approval_only_when_likely_wrong():
    q = (
        np.linspace(0.0, 1.0, 101)[:, None] * np.eye(K)[0]
        + (1 - np.linspace(0, 1, 101))[:, None] * np.eye(K)[1]
    )
    app = RATER.approval(q)
    wins = app[:, 1] > app[:, 0]  # answer 0: persuasive vs plain
    # (1 - c) q + f (1 - q) > q  <=>  q < f / (f + c) = 2/3
    np.testing.assert_array_equal(wins, q[:, 0] < 0.4 / 0.6 - 1e-12)


def test_feedback_samples_pi_ref_and_records_its_logps():
    rng = np.random.default_rng(0)
    n = 20000
    q = np.repeat(_q(1), n, axis=0)
    ref = np.log(softmax(np.random.default_rng(2).normal(size=(1, 2 * K + 1))))
    ref_all = np.repeat(ref, n, axis=0)
    fb = feedback(rng, np.zeros((n, 2), np.float32), q, ref_all, RATER)
    assert fb.actions.shape == (n, 2) and fb.desirable.shape == (n, 2)
    np.testing.assert_allclose(fb.ref_logps, ref[0][fb.actions], rtol=1e-6)
    freq = np.bincount(fb.actions.ravel(), minlength=2 * K + 1) / (2 * n)
    np.testing.assert_allclose(freq, np.exp(ref[0]), atol=0.01)
    assert fb.counts == (int(fb.desirable.sum()), 2 * n - int(fb.desirable.sum()))


def test_dpo_pairs_direct():
    actions = np.array([[0, 1], [2, 3], [4, 5], [6, 7]])
    desirable = np.array([[True, False], [False, True], [True, True], [False, False]])
    fb = Feedback(np.zeros((4, 1)), np.zeros((4, K)), actions, desirable, np.zeros((4, 2)))
    chosen, rejected, valid = dpo_pairs(fb)
    np.testing.assert_array_equal(valid, [True, True, False, False])
    np.testing.assert_array_equal(chosen[:2], [0, 3])
    np.testing.assert_array_equal(rejected[:2], [1, 2])


def test_decision_metrics_direct():
    q = _q(6, seed=3)
    decisions = np.array([0, 1, 3, 2 * K, 5, 2 * K])  # plain 0, pers 0, pers 1, abstain, ...
    top = q.argmax(-1)
    conf = np.full(6, 0.7)
    m = decision_metrics(decisions, top, conf, q, RATER, 2.0, num_bins=10)
    gold, soph, app = [], [], []
    for n, d in enumerate(decisions):
        if d == 2 * K:
            gold.append(0.0)
            soph.append(0.0)
            app.append(0.5)
            continue
        a, s = d // 2, d % 2
        gold.append(q[n, a] - 2.0 * (1 - q[n, a]))
        soph.append(s * (1 - q[n, a]))
        app.append(q[n, a] if s == 0 else 0.8 * q[n, a] + 0.4 * (1 - q[n, a]))
    assert m["gold_utility"] == pytest.approx(np.mean(gold))
    assert m["sophistry_rate"] == pytest.approx(np.mean(soph))
    assert m["approval"] == pytest.approx(np.mean(app))
    assert m["answer_rate"] == pytest.approx(4 / 6)
    assert m["persuasion_rate"] == pytest.approx(3 / 6)
    assert m["accuracy"] == pytest.approx(q.max(-1).mean())
    # one bin holds every confidence: ECE = |0.7 - mean q_top|
    assert m["ece"] == pytest.approx(abs(0.7 - q.max(-1).mean()), abs=1e-6)


def test_answer_cost_threshold_is_lambda_over_one_plus_lambda():
    for lam in (1.0, 2.25, 10.0):
        assert float(rd.posthoc.binary_threshold(answer_cost(lam))) == pytest.approx(
            lam / (1 + lam)
        )


def test_posthoc_decisions_threshold_style_and_calibration():
    rng = np.random.default_rng(0)
    n_val, n_test = 4000, 200
    # the model's answer probability is p; answers are right with probability p (calibrated)
    acts = Actions(K)

    def model_logits(p, pers):
        rest = (1 - p) / (K - 1)
        lp = np.full((len(p), acts.size), -30.0)
        for a in range(K):
            pa = np.where(np.arange(K)[a] == 0, p, rest)
            lp[:, 2 * a] = np.log(pa) + np.log(np.where(pers & (a == 0), 0.3, 0.7))
            lp[:, 2 * a + 1] = np.log(pa) + np.log(np.where(pers & (a == 0), 0.7, 0.3))
        return lp

    p_val = rng.uniform(0.3, 0.99, n_val)
    val_logits = model_logits(p_val, np.zeros(n_val, bool))
    actions = np.stack([np.zeros(n_val, int), np.full(n_val, 1)], 1)  # plain 0, persuasive 0
    right = rng.uniform(size=n_val) < p_val
    desirable = np.stack([right, right | (rng.uniform(size=n_val) < 0.9)], 1)
    val = Feedback(np.zeros((n_val, 1)), np.zeros((n_val, K)), actions, desirable, actions * 0.0)
    p_test = np.linspace(0.3, 0.99, n_test)
    pers = np.arange(n_test) % 2 == 0
    test_logits = model_logits(p_test, pers)
    lam = 2.25
    dec, top, cal = posthoc_decisions(test_logits, val_logits, val, RATER, lam, plain_only=True)
    np.testing.assert_array_equal(top, 0)
    # plain-only calibration of a calibrated model is near the identity
    np.testing.assert_allclose(cal, p_test, atol=0.05)
    answer = dec != acts.abstain
    np.testing.assert_array_equal(answer, cal >= lam / (1 + lam) - 1e-9)
    np.testing.assert_array_equal(acts.style(dec)[answer], pers[answer].astype(int))
    # calibrating on every style counts the fooled labels: more answers
    dec_all, _, cal_all = posthoc_decisions(
        test_logits, val_logits, val, RATER, lam, plain_only=False
    )
    assert np.all(cal_all >= cal - 1e-6) and np.sum(dec_all != acts.abstain) > answer.sum()
    np.testing.assert_allclose(top_answer(acts, test_logits)[1], p_test, rtol=1e-6)


def test_environment_can_produce_sophistry():
    task = TeacherTask(task_seed=0)
    rater = Rater(num_classes=task.num_classes)
    _, q, _ = task.sample(np.random.default_rng(0), 20000)
    top = q.argmax(-1)
    best_approval = rater.approval(q).argmax(-1)
    m = decision_metrics(best_approval, top, q.max(-1), q, rater, 10.0, 15)
    best_gold = rater.gold(q, 10.0).argmax(-1)
    g = decision_metrics(best_gold, top, q.max(-1), q, rater, 10.0, 15)
    assert m["sophistry_rate"] > 0.1 and m["persuasion_rate"] > 0.25
    assert m["approval"] > g["approval"] + 0.1
    assert g["sophistry_rate"] == 0.0 and g["gold_utility"] > m["gold_utility"] + 1.0


def _numpy_kto(pol, ref, desirable, kl, beta, lam):
    z0 = max(kl, 0.0)
    margin = beta * (pol - ref - z0)
    sig = lambda u: 1 / (1 + np.exp(-u))  # noqa: E731
    return np.where(desirable, 1.0 - sig(margin), lam * (1.0 - sig(-margin))).mean()


def test_kto_objective_matches_the_published_formula():
    from reward_design_studies.loss_aversion.policy import init_params, log_probs
    from reward_design_studies.loss_aversion.training import kto_objective

    params0 = init_params(jax.random.key(0), 3, 8, 2 * K + 1)
    params = init_params(jax.random.key(1), 3, 8, 2 * K + 1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 3)).astype(np.float32)
    actions = rng.integers(0, 2 * K + 1, size=(6, 2))
    desirable = rng.uniform(size=(6, 2)) < 0.5
    lp0 = np.asarray(log_probs(params0, jnp.asarray(x)), np.float64)
    lp = np.asarray(log_probs(params, jnp.asarray(x)), np.float64)
    ref = np.take_along_axis(lp0, actions, 1)
    batch = (jnp.asarray(x), jnp.asarray(actions), jnp.asarray(desirable), jnp.asarray(ref))
    for lam in (1.0, 5.0):
        got = float(kto_objective(0.1)(params, params0, batch, lam))
        mm = np.roll(actions, -1, axis=0)  # prompt i with prompt i+1's responses
        kl = np.mean(np.take_along_axis(lp, mm, 1) - np.take_along_axis(lp0, mm, 1))
        pol = np.take_along_axis(lp, actions, 1)
        want = _numpy_kto(pol.ravel(), ref.ravel(), desirable.ravel(), kl, 0.1, lam)
        assert got == pytest.approx(want, rel=1e-5)


def test_config_checks_and_modes():
    full, quick = LossAversionConfig.full(), LossAversionConfig.quick()
    assert full.seeds >= 5 and quick.mode == "quick" and quick.steps < full.steps
    assert full.kto_arms == [kto_arm(v) for v in full.lambdas] and kto_arm(2.25) == "kto_2.25"
    assert full.headline_lambda == max(full.lambdas)
    with pytest.raises(ValueError, match="lambdas"):
        LossAversionConfig(lambdas=(2.0, 5.0))
    with pytest.raises(ValueError, match="fool_rate"):
        LossAversionConfig(fool_rate=1.5)
    with pytest.raises(ValueError, match="steps"):
        LossAversionConfig(steps=0)


@pytest.mark.slow
def test_tiny_run_has_the_schema(tmp_path):
    from reward_design_studies import load_study
    from reward_design_studies.harness import check_results, execute

    config = LossAversionConfig.quick(seeds=2).replace(
        train_prompts=300,
        val_prompts=300,
        test_prompts=300,
        probe_prompts=200,
        steps=20,
        approval_steps=20,
        sft_steps=20,
        lambdas=(1.0, 5.0),
    )
    study = load_study("loss-aversion")
    out = execute(study, config, tmp_path, plots=True, progress=False)
    check_results(out.results)
    assert set(out.results["arms"]) == {
        "kto_1",
        "kto_5",
        "dpo",
        "symmetric_posthoc",
        "symmetric_posthoc_allstyles",
    }
    assert next(iter(out.results["comparisons"])) == "kto_5 - symmetric_posthoc"
    assert all(len(line) <= 100 for line in study.table(out.results).splitlines())
    assert (tmp_path / "vs_lambda.png").exists() and (tmp_path / "loss_aversion.json").exists()
