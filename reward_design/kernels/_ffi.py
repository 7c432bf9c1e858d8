"""`gated_group_advantages`: a counting rubric gate and a group estimator as one XLA custom call.

XLA:CPU compiles a rubric gate followed by group statistics as several
passes over memory (docs/performance.md): the gate's item reduction must be
its own pass, and a group-level value (max, mean, std) broadcast back over
the group is recomputed per member or materialised. The kernel
(``gated_advantages.cc``, built by `reward_design.kernels._build`) does the
gate and the estimator in one pass over the rubric and the rewards. Where it
is not built, disabled, or the program is lowered for another platform,
the same function runs the plain XLA program (`_reference`), which the tests
compare the kernel with.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from reward_design import advantages
from reward_design._checks import real_array, scalar_hyper
from reward_design.kernels._build import TARGET, kernel_status

__all__ = ["ESTIMATORS", "GROUP_SIZES", "gated_group_advantages"]

#: Estimators the kernel implements (names of `rd.advantages` functions).
ESTIMATORS = ("grpo", "dr_grpo", "rloo")
_CODES = {name: code for code, name in enumerate(ESTIMATORS)}
#: Group sizes the kernel handles (16 groups per block of G vectors); other
#: sizes run the XLA program (a scalar loop over groups was 4x slower than it).
GROUP_SIZES = (1, 2, 4, 8, 16, 32, 64)


def _estimate(rewards, mask, eps, estimator, ddof):
    if estimator == "grpo":
        return advantages.grpo(rewards, mask=mask, eps=eps, ddof=ddof)
    if estimator == "dr_grpo":
        return advantages.dr_grpo(rewards, mask=mask)
    return advantages.rloo(rewards, mask=mask)


def _reference(rewards, rubric, valid, k, eps, estimator, ddof):
    """The XLA program the kernel replaces (and its definition)."""
    passed = valid & (jnp.sum(rubric, axis=-1).astype(jnp.float32) >= k)
    return _estimate(rewards, passed, eps, estimator, ddof), passed


def _kernel(rewards, rubric, valid, k, eps, estimator, ddof):
    params = jnp.stack([jnp.asarray(k, jnp.float32), jnp.asarray(eps, jnp.float32)])
    call = jax.ffi.ffi_call(
        TARGET,
        (
            jax.ShapeDtypeStruct(rewards.shape, jnp.float32),
            jax.ShapeDtypeStruct(rewards.shape, jnp.bool_),
        ),
        vmap_method="sequential",
    )
    # Flat rewards and mask (a free bitcast): XLA:CPU then compiles the fusion that
    # produces them as a flat loop. Over [P, 8] its vector code for a square root or
    # a division (a scoring-rule term) is about twice as slow.
    flat_valid = valid.reshape(-1) if valid.size == rewards.size else valid
    return call(
        rewards.reshape(-1),
        rubric,
        flat_valid,
        params,
        estimator=np.int64(_CODES[estimator]),
        ddof=np.int64(ddof),
    )


def gated_group_advantages(
    rewards: jax.Array,
    rubric: jax.Array,
    valid: jax.Array | None,
    k: jax.Array | float,
    *,
    estimator: str = "grpo",
    eps: jax.Array | float = 1e-6,
    ddof: int = 1,
) -> tuple[jax.Array, jax.Array]:
    """A counting rubric gate and a group-relative estimator, in one pass on CPU.

    ``passed = valid & (number of True items in rubric >= k)``, then the
    estimator's advantages over the passed members (`rd.advantages.grpo`,
    `dr_grpo` or `rloo` with ``mask=passed``). On CPU, when the kernel is
    available and G is in `GROUP_SIZES`, both are one custom call; otherwise
    the XLA program. The two agree to float rounding: the kernel sums each
    group in member order and computes its variance in two passes over registers (the XLA program in
    one pass, pairwise), and GRPO multiplies by ``1 / (std + eps)`` instead
    of dividing (one rounding more).

    Gradients with respect to ``rewards`` (forward and reverse mode) are the
    XLA program's, at the same ``passed`` mask; ``jax.vmap`` runs the kernel
    once per batch element. XLA's SPMD partitioner cannot split a custom
    call: under a multi-device CPU mesh call this inside ``jax.shard_map``
    (groups are whole on each shard) or use the XLA program.

    The XLA program runs instead of the kernel where the default backend is
    not the CPU (nothing is built), in a program lowered for another platform
    (`jax.lax.platform_dependent`), for G outside `GROUP_SIZES`, for float64
    rewards (x64 mode: they keep the XLA program's precision) and where the
    kernel is not available (`kernel_status`: no compiler or a failed build,
    with one `RuntimeWarning` naming why; ``REWARD_DESIGN_CPU_KERNELS=0``).
    Rewards whose squared deviations overflow float32 (|r| above about 1e19)
    give meaningless GRPO advantages on both paths, differently.

    Args:
      rewards: ``[P, G]`` float rewards (half precision is computed in float32).
      rubric: ``[P, G, K]`` bool rubric items.
      valid: ``[P, G]`` bool, members that may enter the statistics; None: all.
      k: a rollout passes with at least ``k`` passed items (traced).
      estimator: ``"grpo"``, ``"dr_grpo"`` or ``"rloo"`` (static).
      eps: GRPO's std offset (traced).
      ddof: GRPO's delta degrees of freedom (static).

    Returns:
      ``(advantages [P, G] float32, passed [P, G] bool)``.
    """
    fn = "gated_group_advantages"
    if not isinstance(estimator, str) or estimator not in ESTIMATORS:
        raise ValueError(f"{fn}: estimator must be one of {ESTIMATORS}; got {estimator!r}.")
    if isinstance(ddof, bool) or not isinstance(ddof, int | np.integer) or ddof < 0:
        raise ValueError(f"{fn}: ddof must be a non-negative integer (static); got {ddof!r}.")
    k = scalar_hyper(k, "k", fn, low=0.0)
    eps = scalar_hyper(eps, "eps", fn, low=0.0)
    rewards = real_array(rewards, "rewards", fn)
    rubric = real_array(rubric, "rubric", fn)
    if valid is not None:
        valid = real_array(valid, "valid", fn)
    if rewards.ndim != 2 or not jnp.issubdtype(rewards.dtype, jnp.floating):
        raise ValueError(
            f"gated_group_advantages: rewards must be a float [P, G] array; got "
            f"{rewards.dtype} of shape {rewards.shape}."
        )
    if rubric.ndim != 3 or rubric.shape[:2] != rewards.shape or rubric.dtype != jnp.bool_:
        raise ValueError(
            f"gated_group_advantages: rubric must be a bool [P, G, K] array with [P, G] = "
            f"{list(rewards.shape)}; got {rubric.dtype} of shape {rubric.shape}."
        )
    if valid is not None:
        if valid.shape != rewards.shape or valid.dtype != jnp.bool_:
            raise ValueError(
                f"gated_group_advantages: valid must be None or a bool array of shape "
                f"{rewards.shape}; got {valid.dtype} of shape {valid.shape}."
            )
    if jnp.finfo(rewards.dtype).bits > 32:
        # the kernel computes in float32; float64 rewards keep the estimator's precision
        mask = jnp.ones(rewards.shape, bool) if valid is None else valid
        return _reference(rewards, rubric, mask, k, eps, estimator, int(ddof))
    return _gated(rewards, rubric, valid, k, eps, estimator, int(ddof))


@functools.partial(jax.custom_jvp, nondiff_argnums=(5, 6))
def _gated_primal(rewards, rubric, valid, k, eps, estimator, ddof):
    # Only programs for a CPU backend build the kernel: a GPU or TPU job never
    # lowers the CPU branch and should not wait for a compiler.
    if (
        rewards.shape[-1] not in GROUP_SIZES
        or jax.default_backend() != "cpu"
        or not kernel_status()["available"]
    ):
        return _reference(rewards, rubric, valid, k, eps, estimator, ddof)

    def cpu(r, rb, v, kk, e):
        return _kernel(r, rb, v, kk, e, estimator, ddof)

    def other(r, rb, v, kk, e):
        return _reference(r, rb, v, kk, e, estimator, ddof)

    return jax.lax.platform_dependent(rewards, rubric, valid, k, eps, cpu=cpu, default=other)


@_gated_primal.defjvp
def _gated_jvp(estimator, ddof, primals, tangents):
    rewards, rubric, valid, k, eps = primals
    d_rewards, _, _, _, d_eps = tangents
    adv, passed = _gated_primal(rewards, rubric, valid, k, eps, estimator, ddof)
    # The mask is piecewise constant in every input; the advantages are the
    # estimator's at that mask (differentiable in the rewards and in eps).
    _, d_adv = jax.jvp(
        lambda r, e: _estimate(r, passed, e, estimator, ddof), (rewards, eps), (d_rewards, d_eps)
    )
    return (adv, passed), (d_adv, np.zeros(passed.shape, jax.dtypes.float0))


def _gated(rewards, rubric, valid, k, eps, estimator, ddof):
    rewards = jnp.asarray(rewards, jnp.float32)
    # None: every member valid, passed to the kernel as one value (no mask to read)
    valid = jnp.ones((1,), bool) if valid is None else jnp.asarray(valid, bool)
    k = jnp.asarray(k, jnp.float32)
    eps = jnp.asarray(eps, jnp.float32)
    return _gated_primal(rewards, rubric, valid, k, eps, estimator, ddof)
