"""Cost matrices: validation and constructors.

Convention (used by every function in `rd.posthoc`): ``cost[i, j]`` is the
cost of *deciding* j when the *truth* is i; rows are truths, columns are
decisions. A binary cost matrix is ``[[c_tn, c_fp], [c_fn, c_tp]]``.
A reject ("abstain") option is one extra decision column, ``[C, C + 1]``.

Costs may be negative: a negative cost is a gain (``cost_matrix_from_gain``
gives ``-gain``), and decisions depend only on differences within a row.
What the constructors refuse is a *mistake* or an *abstention* that costs
less than the right decision (docs/posthoc.md, "Input contract"):
`binary_cost_matrix` needs ``c_fp >= c_tn`` and ``c_fn >= c_tp``, and
`with_reject_option` needs ``reject_cost[i] >= min_j cost[i, j]``. These
are value checks, run when the numbers are concrete.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from reward_design._checks import check_finite, host_array, is_concrete, scalar_hyper

__all__ = [
    "validate_cost_matrix",
    "binary_cost_matrix",
    "cost_matrix_from_gain",
    "cost_matrix_from_class_costs",
    "with_reject_option",
]


def _float_array(value: Any, name: str) -> jax.Array:
    if isinstance(value, str | bytes) or value is None:
        raise TypeError(f"{name} must be a real-valued array; got {value!r}.")
    if not hasattr(value, "dtype"):
        value = host_array(value, name, "")
    try:
        dtype = np.dtype(value.dtype)
    except TypeError:  # e.g. a torch dtype
        value = host_array(value, name, "")
        dtype = value.dtype
    if dtype.kind not in "iuf" and dtype != jnp.bfloat16:
        raise TypeError(f"{name} must be a real-valued array; got dtype {dtype}.")
    return jnp.asarray(value, dtype=jnp.result_type(float))


def validate_cost_matrix(
    cost: Any, num_classes: int | None = None, *, name: str = "cost"
) -> jax.Array:
    """Checks a ``[C, C]`` cost matrix and returns it as a float array.

    Shape checks always run; the finiteness check runs when the values are
    concrete (not under ``jax.jit``), so validate once at the boundary.

    Args:
      cost: ``[C, C]``, ``cost[i, j]`` = cost of deciding j when the truth is i.
      num_classes: if given, the C that ``cost`` must have (e.g. the last axis
        of the probabilities it will be used with).
      name: the argument name used in error messages.

    Returns:
      ``cost`` as a floating-point JAX array.

    Raises:
      TypeError: ``cost`` is not real-valued.
      ValueError: ``cost`` is not square ``[C, C]`` with C >= 2, does not match
        ``num_classes``, or holds NaN / inf.
    """
    arr = _float_array(cost, name)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(
            f"{name} must be a square [C, C] matrix (rows: truth, columns: decision); "
            f"got shape {tuple(arr.shape)}."
        )
    if arr.shape[0] < 2:
        raise ValueError(f"{name} must have at least 2 classes; got shape {tuple(arr.shape)}.")
    if num_classes is not None and arr.shape[0] != num_classes:
        raise ValueError(
            f"{name} must have shape [{num_classes}, {num_classes}] to match the "
            f"{num_classes} classes of the probabilities/logits; got shape {tuple(arr.shape)}."
        )
    if is_concrete(arr):
        check_finite(np.asarray(arr), name)
    return arr


def binary_cost_matrix(c_fp: Any, c_fn: Any, c_tn: Any = 0.0, c_tp: Any = 0.0) -> jax.Array:
    """The binary cost matrix ``[[c_tn, c_fp], [c_fn, c_tp]]``.

    Costs may be negative (gains), but a mistake may not cost less than the
    right decision for the same truth: ``c_fp >= c_tn`` and ``c_fn >= c_tp``
    (otherwise deciding wrongly would be preferred; build such a matrix
    yourself if you mean it).

    Args:
      c_fp: cost of deciding 1 when the truth is 0 (false positive).
      c_fn: cost of deciding 0 when the truth is 1 (false negative).
      c_tn: cost of a true negative (default 0).
      c_tp: cost of a true positive (default 0).

    Returns:
      ``[2, 2]`` float array.

    Raises:
      TypeError: a cost that is not a real number. ValueError: a cost that
        is not a scalar or not finite, or (when concrete) ``c_fp < c_tn`` or
        ``c_fn < c_tp``.
    """
    fn = "binary_cost_matrix"
    values = {
        name: scalar_hyper(value, name, fn)
        for name, value in (("c_tn", c_tn), ("c_fp", c_fp), ("c_fn", c_fn), ("c_tp", c_tp))
    }
    for wrong, right in (("c_fp", "c_tn"), ("c_fn", "c_tp")):
        a, b = values[wrong], values[right]
        if is_concrete(a) and is_concrete(b) and float(np.asarray(a)) < float(np.asarray(b)):
            raise ValueError(
                f"{fn}: {wrong} must be >= {right} (a mistake cannot cost less than the right "
                f"decision for the same truth); got {wrong}={float(np.asarray(a))!r} < "
                f"{right}={float(np.asarray(b))!r}."
            )
    cost = jnp.stack(
        [
            jnp.stack([jnp.asarray(values["c_tn"], float), jnp.asarray(values["c_fp"], float)]),
            jnp.stack([jnp.asarray(values["c_fn"], float), jnp.asarray(values["c_tp"], float)]),
        ]
    )
    return validate_cost_matrix(cost)


def cost_matrix_from_gain(gain: Any, *, regret: bool = False) -> jax.Array:
    """Turns a gain (utility) matrix ``gain[i, j]`` into a cost matrix.

    ``regret=False``: ``cost = -gain``, so that ``utility(d, y, cost)`` equals
    ``gain[y, d]``. ``regret=True``: ``cost[i, j] = max_k gain[i, k] - gain[i, j]``
    (the regret, >= 0, zero for the best decision of each truth). Both give the
    same Bayes decisions: subtracting a per-truth constant c_i from row i
    changes every decision's expected cost by the same sum_i p_i c_i.

    Args:
      gain: ``[C, C]``, ``gain[i, j]`` = utility of deciding j when the truth is i.
      regret: static; which of the two forms to return.

    Returns:
      ``[C, C]`` cost matrix.
    """
    if not isinstance(regret, bool | np.bool_):
        raise TypeError(f"cost_matrix_from_gain: regret must be a bool; got {regret!r}.")
    gain = validate_cost_matrix(gain, name="gain")
    if regret:
        return jnp.max(gain, axis=1, keepdims=True) - gain
    return -gain


def cost_matrix_from_class_costs(class_costs: Any) -> jax.Array:
    """Cost matrix from per-class misclassification costs.

    ``cost[i, j] = class_costs[i]`` for ``j != i`` and ``cost[i, i] = 0``: every
    mistake on an example of true class i costs ``class_costs[i]``, whatever
    is decided instead. Its Bayes decision is ``argmax_j class_costs[j] p_j``.

    Args:
      class_costs: ``[C]`` finite costs, C >= 2.

    Returns:
      ``[C, C]`` cost matrix.
    """
    c = _float_array(class_costs, "class_costs")
    if c.ndim != 1 or c.shape[0] < 2:
        raise ValueError(f"class_costs must have shape [C] with C >= 2; got shape {c.shape}.")
    if is_concrete(c):
        check_finite(np.asarray(c), "class_costs")
    num = c.shape[0]
    return c[:, None] * (1.0 - jnp.eye(num, dtype=c.dtype))


def with_reject_option(cost: Any, reject_cost: Any) -> jax.Array:
    """Appends a reject ("abstain") decision as column C of the cost matrix.

    Args:
      cost: ``[C, C]`` cost matrix.
      reject_cost: scalar, or ``[C]`` (the cost of abstaining when the truth
        is i), finite, and (when concrete) at least the cheapest decision of
        that truth, ``reject_cost[i] >= min_j cost[i, j]``: abstaining may
        not beat the right answer. With a 0-1 cost that is ``reject_cost >= 0``;
        with costs from gains, negative values are gains of abstaining.

    Returns:
      ``[C, C + 1]`` matrix; decision index C means "reject".

    Raises:
      TypeError / ValueError: a bad cost matrix, a ``reject_cost`` that is
        not real, not finite, of the wrong shape or below a row's minimum.

    References:
      Chow, "On optimum recognition error and reject tradeoff", IEEE Trans.
      Information Theory 16(1), 1970.
    """
    cost = validate_cost_matrix(cost)
    num = cost.shape[0]
    r = _float_array(reject_cost, "reject_cost")
    if r.ndim == 0:
        r = jnp.full((num,), r, dtype=cost.dtype)
    if r.shape != (num,):
        raise ValueError(
            f"reject_cost must be a scalar or have shape [C] = [{num}]; got shape {r.shape}."
        )
    if is_concrete(r):
        check_finite(np.asarray(r), "reject_cost")
    if is_concrete(r) and is_concrete(cost):
        floor = np.asarray(cost).min(axis=1)
        below = np.flatnonzero(np.asarray(r) < floor)
        if below.size:
            i = int(below[0])
            raise ValueError(
                f"reject_cost must be >= the cheapest decision of each truth, min_j "
                f"cost[i, j] (abstaining may not beat the right answer); got "
                f"reject_cost[{i}] = {float(np.asarray(r)[i])!r} < {float(floor[i])!r}."
            )
    return jnp.concatenate([cost, r.astype(cost.dtype)[:, None]], axis=1)
