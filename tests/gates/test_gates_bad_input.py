"""Bad input to gates, Gated and GroupFilter raises a clear error naming the argument."""

import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

import reward_design as rd
from reward_design.compose import RewardOutput
from reward_design.gates import (
    AllOf,
    And,
    AtLeast,
    Essential,
    FunctionGate,
    Gated,
    GroupFilter,
    Not,
    Or,
    WeightedThreshold,
)

R = rd.Rollouts(
    correct=np.ones((2, 3), np.float32),
    rubric=np.ones((2, 3, 4), bool),
    token_rewards=np.zeros((2, 3, 2), np.float32),
)
NO_RUBRIC = rd.Rollouts(correct=np.ones((2, 3), np.float32))
INNER = rd.compose(correct=rd.terms.Correctness())


@pytest.mark.parametrize(
    "gate", [AllOf(), AtLeast(1), WeightedThreshold([1.0] * 4, 1.0), Essential([0])]
)
def test_rubric_missing(gate):
    with pytest.raises(ValueError, match=r"needs Rollouts\.rubric, which is None"):
        gate(NO_RUBRIC)
    with pytest.raises(ValueError, match=r"Rollouts\.rubric"):
        Gated(gate, INNER)(NO_RUBRIC)


def test_weights_wrong_length_or_shape():
    with pytest.raises(
        ValueError, match=r"weights must have shape \[K\] = \[4\].*got shape \(3,\)"
    ):
        WeightedThreshold([1.0, 1.0, 1.0], 1.0)(R)
    with pytest.raises(ValueError, match=r"weights must have shape \[K\] with K >= 1"):
        WeightedThreshold(np.ones((2, 2)), 1.0)
    with pytest.raises(ValueError, match=r"weights must have shape \[K\] with K >= 1"):
        WeightedThreshold([], 1.0)
    with pytest.raises(ValueError, match=r"weights must be finite"):
        WeightedThreshold([1.0, np.nan], 1.0)
    with pytest.raises(ValueError, match=r"weights is required"):
        WeightedThreshold(None, 1.0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_threshold_nan_or_inf(bad):
    with pytest.raises(ValueError, match=r"WeightedThreshold\.threshold must be finite"):
        WeightedThreshold([1.0], bad)
    with pytest.raises(ValueError, match=r"AllOf\.pass_threshold must be finite"):
        AllOf(pass_threshold=bad)
    with pytest.raises(ValueError, match=r"Gated\.floor must be finite"):
        Gated(AllOf(), INNER, floor=bad)
    with pytest.raises(ValueError, match=r"GroupFilter\.atol must be finite"):
        GroupFilter(atol=bad)
    with pytest.raises(ValueError, match=r"AtLeast\.k must be finite"):
        AtLeast(bad)


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5])
def test_pass_threshold_out_of_range(bad):
    for cls in (AllOf, lambda **kw: AtLeast(1, **kw), lambda **kw: Essential([0], **kw)):
        with pytest.raises(ValueError, match=r"pass_threshold must lie in \(0, 1\]"):
            cls(pass_threshold=bad)


def test_scalar_hyperparameters():
    with pytest.raises(ValueError, match=r"threshold must be a scalar"):
        WeightedThreshold([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"pass_threshold must be a scalar"):
        AllOf(pass_threshold=(0.5, 0.6))
    with pytest.raises(ValueError, match=r"AtLeast\.k must be a real number"):
        AtLeast(True)
    with pytest.raises(TypeError, match=r"Gated\.floor must be a real number; got '0'"):
        Gated(AllOf(), INNER, floor="0")


def test_at_least_k():
    with pytest.raises(ValueError, match=r"AtLeast\.k must be a non-negative integer; got -1"):
        AtLeast(-1)
    with pytest.raises(ValueError, match=r"AtLeast\.k must be a non-negative integer; got 1\.5"):
        AtLeast(1.5)
    with pytest.raises(
        ValueError, match=r"AtLeast\.k = 5 exceeds the number of rubric items K = 4"
    ):
        AtLeast(5)(R)


def test_essential_indices():
    with pytest.raises(ValueError, match=r"Essential\.indices must be a non-empty list"):
        Essential([])
    with pytest.raises(ValueError, match=r"Essential\.indices must be distinct"):
        Essential([1, 1])
    with pytest.raises(ValueError, match=r"Essential\.indices must be non-negative integers"):
        Essential([-1])
    with pytest.raises(ValueError, match=r"Essential\.indices must be non-negative integers"):
        Essential([0.5])
    with pytest.raises(ValueError, match=r"refer to items beyond the K = 4"):
        Essential([0, 4])(R)
    with pytest.raises(ValueError, match=r"nothing is left for it"):
        Essential([0, 1, 2, 3], rest=AtLeast(1))(R)
    with pytest.raises(TypeError, match=r"Essential\.rest must be a gate"):
        Essential([0], rest=3)


def test_combinators():
    with pytest.raises(ValueError, match=r"And needs at least one gate"):
        And()
    with pytest.raises(ValueError, match=r"Or needs at least one gate"):
        Or([])
    with pytest.raises(TypeError, match=r"And.gates \(each gate\) must be a gate"):
        And(AllOf(), 3)
    with pytest.raises(TypeError, match=r"Not\.gate must be a gate"):
        Not("AllOf")
    with pytest.raises(TypeError, match=r"not both"):
        And(AllOf(), gates=[AllOf()])


def test_function_gate_outputs():
    with pytest.raises(TypeError, match=r"FunctionGate\.fn must be callable"):
        FunctionGate(fn=1)
    with pytest.raises(TypeError, match=r"boolean verdict; got dtype float32"):
        FunctionGate(lambda r: jnp.asarray(r.correct, jnp.float32))(R)
    with pytest.raises(ValueError, match=r"\[P, G\] = \[2, 3\] verdict; got shape \(2,\)"):
        FunctionGate(lambda r: jnp.ones((2,), bool))(R)


def test_gated_arguments():
    with pytest.raises(ValueError, match=r"Gated\.on_reject must be 'floor' or 'drop'; got 'skip'"):
        Gated(AllOf(), INNER, on_reject="skip")
    with pytest.raises(TypeError, match=r"Gated\.gate must be a gate"):
        Gated(0.5, INNER)
    with pytest.raises(TypeError, match=r"Gated\.inner must be an objective"):
        Gated(AllOf(), 1.0)
    with pytest.raises(TypeError, match=r"Gated\.group_filter must be a GroupFilter"):
        Gated(AllOf(), INNER, group_filter=lambda r: r)
    with pytest.raises(TypeError, match=r"Gated\.inner must return a RewardOutput"):
        Gated(AllOf(), lambda r: r.correct)(R)

    class FloatGate:
        def __call__(self, r):
            return jnp.ones((2, 3))

    with pytest.raises(TypeError, match=r"FunctionGate\(FloatGate\) must give a boolean verdict"):
        Gated(FloatGate(), INNER)(R)

    @struct.dataclass
    class FloatPytreeGate:
        scale: float = 1.0

        def __call__(self, r):
            return self.scale * jnp.asarray(r.correct)

    with pytest.raises(TypeError, match=r"Gated\.gate must return a boolean array"):
        Gated(FloatPytreeGate(), INNER)(R)

    def bad_inner(r):
        return RewardOutput(total=jnp.zeros((3,)), components={}, accepted=jnp.ones((2, 3), bool))

    with pytest.raises(ValueError, match=r"Gated\.inner returned total of shape \(3,\)"):
        Gated(AllOf(), bad_inner)(R)


def test_group_filter_arguments():
    with pytest.raises(ValueError, match=r"min_accepted must be a non-negative integer; got -1"):
        GroupFilter(min_accepted=-1)
    with pytest.raises(ValueError, match=r"min_accepted must be a non-negative integer; got 1\.5"):
        GroupFilter(min_accepted=1.5)
    with pytest.raises(ValueError, match=r"GroupFilter\.atol must be >= 0"):
        GroupFilter(atol=-1e-3)
    with pytest.raises(TypeError, match=r"drop_degenerate must be a bool"):
        GroupFilter(drop_degenerate="yes")
    gf = GroupFilter()
    with pytest.raises(ValueError, match=r"rewards must have shape \[P, G\]"):
        gf.keep(np.zeros(3), np.ones(3, bool))
    with pytest.raises(ValueError, match=r"accepted must have the shape of rewards"):
        gf.keep(np.zeros((2, 3)), np.ones((2, 2), bool))
    with pytest.raises(TypeError, match=r"accepted must be boolean"):
        gf.keep(np.zeros((2, 3)), np.ones((2, 3)))
