"""The benchmark's three implementations compute the same numbers; no retraces."""

import jax
import numpy as np
import pytest

from reward_design import bench


@pytest.fixture(scope="module")
def inputs():
    r = bench.make_inputs(512, group_size=8, num_items=6, seed=3)
    return r, *(np.asarray(x) for x in (r.correct, r.confidence, r.rubric))


@pytest.mark.parametrize("w", [0.25, 1.0, 3.0])
def test_jit_numpy_and_loop_agree(inputs, w):
    r, correct, confidence, rubric = inputs
    got = np.asarray(jax.jit(bench.jax_step)(bench.make_objective(w), r))
    ref = bench.numpy_step(correct, confidence, rubric, brier_weight=w)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    texts = bench.completion_texts(correct, confidence)
    loop = bench.python_loop_step(texts, rubric.reshape(-1, 6).tolist(), 8, brier_weight=w)
    np.testing.assert_allclose(np.asarray(loop).reshape(ref.shape), ref, rtol=1e-4, atol=1e-4)
    # rejected rollouts get 0 and some groups are partially rejected
    accepted = rubric.all(-1)
    assert np.all(got[~accepted] == 0) and 0 < accepted.mean() < 1


def test_extra_term_changes_the_reward_by_the_spherical_score(inputs):
    r, correct, confidence, _ = inputs
    base = bench.make_objective()(r)
    extra = bench.make_objective(extra_term=True)(r)
    p, y = confidence.astype(np.float64), correct
    q = np.where(y == 1, p, 1 - p)
    spherical_loss = 1 - q / np.sqrt(p**2 + (1 - p) ** 2)  # Gneiting & Raftery, as a loss
    np.testing.assert_allclose(
        np.asarray(extra.total) - np.asarray(base.total), -0.5 * spherical_loss, atol=1e-5
    )


def test_benchmark_size_reports_zero_retraces_and_consistent_ratios():
    bw = bench.measure_copy_bandwidth(num_bytes=1 << 22, repeats=1)
    assert bw["used"] >= bw["jax"] > 0
    row = bench.benchmark_size(256, 8, 4, bw["used"], repeats=1, loop_cap=128, sweep=4)
    assert row["retraces"] == 0
    s, q = row["seconds"], row["ratios"]
    assert q["numpy_over_jit"] == pytest.approx(s["numpy"] / s["jit"])
    assert row["loop_extrapolated"] and row["loop_measured_on"] == 128
    assert row["floor_bytes"] == 256 * (4 + 4 + 4 + 4)
    assert q["two_passes_over_floor"] == pytest.approx(
        (s["rubric_all"] + s["masked_reward"]) / s["floor"]
    )
    assert q["sweep_output_write_over_one"] == pytest.approx(s["sweep_output_write"] / s["jit"])
    text = bench.format_table(
        {
            "machine": bench._machine(),
            "copy_bandwidth_bytes_per_s": bw["used"],
            "rows": [
                {
                    **row,
                    "ratios": {**q, "vmap16_over_one": 1.0, "separate16_over_one": 1.0},
                    "seconds": {**s, "vmap16": 1.0},
                }
            ],
        }
    )
    assert "256" in text and "ratios" in text.splitlines()[3]
    assert "rubric AND" in text
    # the extra term's in-cache arithmetic (CPU only) against twice the floor
    assert "term arith" in text
    if jax.default_backend() != "cpu":
        assert "extra_term_arithmetic" not in s and q["term_arithmetic_over_2x_floor"] is None
        return
    assert s["extra_term_arithmetic"] >= 0
    assert q["term_arithmetic_over_2x_floor"] == pytest.approx(
        s["extra_term_arithmetic"] / (2 * s["floor"])
    )


def test_term_arithmetic_loop_computes_brier_plus_spherical():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.25, 0.75, 64).astype(np.float32)
    y = (rng.uniform(size=64) < 0.5).astype(np.float32)
    p64 = p.astype(np.float64)
    brier = (p64 - y) ** 2
    q = np.where(y == 1, p64, 1 - p64)
    spherical = 1 - q / np.sqrt(p64**2 + (1 - p64) ** 2)
    with_term = np.asarray(bench._term_loop_body(p, y, True))
    np.testing.assert_allclose(with_term, 0.25 + 0.25 * (brier + spherical), atol=1e-6)
    np.testing.assert_allclose(
        np.asarray(bench._term_loop_body(p, y, False)), 0.25 + 0.5 * brier, atol=1e-6
    )
    # the loop's state stays a valid probability (so the scoring rule's domain holds)
    assert with_term.min() >= 0.25 and with_term.max() <= 0.75


def test_inputs_must_fill_whole_groups():
    with pytest.raises(ValueError, match="multiple of group_size"):
        bench.make_inputs(10, group_size=8)


def test_bfloat16_inputs_agree_and_count_fewer_bytes():
    bw = bench.measure_copy_bandwidth(num_bytes=1 << 22, repeats=1)
    row = bench.benchmark_size(
        256, 8, 4, bw["used"], repeats=1, loop_cap=256, sweep=2, input_dtype="bfloat16"
    )
    assert row["input_dtype"] == "bfloat16" and row["floor_bytes"] == 256 * (2 + 2 + 4 + 4)
    assert row["retraces"] == 0
    with pytest.raises(ValueError, match="input_dtype must be"):
        bench.make_inputs(64, input_dtype="float16")


def test_token_rewards_enter_every_implementation_and_the_floor():
    r = bench.make_inputs(256, group_size=8, num_items=4, seed=5, num_tokens=6)
    tok = np.asarray(r.token_rewards)
    tmask = np.asarray(r.token_mask)
    # right-padded valid prefixes of length 1..T
    lengths = tmask.sum(-1)
    assert lengths.min() >= 1 and lengths.max() <= 6
    np.testing.assert_array_equal(tmask, np.arange(6) < lengths[..., None])
    correct, confidence, rubric = (np.asarray(x) for x in (r.correct, r.confidence, r.rubric))
    got = np.asarray(jax.jit(bench.jax_step)(bench.make_objective(tokens=True), r))
    ref = bench.numpy_step(correct, confidence, rubric, token_rewards=tok, token_mask=tmask)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    # the token term is the mean of the valid tokens, weighted by TOKEN_WEIGHT
    without = bench.numpy_step(correct, confidence, rubric)
    assert not np.allclose(ref, without)
    rows = [t[m].tolist() for t, m in zip(tok.reshape(-1, 6), tmask.reshape(-1, 6), strict=True)]
    loop = bench.python_loop_step(
        bench.completion_texts(correct, confidence),
        rubric.reshape(-1, 4).tolist(),
        8,
        token_rows=rows,
    )
    np.testing.assert_allclose(np.asarray(loop).reshape(ref.shape), ref, rtol=1e-4, atol=1e-4)
    bw = bench.measure_copy_bandwidth(num_bytes=1 << 22, repeats=1)
    row = bench.benchmark_size(
        256, 8, 4, bw["used"], repeats=1, loop_cap=256, sweep=2, num_tokens=6
    )
    assert row["tokens"] == 6 and row["floor_bytes"] == 256 * (4 + 4 + 4 + 6 * 5 + 4)
    assert row["retraces"] == 0 and "token_reward" in row["seconds"]
    with pytest.raises(ValueError, match="num_tokens must be"):
        bench.make_inputs(64, num_tokens=-1)


def _numpy_grpo(reward, accepted, eps=1e-6):
    n = accepted.sum(1, keepdims=True)
    mean = np.where(accepted, reward, 0).sum(1, keepdims=True) / np.maximum(n, 1)
    sq = np.where(accepted, (reward - mean) ** 2, 0).sum(1, keepdims=True)
    std = np.sqrt(np.where(n > 1, sq / np.maximum(n - 1, 1), 0))
    return np.where(accepted, (reward - mean) / (std + eps), 0)


def test_variant_objectives_compute_what_their_names_say(inputs):
    r, correct, confidence, rubric = inputs
    k = rubric.shape[-1]
    variants = bench.variant_objectives()
    reward = correct - (confidence - correct) ** 2
    w = np.resize(np.linspace(0.5, 2.0, 8, dtype=np.float32), k)

    def run(name):
        make, estimator = variants[name]
        step = jax.jit(lambda o, rr: bench.jax_step(o, rr, estimator))
        return np.asarray(step(make(k), r))

    passed = rubric @ w >= 0.8 * w.sum() - 1e-6 * np.abs(w).sum()  # the gate's slack
    np.testing.assert_allclose(
        run("WeightedThreshold gate + GRPO"), _numpy_grpo(reward, passed), rtol=1e-4, atol=1e-4
    )
    np.testing.assert_allclose(
        run("AtLeast(K-2) gate + GRPO"),
        _numpy_grpo(reward, rubric.sum(-1) >= k - 2),
        rtol=1e-4,
        atol=1e-4,
    )
    dense = reward + rubric @ w / w.sum()
    np.testing.assert_allclose(
        run("dense RubricScore(w) + GRPO"),
        _numpy_grpo(dense, np.ones_like(rubric[..., 0])),
        rtol=1e-4,
        atol=1e-4,
    )
    acc = rubric.all(-1)
    n = acc.sum(1, keepdims=True)
    loo = (np.where(acc, reward, 0).sum(1, keepdims=True) - reward) / np.maximum(n - 1, 1)
    np.testing.assert_allclose(
        run("AllOf gate + RLOO"), np.where(acc & (n > 1), reward - loo, 0), rtol=1e-5, atol=1e-5
    )
    # "floor" keeps rejected members in the group statistics (reward 0); the
    # GroupFilter drops groups with fewer than one accepted member or constant rewards
    floored = np.where(acc, reward, 0.0)
    keep = (acc.sum(1) >= 1) & (np.ptp(floored, axis=1) > 1e-6)
    np.testing.assert_allclose(
        run("AllOf gate (floor) + GroupFilter + GRPO"),
        _numpy_grpo(floored, np.repeat(keep[:, None], 8, 1)),
        rtol=1e-4,
        atol=1e-4,
    )
    row = bench.benchmark_size(256, 8, 4, 1e10, repeats=1, loop_cap=64, sweep=2)
    assert set(row["variants_seconds"]) == set(variants)
