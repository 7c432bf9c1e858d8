"""Reward terms: ``term(rollouts) -> [P, G]`` rewards, higher is better.

Each built-in term is a frozen pytree dataclass whose numeric
hyperparameters (``weight``, rubric ``weights``) are traced leaves, so one
compiled training step serves every value of them and ``jax.vmap`` sweeps
them. Any callable ``f(rollouts) -> [P, G]`` is a term too; `compose` wraps
plain functions so they can travel through ``jax.jit``.

Orientation (docs/concepts.md): scoring rules are losses; a term built
from one (`Brier`, `ScoringRuleTerm`) returns the *negated* loss.

What each argument accepts, and what an accepted input means: docs/concepts.md,
"Input checks: eager and under jit".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from reward_design._checks import as_float_leaf, as_float_vector, set_float_leaf
from reward_design._pytree import pytree_dataclass, static_field
from reward_design.rollouts import Rollouts, check_rollouts

__all__ = [
    "Correctness",
    "Brier",
    "TokenReward",
    "RubricScore",
    "ScoringRuleTerm",
    "FunctionTerm",
    "require_field",
]


def _set_weight(obj: Any, name: str, owner: str) -> None:
    """A term's traced numeric field: a real number (or an array of them, a batch of
    values for ``jax.vmap``), finite when concrete; None is refused."""
    if getattr(obj, name) is None:
        raise TypeError(f"{owner}.{name} must be a real number; got None.")
    set_float_leaf(obj, name, owner)


def _scalar_weight(obj: Any, owner: str, name: str = "weight") -> Any:
    """``obj.<name>`` where a term is evaluated: a scalar (a batch of values is for
    ``jax.vmap``, which hands the term one value at a time)."""
    value = getattr(obj, name)
    if jnp.ndim(value) != 0:
        raise ValueError(
            f"{owner}.{name} must be a scalar when the term is called (a batch of values is "
            f"for jax.vmap over the term); got shape {jnp.shape(value)}."
        )
    return value


_ROLLOUT_FIELDS = ("correct", "confidence", "rubric", "token_rewards", "token_mask", "mask")


def require_field(rollouts: Rollouts, name: str, term: str) -> jax.Array:
    """Returns ``rollouts.<name>`` as an array, or raises if it is missing.

    Raises:
      TypeError: ``rollouts`` is not a `Rollouts`. ValueError: ``name`` is not
        a field of `Rollouts`, or the field is None.
    """
    if not isinstance(rollouts, Rollouts):
        raise TypeError(
            f"{term}: rollouts must be a reward_design.Rollouts; got {type(rollouts).__name__}."
        )
    if name not in _ROLLOUT_FIELDS:
        raise ValueError(f"require_field: name must be one of {_ROLLOUT_FIELDS}; got {name!r}.")
    value = getattr(rollouts, name)
    if value is None:
        raise ValueError(f"{term} needs Rollouts.{name}, which is None.")
    return jnp.asarray(value)


def term_output(value: Any, owner: str, rollouts: Rollouts | None = None) -> jax.Array:
    """A user function's rewards as an array of real numbers (bool included), checked;
    of shape ``[P, G]`` too when ``rollouts`` is given."""
    try:
        arr = jnp.asarray(value)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{owner} must return [P, G] rewards (an array of real numbers); got "
            f"{type(value).__name__}."
        ) from err
    real = jnp.issubdtype(arr.dtype, jnp.integer) or jnp.issubdtype(arr.dtype, jnp.floating)
    if not real and arr.dtype != jnp.bool_:
        raise TypeError(f"{owner} must return real-valued rewards; got dtype {arr.dtype}.")
    if rollouts is not None:
        shape = tuple(jnp.shape(rollouts.correct)[:2])
        if arr.shape != shape:
            raise ValueError(
                f"{owner} must return [P, G] = {list(shape)} rewards; got shape {arr.shape}."
            )
    return arr


@pytree_dataclass
class Correctness:
    """``weight * correct``: the verifiable (RLVR) reward.

    Args:
      weight: scale (traced).
    """

    weight: Any = 1.0

    def __post_init__(self):
        _set_weight(self, "weight", "Correctness")

    def __call__(self, rollouts: Rollouts) -> jax.Array:
        check_rollouts(rollouts, "Correctness")
        _scalar_weight(self, "Correctness")
        correct = jnp.asarray(rollouts.correct, dtype=jnp.float32)
        return self.weight * correct


@pytree_dataclass
class Brier:
    """``-weight * (confidence - correct)^2``: the RLCR calibration term.

    Correctness + Brier rewards calibrated confidence without costing
    accuracy: its expected value at success probability q is maximised at
    confidence q and the optimal value q^2 increases in q.

    Args:
      weight: scale (traced).

    References:
      Damani et al., "Beyond Binary Rewards: Training LMs to Reason About
      Their Uncertainty" (RLCR), arXiv 2507.16806.
    """

    weight: Any = 1.0

    def __post_init__(self):
        _set_weight(self, "weight", "Brier")

    def __call__(self, rollouts: Rollouts) -> jax.Array:
        check_rollouts(rollouts, "Brier")
        _scalar_weight(self, "Brier")
        conf = require_field(rollouts, "confidence", "Brier").astype(jnp.float32)
        correct = jnp.asarray(rollouts.correct, dtype=jnp.float32)
        return -self.weight * jnp.square(conf - correct)


@pytree_dataclass
class TokenReward:
    """``weight * sum_t token_rewards[..., t] * token_mask[..., t]``.

    A dense, sequence-level reward from per-token signals (e.g. DRO's
    reasoning-reflection reward). ``token_mask=None`` counts every token;
    masked tokens contribute nothing, even if they hold NaN or inf.

    Args:
      weight: scale (traced).
      normalize: static; if True, divide by the number of valid tokens
        (a per-token mean; sequences with no valid token get 0).
    """

    weight: Any = 1.0
    normalize: bool = static_field(default=False)

    def __post_init__(self):
        _set_weight(self, "weight", "TokenReward")
        if not isinstance(self.normalize, bool | np.bool_):
            raise TypeError(f"TokenReward.normalize must be a bool; got {self.normalize!r}.")

    def __call__(self, rollouts: Rollouts) -> jax.Array:
        check_rollouts(rollouts, "TokenReward")
        _scalar_weight(self, "TokenReward")
        tok = require_field(rollouts, "token_rewards", "TokenReward").astype(jnp.float32)
        if rollouts.token_mask is None:
            tmask = jnp.ones(tok.shape, dtype=bool)
        else:
            tmask = jnp.asarray(rollouts.token_mask)  # boolean (checked)
        # Masked tokens may hold -inf or NaN (e.g. the log-probability of a padding
        # id): they are selected away, never multiplied by 0, so they reach nothing.
        total = jnp.sum(jnp.where(tmask, tok, 0.0), axis=-1)
        if self.normalize:
            count = jnp.sum(tmask, axis=-1)
            total = jnp.where(count > 0, total / jnp.maximum(count, 1), 0.0)
        return self.weight * total


@pytree_dataclass
class RubricScore:
    """``weight * sum_k w_k pass_k / sum_k w_k``: the rubric as a dense reward.

    This is the explicit aggregation of "Rubrics as Rewards" and the
    baseline that rubric gates (`rd.gates`) are compared with. Rubric items
    given as probabilities (a judge's P(pass)) give the expected weighted
    fraction.

    Args:
      weights: ``[K]`` non-negative item weights (traced), or None for equal
        weights.
      weight: overall scale (traced).

    References:
      Gunjal et al., "Rubrics as Rewards", arXiv 2507.17746.
    """

    weights: Any = None
    weight: Any = 1.0

    def __post_init__(self):
        _set_weight(self, "weight", "RubricScore")
        w = as_float_vector(self.weights, "weights", "RubricScore")
        object.__setattr__(self, "weights", w)
        if w is not None and not isinstance(w, jax.core.Tracer):
            arr = np.asarray(w, dtype=np.float32)
            if np.any(arr < 0):
                raise ValueError(
                    f"RubricScore.weights must be finite and >= 0; got {arr.tolist()}."
                )
            if arr.sum() <= 0:
                raise ValueError("RubricScore.weights must not all be zero.")

    def __call__(self, rollouts: Rollouts) -> jax.Array:
        check_rollouts(rollouts, "RubricScore")
        _scalar_weight(self, "RubricScore")
        rubric = require_field(rollouts, "rubric", "RubricScore")
        if rubric.dtype != jnp.bool_:
            rubric = rubric.astype(jnp.float32)
        k = rubric.shape[-1]
        if self.weights is None:
            if rubric.dtype == jnp.bool_:
                # The fraction passed, counted as `AtLeast` counts (an integer sum): the
                # same values as a float mean, which XLA:CPU in JAX 0.10 compiles to a slow
                # library reduction (the bench step with this term: 16-17 -> 3.2 ms at 10^6
                # rollouts; docs/performance.md, "On a CPU").
                return self.weight * (jnp.sum(rubric, axis=-1) / k)
            return self.weight * jnp.mean(rubric, axis=-1)
        w = jnp.asarray(self.weights, dtype=jnp.float32)
        if w.shape != (k,):
            raise ValueError(
                f"RubricScore.weights must have shape [K] = [{k}] to match Rollouts.rubric; "
                f"got shape {w.shape}."
            )
        # A sum of products, not `rubric @ w`: a matmul may run in TF32 on GPUs and
        # round scores near a threshold.
        return self.weight * jnp.sum(rubric * w, axis=-1) / jnp.sum(w)


@pytree_dataclass
class ScoringRuleTerm:
    """``-weight * rule(confidence, correct, **params)``: a binary scoring-rule loss as a reward.

    Args:
      rule: a binary scoring rule ``rule(p, y, **params) -> loss`` (elementwise,
        negatively oriented), e.g. ``rd.scoring_rules.log_binary``. Static.
      weight: scale (traced).
      params: optional ``{name: number}`` keyword arguments of ``rule``
        (e.g. an order or a clipping level), traced like ``weight``: sweeping
        them neither recompiles nor needs ``functools.partial`` (which would
        make each value a new static rule).

    Example:
      >>> def power_binary(p, y, order):  # Gneiting & Raftery's power score, as a loss
      ...     q = jnp.where(y == 1, p, 1 - p)
      ...     return 1 - order * q ** (order - 1) + (order - 1) * (q**order + (1 - q) ** order)
      >>> term = ScoringRuleTerm(rule=power_binary, params={"order": 3.0})
    """

    rule: Callable[..., jax.Array] = static_field()
    weight: Any = 1.0
    params: Any = None

    def __post_init__(self):
        _set_weight(self, "weight", "ScoringRuleTerm")
        if not callable(self.rule):
            raise TypeError(f"ScoringRuleTerm.rule must be callable; got {self.rule!r}.")
        if self.params is not None:
            if not isinstance(self.params, dict) or not all(
                isinstance(k, str) for k in self.params
            ):
                raise TypeError(
                    "ScoringRuleTerm.params must be a dict of keyword arguments of rule; "
                    f"got {self.params!r}."
                )
            checked = {
                k: as_float_leaf(v, f"params[{k!r}]", "ScoringRuleTerm")
                for k, v in self.params.items()
            }
            object.__setattr__(self, "params", checked)

    def __call__(self, rollouts: Rollouts) -> jax.Array:
        check_rollouts(rollouts, "ScoringRuleTerm")
        _scalar_weight(self, "ScoringRuleTerm")
        conf = require_field(rollouts, "confidence", "ScoringRuleTerm").astype(jnp.float32)
        correct = jnp.asarray(rollouts.correct, dtype=jnp.float32)
        loss = self.rule(conf, correct, **(self.params or {}))
        return -self.weight * term_output(loss, "ScoringRuleTerm.rule", rollouts)


@pytree_dataclass
class FunctionTerm:
    """Wraps a plain function ``fn(rollouts) -> [P, G]`` as a pytree term.

    The function is static (part of the compiled program's identity); put
    hyperparameters you want to sweep in a dataclass term instead.
    """

    fn: Callable[[Rollouts], jax.Array] = static_field()

    def __post_init__(self):
        if not callable(self.fn):
            raise TypeError(f"FunctionTerm.fn must be callable; got {self.fn!r}.")

    def __call__(self, rollouts: Rollouts) -> jax.Array:
        check_rollouts(rollouts, "FunctionTerm")
        name = getattr(self.fn, "__name__", type(self.fn).__name__)
        return term_output(self.fn(rollouts), f"FunctionTerm({name})")
