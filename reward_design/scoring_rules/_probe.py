"""Checks of a user's reward function before an audit runs it (private).

The audits call ``reward_fn(confidence, correct)`` on arrays: many
confidences at once, traced under ``jax.jit`` for the estimator audits. A
reward written for one Python float at a time (``if c > 0.5``,
``math.log(c)``) fails deep inside JAX; `check_reward_fn` calls it once on a
small input first and turns such a failure into one ``TypeError`` that says
what the function receives and how to write it.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["check_reward_fn", "check_seed"]

_FIX = (
    "write it with array operations: jnp.where(cond, a, b) instead of if/else, "
    "jnp.log / jnp.exp / jnp.sqrt instead of math.log / math.exp / math.sqrt, "
    "jnp.minimum / jnp.maximum / jnp.clip instead of min / max"
)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else ""


def _looks_scalar_only(err: BaseException) -> bool:
    """The error of Python control flow or ``math`` functions on arrays/tracers."""
    if isinstance(err, jax.errors.JAXTypeError | jax.errors.ConcretizationTypeError):
        return True
    text = str(err)
    return any(
        phrase in text
        for phrase in (
            "truth value of an array",
            "scalar arrays can be converted",
            "length-1 arrays can be converted",
            "Abstract tracer value",
            "tracer",
        )
    )


def check_reward_fn(reward_fn: Any, fn: str, *, traced: bool) -> bool:
    """Calls ``reward_fn`` on four confidences (and outcomes), traced if possible.

    Args:
      reward_fn: the user's reward.
      fn: the audit's name, for the messages.
      traced: the audit needs a traceable function (the estimator audits);
        otherwise an eager call that works is enough.

    Returns:
      Whether the function can be traced (``jax.eval_shape`` works).

    Raises:
      TypeError: ``reward_fn`` is not callable, is written for one Python
        number at a time, or raises on arrays (one line naming the fix).
      ValueError: it is not elementwise (returns another shape).
    """
    if not callable(reward_fn):
        raise TypeError(f"{fn}: reward_fn must be callable; got {reward_fn!r}.")
    c = jnp.asarray([0.1, 0.4, 0.6, 0.9], dtype=jnp.float32)
    y = jnp.asarray([1.0, 0.0, 1.0, 0.0], dtype=jnp.float32)
    traceable = True
    try:
        out = jax.eval_shape(reward_fn, c, y)
    except Exception as err:  # noqa: BLE001 - any failure is reported as the user's
        traceable = False
        if traced:
            raise TypeError(_message(err, fn, traced=True)) from err
        try:
            out = reward_fn(c, y)
        except Exception as eager_err:  # noqa: BLE001
            raise TypeError(_message(eager_err, fn, traced=False)) from eager_err
    shape = tuple(np.shape(out)) if not hasattr(out, "shape") else tuple(out.shape)
    if shape != c.shape:
        raise ValueError(
            f"{fn}: reward_fn(confidence, correct) must be elementwise: for [4] arrays it "
            f"returned shape {shape}."
        )
    return traceable


def _message(err: BaseException, fn: str, *, traced: bool) -> str:
    kind = type(err).__name__
    receives = (
        "arrays of confidences and outcomes (jax.numpy arrays, traced under jax.jit)"
        if traced
        else "arrays of confidences and outcomes (jax.numpy arrays)"
    )
    if _looks_scalar_only(err):
        return (
            f"{fn}: reward_fn(confidence, correct) receives {receives}, not Python floats, "
            f"and raised {kind} on them: {_FIX}."
        )
    return (
        f"{fn}: reward_fn(confidence, correct) raised {kind} when called on {receives}: "
        f"{_first_line(err)}"
    )


def check_seed(seed: Any, fn: str) -> None:
    """A Monte Carlo seed: a non-negative Python/numpy integer."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"{fn}: seed must be a non-negative integer; got {seed!r}.")
