"""The opt-in CPU kernel at the array level, against numpy and against the core.

`rd.kernels.gated_group_advantages` must compute what the core computes,
``rd.advantages.<estimator>(rewards, mask=valid & (count >= k))``, to float
rounding, on every path of the kernel (blocks of 16 groups for G in
`GROUP_SIZES`, the scalar loop for the tail of fewer than 16 groups, the
K = 8 word count and the generic count; other G run the XLA program). The
build (cache, fallbacks) is tested here too; `rd.kernels.gated_advantages`
against `Gated` in test_gated_advantages.py.
"""

import os

import chex
import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from fresh_interpreter import run_python
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy_reference import np_advantages

import reward_design as rd
from reward_design._jax_compat import enable_x64

kernels = rd.kernels
ON_CPU = jax.default_backend() == "cpu"
KERNEL = ON_CPU and bool(kernels.kernel_status()["available"])
needs_kernel = pytest.mark.skipif(not KERNEL, reason="the CPU kernel is not in use here")


def _inputs(seed, p, g, k, pass_rate=0.8, valid_rate=0.85, scale=1.0, offset=0.0):
    rng = np.random.default_rng(seed)
    rewards = (offset + scale * rng.normal(size=(p, g))).astype(np.float32)
    rubric = rng.uniform(size=(p, g, k)) < pass_rate
    valid = rng.uniform(size=(p, g)) < valid_rate
    return rewards, rubric, valid


def _gated(rewards, rubric, valid, k, estimator="grpo", **kw):
    fn = jax.jit(
        lambda r, rb, v, kk: kernels.gated_group_advantages(r, rb, v, kk, estimator=estimator, **kw)
    )
    adv, passed = fn(rewards, rubric, valid, k)
    return np.asarray(adv), np.asarray(passed)


def _core(rewards, rubric, valid, k, estimator="grpo", eps=1e-6, ddof=1):
    """The core's program: the counting gate in jnp, then `rd.advantages`."""
    rubric = jnp.asarray(rubric)
    passed = jnp.sum(rubric, axis=-1) >= k
    if valid is not None:
        passed = passed & jnp.asarray(valid)
    kwargs = {"eps": eps, "ddof": ddof} if estimator == "grpo" else {}
    return getattr(rd.advantages, estimator)(rewards, mask=passed, **kwargs), passed


def _assert_close_to_group_scale(got, want, rtol=2e-5):
    """Relative to each group's largest |advantage| (the kernel and XLA round differently)."""
    scale = np.maximum(np.abs(want).max(axis=1, keepdims=True), 1.0)
    np.testing.assert_allclose(got / scale, want / scale, rtol=0, atol=rtol)


@pytest.mark.parametrize("g", [1, 2, 3, 4, 8, 16, 32, 64])
@pytest.mark.parametrize("k_items", [0, 3, 8, 12])
@pytest.mark.parametrize("estimator", ["grpo", "dr_grpo", "rloo"])
def test_matches_numpy_on_every_kernel_path(g, k_items, estimator):
    # P = 37 groups: two vector blocks of 16 groups and a scalar tail of 5
    rewards, rubric, valid = _inputs(g * 100 + k_items, 37, g, k_items)
    k = max(k_items - 1, 0)
    adv, passed = _gated(rewards, rubric, valid, float(k), estimator)
    want_passed = valid & (rubric.sum(-1) >= k)
    np.testing.assert_array_equal(passed, want_passed)
    _assert_close_to_group_scale(adv, np_advantages(rewards, want_passed, estimator))
    # and the core's program it replaces
    ref, ref_passed = _core(rewards, rubric, valid, k, estimator)
    np.testing.assert_array_equal(passed, np.asarray(ref_passed))
    _assert_close_to_group_scale(adv, np.asarray(ref))


@pytest.mark.parametrize("ddof", [0, 1, 2])
@pytest.mark.parametrize("eps", [0.0, 1e-6, 0.5])
def test_grpo_ddof_and_eps(ddof, eps):
    rewards, rubric, valid = _inputs(3, 40, 8, 8)
    adv, passed = _gated(rewards, rubric, valid, 7.0, "grpo", eps=eps, ddof=ddof)
    with np.errstate(divide="ignore", invalid="ignore"):
        want = np_advantages(rewards, passed, "grpo", eps=eps, ddof=ddof)
    # eps = 0 with a one-member group: 0 / 0 in numpy and in the estimator alike
    finite = np.isfinite(want)
    np.testing.assert_array_equal(np.isfinite(adv), finite)
    _assert_close_to_group_scale(np.where(finite, adv, 0), np.where(finite, want, 0))


def test_valid_none_means_every_member_and_matches_an_all_true_mask():
    rewards, rubric, _ = _inputs(4, 35, 8, 8)
    ones = np.ones(rewards.shape, bool)
    a, pa = _gated(rewards, rubric, None, 7.0)
    b, pb = _gated(rewards, rubric, ones, 7.0)
    np.testing.assert_array_equal(pa, pb)
    np.testing.assert_array_equal(a, b)


def test_constant_groups_give_exact_zeros_and_large_offsets_stay_accurate():
    rewards, rubric, valid = _inputs(5, 48, 8, 8, offset=1e5, scale=1.0)
    rewards[:16] = 0.1  # constant groups: exactly 0 after the group shift
    rewards[16:20] = 1e5 + 0.25
    for estimator in ("grpo", "dr_grpo", "rloo"):
        adv, passed = _gated(rewards, rubric, valid, 7.0, estimator)
        assert np.all(adv[:20] == 0.0)
        want = np_advantages(rewards, passed, estimator)
        # float32 inputs near 1e5 are spaced 2^-7 apart; relative to the group spread
        _assert_close_to_group_scale(adv, want, rtol=1e-4)


@pytest.mark.parametrize("estimator", ["grpo", "dr_grpo", "rloo"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_rewards_as_the_estimators_treat_them(estimator, bad):
    rewards, rubric, valid = _inputs(6, 33, 8, 8)
    rubric[:] = True
    valid[:] = True
    valid[1, 3] = False
    rewards[0, 2] = bad  # a valid member: its group is non-finite
    rewards[1, 3] = bad  # a masked-out member: nothing happens
    valid[2, :] = False
    valid[2, 5] = True
    rewards[2, 5] = bad  # a lone valid member: non-finite too
    rewards[32, 1] = bad  # row 32 is in the scalar tail (33 groups = 2 blocks + 1)
    adv, passed = _gated(rewards, rubric, valid, 8.0, estimator)
    ref, _ = _core(rewards, rubric, valid, 8.0, estimator)
    ref = np.asarray(ref)
    assert not np.all(np.isfinite(adv[0])) and not np.all(np.isfinite(ref[0]))
    np.testing.assert_array_equal(np.isfinite(adv), np.isfinite(ref))
    assert not np.isfinite(adv[2, 5]) and np.all(adv[2, np.arange(8) != 5] == 0)
    assert adv[1, 3] == 0 and np.all(np.isfinite(adv[1]))
    # the same non-finite values as XLA (NaN where NaN, +-inf where +-inf), in the
    # vector blocks (rows 0-2) and in the scalar tail (row 32)
    np.testing.assert_array_equal(np.isnan(adv), np.isnan(ref))
    np.testing.assert_array_equal(np.isposinf(adv), np.isposinf(ref))
    ok = np.isfinite(ref)
    _assert_close_to_group_scale(np.where(ok, adv, 0), np.where(ok, ref, 0))


def test_empty_and_fully_rejected_groups_give_zeros():
    rewards, rubric, valid = _inputs(7, 32, 8, 8)
    valid[0] = False
    rubric[1] = False
    adv, passed = _gated(rewards, rubric, valid, 8.0)
    assert not passed[:2].any() and np.all(adv[:2] == 0)


@pytest.mark.parametrize("estimator", ["grpo", "dr_grpo", "rloo"])
def test_gradients_are_the_cores(estimator):
    rewards, rubric, valid = _inputs(8, 20, 8, 8)

    def loss(r, fn):
        adv = fn(r)
        return jnp.sum(adv**3 * jnp.arange(r.size, dtype=jnp.float32).reshape(r.shape))

    def kernel(r):
        return kernels.gated_group_advantages(r, rubric, valid, 7.0, estimator=estimator)[0]

    def xla(r):
        return _core(r, rubric, valid, 7.0, estimator)[0]

    r = jnp.asarray(rewards)
    g1 = jax.jit(jax.grad(lambda r: loss(r, kernel)))(r)
    g2 = jax.grad(lambda r: loss(r, xla))(r)
    np.testing.assert_allclose(np.asarray(g1), np.asarray(g2), rtol=1e-4, atol=1e-3)
    t = jnp.asarray(np.random.default_rng(1).normal(size=rewards.shape).astype(np.float32))
    _, j1 = jax.jvp(kernel, (r,), (t,))
    _, j2 = jax.jvp(xla, (r,), (t,))
    np.testing.assert_allclose(np.asarray(j1), np.asarray(j2), rtol=1e-4, atol=1e-4)


def test_gradient_in_eps():
    rewards, rubric, valid = _inputs(9, 20, 8, 8)

    def f(eps, fn):
        return jnp.sum(fn(eps) ** 2)

    def kernel(eps):
        return kernels.gated_group_advantages(rewards, rubric, valid, 7.0, eps=eps)[0]

    def xla(eps):
        return _core(rewards, rubric, valid, 7.0, "grpo", eps=eps)[0]

    np.testing.assert_allclose(
        float(jax.grad(lambda e: f(e, kernel))(0.3)),
        float(jax.grad(lambda e: f(e, xla))(0.3)),
        rtol=1e-4,
    )


def test_vmap_over_eps_and_k_equals_separate_calls():
    rewards, rubric, valid = _inputs(10, 40, 8, 8)
    eps = jnp.asarray([1e-6, 0.1, 1.0])
    ks = jnp.asarray([6.0, 7.0, 8.0])
    swept = jax.jit(
        jax.vmap(lambda e, k: kernels.gated_group_advantages(rewards, rubric, valid, k, eps=e)[0])
    )(eps, ks)
    for i in range(3):
        one, _ = _gated(rewards, rubric, valid, float(ks[i]), eps=float(eps[i]))
        np.testing.assert_array_equal(np.asarray(swept[i]), one)


def test_hyperparameters_are_traced_no_recompile():
    rewards, rubric, valid = _inputs(11, 40, 8, 8)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def f(k, eps):
        return kernels.gated_group_advantages(rewards, rubric, valid, k, eps=eps)[0]

    for k, eps in [(6.0, 1e-6), (7.0, 0.1), (8.0, 1.0)]:
        f(k, eps).block_until_ready()


@needs_kernel
def test_the_cpu_program_is_one_custom_call_and_reads_the_rubric_once():
    rewards, rubric, valid = _inputs(12, 64, 8, 8)
    hlo = (
        jax.jit(lambda r, rb, v: kernels.gated_group_advantages(r, rb, v, 8.0)[0])
        .lower(rewards, rubric, valid)
        .compile()
        .as_text()
    )
    entry = hlo[hlo.index("ENTRY") :]
    assert entry.count('custom_call_target="reward_design_gated_advantages_f32"') == 1
    rubric_param = [ln for ln in entry.splitlines() if "pred[64,8,8]" in ln and "parameter(" in ln]
    name = rubric_param[0].split("=")[0].strip()
    readers = [ln for ln in entry.splitlines() if name + "," in ln or name + ")" in ln]
    assert len(readers) == 1 and "custom-call" in readers[0], readers


def test_kernel_status_reports_plain_values():
    status = kernels.kernel_status()
    assert set(status) <= {"available", "reason", "library"}
    assert kernels.kernel_status() == status


@pytest.mark.skipif(not ON_CPU, reason="builds the CPU kernel")
def test_a_corrupt_cached_library_is_rebuilt(tmp_path):
    env = {**os.environ, "REWARD_DESIGN_CACHE": str(tmp_path)}
    code = "import reward_design as rd; print(rd.kernels.kernel_status())"
    first = run_python(code, env)
    if "'available': True" not in first.stdout:
        pytest.skip("no compiler here")
    (lib,) = tmp_path.glob("gated_advantages-*.so")
    lib.write_bytes(b"not a shared library")
    again = run_python(code, env)
    assert "'available': True" in again.stdout, again.stderr
    assert lib.read_bytes()[:4] == b"\x7fELF"


@needs_kernel
@pytest.mark.parametrize("g", [1, 2, 3, 5, 8, 24, 32, 64, 128])
def test_the_kernel_runs_for_its_group_sizes_only(g):
    rewards, rubric, valid = _inputs(14, 16, g, 8)
    text = (
        jax.jit(lambda r: kernels.gated_group_advantages(r, rubric, valid, 8.0)[0])
        .lower(rewards)
        .as_text()
    )
    assert ("reward_design_gated_advantages_f32" in text) is (g in kernels.GROUP_SIZES)


def test_bad_input_is_an_error_naming_the_argument():
    rewards, rubric, valid = _inputs(13, 4, 4, 2)
    with pytest.raises(ValueError, match="estimator"):
        kernels.gated_group_advantages(rewards, rubric, valid, 1.0, estimator="ppo")
    with pytest.raises(ValueError, match="rubric must be a bool"):
        kernels.gated_group_advantages(rewards, rubric.astype(np.float32), valid, 1.0)
    with pytest.raises(ValueError, match="rubric must be a bool"):
        kernels.gated_group_advantages(rewards, rubric[:3], valid, 1.0)
    with pytest.raises(ValueError, match="valid must be None or a bool array"):
        kernels.gated_group_advantages(rewards, rubric, valid.reshape(-1), 1.0)
    with pytest.raises(ValueError, match="rewards must be a float"):
        kernels.gated_group_advantages(rewards[0], rubric, valid, 1.0)
    with pytest.raises(ValueError, match="eps must be a scalar"):
        kernels.gated_group_advantages(rewards, rubric, valid, 1.0, eps=np.ones((4, 1)))
    with pytest.raises(ValueError, match="k must be a scalar"):
        kernels.gated_group_advantages(rewards, rubric, valid, np.ones(2))


def test_float64_rewards_keep_their_precision():
    rewards, rubric, valid = _inputs(15, 20, 8, 8)
    with enable_x64(True):
        r64 = jnp.asarray(rewards, jnp.float64) + 1e-9
        adv, _ = kernels.gated_group_advantages(r64, rubric, valid, 7.0)
        assert adv.dtype == jnp.float64
        want = np_advantages(np.asarray(r64), valid & (rubric.sum(-1) >= 7), "grpo")
        np.testing.assert_allclose(np.asarray(adv), want, rtol=1e-9, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 40),
    st.sampled_from([1, 2, 4, 6, 8, 16]),
    st.integers(0, 9),
    st.sampled_from(["grpo", "dr_grpo", "rloo"]),
    st.data(),
)
def test_property_matches_numpy(p, g, k_items, estimator, data):
    rewards = data.draw(
        hnp.arrays(np.float32, (p, g), elements=st.floats(-100, 100, width=32)), label="rewards"
    )
    rubric = data.draw(hnp.arrays(np.bool_, (p, g, k_items)), label="rubric")
    valid = data.draw(hnp.arrays(np.bool_, (p, g)), label="valid")
    k = data.draw(st.integers(0, k_items), label="k")
    adv, passed = _gated(rewards, rubric, valid, float(k), estimator)
    want_passed = valid & (rubric.sum(-1) >= k)
    np.testing.assert_array_equal(passed, want_passed)
    want = np_advantages(rewards, want_passed, estimator)
    # GRPO divides by std + 1e-6: groups whose spread is far below 1 amplify rounding
    spread = np.ptp(np.where(want_passed, rewards, 0), axis=1, keepdims=True)
    scale = np.maximum(np.abs(want).max(axis=1, keepdims=True), 1.0)
    tol = 2e-5 if estimator != "grpo" else 2e-5 * np.maximum(1.0, 1e-3 / np.maximum(spread, 1e-9))
    assert np.all(np.abs(adv - want) / scale <= tol + 1e-6 * np.abs(rewards).max(initial=1.0))


# ---------------------------------------------------------------- the build
# The kernel's status in a fresh interpreter: not available, warnings caught.
_UNAVAILABLE = (
    "import warnings, jax, numpy as np, reward_design as rd;\n"
    "with warnings.catch_warnings(record=True) as caught:\n"
    "    warnings.simplefilter('always')\n"
    "    s = rd.kernels.kernel_status()\n"
    "assert not s['available'], s\n"
)


def test_disabling_the_kernel_by_environment_falls_back_to_xla():
    code = _UNAVAILABLE + (
        "assert not [w for w in caught if 'reward_design' in str(w.message)], caught\n"
        "r = np.arange(16, dtype=np.float32).reshape(2, 8)\n"
        "rb = np.ones((2, 8, 3), bool); v = np.ones((2, 8), bool)\n"
        "f = lambda r: rd.kernels.gated_group_advantages(r, rb, v, 3.0)[0]\n"
        "a = jax.jit(f)(r)\n"
        "assert 'custom_call' not in jax.jit(f).lower(r).as_text()\n"
        "print(s['reason'])"
    )
    done = run_python(code, {**os.environ, "REWARD_DESIGN_CPU_KERNELS": "0"})
    assert done.returncode == 0, done.stderr  # and no warning: the user asked for this
    assert "disabled by REWARD_DESIGN_CPU_KERNELS" in done.stdout


def test_a_missing_compiler_falls_back_to_xla_with_a_warning_naming_why(no_compiler_env):
    code = _UNAVAILABLE + (
        "(w,) = [w for w in caught if 'reward_design' in str(w.message)]\n"
        "assert w.category is RuntimeWarning, w\n"
        "print(w.message)\n"
        "r = np.arange(16, dtype=np.float32).reshape(2, 8)\n"
        "a, p = rd.kernels.gated_group_advantages(r, np.ones((2, 8, 3), bool), None, 3.0)\n"
        "print(float(a[0, 7]))"
    )
    done = run_python(code, no_compiler_env)
    assert done.returncode == 0, done.stderr
    assert "not available" in done.stdout and "no-such-compiler" in done.stdout
    assert "XLA program" in done.stdout
    # GRPO of the first group 0..7 at its top member: (7 - 3.5) / std(0..7)
    assert abs(float(done.stdout.split()[-1]) - 3.5 / np.std(np.arange(8), ddof=1)) < 1e-5


@pytest.mark.skipif(not ON_CPU, reason="builds the CPU kernel")
def test_the_build_is_cached_and_keyed(tmp_path):
    env = {**os.environ, "REWARD_DESIGN_CACHE": str(tmp_path)}
    code = "import reward_design as rd; print(rd.kernels.kernel_status().get('library'))"
    first = run_python(code, env)
    if "None" in first.stdout:
        pytest.skip("no compiler here")
    libs = list(tmp_path.glob("gated_advantages-*.so"))
    assert len(libs) == 1 and str(libs[0]) in first.stdout
    assert libs[0].stat().st_mode & 0o755 == 0o755  # loadable by others sharing the cache
    mtime = libs[0].stat().st_mtime_ns
    again = run_python(code, env)
    assert again.stdout == first.stdout and libs[0].stat().st_mtime_ns == mtime
    assert not [p for p in tmp_path.iterdir() if p not in libs]  # no temporary files left


@pytest.mark.slow
@pytest.mark.skipif(
    not KERNEL or os.uname().machine != "x86_64", reason="x86-64 without AVX-512 build"
)
def test_the_portable_build_without_avx512_computes_the_same(tmp_path):
    """Built for a CPU without AVX-512 (x86-64-v2: SSE4.2), the kernel takes its generic
    vector-extension paths (no psadbw); they must give the same numbers."""
    code = (
        "import numpy as np, jax, reward_design as rd;"
        "from test_cpu_kernel import np_advantages, _inputs, _assert_close_to_group_scale;"
        "assert rd.kernels.kernel_status()['available'];"
        "checked = 0\n"
        "for g, k_items in [(2, 8), (8, 8), (16, 3), (5, 8), (8, 0)]:\n"
        "    r, rb, v = _inputs(g + k_items, 37, g, k_items)\n"
        "    for est in ('grpo', 'dr_grpo', 'rloo'):\n"
        "        for valid in (v, None):\n"
        "            a, p = jax.jit(lambda r: rd.kernels.gated_group_advantages("
        "r, rb, valid, max(k_items - 1, 0), estimator=est))(r)\n"
        "            k = max(k_items - 1, 0)\n"
        "            want_p = (True if valid is None else v) & (rb.sum(-1) >= k)\n"
        "            np.testing.assert_array_equal(np.asarray(p), want_p)\n"
        "            _assert_close_to_group_scale(np.asarray(a), np_advantages(r, want_p, est))\n"
        "            checked += 1\n"
        "print(checked)"
    )
    env = {
        **os.environ,
        "REWARD_DESIGN_CACHE": str(tmp_path),
        "REWARD_DESIGN_CXXFLAGS": "-march=x86-64-v2",
    }
    here = os.path.dirname(os.path.abspath(__file__))
    tests = os.path.dirname(here)
    # this module, tests/ (numpy_reference.py, fresh_interpreter.py) and the repository
    env["PYTHONPATH"] = os.pathsep.join([here, tests, os.path.dirname(tests)])
    done = run_python(code, env, cwd=here)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-1] == "30"
