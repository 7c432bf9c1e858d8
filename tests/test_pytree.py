"""The one static-callable wrapper (``_pytree.wrap_callable``), through its public users.

A plain function becomes the public static wrapper of its role (`FunctionTerm`,
`FunctionGate`, `FunctionValue`; `Gated.inner` uses the generic one); a pytree
dataclass with ``__call__`` passes unchanged, its numbers staying traced.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reward_design as rd
from reward_design import halos

R = rd.Rollouts(
    correct=np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], np.float32),
    rubric=np.ones((2, 3, 2), bool),
)
INNER = rd.compose(correct=rd.terms.Correctness())


def _gate(r):
    return jnp.asarray(r.correct) > 0.5


def test_plain_callables_become_static_wrappers():
    term = rd.compose(f=lambda r: jnp.asarray(r.correct)).terms["f"]
    gate = rd.gates.Gated(_gate, INNER).gate
    negated = rd.gates.Not(functools.partial(_gate)).gate
    value = halos.HALO(value=jnp.tanh).value
    assert isinstance(term, rd.terms.FunctionTerm)
    assert isinstance(gate, rd.gates.FunctionGate) and gate.fn is _gate
    assert isinstance(negated, rd.gates.FunctionGate)
    assert isinstance(value, halos.FunctionValue)
    for wrapped in (term, gate, negated, value):
        assert jax.tree_util.tree_leaves(wrapped) == []
    np.testing.assert_array_equal(gate(R), np.asarray(R.correct) > 0.5)


def test_pytree_callables_pass_unchanged():
    brier, all_of, kt = rd.terms.Brier(weight=0.5), rd.gates.AllOf(), halos.KahnemanTverskyValue()
    assert rd.compose(b=brier).terms["b"] is brier
    assert rd.gates.Gated(all_of, INNER).gate is all_of
    assert rd.gates.Gated(all_of, INNER).inner is INNER
    assert halos.HALO(value=kt).value is kt


def test_not_callable_names_the_argument():
    with pytest.raises(TypeError, match=r"^term 'x' must be callable as term\(rollouts\) -> "):
        rd.compose(x=3)
    with pytest.raises(TypeError, match=r"^Gated\.gate must be a gate, gate\(rollouts\) -> "):
        rd.gates.Gated(0.5, INNER)
    with pytest.raises(TypeError, match=r"^Or\.gates \(each gate\) must be a gate, .*; got 'a'\.$"):
        rd.gates.Or(rd.gates.AllOf(), "a")
    with pytest.raises(TypeError, match=r"^HALO\.value must be a callable v\(z\) -> value; got 3"):
        halos.HALO(value=3.0)


def test_the_same_function_compiles_once_a_new_one_anew():
    traces = []

    @jax.jit
    def total(objective, rollouts):
        traces.append(None)
        return objective(rollouts).total

    def bonus(r):
        return 0.5 * jnp.asarray(r.correct)

    np.testing.assert_allclose(total(rd.compose(b=bonus), R), 0.5 * np.asarray(R.correct))
    total(rd.compose(b=bonus), R)
    assert len(traces) == 1
    total(rd.compose(b=lambda r: jnp.asarray(r.correct)), R)
    assert len(traces) == 2
