"""The shared input checks (reward_design/_checks.py), seen through the public API.

What docs/concepts.md ("Input checks: eager and under jit") promises: static
checks run eagerly and at trace time, value checks only on concrete inputs;
value errors say how many entries are bad and where the first one is.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reward_design as rd
from reward_design import calibration as cal
from reward_design import halos, posthoc
from reward_design import scoring_rules as sr

CORRECT = np.array([1.0, 0.0, 1.0, 0.0], np.float32)


def test_value_errors_give_the_count_and_the_first_bad_entry():
    conf = np.array([0.2, 1.5, -1.0, 0.3], np.float32)
    with pytest.raises(
        ValueError,
        match=r"^expected_calibration_error: confidence must lie in \[0, 1\]; "
        r"got 2 value\(s\), first at index \(1,\) \(1\.5\) outside",
    ):
        cal.expected_calibration_error(conf, CORRECT)
    with pytest.raises(
        ValueError, match=r"rows must sum to 1 .*got 1 value\(s\), first at index \(1,\) \(0\.5\)"
    ):
        sr.validate_forecast(np.array([[0.5, 0.5], [0.25, 0.25]]))
    with pytest.raises(
        ValueError,
        match=r"labels must be class indices in \[0, 3\); got 1 value\(s\), "
        r"first at index \(0, 2\) \(7\)",
    ):
        posthoc.realized_cost(np.zeros((1, 4), int), np.array([[0, 1, 7, 2]]), 1 - np.eye(3))


def test_static_checks_run_under_jit_value_checks_do_not():
    ece = jax.jit(lambda c, y: cal.expected_calibration_error(c, y, num_bins=4))
    # out of range: not checked once traced (the metric is computed as given)
    assert np.isfinite(ece(jnp.array([0.2, 1.5, 0.5, 0.3]), jnp.asarray(CORRECT)))
    with pytest.raises(ValueError, match="confidence and correct must have the same shape"):
        ece(jnp.zeros(3), jnp.asarray(CORRECT))
    kto = jax.jit(lambda pol: halos.kto_loss(pol, jnp.zeros(4), jnp.ones(4, bool), 0.0))
    assert np.isnan(kto(jnp.array([0.0, jnp.nan, 0.0, 0.0]))).any()
    with pytest.raises(ValueError, match=r"kto_loss: policy_logps must be finite; got NaN/inf"):
        halos.kto_loss(np.array([0.0, np.nan, 0.0, 0.0]), np.zeros(4), np.ones(4, bool), 0.0)
    with pytest.raises(ValueError, match=r"kto_loss: reference_logps must have the shape"):
        kto(jnp.zeros(3))


def test_scalar_arguments_are_scalars_even_under_jit():
    probs, outcome = np.full((2, 3), 1 / 3), np.array([0, 2])
    power = jax.jit(lambda a: sr.power(probs, outcome, a))
    np.testing.assert_allclose(power(3.0), sr.power(probs, outcome, 3.0), rtol=1e-6)
    with pytest.raises(ValueError, match="power: order must be a scalar"):
        power(jnp.array([2.0, 3.0]))
    with pytest.raises(ValueError, match=r"power: order must be in \(1\.0, inf\); got 0\.5"):
        sr.power(probs, outcome, 0.5)


def test_hyperparameter_fields_reject_what_is_not_a_real_number():
    with pytest.raises(TypeError, match="Correctness.weight must be a real number; got 'x'"):
        rd.terms.Correctness(weight="x")
    with pytest.raises(TypeError, match="Correctness.weight must be a real number"):
        rd.terms.Correctness(weight=object())
    with pytest.raises(TypeError, match="AllOf.pass_threshold must be a real number; got None"):
        rd.gates.AllOf(pass_threshold=None)
    # a list is read as numbers, not kept as a pytree of Python floats
    weight = rd.terms.Correctness(weight=[1.0, 2.0]).weight
    assert isinstance(weight, np.ndarray) and weight.dtype == np.float32


def test_traced_hyperparameters_pass_unchecked():
    r = rd.Rollouts(correct=np.ones((2, 3), np.float32))
    out = jax.jit(lambda w: rd.terms.Correctness(weight=w)(r))(jnp.nan)
    assert np.isnan(np.asarray(out)).all()
    with pytest.raises(ValueError, match="Correctness.weight must be finite"):
        rd.terms.Correctness(weight=np.nan)
