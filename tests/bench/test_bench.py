"""The bench: its implementations agree, its timing and report keep their shape, the CLI runs.

No timed assertions: only that every implementation computes the same numbers
(against numpy and closed forms), that the result has its schema, and that
the table fits 100 columns.
"""

import json

import jax
import numpy as np
import pytest
from fresh_interpreter import modules_loaded_by, run_python

from reward_design import cli as rd_cli
from reward_design_bench import implementations as impl
from reward_design_bench import inputs, report, timing

K = 6


@pytest.fixture(scope="module")
def batch():
    r = inputs.make_inputs(512, group_size=8, num_items=K, seed=3)
    return r, *(np.asarray(x) for x in (r.correct, r.confidence, r.rubric))


@pytest.mark.parametrize("w", [0.25, 1.0, 3.0])
def test_ours_kernel_numpy_and_loop_agree(batch, w):
    r, correct, confidence, rubric = batch
    objective = inputs.make_objective(w)
    ours = np.asarray(jax.jit(impl.default_step)(objective, r))
    ref = impl.numpy_step(correct, confidence, rubric, brier_weight=w)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)
    # the opt-in kernel (or, where it is not built, its XLA fallback)
    kernel = np.asarray(jax.jit(impl.kernel_step)(objective, r))
    np.testing.assert_allclose(kernel, ref, rtol=1e-4, atol=1e-4)
    # ours is exactly what Gated.advantages computes
    np.testing.assert_allclose(ours, np.asarray(objective.advantages(r, "grpo")[1]), atol=1e-6)
    texts = inputs.completion_texts(correct, confidence)
    loop = impl.python_loop_step(texts, rubric.reshape(-1, K).tolist(), 8, brier_weight=w)
    np.testing.assert_allclose(np.asarray(loop).reshape(ref.shape), ref, rtol=1e-4, atol=1e-4)
    # rejected rollouts get 0 and some groups are partially rejected
    accepted = rubric.all(-1)
    assert np.all(ours[~accepted] == 0) and 0 < accepted.mean() < 1


def test_kernel_runs_only_for_what_the_kernel_implements():
    objective = inputs.make_objective()
    floor = inputs.variant_objectives()["AllOf (floor) + GroupFilter + GRPO"][0](K)
    assert not impl.kernel_runs(floor, 8)
    assert not impl.kernel_runs(objective, 3)  # a group size the kernel does not take
    if jax.default_backend() != "cpu":
        assert not impl.kernel_runs(objective, 8)


def test_ynn_off_compiles_the_same_values_where_xla_takes_the_option(batch, monkeypatch):
    r, correct, confidence, rubric = batch
    status = impl.ynn_off_status()
    if jax.default_backend() != "cpu":
        assert not status["available"] and "default backend" in status["reason"]
    elif not status["available"]:  # an XLA without the (experimental) option
        assert "not accepted" in status["reason"]
    if status["available"]:
        # a compile option, not another formula: the same numbers as the default program
        objectives = {"the step": (inputs.make_objective(), "grpo")}
        variants = inputs.variant_objectives()
        for name in ("WeightedThreshold gate + GRPO", "dense RubricScore(w) + GRPO"):
            objectives[name] = (variants[name][0](K), variants[name][1])
        for name, (objective, estimator) in objectives.items():
            plain = jax.jit(impl.default_step, static_argnums=2)(objective, r, estimator)
            off = jax.jit(impl.default_step, static_argnums=2, compiler_options=impl.YNN_OFF)(
                objective, r, estimator
            )
            np.testing.assert_allclose(off, plain, rtol=1e-5, atol=1e-6, err_msg=name)
    # an option this XLA does not know is reported, not raised
    monkeypatch.setattr(impl, "YNN_OFF", {"xla_cpu_no_such_option_for_the_test": ""})
    status = impl.ynn_off_status()
    assert not status["available"]
    if jax.default_backend() == "cpu":
        assert "not accepted" in status["reason"]


def test_extra_term_adds_the_spherical_score(batch):
    r, correct, confidence, _ = batch
    base = inputs.make_objective()(r)
    extra = inputs.make_objective(extra_term=True)(r)
    p, y = confidence.astype(np.float64), correct
    q = np.where(y == 1, p, 1 - p)
    spherical_loss = 1 - q / np.sqrt(p**2 + (1 - p) ** 2)  # Gneiting & Raftery, as a loss
    np.testing.assert_allclose(
        np.asarray(extra.total) - np.asarray(base.total), -0.5 * spherical_loss, atol=1e-5
    )


def test_token_rewards_enter_every_implementation():
    r = inputs.make_inputs(256, group_size=8, num_items=4, seed=5, num_tokens=6)
    tok, tmask = np.asarray(r.token_rewards), np.asarray(r.token_mask)
    lengths = tmask.sum(-1)  # right-padded valid prefixes of length 1..T
    assert lengths.min() >= 1 and lengths.max() <= 6
    np.testing.assert_array_equal(tmask, np.arange(6) < lengths[..., None])
    correct, confidence, rubric = (np.asarray(x) for x in (r.correct, r.confidence, r.rubric))
    got = np.asarray(jax.jit(impl.default_step)(inputs.make_objective(tokens=True), r))
    ref = impl.numpy_step(correct, confidence, rubric, token_rewards=tok, token_mask=tmask)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    assert not np.allclose(ref, impl.numpy_step(correct, confidence, rubric))
    rows = [t[m].tolist() for t, m in zip(tok.reshape(-1, 6), tmask.reshape(-1, 6), strict=True)]
    loop = impl.python_loop_step(
        inputs.completion_texts(correct, confidence),
        rubric.reshape(-1, 4).tolist(),
        8,
        token_rows=rows,
    )
    np.testing.assert_allclose(np.asarray(loop).reshape(ref.shape), ref, rtol=1e-4, atol=1e-4)
    # read correct, confidence, rubric, 6 tokens (value + mask); write advantages
    assert impl.floor_bytes(256, 4, 4, 6) == 256 * (4 + 4 + 4 + 6 * 5 + 4)


def test_bfloat16_inputs_agree_and_count_fewer_bytes():
    r = inputs.make_inputs(256, group_size=8, num_items=4, input_dtype="bfloat16")
    assert r.correct.dtype == jax.numpy.bfloat16
    arrays = [np.asarray(x, np.float32) for x in (r.correct, r.confidence)]
    got = np.asarray(jax.jit(impl.default_step)(inputs.make_objective(), r))
    ref = impl.numpy_step(*arrays, np.asarray(r.rubric))
    np.testing.assert_allclose(got, ref, rtol=2e-4, atol=2e-4)
    assert impl.floor_bytes(256, 4, input_bytes=2) == 256 * (2 + 2 + 4 + 4)


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="multiple of group_size"):
        inputs.make_inputs(10, group_size=8)
    with pytest.raises(ValueError, match="input_dtype must be"):
        inputs.make_inputs(64, input_dtype="float16")
    with pytest.raises(ValueError, match="num_tokens must be"):
        inputs.make_inputs(64, num_tokens=-1)
    with pytest.raises(ValueError, match="num_completions must be"):
        inputs.text_batch(0)


def _numpy_grpo(reward, accepted, eps=1e-6):
    n = accepted.sum(1, keepdims=True)
    mean = np.where(accepted, reward, 0).sum(1, keepdims=True) / np.maximum(n, 1)
    sq = np.where(accepted, (reward - mean) ** 2, 0).sum(1, keepdims=True)
    std = np.sqrt(np.where(n > 1, sq / np.maximum(n - 1, 1), 0))
    return np.where(accepted, (reward - mean) / (std + eps), 0)


def test_variant_objectives_compute_what_their_names_say(batch):
    r, correct, confidence, rubric = batch
    variants = inputs.variant_objectives()
    reward = correct - (confidence - correct) ** 2
    w = np.resize(np.linspace(0.5, 2.0, 8, dtype=np.float32), K)

    def run(name, step=impl.default_step):
        make, estimator = variants[name]
        return np.asarray(jax.jit(lambda o, rr: step(o, rr, estimator))(make(K), r))

    def close(a, b, tol=1e-4):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)

    passed = rubric @ w >= 0.8 * w.sum() - 1e-6 * np.abs(w).sum()  # the gate's slack
    close(run("WeightedThreshold gate + GRPO"), _numpy_grpo(reward, passed))
    at_least = _numpy_grpo(reward, rubric.sum(-1) >= K - 2)
    close(run("AtLeast(K-2) gate + GRPO"), at_least)
    close(run("AtLeast(K-2) gate + GRPO", impl.kernel_step), at_least)
    dense = reward + rubric @ w / w.sum()
    close(run("dense RubricScore(w) + GRPO"), _numpy_grpo(dense, np.ones_like(rubric[..., 0])))
    acc = rubric.all(-1)
    n = acc.sum(1, keepdims=True)
    loo = (np.where(acc, reward, 0).sum(1, keepdims=True) - reward) / np.maximum(n - 1, 1)
    rloo = np.where(acc & (n > 1), reward - loo, 0)
    close(run("AllOf gate + RLOO"), rloo, 1e-5)
    close(run("AllOf gate + RLOO", impl.kernel_step), rloo, 1e-5)
    # "floor" keeps rejected members in the group statistics (reward 0); the
    # GroupFilter drops groups with fewer than one accepted member or constant rewards
    floored = np.where(acc, reward, 0.0)
    keep = (acc.sum(1) >= 1) & (np.ptp(floored, axis=1) > 1e-6)
    close(
        run("AllOf (floor) + GroupFilter + GRPO"),
        _numpy_grpo(floored, np.repeat(keep[:, None], 8, 1)),
    )


def test_text_reward_matches_the_handwritten_function():
    completions, solutions = inputs.text_batch(512, seed=7)
    ours = impl.trl_reward_func()(completions=completions, solution=solutions)
    hand = impl.handwritten_rlcr_reward(completions=completions, solution=solutions)
    assert all(isinstance(x, float) for x in hand) and len(ours) == len(hand) == 512
    np.testing.assert_allclose(ours, hand, rtol=0, atol=1e-7)
    hand = np.asarray(hand)
    invalid = np.array(["<confidence>" not in c for c in completions])
    assert invalid.any() and np.all(hand[invalid] == -1.0)
    # right and wrong answers both occur; rewards of valid ones lie in [-1, 1]
    assert np.any(hand[~invalid] > 0) and np.any(hand[~invalid] < 0)
    # a fresh batch: different texts for another seed, the same for the same seed
    assert inputs.text_batch(512, seed=8)[0] != completions
    assert inputs.text_batch(512, seed=7) == (completions, solutions)


def test_handwritten_function_on_edge_cases():
    texts = [
        "<answer>4</answer><confidence>0.25</confidence>",
        "<answer>5</answer><confidence>0.25</confidence>",
        "<answer>4</answer><confidence>1.5</confidence>",  # out of [0, 1]
        "<answer>4</answer><confidence>high</confidence>",  # unparsable
        "<answer>3</answer><answer>4</answer><confidence>0.5</confidence>",  # last wins
        "no tags",
    ]
    got = impl.handwritten_rlcr_reward(texts, ["4"] * 6, prompts=None)
    assert got == [1 - 0.75**2, -(0.25**2), -1.0, -1.0, 0.75, -1.0]
    ours = impl.trl_reward_func()(completions=texts, solution=["4"] * 6)
    np.testing.assert_allclose(ours, got, atol=1e-7)


def test_interleaved_visits_every_function_each_round():
    order = []
    fns = {name: (lambda name=name: order.append(name)) for name in "abc"}
    samples = timing.interleaved(fns, rounds=3, warmup=1, max_calls=1)
    assert {k: len(v) for k, v in samples.items()} == {"a": 3, "b": 3, "c": 3}
    # one warm-up each, then rounds that rotate which function goes first
    assert order == list("abc") + list("abc") + list("bca") + list("cab")
    assert timing.calls_per_round(1e-3, round_budget_s=2e-3) == 2
    assert timing.calls_per_round(1.0) == 1 and timing.calls_per_round(1e-9, max_calls=5) == 5
    with pytest.raises(ValueError, match="rounds must be"):
        timing.interleaved(fns, rounds=0)


def test_summarize_gives_median_and_quartiles():
    s = timing.summarize([4.0, 1.0, 3.0, 2.0, 5.0])
    assert s == {"median": 3.0, "min": 1.0, "q1": 2.0, "q3": 4.0, "max": 5.0, "n": 5}
    with pytest.raises(ValueError, match="samples must"):
        timing.summarize([])


def test_copy_bandwidth_is_the_faster_measurement():
    bw = impl.measure_copy_bandwidth(num_bytes=1 << 20, repeats=1)
    assert bw["used"] == max(v for k, v in bw.items() if k != "used") > 0


def test_cli_quick_run_writes_json_table_and_plot(tmp_path, capsys):
    # two sizes, the Python loop timed on the first only
    argv = ["bench", "--quick", "--sizes", "256,512", "--loop-cap", "256", "--repeats", "1"]
    argv += ["--text-completions", "64", "--json", str(tmp_path / "r.json")]
    argv += ["--plot", str(tmp_path / "r.png")]
    assert rd_cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert max(len(line) for line in printed.splitlines()) <= report.WIDTH
    assert "ratios" in printed and "TRL reward function" in printed
    result = json.loads((tmp_path / "r.json").read_text())
    report.check_result(result)
    assert (tmp_path / "r.png").stat().st_size > 0
    assert result["config"]["sizes"] == [256, 512] and result["config"]["text_completions"] == 64
    first, second = result["rows"]
    assert first["seconds"]["loop"] is not None and second["seconds"]["loop"] is None
    for row in result["rows"]:
        s, q = row["seconds"], row["ratios"]
        assert set(row["retraces"].values()) == {0}  # a new Brier weight never retraces
        assert q["numpy_over_ours"] == pytest.approx(s["numpy"] / s["ours"])
        assert q["ours_over_floor"] == pytest.approx(s["ours"] / s["floor"])
        assert row["floor_bytes"] == row["rollouts"] * (4 + 4 + 8 + 4)
        assert s["ours"] == row["spread"]["ours"]["median"] and row["spread"]["ours"]["n"] >= 1
        assert (s["kernel"] is not None) == row["kernel_runs"]
        if row["kernel_runs"]:
            assert q["ours_over_kernel"] == pytest.approx(s["ours"] / s["kernel"])
        assert set(row["variants"]) == set(inputs.variant_objectives())
        ynn_off = result["ynn_off"]["available"]
        assert (s["ours_ynn_off"] is not None) == ynn_off
        if ynn_off:
            assert q["ours_over_ynn_off"] == pytest.approx(s["ours"] / s["ours_ynn_off"])
            assert q["ynn_off_over_floor"] == pytest.approx(s["ours_ynn_off"] / s["floor"])
            assert all(v["ours_ynn_off"] is not None for v in row["variants"].values())
            assert "YNN library fusions off" in printed
    text = result["text"]
    assert text["agree"] and text["max_abs_diff"] <= 1e-7 and text["completions"] == 64
    assert set(text["seconds"]) == {"ours", "handwritten"}


def _fake_row(n: int) -> dict:
    seconds = dict.fromkeys(("ours", "numpy", "floor", "extra_term", "dispatch"), 1e-3)
    seconds.update({"kernel": None, "loop": 12.5, "vmap16": 2e-2, "separate16": 1e-2})
    seconds["ours_ynn_off"] = 123.456
    ratios = dict.fromkeys(
        ("numpy_over_ours", "ours_over_floor", "vmap_over_one", "separate_over_one"), 1234.5
    )
    ratios.update({"loop_over_ours": 9e5, "ours_over_kernel": None, "kernel_over_floor": None})
    ratios["extra_term_overhead"] = -0.5
    summary = timing.summarize([1e-3, 2e-3])
    variants = {
        name: {"ours": 1.0, "ours_ynn_off": 1e-5, "kernel": None}
        for name in inputs.variant_objectives()
    }
    return {
        "rollouts": n,
        "seconds": seconds,
        "spread": {"ours": summary},
        "ratios": ratios,
        "retraces": {"ours": 0},
        "compile_s": 123.4,
        "floor_bytes": 20 * n,
        "sweep": 16,
        "variants": variants,
    }


def test_table_fits_100_columns_for_many_sizes_and_long_names():
    result = {
        "machine": {**report.machine(), "platform": "x" * 150},
        "kernel": {"available": False, "reason": "not built: " + "no g++ " * 20},
        "config": {"group_size": 8, "rubric_items": 8, "input_dtype": "bfloat16", "tokens": 32},
        "copy_bandwidth_bytes_per_s": 3.5e10,
        "rows": [_fake_row(2**k) for k in range(8, 25)],
        "text": None,
    }
    report.check_result(result)
    text = report.format_table(result)
    assert max(len(line) for line in text.splitlines()) <= report.WIDTH
    assert "token mean (T = 32)" in text.replace("\n", " ")
    assert "YNN fusions off" in text and "123456" in text.replace(".", "")
    with pytest.raises(ValueError, match="must have key 'text'"):
        report.check_result({k: v for k, v in result.items() if k != "text"})


def test_bench_cli_imports_no_jax_and_registers_cheaply():
    code = (
        "import argparse; import reward_design_bench.cli as c; "
        "p = argparse.ArgumentParser(); c.register(p.add_subparsers())"
    )
    assert modules_loaded_by(code, ("jax", "matplotlib", "reward_design")) == []


def test_without_the_extra_bench_shows_the_stub():
    code = (
        "import importlib.util, sys\n"
        "find = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda n, *a: None if n == 'matplotlib' else find(n, *a)\n"
        "from reward_design import cli\n"
        "sys.exit(cli.main(['bench']))\n"
    )
    out = run_python(code)
    assert out.returncode == 2 and "'studies' extra" in out.stderr


def test_reduction_forms_script_compares_the_library_with_its_dot_twin():
    # benchmarks/reduction_forms.py times GRPO's group sums as jnp.sum and as
    # r @ ones(G): its plain twin must be rd.advantages.grpo exactly (else the
    # timing would compare more than the form), its dot form equal to rounding.
    import importlib.util
    from pathlib import Path

    import reward_design as rd

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "reduction_forms.py"
    spec = importlib.util.spec_from_file_location("reduction_forms", path)
    forms = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(forms)
    rng = np.random.default_rng(0)
    rewards = rng.normal(size=(64, 8)).astype(np.float32)
    mask = rng.uniform(size=(64, 8)) < 0.7
    mask[:3] = False  # empty groups
    mask[3, 1:] = False  # a lone member
    reference = np.asarray(jax.jit(lambda r, m: rd.advantages.grpo(r, mask=m))(rewards, mask))
    plain = np.asarray(jax.jit(forms.grpo_with(forms.plain_sum))(rewards, mask))
    dot = np.asarray(jax.jit(forms.grpo_with(forms.dot_sum))(rewards, mask))
    np.testing.assert_array_equal(plain, reference)
    np.testing.assert_allclose(dot, reference, rtol=1e-5, atol=1e-6)
    result = forms.main(["--sizes", "4096", "--calls", "2"])
    row = result["rows"]["4096"]
    assert row["plain_over_dot_median"] == pytest.approx(
        row["plain"]["median_ms"] / row["dot"]["median_ms"]
    )
