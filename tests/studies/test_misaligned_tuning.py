"""The misaligned study's second round: per-arm tuning on validation and the confirmatory mode.

The tuned run itself is the tiny study of test_misaligned.py (its ``TINY``
config tunes two learning rates and two stopping steps; the tests of its
``tuned`` block are there, beside the other tests of that run); this file
checks the selection rule, the per-model learning rates, the validation scores
against numpy and the confirmatory configuration.
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from reward_design_studies import misaligned
from reward_design_studies.harness import add_common_arguments
from reward_design_studies.misaligned.environment import misclassification_cost
from reward_design_studies.misaligned.training import Net, NetConfig, TrainConfig, train_models
from reward_design_studies.misaligned.tuning import select, validation_scores


def test_select_picks_the_best_with_the_pre_registered_tie_rule():
    # scores[rate, step, seed]
    scores = np.array(
        [
            [[0.1, 0.5, np.nan], [0.3, 0.5, 0.0]],
            [[0.3, 0.2, 0.0], [0.2, 0.5, np.inf]],
        ]
    )
    rate, step = select(scores)
    # seed 0: 0.3 at (rate 1, step 0) and (rate 0, step 1): fewer steps wins.
    # seed 1: 0.5 at (0, 0), (0, 1), (1, 1): fewest steps, then lowest rate.
    # seed 2: non-finite scores are never chosen; the finite 0.0s tie -> (1, 0).
    assert rate.tolist() == [1, 0, 1] and step.tolist() == [0, 0, 0]
    rate, step = select(scores[..., :2], maximise=False)
    assert rate.tolist() == [0, 1] and step.tolist() == [0, 0]
    with pytest.raises(ValueError, match="scores"):
        select(np.zeros((2, 3)))


def test_per_model_learning_rates_equal_separate_adamw_runs():
    rng = np.random.default_rng(3)
    x = jnp.asarray(rng.standard_normal((4, 64, 8, 1)).astype(np.float32))
    y = jnp.asarray(rng.integers(0, 3, (4, 64)).astype(np.int32))
    net = Net(NetConfig(hidden=(8,)), 3)

    def ce(logits, labels, _):
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))

    seeds = [7, 7, 8, 8]
    rates = np.array([1e-3, 3e-2, 1e-3, 3e-2], np.float32)
    cfg = TrainConfig(batch_size=16, checkpoints=(10, 20), chunk=10)
    grid = train_models(net, ce, jnp.zeros(4), x, y, seeds, cfg, learning_rates=rates)
    for rate in (3e-2,):  # one separate run (each run compiles; the test stays short)
        idx = np.flatnonzero(np.isclose(rates, rate))
        alone = train_models(
            net,
            ce,
            jnp.zeros(2),
            x[idx],
            y[idx],
            [seeds[i] for i in idx],
            TrainConfig(learning_rate=rate, batch_size=16, checkpoints=(10, 20), chunk=10),
        )
        for step in (10, 20):
            for a, b in zip(_leaves(grid[step]), _leaves(alone[step]), strict=True):
                np.testing.assert_allclose(a[idx], b, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="learning_rates"):
        train_models(net, ce, jnp.zeros(4), x, y, seeds, cfg, learning_rates=rates[:2])


def _leaves(tree):
    return [np.asarray(v) for v in jax.tree_util.tree_leaves(tree)]


def test_validation_scores_match_numpy():
    rng = np.random.default_rng(4)
    logits = (rng.standard_normal((2, 200, 3)) * 2).astype(np.float32)
    labels = rng.integers(0, 3, (2, 200))
    cost = misclassification_cost(3, 0, 9.0)
    w = np.array([9.0, 1.0, 1.0])
    z = logits.astype(np.float64)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    ce = -np.take_along_axis(logp, labels[..., None], -1)[..., 0]
    p = np.exp(logp)
    bayes = (p @ cost.astype(np.float64)).argmin(-1)  # expected cost of each decision

    def util(d):
        return -cost[labels, d].mean(-1)

    arms, loss, temps, _ = validation_scores("utility_weighted", logits, labels, cost)
    np.testing.assert_allclose(loss, (w[labels] * ce).sum(-1) / w[labels].sum(-1), rtol=1e-6)
    np.testing.assert_allclose(arms["utility_weighted_argmax"], util(p.argmax(-1)))
    np.testing.assert_allclose(arms["utility_weighted_bayes"], util(bayes))
    assert temps.tolist() == [1.0, 1.0]
    arms, loss, temps, _ = validation_scores("symmetric", logits, labels, cost)
    np.testing.assert_allclose(loss, ce.mean(-1), rtol=1e-6)
    np.testing.assert_allclose(arms["symmetric_posthoc_uncalibrated"], util(bayes))
    np.testing.assert_allclose(arms["symmetric_argmax"], util(p.argmax(-1)))
    for s in range(2):  # the temperature minimises the validation NLL

        def nll(t, s=s):
            zt = z[s] / t
            logq = zt - np.log(np.exp(zt).sum(-1, keepdims=True))
            return -logq[np.arange(200), labels[s]].mean()

        assert nll(temps[s]) <= min(nll(temps[s] * 1.05), nll(temps[s] / 1.05)) + 1e-9
        zt = z[s] / temps[s]
        pt = np.exp(zt - np.log(np.exp(zt).sum(-1, keepdims=True)))
        d = (pt @ cost.astype(np.float64)).argmin(-1)
        assert arms["symmetric_posthoc"][s] == pytest.approx(-cost[labels[s], d].mean())


def test_confirmatory_config_and_cli():
    cfg = misaligned.MisalignedConfig.confirmatory()
    assert cfg.seed_list[0] == 100 and cfg.seeds == misaligned.CONFIRMATORY["seeds"]
    assert (
        cfg.tune
        and cfg.confirmatory_block
        and cfg.headline
        == {
            "task": "mnist1d",
            "cost_ratio": 20.0,
            "steps": 1000,
        }
    )
    assert cfg.tune_steps == tuple(range(100, 3001, 100))
    parser = argparse.ArgumentParser()
    add_common_arguments(parser, misaligned.STUDY)
    args = parser.parse_args(["--confirmatory"])
    assert misaligned.config_from_args(args) == cfg
    args = parser.parse_args(["--seed-offset", "200", "--tune", "--tasks", "digits"])
    custom = misaligned.config_from_args(args)
    assert custom.seed_list == list(range(200, 205)) and custom.tune
    args = parser.parse_args(["--conv", "16", "16", "--tune", "--tune-max-steps", "1500"])
    cnn = misaligned.config_from_args(args)
    assert cnn.conv_channels == (16, 16) and cnn.tune_steps == tuple(range(100, 1501, 100))
    assert cnn.net_config() == NetConfig(conv_channels=(16, 16), hidden=(128, 64))
    assert misaligned.MisalignedConfig().net_config() == NetConfig(hidden=(128, 64))
    with pytest.raises(ValueError, match="conv_channels"):
        misaligned.MisalignedConfig(conv_channels=(4, 0))
    with pytest.raises(ValueError, match="exclude"):
        misaligned.config_from_args(parser.parse_args(["--confirmatory", "--quick"]))
    with pytest.raises(ValueError, match="tune_every"):
        misaligned.MisalignedConfig(tune_every=75)
    with pytest.raises(ValueError, match="tune_learning_rates"):
        misaligned.MisalignedConfig(tune_learning_rates=(1e-3, -1.0))
