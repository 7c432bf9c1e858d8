"""Checks that need 8 devices; run by test_distributed.py in a subprocess with
``XLA_FLAGS=--xla_force_host_platform_device_count=8`` (not collected by the main run).
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reward_design as rd
from reward_design import distributed as dist

pytestmark = pytest.mark.skipif(
    jax.device_count() < 8, reason="needs XLA_FLAGS=--xla_force_host_platform_device_count=8"
)

P, G, K, T = 16, 6, 4, 5


def _rollouts(seed=0, p=P):
    rng = np.random.default_rng(seed)
    mask = rng.uniform(size=(p, G)) > 0.2
    mask[:, 0] = True
    return rd.Rollouts(
        correct=rng.integers(0, 2, (p, G)).astype(np.float32),
        confidence=rng.uniform(size=(p, G)).astype(np.float32),
        rubric=rng.uniform(size=(p, G, K)) > 0.4,
        token_rewards=rng.normal(size=(p, G, T)).astype(np.float32),
        token_mask=rng.uniform(size=(p, G, T)) > 0.3,
        mask=mask,
    ).validate()


def _objective(w=1.0):
    return rd.compose(
        correct=rd.terms.Correctness(),
        brier=rd.terms.Brier(weight=w),
        rubric=rd.terms.RubricScore(weights=[1.0, 2.0, 1.0, 0.5]),
        tokens=rd.terms.TokenReward(weight=0.1),
    )


def step(objective, rollouts):
    out = objective(rollouts)
    return {
        "total": out.total,
        "grpo": rd.advantages.grpo(out.total, mask=out.accepted),
        "grpo_batch": rd.advantages.grpo(out.total, mask=out.accepted, scale="batch"),
        "rloo": rd.advantages.rloo(out.total, mask=out.accepted),
        "mean_reward": jnp.sum(out.total) / jnp.sum(out.accepted),
    }


def test_eight_devices():
    assert jax.device_count() == 8


def test_shard_rollouts_places_whole_groups_per_device():
    r = dist.shard_rollouts(_rollouts())
    for leaf in jax.tree_util.tree_leaves(r):
        assert len(leaf.sharding.device_set) == 8
        shards = leaf.addressable_shards
        assert len(shards) == 8
        assert all(s.data.shape[0] == P // 8 for s in shards)
        assert all(s.data.shape[1:] == leaf.shape[1:] for s in shards)  # groups not split


def test_sharded_equals_unsharded_and_output_is_sharded():
    r = _rollouts()
    expected = jax.jit(step)(_objective(), r)
    fn = dist.sharded_jit(step)
    got = fn(_objective(), dist.shard_rollouts(r))
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-5, atol=1e-6)
    for name in ("total", "grpo", "grpo_batch", "rloo"):
        assert len(got[name].sharding.device_set) == 8
        assert got[name].sharding.spec[0] == "data"
    assert got["mean_reward"].sharding.is_fully_replicated


def test_plain_jit_keeps_prompt_sharding():
    got = jax.jit(step)(_objective(), dist.shard_rollouts(_rollouts()))
    assert len(got["grpo"].sharding.device_set) == 8
    assert not got["grpo"].sharding.is_fully_replicated


def test_no_all_gather_of_batch_data():
    r = dist.shard_rollouts(_rollouts())

    def group_only(objective, rollouts):
        out = objective(rollouts)
        return rd.advantages.grpo(out.total, mask=out.accepted)

    hlo = jax.jit(group_only).lower(_objective(), r).compile().as_text()
    assert "all-gather" not in hlo
    assert "all-to-all" not in hlo
    # batch statistics reduce with an all-reduce of scalars, still no all-gather
    hlo_batch = jax.jit(step).lower(_objective(), r).compile().as_text()
    assert "all-gather" not in hlo_batch
    assert "all-reduce" in hlo_batch


def test_no_recompiles_across_batches_and_hyperparameters():
    # a fresh function: jit caches are shared by every jax.jit(step) in this module
    # (chex.assert_max_traces raises on a second trace of the wrapped function)
    chex.clear_trace_counter()
    fn = jax.jit(chex.assert_max_traces(lambda o, r: step(o, r), n=1))
    for seed, w in enumerate([0.5, 1.0, 2.0, 4.0]):
        fn(_objective(w), dist.shard_rollouts(_rollouts(seed)))
    sj = dist.sharded_jit(chex.assert_max_traces(lambda o, r: step(o, r), n=1))
    for seed, w in enumerate([0.5, 1.0, 2.0]):
        sj(_objective(w), dist.shard_rollouts(_rollouts(seed)))
    assert len(sj.cache) == 1


def test_padding_for_indivisible_batches():
    r = _rollouts(p=13)
    with pytest.raises(ValueError, match="P = 13 is not divisible by the 8 devices"):
        dist.shard_rollouts(r)
    padded, n = dist.pad_rollouts(r, jax.device_count())
    assert n == 13 and padded.shape == (16, G)
    got = dist.unpad(jax.jit(step)(_objective(), dist.shard_rollouts(padded)), n)
    expected = jax.jit(step)(_objective(), r)
    for name in ("total", "grpo", "grpo_batch", "rloo", "mean_reward"):
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-5, atol=1e-6)


def test_shard_map_variant_with_collectives():
    r = _rollouts()
    mesh = dist.default_mesh()

    def local_step(rollouts):
        out = _objective()(rollouts)
        return {
            "grpo": rd.advantages.grpo(out.total, mask=out.accepted),
            "grpo_batch": rd.advantages.grpo(
                out.total, mask=out.accepted, scale="batch", axis_name="data"
            ),
            "keep": jnp.broadcast_to(
                dist.collective_mean(out.total > 1.0, "data", weights=out.accepted), (1,)
            ),
        }

    got = jax.jit(dist.shard_map_step(local_step, mesh))(dist.shard_rollouts(r, mesh))
    expected = jax.jit(step)(_objective(), r)
    np.testing.assert_allclose(got["grpo"], expected["grpo"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["grpo_batch"], expected["grpo_batch"], rtol=1e-5, atol=1e-6)
    out = _objective()(r)
    keep = np.asarray((out.total > 1.0) & out.accepted).sum() / np.asarray(out.accepted).sum()
    np.testing.assert_allclose(got["keep"], np.full(8, keep), rtol=1e-6)


def test_shard_map_step_takes_the_objective_as_an_argument_without_retracing():
    # Scalar hyperparameter leaves are replicated (sharding them along P used to
    # fail), so a new weight reuses the compiled step; vector hyperparameters
    # (RubricScore weights) are replicated with replicated_argnums.
    r = _rollouts()
    mesh = dist.default_mesh()
    traces = []

    def local_step(objective, rollouts):
        traces.append(None)
        out = objective(rollouts)
        return rd.advantages.grpo(out.total, mask=out.accepted, scale="batch", axis_name="data")

    run = jax.jit(dist.shard_map_step(local_step, mesh, replicated_argnums=0))
    sharded = dist.shard_rollouts(r, mesh)
    for w in (0.5, 1.0, 3.0):
        got = run(_objective(w), sharded)
        out = _objective(w)(r)
        expected = rd.advantages.grpo(out.total, mask=out.accepted, scale="batch")
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        assert len(got.sharding.device_set) == 8
    assert len(traces) == 1

    scalar_only = rd.compose(correct=rd.terms.Correctness(), brier=rd.terms.Brier(weight=0.3))
    got = jax.jit(dist.shard_map_step(local_step, mesh))(scalar_only, sharded)
    out = scalar_only(r)
    np.testing.assert_allclose(
        got,
        rd.advantages.grpo(out.total, mask=out.accepted, scale="batch"),
        rtol=1e-5,
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="replicated_argnums"):
        dist.shard_map_step(local_step, mesh, replicated_argnums=2)(scalar_only, sharded)


def test_process_local_assembly_matches_device_put():
    r = _rollouts()
    a = dist.rollouts_from_process_local(r)
    b = dist.shard_rollouts(r)
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)
        assert x.sharding.is_equivalent_to(y.sharding, x.ndim)


def test_two_dimensional_mesh_shards_over_the_named_axis():
    devices = np.asarray(jax.devices()).reshape(4, 2)
    mesh = jax.sharding.Mesh(devices, ("data", "model"))
    r = dist.shard_rollouts(_rollouts(), mesh, axis="data")
    assert r.correct.addressable_shards[0].data.shape == (P // 4, G)
    got = jax.jit(step)(_objective(), r)
    np.testing.assert_allclose(
        got["grpo"], jax.jit(step)(_objective(), _rollouts())["grpo"], atol=1e-5
    )


def test_gated_objective_sharded_equals_unsharded():
    gated = rd.gates.Gated(
        gate=rd.gates.AtLeast(2),
        inner=rd.compose(tokens=rd.terms.TokenReward()),
        on_reject="drop",
        group_filter=rd.gates.GroupFilter(min_accepted=2, drop_degenerate=True),
    )

    def gated_step(objective, rollouts):
        out = objective(rollouts)
        return out.total, out.accepted, rd.advantages.grpo(out.total, mask=out.accepted), out.stats

    r = _rollouts(3)
    expected = jax.jit(gated_step)(gated, r)
    got = dist.sharded_jit(gated_step)(gated, dist.shard_rollouts(r))
    for a, b in zip(
        jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(expected), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert len(got[2].sharding.device_set) == 8
    hlo = jax.jit(gated_step).lower(gated, dist.shard_rollouts(r)).compile().as_text()
    assert "all-gather" not in hlo


def test_the_cpu_kernel_opt_in_under_a_mesh():
    """`rd.kernels.gated_advantages` on CPU devices: inside `shard_map` the kernel runs per
    shard (no all-gather); under sharded jit the custom call cannot be partitioned, so XLA
    gathers (results still right); `Gated.advantages` (the core) stays sharded."""
    rng = np.random.default_rng(4)
    p, g = 32, 8  # G = 8: a group size the kernel takes
    mask = rng.uniform(size=(p, g)) > 0.2
    r = rd.Rollouts(
        correct=rng.integers(0, 2, (p, g)).astype(np.float32),
        confidence=rng.uniform(size=(p, g)).astype(np.float32),
        rubric=rng.uniform(size=(p, g, K)) > 0.3,
        mask=mask,
    ).validate()
    inner = rd.compose(correct=rd.terms.Correctness(), brier=rd.terms.Brier(weight=1.0))
    gated = rd.gates.Gated(gate=rd.gates.AtLeast(3), inner=inner, on_reject="drop")
    rs = dist.shard_rollouts(r)
    expected = gated.advantages(r, "rloo")[1]

    def per_shard(g, rr):
        return rd.kernels.gated_advantages(g, rr, "rloo")[1]

    mapped = jax.jit(dist.shard_map_step(per_shard, replicated_argnums=0))
    np.testing.assert_allclose(mapped(gated, rs), expected, rtol=1e-5, atol=1e-5)
    assert "all-gather" not in mapped.lower(gated, rs).compile().as_text()

    core = jax.jit(lambda g, rr: g.advantages(rr, "rloo")[1])
    np.testing.assert_allclose(core(gated, rs), expected, rtol=1e-5, atol=1e-5)
    assert "all-gather" not in core.lower(gated, rs).compile().as_text()
    plain = jax.jit(per_shard)
    np.testing.assert_allclose(plain(gated, rs), expected, rtol=1e-5, atol=1e-5)
    if jax.default_backend() == "cpu" and rd.kernels.kernel_status()["available"]:
        assert "all-gather" in plain.lower(gated, rs).compile().as_text()
