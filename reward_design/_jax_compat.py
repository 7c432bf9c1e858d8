"""JAX APIs whose public name changed between the supported floor and current JAX.

The floor (``jax>=0.6.1`` in pyproject.toml) has the thread-local 64-bit
context as ``jax.experimental.enable_x64``; later versions name it
``jax.enable_x64`` and removed the experimental one. Both wrap the same
configuration state (``jax_enable_x64``), so `enable_x64` below behaves the
same on every supported version: it is thread-local, it is part of the jit
cache key, and it restores the previous setting on exit (also on an
exception).
"""

from __future__ import annotations

import jax

__all__ = ["enable_x64"]

if hasattr(jax, "enable_x64"):
    _ENABLE_X64 = jax.enable_x64
else:  # jax < 0.8: only the experimental name exists
    from jax.experimental import enable_x64 as _ENABLE_X64


def enable_x64(new_val: bool = True):
    """Context manager: 64-bit types on (``True``) or off (``False``) inside it.

    ``with enable_x64(True): ...`` is ``with jax.enable_x64(True): ...`` on
    JAX versions that have it and ``jax.experimental.enable_x64`` on older ones.
    """
    return _ENABLE_X64(bool(new_val))
