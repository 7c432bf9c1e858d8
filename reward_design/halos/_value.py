"""Prospect-theory value and probability-weighting functions.

Kahneman and Tversky's value function scores an outcome ``z`` relative to a
reference point (``z = 0``): concave for gains, convex for losses, and
steeper for losses than for gains (loss aversion). The probability-weighting
function describes how people over-weight small and under-weight large
probabilities.

All functions are elementwise, jittable and differentiable, and take their
hyperparameters as traced values, so sweeping ``alpha`` or
``loss_aversion`` never recompiles.

References:
  Tversky and Kahneman, "Advances in Prospect Theory: Cumulative
  Representation of Uncertainty", Journal of Risk and Uncertainty 5 (1992).
  Ethayarajh et al., "KTO: Model Alignment as Prospect Theoretic
  Optimization", arXiv 2402.01306.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from reward_design._checks import (
    host_values,
    is_concrete,
    real_array,
    scalar_hyper,
    set_float_leaf,
)
from reward_design._pytree import pytree_dataclass, static_field, wrap_callable

__all__ = [
    "kahneman_tversky_value",
    "probability_weighting",
    "KahnemanTverskyValue",
    "FunctionValue",
    "as_value_function",
]

_FN = "kahneman_tversky_value"


def _as_float(z: ArrayLike, name: str, fn: str) -> jax.Array:
    arr = real_array(z, name, fn)
    if arr.dtype == jnp.bool_:
        raise TypeError(f"{fn}: {name} must hold real numbers; got dtype bool.")
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        arr = arr.astype(jnp.float32)
    return arr


def kahneman_tversky_value(
    z: ArrayLike,
    alpha: ArrayLike = 0.88,
    loss_aversion: ArrayLike = 2.25,
    *,
    alpha_gain: ArrayLike | None = None,
    alpha_loss: ArrayLike | None = None,
) -> jax.Array:
    """The Kahneman-Tversky value of outcomes ``z`` relative to the reference point 0.

    ``v(z) = z^alpha_gain`` for ``z >= 0`` and
    ``v(z) = -loss_aversion * (-z)^alpha_loss`` for ``z < 0``.

    With one ``alpha`` (the default, alpha = 0.88, loss_aversion = 2.25 from
    Tversky and Kahneman's 1992 median estimates) the function is odd up to
    the loss-aversion factor: ``v(-z) = -loss_aversion * v(z)``. Pass
    ``alpha_gain`` / ``alpha_loss`` for the asymmetric form (they override
    ``alpha`` on their side).

    The derivative ``alpha z^(alpha-1)`` is infinite at ``z = 0`` for
    ``alpha < 1``; the gradient returned there is 0 (both branches are
    masked), and it is finite everywhere else.

    Args:
      z: outcomes relative to the reference point, any shape.
      alpha: curvature of both branches, > 0 (< 1: diminishing sensitivity).
      loss_aversion: lambda, how much steeper losses are than gains, > 0.
      alpha_gain: curvature of the gain branch (default: ``alpha``).
      alpha_loss: curvature of the loss branch (default: ``alpha``).

    Returns:
      ``v(z)``, the shape of ``z``.

    Raises:
      ValueError: a concrete ``alpha``/``alpha_gain``/``alpha_loss`` <= 0 or
        ``loss_aversion`` <= 0, or a non-scalar hyperparameter.

    References:
      Tversky and Kahneman, "Advances in Prospect Theory: Cumulative
      Representation of Uncertainty" (1992), eq. (5).
      Ethayarajh et al., "KTO: Model Alignment as Prospect Theoretic
      Optimization", arXiv 2402.01306, eq. (1).
    """
    x = _as_float(z, "z", _FN)
    a = scalar_hyper(alpha, "alpha", _FN, low=0.0, low_open=True)
    a_gain = (
        a
        if alpha_gain is None
        else scalar_hyper(alpha_gain, "alpha_gain", _FN, low=0.0, low_open=True)
    )
    a_loss = (
        a
        if alpha_loss is None
        else scalar_hyper(alpha_loss, "alpha_loss", _FN, low=0.0, low_open=True)
    )
    lam = scalar_hyper(loss_aversion, "loss_aversion", _FN, low=0.0, low_open=True)
    gain = x > 0
    loss = x < 0
    # Double `where`: the masked-out branch sees 1.0, so neither its value nor
    # its gradient (z^(a-1), log z for d/d alpha) can be inf or NaN.
    safe_gain = jnp.where(gain, x, 1.0)
    safe_loss = jnp.where(loss, -x, 1.0)
    return jnp.where(
        gain,
        safe_gain**a_gain,
        jnp.where(loss, -lam * safe_loss**a_loss, jnp.zeros_like(x)),
    )


def probability_weighting(p: ArrayLike, gamma: ArrayLike = 0.61) -> jax.Array:
    """Tversky-Kahneman probability weighting ``w(p) = p^g / (p^g + (1-p)^g)^(1/g)``.

    For ``g < 1`` small probabilities are over-weighted and large ones
    under-weighted (inverse-S shape); ``g = 1`` is the identity. Tversky and
    Kahneman (1992) estimated g = 0.61 for gains and g = 0.69 for losses.
    ``w(0) = 0`` and ``w(1) = 1`` exactly. For g below about 0.28 the
    function is no longer monotone (a known property of this form).

    Args:
      p: probabilities in [0, 1], any shape. Concrete inputs are checked.
      gamma: the curvature g, > 0.

    Returns:
      ``w(p)``, the shape of ``p``.

    Raises:
      ValueError: concrete ``p`` outside [0, 1] or NaN, or ``gamma`` <= 0.

    References:
      Tversky and Kahneman, "Advances in Prospect Theory: Cumulative
      Representation of Uncertainty" (1992), eq. (6).
    """
    fn = "probability_weighting"
    x = _as_float(p, "p", fn)
    host = host_values(p, x)
    if host is not None:
        if not np.all((host >= 0) & (host <= 1)):
            bad = host[~((host >= 0) & (host <= 1))]
            raise ValueError(
                f"{fn}: p must be probabilities in [0, 1]; got values such as {bad.ravel()[:3]}."
            )
    g = scalar_hyper(gamma, "gamma", fn, low=0.0, low_open=True)
    interior = (x > 0) & (x < 1)
    # Endpoints are set exactly; the interior formula sees 0.5 there so that
    # gradients of p^g at p = 0 (infinite for g < 1) never reach the output.
    q = jnp.where(interior, x, 0.5)
    num = q**g
    den = (num + (1.0 - q) ** g) ** (1.0 / g)
    return jnp.where(interior, num / den, jnp.where(x >= 1, 1.0, 0.0).astype(x.dtype))


@pytree_dataclass
class KahnemanTverskyValue:
    """The Kahneman-Tversky value function as a pytree with traced hyperparameters.

    ``v(z) = z^alpha_gain`` (z >= 0), ``-loss_aversion (-z)^alpha_loss`` (z < 0).
    Use it as the ``value`` of a `HALO` to get a KTO variant with the full
    prospect-theory shape; ``jax.jit`` compiles once for every value of its
    fields and ``jax.vmap`` can sweep them.

    Args:
      alpha_gain: curvature of gains (traced), > 0.
      alpha_loss: curvature of losses (traced), > 0.
      loss_aversion: lambda (traced), > 0.

    References:
      Tversky and Kahneman, "Advances in Prospect Theory" (1992).
    """

    alpha_gain: Any = 0.88
    alpha_loss: Any = 0.88
    loss_aversion: Any = 2.25

    def __post_init__(self):
        for name in ("alpha_gain", "alpha_loss", "loss_aversion"):
            set_float_leaf(self, name, "KahnemanTverskyValue")
            value = getattr(self, name)
            if isinstance(value, np.ndarray) and (value.ndim != 0 or float(value) <= 0):
                raise ValueError(
                    f"KahnemanTverskyValue.{name} must be a scalar > 0; got {value.tolist()!r}."
                )
            # concrete JAX arrays (possibly a stacked vector to vmap over): range only
            if isinstance(value, jax.Array) and is_concrete(value):
                if np.any(np.asarray(value, dtype=np.float64) <= 0):
                    raise ValueError(
                        f"KahnemanTverskyValue.{name} must be > 0; "
                        f"got {np.asarray(value).tolist()!r}."
                    )

    def __call__(self, z: ArrayLike) -> jax.Array:
        return kahneman_tversky_value(
            z,
            loss_aversion=self.loss_aversion,
            alpha_gain=self.alpha_gain,
            alpha_loss=self.alpha_loss,
        )


@pytree_dataclass
class FunctionValue:
    """Wraps a plain function ``v(z) -> value`` as a (static) value-function pytree.

    The function is part of the compiled program's identity; put
    hyperparameters you want to sweep in a dataclass value (such as
    `KahnemanTverskyValue`) instead.
    """

    fn: Callable[[jax.Array], jax.Array] = static_field()

    def __post_init__(self):
        if not callable(self.fn):
            raise TypeError(f"FunctionValue.fn must be callable; got {self.fn!r}.")

    def __call__(self, z: ArrayLike) -> jax.Array:
        return jnp.asarray(self.fn(real_array(z, "z", "FunctionValue")))


def as_value_function(value: Any) -> Any:
    """A value function usable as a pytree field.

    Dataclass pytrees (with ``__call__``) pass unchanged so that their numeric
    fields stay traced; plain callables are wrapped in `FunctionValue`.

    Raises:
      TypeError: if ``value`` is not callable.
    """
    return wrap_callable(value, "HALO.value", "a callable v(z) -> value", wrap=FunctionValue)
