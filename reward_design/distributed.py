"""The same objective across devices and hosts, with JAX's own sharding.

Rollouts are sharded along the prompt axis P only: a group (one row of G
samples) never straddles two devices, so every group statistic (GRPO mean
and std, RLOO baselines, gate verdicts, group filters) is computed where its
data lives, and XLA inserts collectives only for genuinely batch-level
quantities (``grpo(..., scale="batch")``, keep-rates in
``RewardOutput.stats``).

Two ways to use it:

* **jit on sharded arrays** (recommended): `shard_rollouts` places the batch
  on a mesh; any jitted step built from `rd.compose`, `rd.gates` and
  `rd.advantages` then runs partitioned by XLA's SPMD partitioner, with
  outputs sharded like the inputs (`sharded_jit` pins the output sharding).
* **shard_map** (`shard_map_step`): for users who write their own SPMD
  step; the function sees one shard of whole groups, and batch-level
  statistics must use collectives (`grpo(..., axis_name=...)`,
  `collective_mean`).

Multi-host: every process calls ``jax.distributed.initialize()`` (the
launcher supplies coordinator address, process count and id), builds the
same global mesh, and turns its process-local rollouts into one global
batch with `rollouts_from_process_local` (``jax.make_array_from_process_local_data``).
See docs/distributed.md.

What each argument accepts, and what an accepted input means: docs/distributed.md,
"Input contract" (the shared rules: docs/concepts.md, "Input checks").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as PS

from reward_design._checks import real_array
from reward_design.rollouts import Rollouts, check_rollouts

__all__ = [
    "default_mesh",
    "prompt_sharding",
    "shard_rollouts",
    "pad_rollouts",
    "unpad",
    "sharded_jit",
    "shard_map_step",
    "collective_mean",
    "rollouts_from_process_local",
]


def _check_axis_name(axis: Any, fn: str) -> None:
    if not isinstance(axis, str) or not axis:
        raise TypeError(f"{fn}: axis must be a mesh axis name (a non-empty str); got {axis!r}.")


def default_mesh(axis: str = "data", devices: Any = None) -> Mesh:
    """A 1-D mesh over ``devices`` (default: all devices, across hosts).

    Raises:
      TypeError: ``axis`` is not a non-empty string, or ``devices`` is not a
        non-empty sequence of JAX devices.
    """
    _check_axis_name(axis, "default_mesh")
    if devices is None:
        devs = np.asarray(jax.devices())
    else:
        if isinstance(devices, jax.Device):
            devices = [devices]
        items = list(devices) if isinstance(devices, list | tuple | np.ndarray) else None
        if not items or not all(isinstance(d, jax.Device) for d in np.ravel(np.asarray(items))):
            raise TypeError(
                f"default_mesh: devices must be a non-empty sequence of jax devices (e.g. "
                f"jax.devices()); got {devices!r}."
            )
        devs = np.asarray(items)
    return Mesh(devs.reshape(-1), (axis,))


def _check_axis(mesh: Mesh, axis: str, fn: str = "") -> int:
    label = f"{fn}: " if fn else ""
    if not isinstance(mesh, Mesh):
        raise TypeError(f"{label}mesh must be a jax.sharding.Mesh; got {type(mesh).__name__}.")
    _check_axis_name(axis, fn or "mesh")
    if axis not in mesh.axis_names:
        raise ValueError(f"axis {axis!r} is not an axis of the mesh; mesh axes: {mesh.axis_names}.")
    return int(mesh.shape[axis])


def prompt_sharding(mesh: Mesh, axis: str = "data") -> NamedSharding:
    """Sharding of a ``[P, ...]`` array along P (other dimensions replicated)."""
    _check_axis(mesh, axis)
    return NamedSharding(mesh, PS(axis))


def pad_rollouts(rollouts: Rollouts, multiple: int) -> tuple[Rollouts, int]:
    """Pads P up to a multiple of ``multiple`` with masked-out groups.

    Padded groups have ``mask`` all False (and zeros elsewhere, confidence
    0.5), so objectives give them reward 0 and advantages give them 0; they
    take no part in any statistic. The gate statistics in
    ``RewardOutput.stats`` count valid rollouts and non-empty groups only, so
    padding leaves them unchanged; a statistic of your own that counts
    groups must skip empty ones (or run on the unpadded batch).

    Args:
      rollouts: the batch; fields may be numpy or JAX arrays.
      multiple: the device count (or any positive integer).

    Returns:
      ``(padded, num_prompts)``: the padded batch (``mask`` always set) and
      the original P, for `unpad`.

    Raises:
      ValueError: if ``multiple`` is not a positive integer.
    """
    check_rollouts(rollouts, "pad_rollouts")
    if isinstance(multiple, bool) or not isinstance(multiple, int | np.integer) or multiple < 1:
        raise ValueError(f"pad_rollouts: multiple must be a positive integer; got {multiple!r}.")
    p, g = rollouts.shape
    extra = (-p) % int(multiple)
    mask = rollouts.valid_mask
    if extra == 0:
        return rollouts.replace(mask=mask), p

    def pad(x: Any, fill: Any) -> Any:
        if x is None:
            return None
        x = jnp.asarray(x)
        widths = [(0, extra)] + [(0, 0)] * (x.ndim - 1)
        return jnp.pad(x, widths, constant_values=fill)

    padded = Rollouts(
        correct=pad(rollouts.correct, 0),
        confidence=pad(rollouts.confidence, 0.5),
        rubric=pad(rollouts.rubric, 0),
        token_rewards=pad(rollouts.token_rewards, 0),
        token_mask=pad(rollouts.token_mask, False),
        mask=pad(mask, False),
    )
    return padded, p


def unpad(tree: Any, num_prompts: int) -> Any:
    """Slices every ``[P, ...]`` leaf of ``tree`` back to its first ``num_prompts`` rows.

    Scalars (e.g. batch statistics) are left as they are.

    Raises:
      ValueError: ``num_prompts`` is not a non-negative integer.
    """
    if isinstance(num_prompts, bool) or not isinstance(num_prompts, int | np.integer):
        raise ValueError(f"unpad: num_prompts must be a non-negative integer; got {num_prompts!r}.")
    if num_prompts < 0:
        raise ValueError(f"unpad: num_prompts must be a non-negative integer; got {num_prompts!r}.")
    return jax.tree_util.tree_map(lambda x: x[:num_prompts] if jnp.ndim(x) >= 1 else x, tree)


def shard_rollouts(rollouts: Rollouts, mesh: Mesh | None = None, axis: str = "data") -> Rollouts:
    """Places ``rollouts`` on ``mesh``, sharded along the prompt axis P.

    Args:
      rollouts: a batch with P divisible by the mesh size along ``axis``
        (use `pad_rollouts` otherwise).
      mesh: a `jax.sharding.Mesh`; default: a 1-D mesh over all devices.
      axis: the mesh axis to shard P over.

    Returns:
      The same batch with every field a global ``jax.Array`` sharded as
      ``PartitionSpec(axis)``: whole groups per device.

    Raises:
      ValueError: if P is not divisible by the number of devices along
        ``axis``, or ``axis`` is not a mesh axis.
    """
    check_rollouts(rollouts, "shard_rollouts")
    mesh = default_mesh(axis) if mesh is None else mesh
    n = _check_axis(mesh, axis, "shard_rollouts")
    p, _ = rollouts.shape
    if p % n:
        raise ValueError(
            f"shard_rollouts: the number of prompts P = {p} is not divisible by the {n} devices "
            f"along mesh axis {axis!r}; pad first with "
            f"`padded, num_prompts = rd.distributed.pad_rollouts(rollouts, {n})` "
            "(padded groups are masked out)."
        )
    sharding = prompt_sharding(mesh, axis)
    return jax.device_put(rollouts, sharding)


def sharded_jit(
    fn: Callable[..., Any], mesh: Mesh | None = None, axis: str = "data", **jit_kwargs: Any
) -> Callable[..., Any]:
    """``jax.jit(fn)`` whose outputs are pinned to the prompt sharding.

    Every output leaf of rank >= 1 (``[P, G]`` rewards, advantages, masks)
    is sharded along P like the inputs; scalar outputs (batch statistics)
    are replicated. Inputs keep the sharding they arrive with (use
    `shard_rollouts`).
    """
    _check_fn(fn, "sharded_jit")
    mesh = default_mesh(axis) if mesh is None else mesh
    _check_axis(mesh, axis, "sharded_jit")
    rows = prompt_sharding(mesh, axis)
    replicated = NamedSharding(mesh, PS())

    def out_shardings_for(*args: Any, **kwargs: Any) -> Any:
        shapes = jax.eval_shape(fn, *args, **kwargs)
        return jax.tree_util.tree_map(lambda s: rows if len(s.shape) >= 1 else replicated, shapes)

    cache: dict[Any, Callable[..., Any]] = {}

    def call(*args: Any, **kwargs: Any) -> Any:
        key = jax.tree_util.tree_structure((args, kwargs))
        if key not in cache:
            cache[key] = jax.jit(fn, out_shardings=out_shardings_for(*args, **kwargs), **jit_kwargs)
        return cache[key](*args, **kwargs)

    call.cache = cache  # type: ignore[attr-defined]
    return call


def _is_array_leaf(leaf: Any) -> bool:
    if isinstance(leaf, bool | int | float | jax.core.Tracer):
        return True
    dtype = getattr(leaf, "dtype", None)
    try:
        return (
            dtype is not None
            and np.dtype(dtype).kind in "biuf"
            or (dtype is not None and jnp.issubdtype(dtype, jnp.floating))
        )
    except TypeError:
        return False


def _check_fn(fn: Any, owner: str) -> None:
    if not callable(fn):
        raise TypeError(f"{owner}: fn must be callable; got {fn!r}.")


def shard_map_step(
    fn: Callable[..., Any],
    mesh: Mesh | None = None,
    axis: str = "data",
    replicated_argnums: int | tuple[int, ...] = (),
) -> Callable[..., Any]:
    """Runs ``fn`` per shard of whole groups with ``jax.shard_map``.

    ``fn`` receives the local shard of every argument: each array leaf of
    rank >= 1 is split along its first axis (P), while scalar leaves (the
    traced hyperparameters of an objective, gate or loss) and every leaf of
    the positional arguments in ``replicated_argnums`` are replicated. So an
    objective can be passed as an argument, ``step(objective, rollouts)``,
    and a new hyperparameter value does not recompile; pass it in
    ``replicated_argnums`` when it holds vector hyperparameters (e.g.
    ``RubricScore(weights)``), which must not be split along P. ``fn`` must
    return leaves of rank >= 1 split the same way (``[P_local, ...]``).
    Batch-level statistics inside ``fn`` need collectives over ``axis``:
    ``rd.advantages.grpo(r, m, scale="batch", axis_name=axis)`` and
    `collective_mean`. Use ``jax.jit`` around the result as usual.
    """
    _check_fn(fn, "shard_map_step")
    mesh = default_mesh(axis) if mesh is None else mesh
    _check_axis(mesh, axis, "shard_map_step")
    replicated = (
        (replicated_argnums,)
        if isinstance(replicated_argnums, int | np.integer)
        else replicated_argnums
    )
    if not isinstance(replicated, tuple | list) or any(
        isinstance(i, bool) or not isinstance(i, int | np.integer) for i in replicated
    ):
        raise TypeError(
            f"shard_map_step: replicated_argnums must be an int or a tuple of ints; got "
            f"{replicated_argnums!r}."
        )
    replicated = tuple(int(i) for i in replicated)

    def call(*args: Any) -> Any:
        for i in replicated:
            if not -len(args) <= i < len(args):
                raise ValueError(
                    f"replicated_argnums {replicated} refers to argument {i}, but the step "
                    f"was called with {len(args)} positional arguments."
                )
        replicate = {i % len(args) for i in replicated}
        # Specs are given per leaf (not as a tree of specs): rebuilding our
        # dataclasses with PartitionSpec leaves would run their checks on them.
        leaves, treedef = jax.tree_util.tree_flatten(args)
        owners = [i for i, a in enumerate(args) for _ in jax.tree_util.tree_leaves(a)]
        for leaf, owner in zip(leaves, owners, strict=True):
            if not _is_array_leaf(leaf):
                raise TypeError(
                    f"shard_map_step: argument {owner} of the step holds a leaf that is not an "
                    f"array of numbers or booleans ({type(leaf).__name__}); every pytree leaf "
                    "is split or replicated across the mesh."
                )
        specs = tuple(
            PS() if owner in replicate or jnp.ndim(leaf) == 0 else PS(axis)
            for leaf, owner in zip(leaves, owners, strict=True)
        )

        def local(*local_leaves: Any) -> Any:
            out = fn(*jax.tree_util.tree_unflatten(treedef, local_leaves))
            for leaf in jax.tree_util.tree_leaves(out):
                if jnp.ndim(leaf) == 0:
                    raise ValueError(
                        "shard_map_step: fn must return arrays split along P (rank >= 1, "
                        f"[P_local, ...]); it returned a leaf of shape {jnp.shape(leaf)}. "
                        "Return a batch statistic as shape [1] per shard, or compute it "
                        "outside the step."
                    )
            return out

        mapped = jax.shard_map(
            local, mesh=mesh, in_specs=specs, out_specs=PS(axis), check_vma=False
        )
        return mapped(*leaves)

    return call


def collective_mean(x: jax.Array, axis_name: str, weights: jax.Array | None = None) -> jax.Array:
    """Batch mean of a per-shard quantity inside ``shard_map``.

    ``mean over all shards`` = psum(sum x) / psum(count); with ``weights``
    (e.g. a mask) a weighted mean. Use for keep-rates and other batch
    statistics computed per shard.
    """
    fn = "collective_mean"
    if not isinstance(axis_name, str) or not axis_name:
        raise TypeError(f"{fn}: axis_name must be a mesh axis name (a str); got {axis_name!r}.")
    x = real_array(x, "x", fn).astype(jnp.float32)
    if weights is None:
        w = jnp.ones_like(x)
    else:
        w = real_array(weights, "weights", fn).astype(jnp.float32)
        if w.shape != x.shape:
            raise ValueError(
                f"{fn}: weights must have the shape of x {x.shape}; got shape {w.shape}."
            )
    try:
        total = jax.lax.psum(jnp.sum(x * w), axis_name)
    except NameError as err:  # jax: "unbound axis name"
        raise ValueError(
            f"{fn}: axis_name {axis_name!r} is not a mapped axis here; call it inside "
            "jax.shard_map (e.g. a shard_map_step function) or pmap over that axis."
        ) from err
    count = jax.lax.psum(jnp.sum(w), axis_name)
    return total / jnp.maximum(count, 1.0)


def rollouts_from_process_local(
    local: Rollouts, mesh: Mesh | None = None, axis: str = "data"
) -> Rollouts:
    """Builds one global sharded batch from each process's local rollouts.

    In a multi-host job every process holds the rollouts it generated
    (``P_local`` prompts); this assembles them into global arrays of
    ``P_local * num_processes`` prompts sharded along ``axis`` with
    ``jax.make_array_from_process_local_data``. With one process it equals
    `shard_rollouts`.

    Raises:
      ValueError: if the local P is not divisible by the number of local
        devices along ``axis``.
    """
    check_rollouts(local, "rollouts_from_process_local")
    mesh = default_mesh(axis) if mesh is None else mesh
    n = _check_axis(mesh, axis, "rollouts_from_process_local")
    local_devices = n // jax.process_count()
    p, _ = local.shape
    if local_devices and p % local_devices:
        raise ValueError(
            f"rollouts_from_process_local: the local number of prompts P = {p} is not divisible "
            f"by this process's {local_devices} devices along {axis!r}; pad with pad_rollouts."
        )
    sharding = prompt_sharding(mesh, axis)

    def to_global(x: Any) -> Any:
        if x is None:
            return None
        x = np.asarray(x)
        global_shape = (x.shape[0] * jax.process_count(), *x.shape[1:])
        return jax.make_array_from_process_local_data(sharding, x, global_shape)

    return jax.tree_util.tree_map(to_global, local)
