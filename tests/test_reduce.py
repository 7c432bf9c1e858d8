"""Unrolled last-axis reductions equal numpy's, for every length around the unroll limit."""

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
    np.testing.assert_array_equal(_reduce.last_all(b), b.all(-1))
    np.testing.assert_array_equal(_reduce.last_any(b), b.any(-1))
    np.testing.assert_allclose(_reduce.last_dot(x, w), x @ w, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(jax.jit(_reduce.last_sum)(x), x.sum(-1), rtol=1e-5, atol=1e-5)


def test_fewer_fusions_than_reduce_ops():
    """The reason for the module: the group statistics fuse into few loops."""
    from reward_design import advantages

    x = np.ones((1024, 8), np.float32)
    hlo = jax.jit(advantages.grpo).lower(x).compile().as_text()
    entry = hlo[hlo.index("ENTRY") :]
    assert entry.count(" fusion(") <= 4
