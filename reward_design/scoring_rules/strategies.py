"""Hypothesis strategies for property tests of scoring rules and confidence rewards.

Use them in your own tests (needs ``hypothesis``, in the ``test`` extra)::

    from hypothesis import given
    from reward_design.scoring_rules import strategies as rst

    @given(q=rst.probability_vectors(3), p=rst.probability_vectors(3))
    def test_my_rule_is_proper(q, p): ...

Every vector drawn lies exactly on the simplex up to float64 rounding
(entries >= 0, sum within 1e-12 of 1) and the draws deliberately include
vertices, exact zeros, entries near 0 and 1 and tied entries, where
implementations of scoring rules tend to break.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = ["probability_vectors", "binary_outcomes", "confidences", "class_outcomes"]

_SPECIAL = (0.0, 1e-12, 1e-6, 1e-3, 0.5, 1.0)


def _normalise(weights: list[float]) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    return w / w.sum()


def _check_flag(value: object, name: str, fn: str) -> None:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{fn}: {name} must be a bool; got {value!r}.")


def _check_num_classes(num_classes: object, fn: str) -> None:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"{fn}: num_classes must be an integer >= 2; got {num_classes!r}.")


def _check_shape(shape: object, fn: str) -> None:
    dims = (shape,) if isinstance(shape, int | np.integer) else shape
    if not isinstance(dims, tuple) or any(
        isinstance(d, bool) or not isinstance(d, int | np.integer) or d < 0 for d in dims
    ):
        raise ValueError(
            f"{fn}: shape must be None, a non-negative int or a tuple of them; got {shape!r}."
        )


def probability_vectors(num_classes: int, *, allow_zeros: bool = True) -> st.SearchStrategy:
    """Float64 arrays ``[num_classes]`` on the probability simplex.

    Mixes generic points (normalised uniform weights), near-boundary points
    (weights spanning 12 orders of magnitude, exact zeros), tied entries
    (weights drawn from a small set) and, if ``allow_zeros``, the vertices.

    Args:
      num_classes: C >= 2.
      allow_zeros: if False, every entry is > 0 (interior points only), for
        rules such as the log score that are infinite on the boundary.
    """
    _check_num_classes(num_classes, "probability_vectors")
    _check_flag(allow_zeros, "allow_zeros", "probability_vectors")
    low = 0.0 if allow_zeros else 1e-12
    generic = st.floats(min_value=max(low, 1e-3), max_value=1.0)
    tiny = st.floats(min_value=max(low, 1e-12), max_value=1.0).map(lambda x: x**4)
    special = st.sampled_from([v for v in _SPECIAL if v >= low or v == 1.0])
    entry = st.one_of(generic, tiny, special)
    weights = st.lists(entry, min_size=num_classes, max_size=num_classes).filter(
        lambda w: sum(w) > 0
    )
    vectors = weights.map(_normalise)
    if not allow_zeros:
        return vectors.filter(lambda p: bool(np.all(p > 0)))
    vertices = st.integers(0, num_classes - 1).map(lambda k: np.eye(num_classes)[k])
    return st.one_of(vectors, vertices)


def confidences(*, allow_boundary: bool = True) -> st.SearchStrategy:
    """Floats in [0, 1] (a stated confidence, or the probability of outcome 1).

    Includes 0, 1 and values within 1e-12 of them unless ``allow_boundary``
    is False (then (0, 1) only).
    """
    _check_flag(allow_boundary, "allow_boundary", "confidences")
    if allow_boundary:
        edge = st.sampled_from([0.0, 1.0, 1e-12, 1 - 1e-12, 0.5])
        return st.one_of(st.floats(0.0, 1.0), edge)
    return st.one_of(st.floats(1e-12, 1 - 1e-12), st.sampled_from([1e-12, 1 - 1e-12, 0.5]))


def binary_outcomes(shape: int | tuple[int, ...] | None = None) -> st.SearchStrategy:
    """Outcomes in {0, 1}: a Python int, or an int32 array of ``shape``."""
    if shape is None:
        return st.integers(0, 1)
    _check_shape(shape, "binary_outcomes")
    return hnp.arrays(np.int32, shape, elements=st.integers(0, 1))


def class_outcomes(num_classes: int, shape: int | tuple[int, ...] | None = None):
    """Class indices in ``[0, num_classes)``: an int, or an int32 array of ``shape``."""
    _check_num_classes(num_classes, "class_outcomes")
    if shape is None:
        return st.integers(0, num_classes - 1)
    _check_shape(shape, "class_outcomes")
    return hnp.arrays(np.int32, shape, elements=st.integers(0, num_classes - 1))
