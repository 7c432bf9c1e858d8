"""Hypothesis properties with the public strategies: every built-in rule is proper."""

from functools import cache, partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reward_design as rd
from reward_design._jax_compat import enable_x64
from reward_design.scoring_rules import strategies as rst

sr = rd.scoring_rules

MULTICLASS = {
    "brier": sr.brier,
    "log": sr.log,
    "spherical": sr.spherical,
    "pseudospherical3": partial(sr.pseudospherical, order=3.0),
    "power1.5": partial(sr.power, order=1.5),
    "power3": partial(sr.power, order=3.0),
    "ranked_probability": sr.ranked_probability,
}
# One class count per rule keeps compilation cheap; two-class behaviour is covered by the
# binary forms below and by the slow sweep over C in 2..4.
NUM_CLASSES = {
    "brier": 4,
    "log": 3,
    "spherical": 3,
    "pseudospherical3": 3,
    "power1.5": 3,
    "power3": 4,
    "ranked_probability": 4,
}
BINARY = {"brier": sr.brier_binary, "log": sr.log_binary, "spherical": sr.spherical_binary}


@cache
def _gain(name: str, num_classes: int):
    """jitted float64 ``E_q S(q) - E_q S(p)`` (0 * inf = 0) for batches of (q, p)."""
    rule = MULTICLASS[name]
    ys = jnp.arange(num_classes)

    def expected(q, p):
        s = jax.vmap(lambda y: rule(p, jnp.full(p.shape[:-1], y)))(ys)  # [C, B]
        return jnp.sum(jnp.where(q.T > 0, q.T * s, 0.0), axis=0)

    return jax.jit(lambda q, p: expected(q, q) - expected(q, p))


def _check_proper(name, c, q, p):
    q, p = np.asarray(q)[None], np.asarray(p)[None]
    with enable_x64(True):
        gain = np.asarray(_gain(name, c)(jnp.asarray(q), jnp.asarray(p)))
    # the truth never loses to a misreport (NaN would mean a broken rule)
    assert not np.any(np.isnan(gain)), (q, p)
    assert np.all(gain <= 1e-9), (q, p, gain)


@pytest.mark.parametrize("name", sorted(MULTICLASS))
@given(data=st.data())
def test_builtin_multiclass_rules_are_proper(name, data):
    c = NUM_CLASSES[name]
    q = data.draw(rst.probability_vectors(c), label="q")
    p = data.draw(rst.probability_vectors(c), label="p")
    _check_proper(name, c, q, p)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MULTICLASS))
@pytest.mark.parametrize("c", [2, 3, 4, 6])
@settings(max_examples=200)
@given(data=st.data())
def test_builtin_multiclass_rules_are_proper_thorough(name, c, data):
    q = data.draw(rst.probability_vectors(c), label="q")
    p = data.draw(rst.probability_vectors(c), label="p")
    _check_proper(name, c, q, p)


@cache
def _binary_expected(name: str):
    rule = BINARY[name]

    def expected(q, p):
        s1, s0 = rule(p, jnp.ones_like(p)), rule(p, jnp.zeros_like(p))
        return jnp.where(q > 0, q * s1, 0.0) + jnp.where(q < 1, (1 - q) * s0, 0.0)

    return jax.jit(expected)


@pytest.mark.parametrize("name", sorted(BINARY))
@given(q=rst.confidences(), p=rst.confidences())
def test_builtin_binary_rules_are_proper(name, q, p):
    with enable_x64(True):
        e = np.asarray(_binary_expected(name)(jnp.array([q, q]), jnp.array([q, p])))
    assert e[0] <= e[1] + 1e-12


@given(q=rst.confidences(), c=rst.confidences())
def test_rlcr_expected_reward_peaks_at_the_truth(q, c):
    # J(c; q) = q - (c - q)^2 - q (1 - q): the truthful confidence is optimal, V(q) = q^2.
    with enable_x64(True):
        brier = np.asarray(_binary_expected("brier")(jnp.array([q, q]), jnp.array([q, c])))
    j = q - brier
    assert j[0] >= j[1] - 1e-12
    np.testing.assert_allclose(j[0], q**2, atol=1e-12)


@given(p=rst.probability_vectors(5), y=rst.class_outcomes(5))
def test_strategies_draw_valid_forecasts(p, y):
    sr.validate_forecast(p, np.int64(y), atol=1e-12)
    assert np.all(p >= 0) and abs(p.sum() - 1) <= 1e-12


@given(p=rst.probability_vectors(3, allow_zeros=False), y=rst.binary_outcomes((4,)))
def test_strategy_options(p, y):
    assert np.all(p > 0)
    assert y.shape == (4,) and set(np.unique(y)) <= {0, 1}


def test_strategies_reject_bad_arguments():
    with pytest.raises(ValueError, match="num_classes"):
        rst.probability_vectors(1)
