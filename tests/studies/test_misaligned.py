"""The misaligned study (reward_design_studies.misaligned): data, training, metrics, JSON.

The study itself runs at a tiny size (digits only, 2 seeds, 100 steps, a
16-8 MLP) so that the default test run stays short; the CLI end to end is
marked slow.
"""

import argparse
import json
import socket

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from reward_design.cli import main
from reward_design_studies import misaligned
from reward_design_studies.harness import add_common_arguments, check_results, execute
from reward_design_studies.misaligned.environment import (
    load_task,
    misclassification_cost,
    stratified_split,
)
from reward_design_studies.misaligned.metrics import arm_metrics
from reward_design_studies.misaligned.training import (
    Net,
    NetConfig,
    TrainConfig,
    make_apply,
    train_models,
)

TINY = misaligned.MisalignedConfig(
    tasks=("digits",),
    cost_ratios=(1.0, 20.0),
    seeds=2,
    checkpoints=(50, 100),
    headline_task="digits",
    headline_cost_ratio=20.0,
    headline_steps=100,
    hidden=(16, 8),
    tune=True,
    tune_learning_rates=(3e-3, 1e-3),
    tune_max_steps=100,
    tune_every=50,
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("misaligned")
    output = execute(misaligned.STUDY, TINY, out, progress=False)
    return json.loads(output.json_path.read_text()), out


# --------------------------------------------------------------------------- data


def test_digits_is_rare_positive_binary_with_full_labels():
    from sklearn.datasets import load_digits

    task = load_task("digits", positive_digit=8)
    ref = load_digits().target
    assert task.num_classes == 2 and task.critical_class == 1
    np.testing.assert_array_equal(task.y_full, ref)
    np.testing.assert_array_equal(task.y, (ref == 8).astype(int))
    assert 0.05 < task.y.mean() < 0.15
    assert task.x.shape == (len(ref), 64, 1)


def test_mnist1d_generates_locally_and_restores_numpy_rng(monkeypatch):
    import mnist1d.data

    def no_network(*args, **kwargs):
        raise AssertionError("the study must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(mnist1d.data, "get_dataset", no_network)
    np.random.seed(123)
    expected_next = np.random.RandomState(123).rand()
    task = load_task("mnist1d", mnist1d_samples=500, mnist1d_seed=7)
    assert np.random.rand() == expected_next  # make_dataset's global reseed is undone
    assert task.x.shape == (500, 40, 1) and task.num_classes == 10
    assert np.bincount(task.y).tolist() == [50] * 10
    again = load_task("mnist1d", mnist1d_samples=500, mnist1d_seed=7)
    np.testing.assert_array_equal(task.x, again.x)


def test_stratified_split_is_a_stratified_partition():
    labels = np.repeat(np.arange(10), [30, 40, 50, 60, 70, 80, 90, 100, 110, 120])
    sp = stratified_split(labels, 0.2, 0.2, seed=3)
    all_idx = np.concatenate([sp.train, sp.val, sp.test])
    assert sorted(all_idx.tolist()) == list(range(len(labels)))
    overall = np.bincount(labels) / len(labels)
    for part in (sp.train, sp.val, sp.test):
        frac = np.bincount(labels[part], minlength=10) / len(part)
        assert np.max(np.abs(frac - overall)) < 2.0 / len(part) + 1e-12
    with pytest.raises(ValueError, match="val_fraction"):
        stratified_split(labels, 0.6, 0.5, seed=0)


def test_cost_matrix_matches_the_definition():
    np.testing.assert_array_equal(misclassification_cost(2, 1, 20.0), [[0, 1], [20, 0]])
    ref = np.ones((4, 4)) - np.eye(4)
    ref[2, [0, 1, 3]] = 5.0
    np.testing.assert_array_equal(misclassification_cost(4, 2, 5.0), ref)
    with pytest.raises(ValueError, match="cost_ratio"):
        misclassification_cost(2, 1, -1.0)


# --------------------------------------------------------------------------- training


def _ce(logits, labels, _):
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))


def _weighted(logits, labels, cost):
    import reward_design as rd

    return rd.posthoc.utility_weighted_cross_entropy(logits, labels, cost)


def test_arms_share_everything_but_the_loss():
    """Uniform costs make the weighted loss the mean CE: the same training run."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((2, 64, 8, 1)).astype(np.float32))
    y = jnp.asarray(rng.integers(0, 3, (2, 64)).astype(np.int32))
    net = Net(NetConfig(hidden=(8,)), 3)
    cfg = TrainConfig(batch_size=16, checkpoints=(10, 20), chunk=10)
    sym = train_models(net, _ce, jnp.zeros(2), x, y, [4, 5], cfg)
    uniform = jnp.asarray(np.stack([misclassification_cost(3, 0, 1.0)] * 2))
    wtd = train_models(net, _weighted, uniform, x, y, [4, 5], cfg)
    assert sorted(sym) == [0, 10, 20]
    for step in (0, 10, 20):
        for a, b in zip(_leaves(sym[step]), _leaves(wtd[step]), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # Same seed -> same init; different seed -> different init.
    first = [leaf[0] for leaf in _leaves(sym[0])]
    second = [leaf[1] for leaf in _leaves(sym[0])]
    assert any(np.abs(a - b).max() > 0 for a, b in zip(first, second, strict=True))


def _leaves(tree):
    import jax

    return [np.asarray(v) for v in jax.tree_util.tree_leaves(tree)]


def test_make_apply_matches_unbatched_apply():
    import jax

    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.standard_normal((2, 5, 8, 1)).astype(np.float32))
    net = Net(NetConfig(hidden=(6, 4)), 3)
    params = jax.vmap(lambda k: net.init(k, x[0]))(jax.random.split(jax.random.key(0), 2))
    logits, hidden = make_apply(net)(params, x)
    assert logits.shape == (2, 5, 3) and hidden.shape == (2, 5, 4)
    p1 = jax.tree_util.tree_map(lambda a: a[1], params)
    ref_logits, ref_hidden = net.apply(p1, x[1])
    np.testing.assert_allclose(logits[1], ref_logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hidden[1], ref_hidden, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- metrics


def _np_reference(arm, logits, labels, cost, critical, temperature, ece_bins=15):
    z = logits / temperature if arm == "symmetric_posthoc" else logits
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    if arm in ("symmetric_argmax", "utility_weighted_argmax"):
        d = p.argmax(1)
    else:  # brute-force Bayes decision
        risks = np.array(
            [
                [sum(pi[i] * cost[i, j] for i in range(len(pi))) for j in range(cost.shape[1])]
                for pi in p
            ]
        )
        d = risks.argmin(1)
    w = np.array([np.mean(np.delete(cost[i], i)) - cost[i, i] for i in range(len(cost))])
    wz = z + np.log(w) if arm.startswith("symmetric_posthoc") else z
    logq = wz - wz.max(1, keepdims=True)
    logq -= np.log(np.exp(logq).sum(1, keepdims=True))
    ce = -logq[np.arange(len(labels)), labels]
    conf, correct = p.max(1), p.argmax(1) == labels
    bins = np.minimum((conf * ece_bins).astype(int), ece_bins - 1)
    ece = sum(
        np.sum(bins == b) / len(conf) * abs(correct[bins == b].mean() - conf[bins == b].mean())
        for b in range(ece_bins)
        if np.any(bins == b)
    )
    return {
        "test_utility": -np.mean(cost[labels, d]),
        "test_weighted_loss": np.sum(w[labels] * ce) / np.sum(w[labels]),
        "accuracy": np.mean(d == labels),
        "ece": ece,
        "critical_recall": np.mean(d[labels == critical] == critical),
    }


@pytest.mark.parametrize("arm", misaligned.ARMS)
def test_arm_metrics_match_numpy(arm):
    rng = np.random.default_rng(2)
    logits = (rng.standard_normal((300, 3)) * 2).astype(np.float32)
    labels = rng.integers(0, 3, 300)
    cost = misclassification_cost(3, 2, 7.0)
    got = arm_metrics(arm, logits, labels, cost, 2, 1.7, 0.5, 15)
    ref = _np_reference(arm, logits.astype(np.float64), labels, cost.astype(np.float64), 2, 1.7)
    assert got["probe_accuracy"] == 0.5
    for k, v in ref.items():
        assert got[k] == pytest.approx(v, rel=1e-4, abs=1e-5), k


# --------------------------------------------------------------------------- the study


def test_json_schema(tiny):
    results, out = tiny
    check_results(results)
    assert results["experiment"] == "misaligned"
    cfg = results["config"]
    assert cfg["headline"] == {"task": "digits", "cost_ratio": 20.0, "steps": 100}
    assert cfg["seeds"] == 2 and cfg["mode"] == "full"
    assert set(results["arms"]) == set(misaligned.ARMS)
    for cells in results["arms"].values():
        assert set(cells) == set(misaligned.METRICS)
        for cell in cells.values():
            assert set(cell) == {"mean", "ci95", "per_seed"}
            assert len(cell["per_seed"]) == 2
            assert cell["mean"] == pytest.approx(np.mean(cell["per_seed"]))
            lo, hi = cell["ci95"]
            assert lo <= cell["mean"] + 1e-12 and cell["mean"] <= hi + 1e-12
    keys = {(r["task"], r["cost_ratio"], r["steps"]) for r in results["sweep"]}
    assert keys == {("digits", r, s) for r in (1.0, 20.0) for s in (50, 100)}
    head = next(r for r in results["sweep"] if (r["cost_ratio"], r["steps"]) == (20.0, 100))
    assert head["arms"] == results["arms"]
    comp = results["comparisons"]["symmetric_posthoc - utility_weighted_argmax"]
    diff = np.subtract(
        results["arms"]["symmetric_posthoc"]["test_utility"]["per_seed"],
        results["arms"]["utility_weighted_argmax"]["test_utility"]["per_seed"],
    )
    assert comp["test_utility"]["mean"] == pytest.approx(diff.mean())
    # Utilities are minus a mean cost: in [-max cost, 0].
    for cells in results["arms"].values():
        assert all(-20.0 <= u <= 0.0 for u in cells["test_utility"]["per_seed"])
    assert results["plots"] == [
        "utility_vs_cost_ratio.png",
        "probe_accuracy_vs_cost_ratio.png",
        "gaps_vs_budget.png",
        "tuned.png",
    ]
    for name in results["plots"]:
        assert (out / name).stat().st_size > 10_000


def test_table_and_headline(tiny):
    results, out = tiny
    table = (out / "misaligned.md").read_text()
    assert table == misaligned.table(results) + "\n"
    assert max(len(line) for line in table.splitlines()) <= 100
    fixed, tuned = table.split("### Tuned on validation")
    assert "fixed budget" in tuned and "tuned: val utility" in tuned
    lines = fixed.splitlines()
    arm_rows = [line for line in lines if line.startswith("| symmetric_posthoc ")]
    assert len(arm_rows) >= 2  # the six metrics are split over several tables
    cells = " ".join(arm_rows)
    for metric in misaligned.METRICS:
        assert sum(f"| {metric} " in line for line in lines) == 1, metric
    mean = results["arms"]["symmetric_posthoc"]["test_utility"]["mean"]
    assert f"{mean:.3f} [" in cells
    sweep = [line.split("|")[1:4] for line in lines if line.startswith("| digits ")]
    assert [c.strip() for c in sweep[-1]] == ["digits", "20", "100"]
    assert "seeds 0-1" in lines[0]
    line = misaligned.headline(results)
    assert "\n" not in line and "digits r=20 100 steps" in line
    assert len(f"misaligned: {line}") <= 100


def test_arms_were_trained_identically_except_for_the_loss(tiny):
    results, _ = tiny
    sym = results["training"]["digits"]["symmetric"]
    wtd = results["training"]["digits"]["utility_weighted"]
    differing = {k for k in set(sym) | set(wtd) if sym.get(k) != wtd.get(k)}
    assert differing == {"loss", "models", "cost_ratios"}
    assert sym["loss"] != wtd["loss"]
    by_seed = {m["seed"]: m for m in sym["models"]}
    assert len(wtd["models"]) == 2 * 2  # seeds x cost ratios
    for m in wtd["models"]:
        ref = by_seed[m["seed"]]
        for key in ("init_params_sha1", "train_data_sha1", "first_batches_sha1"):
            assert m[key] == ref[key], key
    assert by_seed[0]["init_params_sha1"] != by_seed[1]["init_params_sha1"]
    arms = results["config"]["arms"]
    assert {a["loss"] for a in arms.values()} == {sym["loss"], wtd["loss"]}


def test_cost_ratio_one_is_a_control(tiny):
    """With r = 1 the weighted loss is the plain CE, so the arms coincide."""
    results, _ = tiny
    for row in results["sweep"]:
        if row["cost_ratio"] != 1.0:
            continue
        arms = row["arms"]
        for a, b in (
            ("symmetric_posthoc_uncalibrated", "utility_weighted_bayes"),
            ("symmetric_argmax", "utility_weighted_argmax"),
        ):
            for m in misaligned.METRICS:
                np.testing.assert_allclose(
                    arms[a][m]["per_seed"], arms[b][m]["per_seed"], atol=5e-3, err_msg=m
                )


def test_tuned_block_chooses_on_validation_and_scores_on_test(tiny):
    from reward_design_studies.misaligned.tuning import select

    results, _ = tiny
    block = results["tuned"]
    assert block["learning_rates"] == [1e-3, 3e-3] and block["steps"] == [50, 100]
    assert (block["task"], block["cost_ratio"]) == ("digits", 20.0)
    grid = block["validation_grid"]
    for name, sel in block["selections"].items():
        assert set(sel["arms"]) == set(misaligned.ARMS)
        assert set(sel["comparisons"]) == {f"{a} - {b}" for a, b in misaligned.COMPARISONS}
        for arm, chosen in sel["chosen"].items():
            model = misaligned.config.ARM_MODEL[arm]
            scores = np.asarray(
                grid["utility"][arm] if name == "val_utility" else grid["own_loss"][model]
            )
            rate, step = select(scores, maximise=name == "val_utility")
            assert chosen["learning_rate"] == [block["learning_rates"][i] for i in rate]
            assert chosen["steps"] == [block["steps"][k] for k in step]
            best = scores.max((0, 1)) if name == "val_utility" else scores.min((0, 1))
            np.testing.assert_allclose(chosen["validation_score"], best)
        comp = sel["comparisons"]["symmetric_posthoc - utility_weighted_argmax"]["test_utility"]
        diff = np.subtract(
            sel["arms"]["symmetric_posthoc"]["test_utility"]["per_seed"],
            sel["arms"]["utility_weighted_argmax"]["test_utility"]["per_seed"],
        )
        assert comp["mean"] == pytest.approx(diff.mean())
    # The tuning models share seeds, data, init and batches with the fixed-budget ones.
    fixed = {m["seed"]: m for m in results["training"]["digits"]["symmetric"]["models"]}
    for model in ("symmetric", "utility_weighted"):
        models = block["training"][model]["models"]
        assert [(m["seed"], m["learning_rate"]) for m in models] == [
            (s, pytest.approx(r)) for s in (0, 1) for r in (1e-3, 3e-3)
        ]
        for m in models:
            for key in ("init_params_sha1", "train_data_sha1", "first_batches_sha1"):
                assert m[key] == fixed[m["seed"]][key], key


def test_tuned_at_the_fixed_candidate_reproduces_the_fixed_budget_run(tiny):
    """The grid's (1e-3, 100 steps) candidate is the fixed-budget symmetric model."""
    results, _ = tiny
    grid = results["tuned"]["validation_grid"]
    temps = np.asarray(grid["temperature"])[0, 1]  # rate 1e-3, step 100
    np.testing.assert_allclose(
        temps, results["diagnostics"]["digits"]["temperature"]["100"], rtol=1e-4
    )


def test_config_validation_and_cli_options():
    with pytest.raises(ValueError, match="headline_cost_ratio"):
        misaligned.MisalignedConfig(cost_ratios=(1.0, 5.0))
    with pytest.raises(ValueError, match="headline_steps"):
        misaligned.MisalignedConfig(checkpoints=(300,))
    with pytest.raises(ValueError, match="tasks"):
        misaligned.MisalignedConfig(tasks=("cifar",))
    with pytest.raises(ValueError, match="seeds"):
        misaligned.MisalignedConfig(seeds=1)
    with pytest.raises(ValueError, match="hidden"):
        misaligned.MisalignedConfig(hidden=(8, 0))
    assert misaligned.MisalignedConfig.quick() == misaligned.MisalignedConfig(
        seeds=3, checkpoints=(300, 1000), mode="quick"
    )
    parser = argparse.ArgumentParser()
    add_common_arguments(parser, misaligned.STUDY)
    quick = misaligned.config_from_args(parser.parse_args(["--quick"]))
    assert quick.seeds == 3 and quick.checkpoints == (300, 1000) and quick.mode == "quick"
    assert (quick.headline_task, quick.headline_cost_ratio, quick.headline_steps) == (
        "mnist1d",
        20.0,
        1000,
    )
    full = misaligned.config_from_args(parser.parse_args([]))
    assert full.seeds == 5 and full.cost_ratios == (1.0, 5.0, 20.0, 50.0)
    custom = misaligned.config_from_args(
        parser.parse_args(
            ["--cost-ratios", "3", "1", "--steps", "100", "--tasks", "digits", "--hidden", "32"]
        )
    )
    assert custom.hidden == (32,)
    assert custom.cost_ratios == (1.0, 3.0) and custom.headline_cost_ratio == 3.0
    assert custom.headline_steps == 100 and custom.headline_task == "digits"


@pytest.mark.slow
def test_cli_end_to_end(tmp_path):
    code = main(
        [
            "reproduce",
            "misaligned",
            "--tasks",
            "digits",
            "--steps",
            "50",
            "--cost-ratios",
            "1",
            "5",
            "--seeds",
            "2",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    results = json.loads((tmp_path / "misaligned.json").read_text())
    assert results["config"]["headline"] == {"task": "digits", "cost_ratio": 5.0, "steps": 50}
    assert (tmp_path / "utility_vs_cost_ratio.png").exists()
    assert (tmp_path / "probe_accuracy_vs_cost_ratio.png").exists()
    assert (tmp_path / "misaligned.md").exists()
