"""Last-axis reductions (unrolled group form, one-op item form) equal numpy's."""

import jax
import numpy as np
import pytest

from reward_design import _reduce


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 33, 64, 65, 100])
def test_reductions_match_numpy(n):
    rng = np.random.default_rng(n)
    x = rng.normal(size=(5, 3, n)).astype(np.float32)
    b = rng.uniform(size=(5, 3, n)) > 0.3
    w = rng.uniform(size=n).astype(np.float32)
    np.testing.assert_allclose(_reduce.last_sum(x), x.sum(-1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        _reduce.last_sum(x, keepdims=True), x.sum(-1, keepdims=True), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_array_equal(_reduce.last_sum(b), b.sum(-1))
    np.testing.assert_array_equal(_reduce.last_max(x), x.max(-1))
    np.testing.assert_array_equal(_reduce.items_all(b), b.all(-1))
    np.testing.assert_array_equal(_reduce.items_sum(b), b.sum(-1))
    np.testing.assert_allclose(_reduce.items_sum(x), x.sum(-1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_reduce.items_dot(x, w), x @ w, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(jax.jit(_reduce.last_sum)(x), x.sum(-1), rtol=1e-5, atol=1e-5)


def test_fewer_fusions_than_reduce_ops():
    """The reason for the module: the group statistics fuse into few loops."""
    from reward_design import advantages

    x = np.ones((1024, 8), np.float32)
    hlo = jax.jit(advantages.grpo).lower(x).compile().as_text()
    entry = hlo[hlo.index("ENTRY") :]
    assert entry.count(" fusion(") <= 4


def test_the_rubric_is_read_by_one_fusion_in_a_gated_grpo_step():
    """Item reductions stay one reduce op: XLA must not copy the K-item AND into every
    consumer, each of which would read the whole [P, G, K] rubric again."""
    import re

    from reward_design import bench

    r = bench.make_inputs(4096, group_size=8, num_items=8)
    hlo = jax.jit(bench.jax_step).lower(bench.make_objective(), r).compile().as_text()
    entry = hlo[hlo.index("ENTRY") :]
    rubric = re.search(r"%(\S*rubric\S*) = pred\[512,8,8\]\{[0-9,]*\} parameter", entry).group(1)
    readers = [
        line for line in entry.splitlines() if f"%{rubric}" in line and "parameter(" not in line
    ]
    assert len(readers) == 1, readers
