"""Cost-matrix validation and constructors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reward_design as rd

P = rd.posthoc


def test_validate_returns_float_array():
    out = P.validate_cost_matrix([[0, 1], [5, 0]])
    assert out.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(out), [[0.0, 1.0], [5.0, 0.0]])


@pytest.mark.parametrize(
    "cost, match",
    [
        (np.zeros((2, 3)), r"square \[C, C\].*\(2, 3\)"),
        (np.zeros((3,)), r"square \[C, C\].*\(3,\)"),
        (np.zeros((1, 1)), "at least 2 classes"),
        (np.array([[0.0, np.nan], [1.0, 0.0]]), "finite"),
        (np.array([[0.0, np.inf], [1.0, 0.0]]), "finite"),
    ],
)
def test_bad_cost_matrices_raise(cost, match):
    with pytest.raises(ValueError, match=match):
        P.validate_cost_matrix(cost)


def test_non_numeric_cost_raises_type_error():
    with pytest.raises(TypeError, match="cost must be a real-valued array"):
        P.validate_cost_matrix(np.array([["a", "b"], ["c", "d"]]))


def test_cost_size_must_match_num_classes():
    with pytest.raises(ValueError, match=r"shape \[3, 3\].*got shape \(2, 2\)"):
        P.validate_cost_matrix(np.zeros((2, 2)), num_classes=3)


def test_binary_cost_matrix_layout():
    np.testing.assert_array_equal(
        np.asarray(P.binary_cost_matrix(c_fp=2.0, c_fn=7.0, c_tn=0.5, c_tp=-1.0)),
        [[0.5, 2.0], [7.0, -1.0]],
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(c_fp=-1.0, c_fn=1.0), "c_fp must be >= c_tn"),
        (dict(c_fp=1.0, c_fn=-2.0), "c_fn must be >= c_tp"),
        (dict(c_fp=1.0, c_fn=1.0, c_tp=2.0), "c_fn must be >= c_tp"),
    ],
)
def test_binary_cost_matrix_refuses_mistakes_cheaper_than_right_calls(kwargs, match):
    with pytest.raises(ValueError, match=f"binary_cost_matrix: {match}"):
        P.binary_cost_matrix(**kwargs)


def test_binary_cost_matrix_accepts_gains_and_checks_its_arguments():
    # negative costs are gains; only the regrets c_fp - c_tn, c_fn - c_tp must be >= 0
    cost = np.asarray(P.binary_cost_matrix(c_fp=-1.0, c_fn=-1.0, c_tn=-2.0, c_tp=-3.0))
    np.testing.assert_array_equal(cost, [[-2.0, -1.0], [-1.0, -3.0]])
    with pytest.raises(TypeError, match="binary_cost_matrix: c_fp must be a real number"):
        P.binary_cost_matrix("1", 2.0)
    with pytest.raises(ValueError, match="binary_cost_matrix: c_fn must be a scalar"):
        P.binary_cost_matrix(1.0, [2.0, 3.0])
    with pytest.raises(ValueError, match="binary_cost_matrix: c_tn must be finite"):
        P.binary_cost_matrix(1.0, 2.0, c_tn=np.nan)
    # traced costs pass (the rule is a value check)
    jax.jit(P.binary_cost_matrix)(-1.0, 1.0)


def test_reject_cost_may_not_undercut_the_right_answer():
    with pytest.raises(ValueError, match=r"reject_cost\[0\] = -0.5 < 0.0"):
        P.with_reject_option(1.0 - np.eye(2), -0.5)
    with pytest.raises(ValueError, match=r"reject_cost\[1\] = 0.5 < 1.0"):
        P.with_reject_option(np.array([[0.0, 2.0], [1.0, 3.0]]), [0.0, 0.5])
    with pytest.raises(ValueError, match="reject_cost must be >= the cheapest"):
        P.bayes_decision(np.array([[0.5, 0.5]]), 1.0 - np.eye(2), reject_cost=-0.1)
    # costs from gains: a negative reject cost is a gain of abstaining, fine above the row minimum
    gain = np.array([[1.0, -1.0], [-1.0, 1.0]])
    out = np.asarray(P.with_reject_option(P.cost_matrix_from_gain(gain), -0.5))
    np.testing.assert_array_equal(out, [[-1.0, 1.0, -0.5], [1.0, -1.0, -0.5]])


def test_cost_from_class_costs():
    c = np.asarray(P.cost_matrix_from_class_costs([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(c, [[0, 1, 1], [2, 0, 2], [3, 3, 0]])
    with pytest.raises(ValueError, match=r"class_costs must have shape \[C\]"):
        P.cost_matrix_from_class_costs([[1.0, 2.0]])
    with pytest.raises(ValueError, match="class_costs must be finite"):
        P.cost_matrix_from_class_costs([1.0, np.nan])


def test_cost_from_gain_both_forms_give_the_same_decisions():
    rng = np.random.default_rng(0)
    gain = rng.normal(size=(4, 4))
    probs = rng.dirichlet(np.ones(4), size=500)
    best_gain = np.argmax(probs @ gain, axis=1)
    for regret in (False, True):
        cost = P.cost_matrix_from_gain(gain, regret=regret)
        np.testing.assert_array_equal(np.asarray(P.bayes_decision(probs, cost)), best_gain)
    regret_cost = np.asarray(P.cost_matrix_from_gain(gain, regret=True))
    assert regret_cost.min() >= 0
    np.testing.assert_allclose(regret_cost.min(axis=1), 0.0, atol=1e-6)
    # utility with cost = -gain is the gain itself
    y = rng.integers(0, 4, size=50)
    d = rng.integers(0, 4, size=50)
    np.testing.assert_allclose(
        np.asarray(P.utility(d, y, P.cost_matrix_from_gain(gain))), gain[y, d], rtol=1e-6
    )
    with pytest.raises(ValueError, match="gain must be a square"):
        P.cost_matrix_from_gain(np.zeros((2, 3)))


def test_with_reject_option():
    cost = np.array([[0.0, 1.0], [4.0, 0.0]])
    np.testing.assert_allclose(
        np.asarray(P.with_reject_option(cost, 0.2)), [[0, 1, 0.2], [4, 0, 0.2]], rtol=1e-6
    )
    np.testing.assert_allclose(
        np.asarray(P.with_reject_option(cost, [0.1, 0.3])), [[0, 1, 0.1], [4, 0, 0.3]], rtol=1e-6
    )
    with pytest.raises(ValueError, match=r"reject_cost must be a scalar or have shape \[C\]"):
        P.with_reject_option(cost, [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="reject_cost must be finite"):
        P.with_reject_option(cost, np.nan)


def test_validation_under_jit_checks_shapes_only():
    f = jax.jit(lambda c: P.validate_cost_matrix(c) * 2)
    np.testing.assert_array_equal(np.asarray(f(jnp.eye(2))), 2 * np.eye(2))
    with pytest.raises(ValueError, match="square"):
        f(jnp.zeros((2, 3)))
