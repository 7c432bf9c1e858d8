"""The gating study: environment vs a plain-Python rubric, the configs, the results of a
tiny run through the harness, and that every arm is trained the same way except for its
objective."""

from __future__ import annotations

import argparse
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reward_design as rd
from reward_design_studies.gating import ARMS, STUDY, GatingConfig, rubric
from reward_design_studies.gating import environment as genv
from reward_design_studies.gating.objectives import make_objective
from reward_design_studies.gating.study import train_config
from reward_design_studies.gating.training import get_trainer
from reward_design_studies.harness import add_common_arguments, execute, read_json

TINY = GatingConfig(
    seeds=2,
    steps=6,
    num_prompts=4,
    group_size=4,
    eval_samples=2,
    warmup_steps=5,
    chunk=3,
    curve_every=2,
    noise_levels=(0.0, 0.25),
    fast_compile=True,
)
METRICS = (
    "gold",
    "proxy",
    "kl",
    "length",
    "accepted",
    "kept",
    "in_update",
    "groups_with_signal",
    "gold_during_training",
    "proxy_during_training",
    "gold_first_quarter",
    "proxy_first_quarter",
)


# ----------------------------------------------------------------- environment
def _python_rubric(y: list[int], answer: int) -> list[bool]:
    """The six items, written independently as plain Python over one response."""
    eos, ans = genv.EOS, genv.ANS
    length = y.index(eos) if eos in y else len(y)
    body = y[:length]
    j = body.index(ans) if ans in body else None
    stated = None
    if j is not None and j + 1 < length and body[j + 1] <= 9:
        stated = body[j + 1]
    working = [t for t in body[:j] if t <= 9] if j is not None else []
    return [
        stated is not None and stated == answer,
        stated is not None and len(working) >= 3 and sum(working) % 10 == stated,
        body.count(ans) == 1 and stated is not None and eos in y,
        j is not None and j >= 1 and body[j - 1] == genv.THEREFORE,
        genv.MAYBE in body,
        5 <= length <= 7,
    ]


def _random_responses(rng: np.random.Generator, n: int, reference: np.ndarray) -> np.ndarray:
    """Responses of every shape: references, lightly and heavily corrupted, random."""
    rates = rng.choice([0.0, 0.15, 0.4, 1.0], size=(n, 1))
    rows = rng.integers(0, reference.shape[0], size=n)
    base = reference[rows]
    noise = rng.integers(0, genv.VOCAB, size=base.shape)
    y = np.where(rng.random(base.shape) < rates, noise, base)
    # after the first EOS every token is EOS, as the sampler writes it
    after = np.cumsum(y == genv.EOS, axis=1) > 0
    shifted = np.concatenate([np.zeros((n, 1), bool), after[:, :-1]], axis=1)
    return np.where(shifted, genv.EOS, y), rows


def test_rubric_matches_plain_python():
    env = genv.make_env(jax.random.key(3), 16)
    ref = np.asarray(env.reference)
    answers = np.asarray(env.answer)
    rng = np.random.default_rng(0)
    y, rows = _random_responses(rng, 3000, ref)
    got = np.asarray(rubric.rubric_checks(jnp.asarray(y), jnp.asarray(answers[rows])))
    want = np.array(
        [_python_rubric(list(map(int, r)), int(answers[i])) for r, i in zip(y, rows, strict=True)]
    )
    np.testing.assert_array_equal(got, want)
    # every item both passes and fails somewhere in the sample
    assert want.any(axis=0).all() and (~want).any(axis=0).all()


def test_reference_passes_every_item_and_scores_one():
    env = genv.make_env(jax.random.key(0), 32)
    checks = rubric.rubric_checks(env.reference, env.answer)
    assert bool(jnp.all(checks))
    np.testing.assert_allclose(rubric.proxy(checks), 1.0, rtol=1e-6)
    assert bool(jnp.all(rubric.gold(checks)))
    agree = genv.token_agreement(env.reference, env.reference)
    np.testing.assert_allclose(jnp.sum(agree, axis=-1), 1.0, rtol=1e-6)
    # answers are the sum of the working mod 10
    np.testing.assert_array_equal(
        np.asarray(env.answer), np.asarray(env.reference[:, :3]).sum(axis=1) % 10
    )


def test_cheap_template_passes_all_but_the_answer():
    """``0 0 0 THEREFORE ANS 0 MAYBE EOS``: prompt-independent, credited by the dense form."""
    t = [0, 0, 0, genv.THEREFORE, genv.ANS, 0, genv.MAYBE, genv.EOS]
    checks = rubric.rubric_checks(jnp.asarray([t, t]), jnp.asarray([0, 7]))
    np.testing.assert_array_equal(np.asarray(checks[0]), [True] * 6)
    np.testing.assert_array_equal(np.asarray(checks[1]), [False] + [True] * 5)
    w = rubric.ITEM_WEIGHTS
    np.testing.assert_allclose(float(rubric.proxy(checks)[1]), 1 - w[0] / w.sum(), rtol=1e-6)
    assert not bool(rubric.gold(checks)[1])


def test_token_agreement_counts_only_valid_tokens():
    ref = jnp.asarray([[1, 2, 3, genv.THEREFORE, genv.ANS, 6, genv.MAYBE, genv.EOS]])
    y = jnp.asarray([[1, 2, genv.EOS, genv.EOS, genv.EOS, genv.EOS, genv.EOS, genv.EOS]])
    mask = genv.token_mask(y)
    np.testing.assert_array_equal(np.asarray(mask[0]), [1, 1, 1, 0, 0, 0, 0, 0])
    # y[7] == ref[7] == EOS but it is padding: it does not count
    np.testing.assert_allclose(float(jnp.sum(genv.token_agreement(y, ref))), 2 / 8)


def test_judge_noise_flips_at_rate_e():
    checks = jnp.zeros((200, 50, 6), bool)
    flipped = rubric.flip_checks(jax.random.key(1), checks, jnp.float32(0.2))
    rate = float(jnp.mean(flipped))
    # 60,000 Bernoulli(0.2) draws: sd 0.0016
    assert abs(rate - 0.2) < 0.01
    assert not bool(jnp.any(rubric.flip_checks(jax.random.key(1), checks, jnp.float32(0.0))))


# ---------------------------------------------------------------------- config
def test_full_and_quick_configs_are_the_documented_runs():
    full = dataclasses.asdict(GatingConfig.full())
    assert full == {
        "seeds": 5,
        "seed_offset": 0,
        "mode": "full",
        "steps": 400,
        "noise_levels": (0.0, 0.1, 0.2),
        "arms": ("dense", "gated_floor", "gated_drop"),
        "num_prompts": 32,
        "group_size": 8,
        "learning_rate": 1e-3,
        "max_grad_norm": 1.0,
        "kl_coef": 0.04,
        "hidden": 64,
        "warmup_steps": 200,
        "warmup_learning_rate": 5e-3,
        "corruption": 0.5,
        "eval_samples": 16,
        "floor": 0.0,
        "curve_every": 10,
        "chunk": 25,
        "fast_compile": False,
    }
    quick = dataclasses.asdict(GatingConfig.quick())
    changed = {k: v for k, v in quick.items() if full[k] != v}
    assert changed == {
        "seeds": 3,
        "mode": "quick",
        "steps": 150,
        "noise_levels": (0.0, 0.2),
        "fast_compile": True,
    }


def test_cli_options_make_the_config():
    parser = argparse.ArgumentParser()
    add_common_arguments(parser, STUDY)
    args = parser.parse_args(["--environment", "v1", "--quick", "--seeds", "2", "--steps", "7"])
    assert STUDY.make_config(args) == GatingConfig.quick(2).replace(steps=7)
    assert STUDY.make_config(parser.parse_args(["--environment", "v1"])) == GatingConfig.full()


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"seeds": 0}, "seeds"),
        ({"steps": 0}, "steps"),
        ({"group_size": 1}, "group_size"),
        ({"warmup_steps": -1}, "warmup_steps"),
        ({"noise_levels": (0.7,)}, "noise_levels"),
        ({"noise_levels": ()}, "noise_levels"),
        ({"arms": ("dense", "gate")}, "arms"),
    ],
)
def test_config_errors_name_the_field(changes, match):
    with pytest.raises(ValueError, match=match):
        GatingConfig(**changes)


def test_config_rejects_unknown_fields_and_arms():
    with pytest.raises(TypeError, match="seed"):
        GatingConfig(seed=3)
    with pytest.raises(ValueError, match="arm must be one of"):
        make_objective("sparse")
    with pytest.raises(TypeError, match="GatingConfig"):
        STUDY.run({"seeds": 2}, False)


# ------------------------------------------------------------------- tiny run
def _json_config(config: GatingConfig) -> dict:
    """The config as the JSON file holds it (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.to_dict().items()}


@pytest.fixture(scope="module")
def tiny_output(tmp_path_factory):
    return execute(STUDY, TINY, tmp_path_factory.mktemp("gating"), progress=False)


def test_results_file_follows_the_schema(tiny_output):
    data = read_json(tiny_output.json_path)
    assert data["experiment"] == "gating"
    assert data["config"] == _json_config(TINY)
    assert list(data["arms"]) == TINY.run_names
    for name, metrics in data["arms"].items():
        assert set(METRICS) <= set(metrics), name
        for m, cell in metrics.items():
            assert set(cell) == {"mean", "ci95", "per_seed"}, (name, m)
            per = np.asarray(cell["per_seed"], dtype=float)
            assert per.shape == (TINY.seeds,) and np.all(np.isfinite(per))
            assert cell["mean"] == pytest.approx(per.mean())
            low, high = cell["ci95"]
            assert low <= cell["mean"] + 1e-9 and cell["mean"] <= high + 1e-9
        for m in ("gold", "proxy", "accepted", "kept", "in_update", "groups_with_signal"):
            assert all(0.0 <= v <= 1.0 for v in metrics[m]["per_seed"]), (name, m)
        assert all(v >= -1e-4 for v in metrics["kl"]["per_seed"])
        # group filtering only removes
        assert metrics["kept"]["mean"] <= metrics["accepted"]["mean"] + 1e-9
    # the dense objective accepts every rollout
    assert data["arms"]["dense"]["accepted"]["per_seed"] == [1.0, 1.0]
    # curves: one point per block of curve_every steps, per seed
    n_points = -(-TINY.steps // TINY.curve_every)
    assert data["curves"]["step"][-1] == TINY.steps and len(data["curves"]["step"]) == n_points
    for name in TINY.run_names:
        for m in ("gold", "proxy", "accepted", "kl"):
            c = data["curves"]["arms"][name][m]
            assert len(c["mean"]) == n_points
            assert np.asarray(c["per_seed"]).shape == (TINY.seeds, n_points)
    assert list(data["comparisons"]) == [
        "gated_floor - dense",
        "gated_floor@e=0.25 - dense@e=0.25",
        "gated_drop - dense",
        "gated_drop@e=0.25 - dense@e=0.25",
        "gated_floor - gated_drop",
        "gated_floor@e=0.25 - gated_drop@e=0.25",
    ]
    assert set(data["items"]["dense"]) == set(rubric.ITEM_NAMES)
    assert {"warm_start", *ARMS, "total"} <= set(data["timings_s"])


def test_paired_differences_are_per_seed_differences(tiny_output):
    arms, cmp = tiny_output.results["arms"], tiny_output.results["comparisons"]
    for m in ("gold", "proxy", "gold_during_training", "gold_first_quarter", "kl"):
        a = np.asarray(arms["gated_floor"][m]["per_seed"])
        b = np.asarray(arms["dense"][m]["per_seed"])
        assert cmp["gated_floor - dense"][m]["mean"] == pytest.approx(np.mean(a - b), abs=1e-12)


def test_table_plots_and_headline(tiny_output):
    lines = tiny_output.table_path.read_text().splitlines()
    assert max(len(line) for line in lines) <= 100
    table = "\n".join(lines)
    for name in TINY.run_names:
        assert f"| {name} " in table
    assert [p.name for p in tiny_output.plot_paths] == [
        "gating_curves.png",
        "gating_noise.png",
        "gating_items.png",
    ]
    assert all(p.stat().st_size > 10_000 for p in tiny_output.plot_paths)
    assert tiny_output.results["plots"] == [p.name for p in tiny_output.plot_paths]
    assert STUDY.headline(tiny_output.results).startswith("final gold, gated_floor - dense")


def test_arms_trained_identically_except_objective(tiny_output):
    records = tiny_output.results["training"]
    assert list(records) == TINY.run_names
    stripped = {
        name: {k: v for k, v in rec.items() if k not in ("objective", "final_fingerprints")}
        for name, rec in records.items()
    }
    for e in TINY.noise_levels:
        at_e = [n for n in TINY.run_names if stripped[n]["noise"] == e]
        assert len(at_e) == len(ARMS)
        for n in at_e[1:]:
            assert stripped[n] == stripped[at_e[0]], n
    # the same warm start for every arm, a different one per seed
    prints = records["dense"]["init_fingerprints"]
    assert len(set(prints)) == TINY.seeds
    # the objectives differ, and so do the trained policies
    objectives = {records[a]["objective"] for a in ARMS}
    assert len(objectives) == len(ARMS)
    assert records["dense"]["final_fingerprints"] != records["gated_floor"]["final_fingerprints"]


def test_loop_depends_on_the_arm_only_through_the_objective(tiny_output):
    """A gate that accepts everything, with floor, must train exactly like its inner objective;
    changing a traced weight of the objective must not retrace the training step."""
    trainer = get_trainer(train_config(TINY))
    keys = jax.random.split(jax.random.key(11), 2)
    params0, env = trainer.warm_start(keys)
    noise = jnp.zeros(2, jnp.float32)
    dense = make_objective("dense")
    accept_all = rd.gates.Gated(
        lambda r: jnp.ones(r.valid_mask.shape, bool), dense, on_reject="floor"
    )
    outs = []
    for objective in (dense, accept_all):
        state = (params0, trainer.init_opt(params0), keys)
        state, metrics = trainer.train_chunk(state, objective, params0, env, noise, 3)
        outs.append((state[0], metrics))
    leaves = [jax.tree_util.tree_leaves(params) for params, _ in outs]
    for a, b in zip(*leaves, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(outs[0][1]["reward"], outs[1][1]["reward"], rtol=1e-6)

    before = trainer.chunk_traces
    reweighted = rd.compose(
        rubric=rd.terms.RubricScore(rubric.ITEM_WEIGHTS * 2.0), tokens=rd.terms.TokenReward(0.5)
    )
    state = (params0, trainer.init_opt(params0), keys)
    trainer.train_chunk(state, reweighted, params0, env, noise + 0.1, 3)
    assert trainer.chunk_traces == before
    # the counter does count: a new objective structure is traced once
    other = rd.gates.Gated(rd.gates.Essential((0,)), dense, on_reject="floor")
    trainer.train_chunk(state, other, params0, env, noise, 3)
    assert trainer.chunk_traces == before + 1
