"""`reward_design._jax_compat.enable_x64`: the same 64-bit context on the floor and current JAX."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from reward_design._jax_compat import enable_x64


def _dtype():
    return jnp.asarray(np.float64(1.5)).dtype


def test_on_inside_and_the_previous_setting_after():
    before = _dtype()
    with enable_x64(True):
        assert _dtype() == jnp.float64
        with enable_x64(False):
            assert _dtype() == jnp.float32
        assert _dtype() == jnp.float64
    assert _dtype() == before


def test_restored_after_an_exception():
    before = _dtype()
    with pytest.raises(RuntimeError, match="boom"), enable_x64(True):
        raise RuntimeError("boom")
    assert _dtype() == before


def test_jit_traces_again_when_the_setting_changes():
    """The setting is part of the jit cache key: a function compiled outside is not reused."""
    traces = []

    @jax.jit
    def f(x):
        traces.append(None)
        return x * 2

    x = np.float64(0.1)
    with enable_x64(False):
        assert f(x).dtype == jnp.float32
    with enable_x64(True):
        y = f(x)
        assert y.dtype == jnp.float64
        assert float(y) == 0.2  # exact in float64, not the float32 rounding
    assert len(traces) == 2
