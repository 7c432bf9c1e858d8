"""Built-in scoring rules against closed forms, numpy references and each other."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import reward_design as rd
from reward_design._jax_compat import enable_x64

sr = rd.scoring_rules
RNG = np.random.default_rng(0)
PROBS = RNG.dirichlet(np.ones(4), size=64).astype(np.float32)
OUTCOME = RNG.integers(0, 4, size=64)


def _onehot(y, c):
    return np.eye(c)[y]


def np_brier(p, y):
    return ((p - _onehot(y, p.shape[-1])) ** 2).sum(-1)


def np_log(p, y):
    return -np.log(p[np.arange(len(y)), y])


def np_spherical(p, y):
    return 1 - p[np.arange(len(y)), y] / np.sqrt((p**2).sum(-1))


def np_pseudospherical(p, y, a):
    py = p[np.arange(len(y)), y]
    return 1 - (py / ((p**a).sum(-1)) ** (1 / a)) ** (a - 1)


def np_power(p, y, a):
    py = p[np.arange(len(y)), y]
    return 1 + (a - 1) * (p**a).sum(-1) - a * py ** (a - 1)


def np_rps(p, y):
    cdf = np.cumsum(p, -1)[:, :-1]
    obs = np.cumsum(_onehot(y, p.shape[-1]), -1)[:, :-1]
    return ((cdf - obs) ** 2).sum(-1)


@pytest.mark.parametrize(
    "rule, ref",
    [
        (sr.brier, np_brier),
        (sr.log, np_log),
        (sr.spherical, np_spherical),
        (sr.ranked_probability, np_rps),
        (lambda p, y: sr.power(p, y, 3.0), lambda p, y: np_power(p, y, 3.0)),
        (lambda p, y: sr.power(p, y, 1.5), lambda p, y: np_power(p, y, 1.5)),
        (lambda p, y: sr.pseudospherical(p, y, 3.0), lambda p, y: np_pseudospherical(p, y, 3.0)),
    ],
)
def test_multiclass_rules_match_numpy_and_jit(rule, ref):
    expected = ref(PROBS.astype(np.float64), OUTCOME)
    np.testing.assert_allclose(rule(PROBS, OUTCOME), expected, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(jax.jit(rule)(PROBS, OUTCOME), expected, rtol=2e-5, atol=2e-6)


def test_rules_are_elementwise_over_batch_dims():
    p = PROBS.reshape(8, 8, 4)
    y = OUTCOME.reshape(8, 8)
    for rule in (sr.brier, sr.log, sr.spherical, sr.ranked_probability):
        out = rule(p, y)
        assert out.shape == (8, 8)
        np.testing.assert_allclose(out.reshape(-1), rule(PROBS, OUTCOME), rtol=1e-6)


def test_binary_forms_and_two_class_identities():
    p = RNG.uniform(0.01, 0.99, size=200).astype(np.float32)
    y = RNG.integers(0, 2, size=200)
    two = np.stack([1 - p, p], -1)
    np.testing.assert_allclose(sr.brier_binary(p, y), (p - y) ** 2, rtol=1e-6)
    np.testing.assert_allclose(sr.brier(two, y), 2 * (p - y) ** 2, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(sr.ranked_probability(two, y), (p - y) ** 2, rtol=1e-5, atol=1e-7)
    ref_log = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(sr.log_binary(p, y), ref_log, rtol=1e-5)
    np.testing.assert_allclose(sr.log(two, y), ref_log, rtol=1e-5)
    py = np.where(y == 1, p, 1 - p)
    ref_sph = 1 - py / np.sqrt(p**2 + (1 - p) ** 2)
    np.testing.assert_allclose(sr.spherical_binary(p, y), ref_sph, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(sr.spherical(two, y), ref_sph, rtol=1e-5, atol=1e-7)
    # bool and float outcomes give the same values as ints
    np.testing.assert_allclose(sr.brier_binary(p, y.astype(bool)), sr.brier_binary(p, y))
    np.testing.assert_allclose(sr.log_binary(p, y.astype(np.float32)), sr.log_binary(p, y))


def test_family_members_coincide():
    np.testing.assert_allclose(sr.power(PROBS, OUTCOME, 2.0), sr.brier(PROBS, OUTCOME), atol=1e-6)
    np.testing.assert_allclose(
        sr.pseudospherical(PROBS, OUTCOME, 2.0), sr.spherical(PROBS, OUTCOME), atol=1e-6
    )


def test_log_binary_boundaries_are_exact_not_clipped():
    assert float(sr.log_binary(1.0, 1)) == 0.0
    assert float(sr.log_binary(0.0, 0)) == 0.0
    assert np.isinf(float(sr.log_binary(0.0, 1)))
    assert np.isinf(float(sr.log(jnp.array([1.0, 0.0]), jnp.array(1))))


def test_ranges_of_bounded_rules():
    vertices = np.eye(3, dtype=np.float32)
    right, wrong = np.array([0, 1, 2]), np.array([1, 2, 0])
    for rule, worst in [
        (sr.brier, 2.0),
        (sr.spherical, 1.0),
        (sr.ranked_probability, None),
        (lambda p, y: sr.power(p, y, 3.0), 3.0),
    ]:
        np.testing.assert_allclose(rule(vertices, right), 0.0, atol=1e-6)
        if worst is not None:
            np.testing.assert_allclose(rule(vertices, wrong), worst, atol=1e-6)
    # RPS grows with the ordinal distance of the miss; max C - 1 = 2.
    np.testing.assert_allclose(
        sr.ranked_probability(vertices, np.array([1, 2, 2])), [1.0, 1.0, 0.0], atol=1e-6
    )
    np.testing.assert_allclose(sr.ranked_probability(vertices[:1], np.array([2])), [2.0])


def test_expected_scores_closed_forms():
    q = RNG.dirichlet(np.ones(4), size=16)
    p = RNG.dirichlet(np.ones(4), size=16)
    ys = np.arange(4)

    def expected(rule):
        vals = np.stack([np.asarray(rule(p, np.full(16, k))) for k in ys], -1)
        return (q * vals).sum(-1)

    np.testing.assert_allclose(
        expected(sr.brier), ((p - q) ** 2).sum(-1) + 1 - (q**2).sum(-1), rtol=1e-4
    )
    entropy = -(q * np.log(q)).sum(-1)
    kl = (q * np.log(q / p)).sum(-1)
    np.testing.assert_allclose(expected(sr.log), entropy + kl, rtol=1e-4)


def test_gradients():
    p = jnp.asarray(PROBS[:8], dtype=jnp.float32)
    y = jnp.asarray(OUTCOME[:8])

    @jax.jit
    def grads(x):
        return [
            jax.grad(lambda z, r=r: r(z, y).sum())(x)
            for r in (sr.brier, sr.log, sr.spherical, sr.ranked_probability)
        ]

    g_brier, *others = grads(p)
    assert all(np.all(np.isfinite(g)) for g in others)
    # Brier gradient in closed form: 2 (p - onehot); log: -1/p_y on the outcome
    np.testing.assert_allclose(g_brier, 2 * (PROBS[:8] - np.eye(4)[OUTCOME[:8]]), atol=1e-6)
    onehot = np.eye(4)[OUTCOME[:8]]
    np.testing.assert_allclose(others[0], -onehot / PROBS[:8], rtol=1e-5)
    with enable_x64(True):
        # interior points, so finite differences stay on the open simplex
        p64 = jnp.asarray(RNG.dirichlet(np.full(4, 5.0), size=4), dtype=jnp.float64)
        y4 = jnp.asarray(OUTCOME[:4])
        check_grads(jax.jit(lambda x: sr.power(x, y4, 2.5)), (p64,), order=1, modes=("rev",))
        c = jnp.linspace(0.1, 0.9, 5, dtype=jnp.float64)
        check_grads(jax.jit(lambda x: sr.spherical_binary(x, jnp.ones(5))), (c,), order=1)


def test_boundary_gradients_are_finite_where_the_value_is():
    # log_binary(1, 1) = log_binary(0, 0) = 0; d/dp of -log p is -1/p = -1 at p = 1 and of
    # -log(1 - p) is 1/(1 - p) = 1 at p = 0 (xlogy's JVP gave NaN here).
    g = jax.jit(jax.grad(lambda p, y: sr.log_binary(p, y)))
    assert float(g(1.0, 1.0)) == -1.0
    assert float(g(0.0, 0.0)) == 1.0
    # soft outcomes keep the cross-entropy gradient (p - y) / (p (1 - p))
    np.testing.assert_allclose(float(g(0.25, 0.75)), (0.25 - 0.75) / (0.25 * 0.75), rtol=1e-6)
    # multiclass: classes other than the outcome get the closed-form gradient, not 0 * inf
    vertex = jnp.array([1.0, 0.0, 0.0])
    y = jnp.array(1)
    np.testing.assert_array_equal(jax.grad(sr.log)(vertex, y)[jnp.array([0, 2])], [0.0, 0.0])
    # power of order a < 2 at p_y = 0: value 1 + (a - 1) sum p^a is finite; the outcome's
    # derivative -a (a - 1) p_y^(a - 2) is -inf, the others are a (a - 1) p_k^(a - 1)
    a = 1.5
    gp = jax.grad(lambda p: sr.power(p, y, a))(vertex)
    assert float(sr.power(vertex, y, a)) == pytest.approx(1.5)
    np.testing.assert_allclose(gp[jnp.array([0, 2])], [a * (a - 1), 0.0])
    assert float(gp[1]) == -np.inf
    gs = jax.grad(lambda p: sr.pseudospherical(p, y, a))(jnp.array([0.5, 0.0, 0.5]))
    assert not np.any(np.isnan(np.asarray(gs)))


def test_order_is_traced_no_recompile():
    chex.clear_trace_counter()
    f = jax.jit(chex.assert_max_traces(sr.power, n=1))
    a = f(PROBS, OUTCOME, 1.5)
    b = f(PROBS, OUTCOME, 3.0)
    np.testing.assert_allclose(a, np_power(PROBS.astype(np.float64), OUTCOME, 1.5), rtol=1e-4)
    np.testing.assert_allclose(b, np_power(PROBS.astype(np.float64), OUTCOME, 3.0), rtol=1e-4)
    sweep = jax.vmap(lambda a: sr.pseudospherical(PROBS, OUTCOME, a))(jnp.array([2.0, 3.0]))
    np.testing.assert_allclose(sweep[0], sr.spherical(PROBS, OUTCOME), atol=1e-6)


@pytest.mark.parametrize("order", [1.0, 0.5, float("nan"), "2"])
def test_bad_order_raises(order):
    with pytest.raises(ValueError, match="order"):
        sr.power(PROBS, OUTCOME, order)
    with pytest.raises(ValueError, match="order"):
        sr.pseudospherical(PROBS, OUTCOME, order)


def test_shape_and_dtype_errors():
    with pytest.raises(ValueError, match=r"outcome must have shape"):
        sr.brier(PROBS, OUTCOME[:3])
    with pytest.raises(ValueError, match=r"C >= 2"):
        sr.log(np.ones((4, 1)), np.zeros(4, int))
    with pytest.raises(TypeError, match="integer"):
        sr.spherical(PROBS, OUTCOME.astype(np.float32))
    with pytest.raises(ValueError, match="broadcastable"):
        sr.brier_binary(np.ones(3) * 0.5, np.ones(4))


class TestValidateForecast:
    def test_accepts_and_returns_numpy(self):
        p, y = sr.validate_forecast(PROBS, OUTCOME)
        assert isinstance(p, np.ndarray) and isinstance(y, np.ndarray)
        p, y = sr.validate_forecast([0.2, 1.0], [0, True], binary=True)
        assert p.shape == (2,)

    @pytest.mark.parametrize(
        "probs, outcome, match",
        [
            ([[0.5, 0.6]], [0], "sum to 1"),
            ([[1.2, -0.2]], [0], r"\[0, 1\]"),
            ([[np.nan, 1.0]], [0], "finite"),
            ([[0.5, 0.5]], [2], r"class index in \[0, 2\)"),
            ([[0.5, 0.5]], [-1], r"class index"),
            ([[0.5, 0.5]], [0, 1], "outcome must have shape"),
            ([[1.0]], [0], "C >= 2"),
        ],
    )
    def test_multiclass_errors(self, probs, outcome, match):
        with pytest.raises(ValueError, match=match):
            sr.validate_forecast(np.asarray(probs), outcome)

    def test_binary_errors(self):
        with pytest.raises(ValueError, match=r"forecast probabilities must lie in \[0, 1\]"):
            sr.validate_forecast([1.5], [1], binary=True)
        with pytest.raises(ValueError, match="0 or 1"):
            sr.validate_forecast([0.5], [2], binary=True)
        with pytest.raises(ValueError, match="0 or 1"):
            sr.validate_forecast([0.5], [0.5], binary=True)
        with pytest.raises(TypeError, match="integer"):
            sr.validate_forecast([[0.5, 0.5]], [0.0])
        with pytest.raises(TypeError, match="numeric"):
            sr.validate_forecast(["a"], [0], binary=True)

    def test_tolerance_is_respected(self):
        sr.validate_forecast([[0.5, 0.50005]], [0])
        with pytest.raises(ValueError, match="sum to 1"):
            sr.validate_forecast([[0.5, 0.50005]], [0], atol=1e-6)

    def test_rejects_tracers(self):
        with pytest.raises(ValueError, match="eagerly"):
            jax.jit(lambda p: sr.validate_forecast(p)[0])(jnp.asarray(PROBS))


def test_scoring_rule_terms_compose_end_to_end():
    correct = RNG.integers(0, 2, size=(4, 5)).astype(np.float32)
    conf = RNG.uniform(0.05, 0.95, size=(4, 5)).astype(np.float32)
    r = rd.Rollouts(correct=correct, confidence=conf).validate()
    for rule in (sr.log_binary, sr.spherical_binary, sr.brier_binary):
        obj = rd.compose(
            correct=rd.terms.Correctness(), conf=rd.terms.ScoringRuleTerm(rule=rule, weight=0.5)
        )
        out = jax.jit(lambda o, x: o(x))(obj, r)
        np.testing.assert_allclose(
            out.total, correct - 0.5 * np.asarray(rule(conf, correct)), rtol=1e-5, atol=1e-6
        )
    # brier_binary as a ScoringRuleTerm is the built-in Brier term.
    a = rd.terms.ScoringRuleTerm(rule=sr.brier_binary)(r)
    np.testing.assert_allclose(a, rd.terms.Brier()(r), atol=1e-7)


@pytest.mark.parametrize("num_classes", [3, 64, 65, 100])
def test_ranked_probability_matches_numpy_with_gradients(num_classes):
    rng = np.random.default_rng(num_classes)
    p = rng.dirichlet(np.ones(num_classes), size=32).astype(np.float32)
    y = rng.integers(0, num_classes, size=32)
    expected = np_rps(p.astype(np.float64), y)
    np.testing.assert_allclose(jax.jit(sr.ranked_probability)(p, y), expected, rtol=2e-5, atol=2e-5)
    grad = jax.grad(lambda q: sr.ranked_probability(q, y).sum())(jnp.asarray(p))
    # d/dp_j sum_k (F_k - O_k)^2 = 2 sum_{k >= j, k < C-1} (F_k - O_k)
    diff = np.cumsum(p, -1)[:, :-1] - np.cumsum(_onehot(y, num_classes), -1)[:, :-1]
    tail = np.concatenate([np.cumsum(diff[:, ::-1], -1)[:, ::-1], np.zeros((32, 1))], -1)
    np.testing.assert_allclose(grad, 2 * tail, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
@pytest.mark.parametrize(
    "rule, ref",
    [
        (sr.brier, np_brier),
        (sr.ranked_probability, np_rps),
        (lambda p, y: sr.power(p, y, 3.0), lambda p, y: np_power(p, y, 3.0)),
    ],
)
def test_half_precision_sums_over_many_classes_accumulate_in_float32(rule, ref, dtype):
    """1024 classes: summed in half precision the cumulative forecast and the sums
    over classes drift by several percent; accumulated in float32 the score is
    within a few half-precision roundings of the exact one, in the input dtype."""
    rng = np.random.default_rng(21)
    p = jnp.asarray(rng.dirichlet(np.ones(1024), size=16), dtype)
    y = rng.integers(0, 1024, size=16)
    got = rule(p, y)
    assert got.dtype == dtype
    expected = ref(np.asarray(p, np.float64), y)
    np.testing.assert_allclose(np.asarray(got, np.float64), expected, rtol=2**-7, atol=1e-3)
