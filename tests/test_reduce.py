"""Last-axis reductions (unrolled group form, one-op item form) equal numpy's."""

import jax
import jax.numpy as jnp
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


def _objectives():
    import reward_design as rd
    from reward_design import bench

    w = np.linspace(0.5, 2.0, 8).astype(np.float32)
    inner = rd.compose(correct=rd.terms.Correctness(), brier=rd.terms.Brier())
    return {
        "AllOf": bench.make_objective(),
        "AtLeast": rd.gates.Gated(gate=rd.gates.AtLeast(k=6), inner=inner, on_reject="drop"),
        "WeightedThreshold": rd.gates.Gated(
            gate=rd.gates.WeightedThreshold(weights=w, threshold=0.8 * w.sum()),
            inner=inner,
            on_reject="drop",
        ),
        "RubricScore": rd.compose(
            correct=rd.terms.Correctness(), rubric=rd.terms.RubricScore(weights=w)
        ),
    }


@pytest.mark.parametrize("name", ["AllOf", "AtLeast", "WeightedThreshold", "RubricScore"])
def test_the_rubric_is_read_once_and_never_copied_in_a_grpo_step(name):
    """Item reductions stay one reduce op: XLA must neither copy the K-item reduction
    into every consumer (each would read the whole [P, G, K] rubric again) nor write a
    [P, G, K] float copy of the rubric before reducing it."""
    import re

    from reward_design import bench

    r = bench.make_inputs(4096, group_size=8, num_items=8)
    objective = _objectives()[name]
    # the XLA program (on CPU, AllOf/AtLeast + GRPO would otherwise run the fused kernel)
    step = jax.jit(lambda o, rr: bench.jax_step(o, rr, cpu_kernel=False))
    hlo = step.lower(objective, r).compile().as_text()
    entry = hlo[hlo.index("ENTRY") :]
    rubric = re.search(r"%(\S*rubric\S*) = pred\[512,8,8\]\{[0-9,]*\} parameter", entry).group(1)
    readers = [
        line for line in entry.splitlines() if f"%{rubric}" in line and "parameter(" not in line
    ]
    assert len(readers) == 1, readers
    if jax.default_backend() == "cpu":
        assert "f32[512,8,8]" not in entry, "a float copy of the rubric is materialised"


# Each per-platform reduction with its lowerings: all are tested on any platform.
FORMS = {
    "masked_sum": {
        "public": _reduce.items_masked_sum,
        "cpu": _reduce._masked_sum_count,
        "default": _reduce._where_sum_count,
    },
    "dot": {
        "public": _reduce.items_dot,
        "cpu": _reduce._dot_by_loop,
        "default": _reduce._dot_by_reduce,
    },
}


@pytest.mark.parametrize("form", ["public", "cpu", "default"])
@pytest.mark.parametrize("dtype", [np.float32, jnp.bfloat16])
def test_items_masked_sum_matches_numpy_and_is_nan_safe_in_value_and_gradient(dtype, form):
    fn = FORMS["masked_sum"][form]
    rng = np.random.default_rng(7)
    x = rng.normal(size=(6, 5, 33)).astype(np.float32)
    m = rng.uniform(size=x.shape) < 0.6
    m[0, 0] = False  # an all-masked row: sum 0, count 0
    poisoned = np.where(m, x, np.nan).astype(np.float32)
    values = jnp.asarray(poisoned, dtype)
    total, count = jax.jit(fn)(values, jnp.asarray(m))
    ref = np.where(m, np.asarray(values, np.float32), 0).sum(-1)
    assert total.dtype == values.dtype and count.dtype == jnp.int32
    tol = 1e-5 if dtype == np.float32 else 2e-2
    np.testing.assert_allclose(np.asarray(total, np.float32), ref, rtol=tol, atol=tol)
    np.testing.assert_array_equal(np.asarray(count), m.sum(-1))

    def loss(v):
        t, c = fn(v, jnp.asarray(m))
        return jnp.sum(jnp.sin(t.astype(jnp.float32))) + jnp.sum(c)

    grad = jax.grad(loss)(jnp.asarray(poisoned))
    expected = np.where(m, np.cos(np.where(m, x, 0).sum(-1))[..., None], 0.0)
    np.testing.assert_allclose(np.asarray(grad), expected, rtol=1e-5, atol=1e-5)
    # forward mode and vmap agree with the reverse-mode result
    _, tangent = jax.jvp(
        lambda v: fn(v, jnp.asarray(m))[0],
        (jnp.asarray(poisoned),),
        (jnp.ones_like(jnp.asarray(poisoned)),),
    )
    np.testing.assert_array_equal(np.asarray(tangent), m.sum(-1).astype(np.float32))
    batched = jax.vmap(fn)(jnp.asarray(poisoned), jnp.asarray(m))
    np.testing.assert_allclose(
        np.asarray(batched[0]), np.where(m, x, 0).sum(-1), rtol=1e-5, atol=1e-5
    )


def test_token_sum_is_one_fusion_without_a_masked_copy():
    """The masked token sum must not write a masked copy of the [P, G, T] tokens."""
    tok = np.zeros((64, 8, 32), np.float32)
    mask = np.ones((64, 8, 32), bool)
    if jax.default_backend() != "cpu":
        pytest.skip("the one-loop form is the CPU lowering")
    hlo = jax.jit(_reduce.items_masked_sum).lower(tok, mask).compile().as_text()
    entry = hlo[hlo.index("ENTRY") :]
    assert entry.count(" fusion(") == 1
    assert "f32[64,8,32]" not in entry.split("parameter(0)")[1].split("ROOT")[0]


@pytest.mark.parametrize("form", ["public", "cpu", "default"])
def test_items_dot_forms_match_numpy_with_gradients(form):
    fn = FORMS["dot"][form]
    rng = np.random.default_rng(11)
    b = rng.uniform(size=(7, 5, 9)) < 0.5
    x = rng.normal(size=(7, 5, 9)).astype(np.float32)
    w = rng.uniform(0.1, 2.0, size=9).astype(np.float32)
    np.testing.assert_allclose(jax.jit(fn)(jnp.asarray(b), jnp.asarray(w)), b @ w, rtol=1e-6)
    np.testing.assert_allclose(
        jax.jit(fn)(jnp.asarray(x), jnp.asarray(w)), x @ w, rtol=1e-5, atol=1e-5
    )
    # d/dw sum(sin(x @ w)) = x^T cos(x @ w), in reverse and forward mode
    grad = jax.grad(lambda v: jnp.sum(jnp.sin(fn(jnp.asarray(x), v))))(jnp.asarray(w))
    expected = np.einsum("pgk,pg->k", x, np.cos(x @ w))
    np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-4)
    _, tangent = jax.jvp(lambda v: fn(jnp.asarray(x), v), (jnp.asarray(w),), (jnp.ones(9),))
    np.testing.assert_allclose(tangent, x.sum(-1), rtol=1e-5, atol=1e-5)
    swept = jax.vmap(lambda v: fn(jnp.asarray(b), v))(jnp.stack([jnp.asarray(w), 2 * w]))
    np.testing.assert_allclose(swept[1], 2 * (b @ w), rtol=1e-6)


def test_loop_sum_equals_a_plain_sum_up_to_addition_order():
    """max(a, b) + min(a, b) is a + b exactly; only the order of additions may differ."""
    rng = np.random.default_rng(12)
    x = (rng.normal(size=(64, 16)) * 10.0 ** rng.integers(-6, 6, size=(64, 16))).astype(np.float32)
    x[0, :3] = [np.inf, -np.inf, 1.0]  # inf + -inf is NaN either way
    x[1, :2] = [-0.0, 0.0]
    got = np.asarray(jax.jit(_reduce._loop_sum)(x))
    ref = np.asarray(jax.lax.reduce(jnp.asarray(x), jnp.float32(0), jax.lax.add, (1,)))
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=0)  # NaN where ref has NaN


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_half_precision_item_sums_accumulate_in_float32(dtype):
    """4096 x 0.01 summed in bfloat16 drifts to 40.25; accumulated in float32 it is 41
    (the value jnp.sum gives), rounded once to the input dtype."""
    x = jnp.full((3, 4096), 0.01, dtype)
    exact = np.asarray(x, np.float64).sum(-1)
    got = _reduce.items_sum(x)
    assert got.dtype == dtype
    np.testing.assert_allclose(np.asarray(got, np.float64), exact, rtol=2**-8)
    w = jnp.full((4096,), 0.01, dtype)
    dot = _reduce.items_dot(jnp.ones((3, 4096), bool), w)
    assert dot.dtype == dtype
    np.testing.assert_allclose(np.asarray(dot, np.float64), exact, rtol=2**-8)


@pytest.mark.parametrize("fn_name", ["items_sum", "items_dot", "items_masked_sum"])
def test_custom_jvps_give_correct_second_derivatives(fn_name):
    """Hessians through the CPU loop forms (custom JVPs) equal the analytic ones."""
    rng = np.random.default_rng(13)
    x = jnp.asarray(rng.normal(size=(4, 6)).astype(np.float32))
    m = jnp.asarray(rng.uniform(size=(4, 6)) < 0.7)
    w = jnp.asarray(rng.uniform(0.5, 1.5, size=6).astype(np.float32))
    if fn_name == "items_sum":
        f = lambda v: jnp.sum(jnp.sin(_reduce.items_sum(v)))  # noqa: E731
        s = np.asarray(x).sum(-1)
        # d2/dv_ij dv_kl = -sin(s_i) [i == k]
        expected = -np.sin(s)[:, None, None, None] * np.eye(4)[:, None, :, None]
        expected = np.broadcast_to(expected, (4, 6, 4, 6))
        arg = x
    elif fn_name == "items_dot":
        f = lambda v: jnp.sum(jnp.sin(_reduce.items_dot(x, v)))  # noqa: E731
        s = np.asarray(x) @ np.asarray(w)
        expected = -np.einsum("i,ij,ik->jk", np.sin(s), np.asarray(x), np.asarray(x))
        arg = w
    else:
        f = lambda v: jnp.sum(jnp.sin(_reduce.items_masked_sum(v, m)[0]))  # noqa: E731
        mm = np.asarray(m, np.float64)
        s = (np.asarray(x) * mm).sum(-1)
        expected = (
            -np.sin(s)[:, None, None, None]
            * np.eye(4)[:, None, :, None]
            * mm[:, :, None, None]
            * mm[None, None, :, :]
        )
        arg = x
    for hessian in (jax.hessian(f), jax.jacfwd(jax.jacrev(f)), jax.jacrev(jax.jacrev(f))):
        np.testing.assert_allclose(hessian(arg), expected, rtol=1e-4, atol=1e-5)
