"""Reward terms vs numpy references, with masks, jit and hyperparameter checks."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reward_design as rd
from reward_design import terms


def _rollouts(p=4, g=5, k=3, t=7, seed=0, rubric_probs=False):
    rng = np.random.default_rng(seed)
    rubric = rng.uniform(size=(p, g, k)) if rubric_probs else rng.uniform(size=(p, g, k)) > 0.5
    return rd.Rollouts(
        correct=rng.integers(0, 2, (p, g)).astype(np.float32),
        confidence=rng.uniform(size=(p, g)).astype(np.float32),
        rubric=rubric,
        token_rewards=rng.normal(size=(p, g, t)).astype(np.float32),
        token_mask=rng.uniform(size=(p, g, t)) > 0.4,
    ).validate()


@pytest.mark.parametrize("jit", [False, True])
def test_correctness(jit):
    r = _rollouts()
    term = terms.Correctness(weight=2.5)
    call = jax.jit(lambda t, r: t(r)) if jit else (lambda t, r: t(r))
    np.testing.assert_allclose(call(term, r), 2.5 * r.correct, rtol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_brier(jit):
    r = _rollouts()
    term = terms.Brier(weight=0.7)
    call = jax.jit(lambda t, r: t(r)) if jit else (lambda t, r: t(r))
    expected = -0.7 * (r.confidence - r.correct) ** 2
    np.testing.assert_allclose(call(term, r), expected, rtol=1e-6)


def test_brier_closed_form_expected_reward_is_q_squared():
    # E over y ~ Bernoulli(q) of y - (q - y)^2 at confidence q equals q^2 (RLCR).
    q = np.linspace(0, 1, 11, dtype=np.float32)
    ones = rd.Rollouts(correct=np.ones((1, 11)), confidence=q[None])
    zeros = rd.Rollouts(correct=np.zeros((1, 11)), confidence=q[None])
    objective = rd.compose(c=terms.Correctness(), b=terms.Brier())
    expected = q * objective(ones).total[0] + (1 - q) * objective(zeros).total[0]
    np.testing.assert_allclose(expected, q**2, atol=1e-6)


@pytest.mark.parametrize("normalize", [False, True])
def test_token_reward(normalize):
    r = _rollouts()
    got = terms.TokenReward(weight=1.5, normalize=normalize)(r)
    tok, m = np.asarray(r.token_rewards), np.asarray(r.token_mask, dtype=np.float64)
    s = (tok * m).sum(-1)
    if normalize:
        n = m.sum(-1)
        s = np.where(n > 0, s / np.maximum(n, 1), 0.0)
    np.testing.assert_allclose(got, 1.5 * s, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bad", [np.nan, -np.inf, np.inf])
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("jit", [False, True])
def test_token_reward_ignores_non_finite_masked_tokens(bad, normalize, jit):
    # e.g. the log-probability of a padding id is -inf; -inf * 0 would be NaN
    r = _rollouts()
    m = np.asarray(r.token_mask)
    tok = np.asarray(r.token_rewards).copy()
    clean = np.where(m, tok, 0.0)
    tok[~m] = bad
    term = terms.TokenReward(weight=2.0, normalize=normalize)
    call = jax.jit(lambda t, r: t(r)) if jit else (lambda t, r: t(r))
    got = np.asarray(call(term, r.replace(token_rewards=tok)))
    n = m.sum(-1)
    ref = clean.sum(-1) if not normalize else np.where(n > 0, clean.sum(-1) / np.maximum(n, 1), 0)
    np.testing.assert_allclose(got, 2.0 * ref, rtol=1e-5, atol=1e-6)
    grad = jax.grad(lambda x: jnp.sum(term(r.replace(token_rewards=x))))(jnp.asarray(tok))
    scale = 2.0 / np.maximum(n, 1)[..., None] if normalize else 2.0
    np.testing.assert_allclose(grad, np.where(m, scale, 0.0), rtol=1e-6)


def test_token_reward_without_mask_counts_every_token():
    r = _rollouts().replace(token_mask=None)
    np.testing.assert_allclose(terms.TokenReward()(r), r.token_rewards.sum(-1), rtol=1e-5)


@pytest.mark.parametrize("rubric_probs", [False, True])
def test_rubric_score(rubric_probs):
    r = _rollouts(rubric_probs=rubric_probs)
    w = np.array([3.0, 1.0, 0.5])
    got = terms.RubricScore(weights=w, weight=2.0)(r)
    ref = 2.0 * (np.asarray(r.rubric, np.float64) * w).sum(-1) / w.sum()
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    equal = terms.RubricScore()(r)
    np.testing.assert_allclose(equal, np.asarray(r.rubric, np.float64).mean(-1), rtol=1e-6)
    assert equal.dtype == jnp.float32
    if not rubric_probs:  # booleans are counted: bit for bit the float32 mean
        want = np.asarray(r.rubric, np.float32).mean(-1, dtype=np.float32)
        np.testing.assert_array_equal(equal, want)
        np.testing.assert_array_equal(jax.jit(lambda t, x: t(x))(terms.RubricScore(), r), want)


def test_rubric_score_gradient_and_sweep_over_item_weights():
    """d/dw_k of w.x / sum(w) is (x_k - score) / sum(w); a vmap over weight vectors
    equals separate calls."""
    r = _rollouts(rubric_probs=True)
    x = np.asarray(r.rubric, np.float64)
    w = np.array([3.0, 1.0, 0.5], np.float32)
    grad = jax.grad(lambda v: jnp.sum(terms.RubricScore(weights=v)(r)))(jnp.asarray(w))
    score = (x @ w) / w.sum()
    expected = ((x - score[..., None]) / w.sum()).sum((0, 1))
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-6)
    ws = jnp.asarray([w, 2 * w + 1])
    swept = jax.vmap(lambda v: terms.RubricScore(weights=v)(r))(ws)
    for i in range(2):
        ref = (x @ np.asarray(ws[i], np.float64)) / np.asarray(ws[i]).sum()
        np.testing.assert_allclose(swept[i], ref, rtol=1e-6)


def test_scoring_rule_term_negates_the_loss():
    r = _rollouts()

    def abs_loss(p, y):
        return jnp.abs(p - y)

    got = terms.ScoringRuleTerm(rule=abs_loss, weight=3.0)(r)
    np.testing.assert_allclose(got, -3.0 * np.abs(r.confidence - r.correct), rtol=1e-6)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: terms.Brier(weight=float("nan")), "Brier.weight must be finite"),
        (lambda: terms.Correctness(weight="a"), "Correctness.weight must be a real number"),
        (lambda: terms.Correctness(weight=True), "Correctness.weight must be a real number"),
        (lambda: terms.RubricScore(weights=[1.0, -1.0]), "RubricScore.weights must be finite"),
        (lambda: terms.RubricScore(weights=[0.0, 0.0]), "must not all be zero"),
        (lambda: terms.RubricScore(weights=[[1.0]]), r"RubricScore.weights must have shape \[K\]"),
        (lambda: terms.ScoringRuleTerm(rule=3), "ScoringRuleTerm.rule must be callable"),
    ],
)
def test_bad_hyperparameters(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_missing_fields_raise_clearly():
    r = rd.Rollouts(correct=np.ones((2, 2)))
    with pytest.raises(ValueError, match="Brier needs Rollouts.confidence"):
        terms.Brier()(r)
    with pytest.raises(ValueError, match="RubricScore needs Rollouts.rubric"):
        terms.RubricScore()(r)
    with pytest.raises(ValueError, match="TokenReward needs Rollouts.token_rewards"):
        terms.TokenReward()(r)


def test_rubric_weights_of_wrong_length():
    with pytest.raises(ValueError, match=r"shape \[K\] = \[3\]"):
        terms.RubricScore(weights=[1.0, 2.0])(_rollouts())


def test_integer_and_float_weights_share_one_compilation():
    r = _rollouts()
    chex.clear_trace_counter()
    f = jax.jit(chex.assert_max_traces(lambda t, r: t(r), n=1))
    f(terms.Correctness(weight=2), r)
    f(terms.Correctness(weight=2.0), r)
    f(terms.Correctness(weight=np.float64(0.5)), r)


def test_jax_array_weights_of_any_real_dtype_are_accepted_and_trace_once():
    # A weakly typed, integer or bfloat16 JAX scalar used to be kept as it was
    # (a new trace for each) or, for bfloat16, rejected as "not a real number".
    r = _rollouts()
    traces = []

    @jax.jit
    def brier(term, rollouts):
        traces.append(None)
        return term(rollouts)

    weights = [0.5, 2, jnp.asarray(0.25), jnp.asarray(3), jnp.asarray(1.5, jnp.bfloat16)]
    weights.append(np.asarray(0.75, dtype=jnp.bfloat16))
    for w in weights:
        term = terms.Brier(weight=w)
        got = brier(term, r)
        expected = -float(w) * (np.asarray(r.confidence) - np.asarray(r.correct)) ** 2
        np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert len(traces) == 1
    with pytest.raises(ValueError, match="Brier.weight must be a real number"):
        terms.Brier(weight=jnp.asarray(True))
    with pytest.raises(ValueError, match="Brier.weight must be finite"):
        terms.Brier(weight=jnp.asarray(jnp.inf, jnp.bfloat16))


def _power_binary(p, y, order):
    q = jnp.where(y == 1, p, 1 - p)
    return 1 - order * q ** (order - 1) + (order - 1) * (q**order + (1 - q) ** order)


def test_scoring_rule_params_are_traced_and_match_closed_form():
    r = _rollouts()
    chex.clear_trace_counter()
    f = jax.jit(chex.assert_max_traces(lambda t, r: t(r), n=1))
    for order in (1.5, 2.0, 3.0):
        got = f(terms.ScoringRuleTerm(rule=_power_binary, weight=2.0, params={"order": order}), r)
        p, y = np.asarray(r.confidence, np.float64), np.asarray(r.correct)
        q = np.where(y == 1, p, 1 - p)
        ref = -2.0 * (1 - order * q ** (order - 1) + (order - 1) * (q**order + (1 - q) ** order))
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    # order 2 is the binary Brier score, twice: 2 (p - y)^2
    brier2 = terms.ScoringRuleTerm(rule=_power_binary, params={"order": 2.0})(r)
    np.testing.assert_allclose(brier2, -2 * (r.confidence - r.correct) ** 2, atol=1e-5)


def test_scoring_rule_params_are_checked():
    with pytest.raises(TypeError, match="params must be a dict"):
        terms.ScoringRuleTerm(rule=_power_binary, params=[2.0])
    with pytest.raises(ValueError, match=r"params\['order'\] must be finite"):
        terms.ScoringRuleTerm(rule=_power_binary, params={"order": float("nan")})


def test_power_example_rule_is_proper_per_the_library_check():
    import reward_design as rd

    report = rd.scoring_rules.check_propriety(
        lambda p, y: _power_binary(p, y, 3.0), num_classes=2, binary=True
    )
    assert report.proper and report.strictly_proper
