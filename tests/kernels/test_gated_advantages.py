"""`rd.kernels.gated_advantages` (the opt-in CPU kernel) against the core's `Gated`.

For every configuration it accepts, it must return what ``gated.evaluate``
followed by the estimator returns (`Gated.advantages`): totals, accepted,
stats, advantages to float rounding, gradients; for every other it must
refuse with a ValueError naming the argument. `Gated` itself has one
behaviour on every backend: no program it lowers contains the kernel.
"""

import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from fresh_interpreter import run_python
from jax import export

import reward_design as rd
from reward_design._jax_compat import enable_x64
from reward_design.gates import AllOf, AtLeast, Gated, GroupFilter, WeightedThreshold

TARGET = "reward_design_gated_advantages_f32"
ON_CPU = jax.default_backend() == "cpu"
KERNEL = ON_CPU and bool(rd.kernels.kernel_status()["available"])
needs_kernel = pytest.mark.skipif(not KERNEL, reason="the CPU kernel is not in use here")


def _rollouts(seed=0, p=40, g=8, k=8, masked=True, probabilities=False):
    rng = np.random.default_rng(seed)
    rubric = rng.uniform(size=(p, g, k))
    rubric = rubric.astype(np.float32) if probabilities else rubric < 0.9
    mask = None
    if masked:
        mask = rng.uniform(size=(p, g)) < 0.85
        mask[:, 0] = True
    return rd.Rollouts(
        correct=(rng.uniform(size=(p, g)) < 0.5).astype(np.float32),
        confidence=rng.uniform(size=(p, g)).astype(np.float32),
        rubric=rubric,
        mask=mask,
    )


def _inner(weight=1.0):
    return rd.compose(
        correct=rd.terms.Correctness(),
        brier=rd.terms.ScoringRuleTerm(rule=rd.scoring_rules.brier_binary, weight=weight),
    )


def _assert_close_to_group_scale(got, want, rtol=2e-5):
    """Relative to each group's largest |advantage| (the kernel and XLA round differently)."""
    got, want = np.asarray(got), np.asarray(want)
    scale = np.maximum(np.abs(want).max(axis=1, keepdims=True), 1.0)
    np.testing.assert_allclose(got / scale, want / scale, rtol=0, atol=rtol)


def _assert_same_output(out, ref_out):
    np.testing.assert_array_equal(np.asarray(out.accepted), np.asarray(ref_out.accepted))
    # jit and eager round the inner total differently (1 ulp)
    np.testing.assert_allclose(np.asarray(out.total), np.asarray(ref_out.total), rtol=1e-6)
    assert set(out.components) == set(ref_out.components)
    assert set(out.stats) == set(ref_out.stats)
    for name in out.stats:
        np.testing.assert_allclose(float(out.stats[name]), float(ref_out.stats[name]), rtol=1e-6)


SUPPORTED = {
    "AllOf": lambda: Gated(AllOf(), _inner(), on_reject="drop"),
    "AtLeast": lambda: Gated(AtLeast(k=6), _inner(), on_reject="drop"),
    "AtLeast(0)": lambda: Gated(AtLeast(k=0), _inner(), on_reject="drop"),
    "AtLeast over a nested Gated": lambda: Gated(
        AtLeast(k=7),
        Gated(WeightedThreshold(np.linspace(0.5, 2, 8), 6.0), _inner(), "drop"),
        "drop",
    ),
    "AllOf over a plain function": lambda: Gated(
        AllOf(), lambda r: _inner()(r).replace(accepted=jnp.asarray(r.confidence) > 0.2), "drop"
    ),
}

UNSUPPORTED = {
    "floor": (lambda: Gated(AllOf(), _inner(), "floor", floor=-1.0), "gated.on_reject"),
    "group filter": (
        lambda: Gated(AllOf(), _inner(), "drop", group_filter=GroupFilter()),
        "gated.group_filter",
    ),
    "weighted threshold": (
        lambda: Gated(WeightedThreshold(np.linspace(0.5, 2, 8), 6.0), _inner(), "drop"),
        "gated.gate",
    ),
    "function gate": (
        lambda: Gated(lambda r: jnp.asarray(r.correct) > 0, _inner(), "drop"),
        "gated.gate",
    ),
}


@pytest.mark.parametrize("config", sorted(SUPPORTED))
@pytest.mark.parametrize("estimator", ["grpo", "dr_grpo", "rloo"])
@pytest.mark.parametrize(("masked", "probabilities"), [(False, False), (True, False), (True, True)])
def test_equals_evaluate_then_the_estimator(config, estimator, masked, probabilities):
    gated = SUPPORTED[config]()
    r = _rollouts(masked=masked, probabilities=probabilities)
    assert rd.kernels.supports(gated, estimator)
    out, adv = jax.jit(lambda g, r: rd.kernels.gated_advantages(g, r, estimator))(gated, r)
    ref_out, mask = gated.evaluate(r)
    ref = getattr(rd.advantages, estimator)(ref_out.total, mask=mask)
    _assert_close_to_group_scale(adv, ref)
    _assert_same_output(out, ref_out)
    # eagerly too, and Gated.advantages is exactly evaluate + the estimator
    out_eager, adv_eager = rd.kernels.gated_advantages(gated, r, estimator)
    _assert_close_to_group_scale(adv_eager, ref)
    _assert_same_output(out_eager, ref_out)
    core_out, core_adv = gated.advantages(r, estimator)
    np.testing.assert_array_equal(np.asarray(core_adv), np.asarray(ref))


@pytest.mark.parametrize("kwargs", [{"eps": 0.25}, {"ddof": 0}, {"eps": 0.0, "ddof": 2}])
def test_grpo_options(kwargs):
    gated = SUPPORTED["AtLeast"]()
    r = _rollouts()
    _, adv = rd.kernels.gated_advantages(gated, r, "grpo", **kwargs)
    _, ref = gated.advantages(r, "grpo", **kwargs)
    finite = np.isfinite(np.asarray(ref))
    np.testing.assert_array_equal(np.isfinite(np.asarray(adv)), finite)
    _assert_close_to_group_scale(np.where(finite, adv, 0), np.where(finite, ref, 0))


@pytest.mark.parametrize("config", sorted(UNSUPPORTED))
def test_configurations_it_does_not_implement_are_refused_naming_the_argument(config):
    make, argument = UNSUPPORTED[config]
    gated = make()
    assert not rd.kernels.supports(gated)
    with pytest.raises(ValueError, match=re.escape(argument)) as err:
        rd.kernels.gated_advantages(gated, _rollouts())
    # the message lists what the kernel implements and points to the core
    assert "AllOf or AtLeast" in str(err.value) and "gated.advantages" in str(err.value)


@pytest.mark.parametrize(
    ("estimator", "kwargs", "argument"),
    [
        ("ppo", {}, "estimator"),
        (rd.advantages.grpo, {}, "estimator"),
        ("grpo", {"scale": "batch"}, "scale"),
        ("grpo", {"axis_name": "data"}, "axis_name"),
        ("grpo", {"eps": np.full((40, 1), 0.1)}, "eps"),
        ("grpo", {"ddof": 1.0}, "ddof"),
        ("grpo", {"mask": None}, "['mask']"),
        ("dr_grpo", {"eps": 0.1}, "['eps']"),
        ("rloo", {"ddof": 0}, "['ddof']"),
    ],
)
def test_estimators_and_options_it_does_not_implement_are_refused(estimator, kwargs, argument):
    gated = SUPPORTED["AllOf"]()
    assert not rd.kernels.supports(gated, estimator, **kwargs)
    with pytest.raises(ValueError, match=re.escape(argument)):
        rd.kernels.gated_advantages(gated, _rollouts(), estimator, **kwargs)


def test_other_objectives_are_a_type_error():
    assert not rd.kernels.supports(_inner())
    with pytest.raises(TypeError, match="gated must be a Gated"):
        rd.kernels.gated_advantages(_inner(), _rollouts())


def test_the_gates_own_errors():
    r = _rollouts()
    with pytest.raises(ValueError, match="exceeds the number of rubric items"):
        rd.kernels.gated_advantages(Gated(AtLeast(k=9), _inner(), "drop"), r)
    no_rubric = rd.Rollouts(
        correct=np.ones((2, 4), np.float32), confidence=np.ones((2, 4), np.float32)
    )
    with pytest.raises(ValueError, match="rubric"):
        rd.kernels.gated_advantages(SUPPORTED["AllOf"](), no_rubric)
    with pytest.raises(TypeError, match="Gated.inner must return a RewardOutput"):
        rd.kernels.gated_advantages(Gated(AllOf(), lambda r: r.correct, "drop"), r)


def test_an_objective_subclass_that_narrows_accepted_is_respected():
    from reward_design._pytree import pytree_dataclass
    from reward_design.compose import Objective

    @pytree_dataclass
    class Strict(Objective):
        def __call__(self, rollouts):
            out = super().__call__(rollouts)
            return out.replace(accepted=out.accepted & (jnp.asarray(rollouts.confidence) > 0.3))

    gated = Gated(AllOf(), Strict(terms=dict(_inner().terms)), "drop")
    r = _rollouts(masked=False)
    out, adv = rd.kernels.gated_advantages(gated, r)
    ref_out, ref = gated.advantages(r)
    _assert_same_output(out, ref_out)
    _assert_close_to_group_scale(adv, ref)


@pytest.mark.parametrize("dtype", [np.int32, np.float16, np.float64])
def test_totals_of_other_dtypes(dtype):
    """Integer and half-precision totals are computed in float32 as the estimators read
    them; float64 totals (x64) keep their precision (the XLA program)."""

    def inner(r):
        out = _inner()(r)
        return out.replace(total=(out.total * 4).astype(dtype))

    with enable_x64(dtype == np.float64):
        gated = Gated(AtLeast(k=6), inner, "drop")
        r = _rollouts()
        out, adv = rd.kernels.gated_advantages(gated, r)
        ref_out, ref = gated.advantages(r)
        assert adv.dtype == ref.dtype
        _assert_same_output(out, ref_out)
        _assert_close_to_group_scale(adv, ref, rtol=1e-9 if dtype == np.float64 else 2e-5)


@pytest.mark.parametrize("estimator", ["grpo", "rloo"])
def test_gradient_through_the_objective_is_the_cores(estimator):
    """d advantages / d Brier weight: the kernel path's equals `Gated.advantages`'."""
    r = _rollouts()

    def f(w, kernel):
        gated = Gated(AllOf(), _inner(w), "drop")
        if kernel:
            _, adv = rd.kernels.gated_advantages(gated, r, estimator)
        else:
            _, adv = gated.advantages(r, estimator)
        return jnp.sum(adv * jnp.arange(adv.size, dtype=jnp.float32).reshape(adv.shape))

    np.testing.assert_allclose(
        float(jax.jit(jax.grad(lambda w: f(w, True)))(0.7)),
        float(jax.grad(lambda w: f(w, False))(0.7)),
        rtol=1e-4,
    )
    t = jnp.float32(1.0)
    _, d_kernel = jax.jvp(lambda w: f(w, True), (jnp.float32(0.7),), (t,))
    _, d_core = jax.jvp(lambda w: f(w, False), (jnp.float32(0.7),), (t,))
    np.testing.assert_allclose(float(d_kernel), float(d_core), rtol=1e-4)


def test_vmap_over_the_objective_equals_separate_calls():
    r = _rollouts()
    gated = Gated(AtLeast(k=6), _inner(), "drop")
    ks = jnp.asarray([5.0, 6.0, 8.0])
    weights = jnp.asarray([0.5, 1.0, 2.0])

    def step(k, w):
        g = Gated(AtLeast(k=k), _inner(w), "drop")
        return rd.kernels.gated_advantages(g, r, "grpo", eps=0.1)[1]

    swept = jax.jit(jax.vmap(step))(ks, weights)
    for i in range(3):
        g = gated.replace(gate=AtLeast(k=float(ks[i])), inner=_inner(float(weights[i])))
        _, ref = g.advantages(r, "grpo", eps=0.1)
        _assert_close_to_group_scale(swept[i], ref)


def test_changed_numbers_do_not_retrace():
    r = _rollouts()

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(gated, rollouts, eps):
        return rd.kernels.gated_advantages(gated, rollouts, "grpo", eps=eps)[1]

    for k, w, eps in [(6, 1.0, 1e-6), (7, 0.25, 0.1), (8, 3.0, 1.0)]:
        gated = Gated(AtLeast(k=k), _inner(w), "drop")
        _, ref = gated.advantages(r, "grpo", eps=eps)
        _assert_close_to_group_scale(step(gated, r, eps), ref)


@pytest.mark.parametrize("platforms", [["cuda"], ["tpu"], ["rocm"], ["cpu"]])
def test_only_cpu_programs_of_the_opt_in_contain_the_kernel(platforms):
    """Lowered for an accelerator (no accelerator needed: `jax.export`), the opt-in's
    program is XLA's; the custom call exists for the CPU only, and `Gated.advantages`
    never contains it."""
    r = _rollouts(masked=False)
    gated = SUPPORTED["AllOf"]()
    checks = [export.DisabledSafetyCheck.custom_call(TARGET)]

    def text(fn):
        return export.export(jax.jit(fn), platforms=platforms, disabled_checks=checks)(
            r
        ).mlir_module()

    opt_in = text(lambda r: rd.kernels.gated_advantages(gated, r)[1])
    assert (TARGET in opt_in) is (KERNEL and platforms == ["cpu"])
    assert TARGET not in text(lambda r: gated.advantages(r)[1])


@needs_kernel
def test_the_rewards_reach_the_kernel_flat():
    """The fusion that computes the rewards feeds the kernel a flat [P * G] array: XLA:CPU
    then emits it as a flat loop (over [P, 8] its vector code for a term's square root
    and division is about twice as slow). A pinned property of the compiled program."""
    r = _rollouts(masked=False, p=64)
    inner = rd.compose(
        correct=rd.terms.Correctness(),
        spherical=rd.terms.ScoringRuleTerm(rule=rd.scoring_rules.spherical_binary),
    )
    gated = Gated(AllOf(), inner, "drop")
    step = jax.jit(lambda g, r: rd.kernels.gated_advantages(g, r)[1])
    hlo = step.lower(gated, r).compile().as_text()
    entry = hlo[hlo.index("ENTRY") :]
    call = next(line for line in entry.splitlines() if "custom-call(" in line)
    first_operand = re.search(r"custom-call\(%([\w.\-]+)", call).group(1)
    producer = next(
        line for line in entry.splitlines() if line.strip().startswith(f"%{first_operand} =")
    )
    assert re.search(r"= f32\[512\]\{0\} fusion\(", producer), producer


def test_a_missing_compiler_gives_the_cores_results_with_a_warning(no_compiler_env):
    code = (
        "import warnings, numpy as np, reward_design as rd;\n"
        "from reward_design.gates import Gated, AtLeast\n"
        "rng = np.random.default_rng(0)\n"
        "r = rd.Rollouts(correct=(rng.uniform(size=(6, 8)) < .5).astype(np.float32),"
        " rubric=rng.uniform(size=(6, 8, 4)) < .8)\n"
        "g = Gated(AtLeast(3), rd.compose(c=rd.terms.Correctness()), 'drop')\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    out, adv = rd.kernels.gated_advantages(g, r, 'rloo')\n"
        "assert any('not available' in str(w.message) for w in caught), caught\n"
        "ref_out, ref = g.advantages(r, 'rloo')\n"
        "np.testing.assert_allclose(np.asarray(adv), np.asarray(ref), atol=1e-6)\n"
        "print('ok')"
    )
    done = run_python(code, no_compiler_env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-1] == "ok"


def test_no_core_module_imports_the_kernels():
    """`import reward_design` and every core sub-package leave `reward_design.kernels`
    unimported: the kernel is reached only by asking for `rd.kernels`."""
    code = (
        "import sys, importlib, reward_design as rd\n"
        "for name in rd._LAZY_SUBMODULES:\n"
        "    if name != 'kernels':\n"
        "        importlib.import_module('reward_design.' + name)\n"
        "bad = sorted(m for m in sys.modules if m.startswith('reward_design.kernels'))\n"
        "assert not bad, bad\n"
        "print('ok')"
    )
    done = run_python(code)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-1] == "ok"
