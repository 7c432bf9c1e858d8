"""Full-batch L-BFGS (optax) for the small, smooth calibration problems."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
import optax.tree_utils as otu
from sklearn.exceptions import ConvergenceWarning

from reward_design._checks import check_count, scalar_hyper

__all__ = ["LbfgsResult", "minimize_lbfgs", "warn_unconverged"]


class LbfgsResult(NamedTuple):
    params: Any
    value: jax.Array
    grad_norm: jax.Array
    num_iter: jax.Array


@functools.lru_cache(maxsize=64)
def _runner(fun: Callable[..., jax.Array], max_iter: int, tol: float) -> Callable:
    """One jitted solver per (objective, settings), so refits with the same shapes reuse it."""
    solver = optax.lbfgs()

    def step_fn(data):
        def obj(params):
            return fun(params, *data)

        value_and_grad = optax.value_and_grad_from_state(obj)

        def step(carry):
            params, state = carry
            value, grad = value_and_grad(params, state=state)
            updates, state = solver.update(
                grad, state, params, value=value, grad=grad, value_fn=obj
            )
            return optax.apply_updates(params, updates), state

        return step

    def keep_going(carry):
        _, state = carry
        count = otu.tree_get(state, "count")
        grad = otu.tree_get(state, "grad")
        err = otu.tree_norm(grad)
        return (count == 0) | ((count < max_iter) & (err >= tol))

    @jax.jit
    def run(params, data):
        state = solver.init(params)
        params, state = jax.lax.while_loop(keep_going, step_fn(data), (params, state))
        value, grad = jax.value_and_grad(fun)(params, *data)
        return params, value, otu.tree_norm(grad), otu.tree_get(state, "count")

    return run


def minimize_lbfgs(
    fun: Callable[..., jax.Array],
    init_params: Any,
    *data: Any,
    max_iter: int = 200,
    tol: float = 1e-6,
) -> LbfgsResult:
    """Minimises a smooth ``fun(params, *data) -> scalar`` with optax's L-BFGS + zoom line search.

    Stops when the gradient's L2 norm drops below ``tol`` or after
    ``max_iter`` iterations; the loop is a ``jax.lax.while_loop`` so the whole
    fit compiles once; ``data`` are passed as arguments, not baked-in constants.
    """
    check_count(max_iter, "max_iter", "fit", 1)
    tol = float(scalar_hyper(tol, "tol", "fit", low=0.0, low_open=True))
    run = _runner(fun, int(max_iter), float(tol))
    params, value, grad_norm, count = run(init_params, tuple(data))
    return LbfgsResult(params, value, grad_norm, jnp.asarray(count))


def warn_unconverged(
    res: LbfgsResult, owner: str, max_iter: int, tol: float, why: str = ""
) -> None:
    """A ``ConvergenceWarning`` from ``owner.fit`` if the gradient norm is not below ``tol``.

    ``why`` is appended to the message (e.g. ``"; separable data drive T to 0"``).
    """
    if not float(res.grad_norm) < tol:
        warnings.warn(
            f"{owner} did not converge in {max_iter} iterations "
            f"(gradient norm {float(res.grad_norm):.3g}){why}.",
            ConvergenceWarning,
            stacklevel=3,  # the caller of fit
        )
