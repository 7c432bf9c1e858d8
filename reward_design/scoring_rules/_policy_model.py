"""The policy model of the estimator audits: a group of G samples, in categories.

Shared by the one-answer audit (`estimator_fixed_points`) and the answer-choice
audit. A trainer samples G completions of one question; sample j falls in a
category (correct or wrong; with two candidate answers, also better or worse
answer), and states the confidence ``c_j = sigmoid(m_cat + s eps_j)`` with
``eps_j ~ N(0, 1)`` (logit-space exploration noise, s = ``exploration``).
Its reward is ``r_j = reward_fn(c_j, y_j)``.

The estimators all centre the group's rewards and scale them by one factor
per group, ``A_j = f (r_j - mean)``, with (`rd.advantages`' defaults)

* ``"grpo"``: ``f = 1 / (std + 1e-6)``, std with ddof 1 (TRL's
  ``scale_rewards="group"``);
* ``"dr_grpo"``: ``f = 1``;
* ``"rloo"``: ``f = G / (G - 1)`` (the mean of the *other* members).

They are permutation-equivariant, so a group's expected update depends only
on how many members each category has; the audits place the members of each
category in a contiguous block (a *segment*) and need, per segment, only the
number of members, the sum and the sum of squares of their rewards (and, for
the confidence update, ``sum_j r_j eps_j``): `group_moments` turns those into
the group's mean and factor. With prefix sums over the members, every group
composition then costs O(1) per noise sample instead of O(G).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "ESTIMATORS",
    "antithetic_noise",
    "check_estimator",
    "check_policy_model",
    "group_moments",
    "pair_mean",
]

ESTIMATORS = ("dr_grpo", "grpo", "rloo")
_GRPO_EPS = 1e-6  # rd.advantages.grpo's default eps (ddof 1, scale="group")


def check_estimator(estimator, fn: str) -> None:
    """Eager check: ``estimator`` is one of `ESTIMATORS`."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"{fn}: estimator must be one of {list(ESTIMATORS)}; got {estimator!r}.")


def check_policy_model(group_size, exploration, num_samples, fn: str) -> None:
    """Eager checks of the simulated policy's G, exploration scale and noise samples."""
    if (
        isinstance(group_size, bool)
        or not isinstance(group_size, int | np.integer)
        or (group_size < 2)
    ):
        raise ValueError(
            f"{fn}: group_size must be an integer >= 2 (advantages of a single sample are 0); "
            f"got {group_size!r}."
        )
    real = not isinstance(exploration, bool | str | bytes) and np.ndim(exploration) == 0
    if real:
        try:
            exploration = float(exploration)
        except (TypeError, ValueError):
            real = False
    if not (real and np.isfinite(exploration) and 0 < exploration <= 3):
        raise ValueError(
            f"{fn}: exploration must be in (0, 3] (logit-space std); got {exploration!r}."
        )
    if (
        isinstance(num_samples, bool)
        or not isinstance(num_samples, int | np.integer)
        or num_samples < 2
    ):
        raise ValueError(f"{fn}: num_samples must be an integer >= 2; got {num_samples!r}.")


def antithetic_noise(seed: int, num_samples: int, group_size: int) -> jax.Array:
    """``[S, G]`` float64 standard normal noise, S = ``num_samples`` rounded up to even:
    rows ``[base; -base]`` (antithetic pairs). Call under ``jax.enable_x64(True)``."""
    half = (int(num_samples) + 1) // 2
    base = jax.random.normal(jax.random.PRNGKey(seed), (half, group_size), dtype=jnp.float64)
    return jnp.concatenate([base, -base], axis=0)


def pair_mean(x: jax.Array) -> jax.Array:
    """Mean over the leading (noise sample) axis of an antithetic ``[base; -base]`` draw,
    each pair summed first (so a quantity odd in the noise averages to exactly 0)."""
    half = x.shape[0] // 2
    return jnp.mean(x[:half] + x[half:], axis=0) / 2


def group_moments(segments, estimator: str, group_size: int):
    """The group mean and the estimator's factor from per-segment sums.

    A group of G members falls into segments; ``segments`` holds one tuple
    ``(n, ref, shifted_sum, shifted_sq)`` per segment: its number of members,
    a reference value near its rewards, and the sums of ``r_j - ref`` and
    ``(r_j - ref)^2`` over its members (the shift keeps the variance free of
    cancellation). All entries broadcast against each other; ``n`` may be 0.
    Plain elementwise arithmetic over a Python sequence of segments, so that
    XLA fuses it into one loop (a reduction over a stacked segment axis runs
    about 20x slower on CPU).

    Returns:
      ``(mean, factor, centred)``: the group mean, the factor f of ``A_j = f
      (r_j - mean)``, and per segment ``sum over its members of (r_j - mean)``.
    """
    mean = sum(n * ref + a for n, ref, a, _ in segments) / group_size
    centred = [a + n * (ref - mean) for n, ref, a, _ in segments]
    if estimator == "grpo":
        ss = 0.0
        for n, ref, a, sq in segments:
            inv = 1.0 / jnp.maximum(n, 1)  # an empty segment has a = sq = 0
            within = jnp.maximum(sq - a * a * inv, 0.0)
            ss = ss + within + n * (ref + a * inv - mean) ** 2  # + n (segment mean - mean)^2
        factor = 1.0 / (jnp.sqrt(ss / (group_size - 1)) + _GRPO_EPS)
    elif estimator == "dr_grpo":
        factor = jnp.ones_like(mean)
    elif estimator == "rloo":
        factor = jnp.full_like(mean, group_size / (group_size - 1))
    else:
        raise ValueError(f"group_moments: unknown estimator {estimator!r}.")
    return mean, factor, centred
