"""The misaligned study's models and the training loop both arms share.

Both arms go through `train_models`: the same network, initialisation,
optimiser, minibatch sequence and number of steps. The only argument that
differs is ``loss_fn`` (plain cross-entropy, or the utility-weighted
cross-entropy with a cost matrix). Many models are trained at once with
``jax.vmap`` (one model per seed, or per seed and cost ratio), so one
compiled step serves a whole arm.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from reward_design_studies.misaligned.config import LOSS_NAMES

__all__ = [
    "NetConfig",
    "Net",
    "TrainConfig",
    "ModelGroup",
    "batch_indices",
    "checksum",
    "model_groups",
    "symmetric_loss",
    "weighted_loss",
    "train_models",
    "train_group",
    "make_apply",
]


@dataclasses.dataclass(frozen=True)
class NetConfig:
    """Architecture: optional 1-D convolutions, then dense layers.

    The activation of the last dense hidden layer is the model's
    *representation*, which the linear probe reads.
    """

    conv_channels: tuple[int, ...] = ()
    kernel_size: int = 5
    hidden: tuple[int, ...] = (128, 64)


class Net(nn.Module):
    """Conv1D/MLP classifier returning ``(logits, representation)``."""

    config: NetConfig
    num_classes: int

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = x  # [B, L, 1]
        for i, ch in enumerate(self.config.conv_channels):
            h = nn.Conv(ch, (self.config.kernel_size,), strides=(2,) if i else (1,))(h)
            h = nn.relu(h)
        h = h.reshape(h.shape[0], -1)
        for width in self.config.hidden:
            h = nn.relu(nn.Dense(width)(h))
        return nn.Dense(self.num_classes)(h), h


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation shared by both arms."""

    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 128
    checkpoints: tuple[int, ...] = (200, 1000)
    chunk: int = 50  # steps per compiled scan (progress-bar granularity)

    def __post_init__(self):
        if not self.checkpoints or any(c <= 0 for c in self.checkpoints):
            raise ValueError(f"checkpoints must be positive step counts; got {self.checkpoints}.")
        if any(c % self.chunk for c in self.checkpoints):
            raise ValueError(
                f"every checkpoint must be a multiple of chunk={self.chunk}; "
                f"got {self.checkpoints}."
            )
        if list(self.checkpoints) != sorted(set(self.checkpoints)):
            raise ValueError(f"checkpoints must be strictly increasing; got {self.checkpoints}.")


def optimizer(config: TrainConfig) -> optax.GradientTransformation:
    return optax.adamw(config.learning_rate, weight_decay=config.weight_decay)


def batch_indices(key: jax.Array, step: jax.Array, n: int, batch_size: int) -> jax.Array:
    """Minibatch ``step`` of the model with PRNG key ``key``: indices into its ``n`` examples.

    Sampled with replacement from the seed's key alone, so every arm and cost
    ratio sharing a seed sees the same batches.
    """
    batch_key = jax.random.fold_in(jax.random.fold_in(key, 1), step)
    return jax.random.randint(batch_key, (batch_size,), 0, n)


def train_models(
    net: Net,
    loss_fn: Callable[[jax.Array, jax.Array, jax.Array], jax.Array],
    loss_args: jax.Array,
    x_train: jax.Array,
    y_train: jax.Array,
    seeds: Sequence[int],
    config: TrainConfig,
    on_chunk: Callable[[int], None] | None = None,
    learning_rates: np.ndarray | None = None,
) -> dict[int, Any]:
    """Trains ``M`` models in parallel and returns their parameters at each checkpoint.

    Model ``m`` uses training set ``x_train[m]`` and seed ``seeds[m]``: the seed
    alone fixes its initial parameters and minibatch sequence, so models that
    share a seed (across arms or cost ratios) start identically and see the
    same batches.

    Args:
      net: the network (shared by all models).
      loss_fn: ``loss_fn(logits [B, C], labels [B], loss_arg) -> scalar``.
      loss_args: per-model extra argument of ``loss_fn`` (e.g. a cost matrix),
        stacked on a leading axis ``[M, ...]``.
      x_train: ``[M, N, L, 1]`` inputs; ``y_train``: ``[M, N]`` labels.
      seeds: ``M`` integer seeds.
      config: optimiser, batch size and checkpoints.
      on_chunk: called with the number of steps just done, for progress bars.
      learning_rates: per-model learning rates ``[M]`` instead of
        ``config.learning_rate`` (AdamW with rate 1, its update scaled by the
        model's rate: the same update as ``optax.adamw(rate)``), so that one
        compiled program trains a grid of rates.

    Returns:
      ``{step: params}`` with params stacked ``[M, ...]``, one entry per
      checkpoint and one for step 0 (the initial parameters).
    """
    num_models = len(seeds)
    if x_train.shape[0] != num_models or y_train.shape[0] != num_models:
        raise ValueError(
            f"x_train and y_train need a leading axis of len(seeds)={num_models}; "
            f"got {x_train.shape} and {y_train.shape}."
        )
    per_model_rate = learning_rates is not None
    if per_model_rate:
        rates = jnp.asarray(learning_rates, dtype=jnp.float32)
        if rates.shape != (num_models,):
            raise ValueError(
                f"learning_rates must have shape ({num_models},) (one per seed); got {rates.shape}."
            )
        tx = optax.adamw(1.0, weight_decay=config.weight_decay)
    else:
        rates = jnp.ones(num_models, jnp.float32)  # unused
        tx = optimizer(config)
    keys = jax.vmap(jax.random.key)(jnp.asarray(seeds, dtype=jnp.uint32))

    def init_one(key, x):
        params = net.init(jax.random.fold_in(key, 0), x[:1])
        return params, tx.init(params)

    params, opt_state = jax.jit(jax.vmap(init_one))(keys, x_train)
    n = x_train.shape[1]

    def step_one(carry, step, key, x, y, loss_arg, rate):
        params, opt_state = carry
        idx = batch_indices(key, step, n, config.batch_size)

        def objective(p):
            logits, _ = net.apply(p, x[idx])
            return loss_fn(logits, y[idx], loss_arg)

        grads = jax.grad(objective)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        if per_model_rate:
            updates = jax.tree_util.tree_map(lambda u: u * rate, updates)
        return (optax.apply_updates(params, updates), opt_state)

    def chunk_one(params, opt_state, start, key, x, y, loss_arg, rate):
        def body(carry, step):
            return step_one(carry, step, key, x, y, loss_arg, rate), None

        steps = start + jnp.arange(config.chunk)
        (params, opt_state), _ = jax.lax.scan(body, (params, opt_state), steps)
        return params, opt_state

    run_chunk = jax.jit(jax.vmap(chunk_one, in_axes=(0, 0, None, 0, 0, 0, 0, 0)))
    out: dict[int, Any] = {0: jax.tree_util.tree_map(np.asarray, params)}
    done = 0
    for target in config.checkpoints:
        while done < target:
            params, opt_state = run_chunk(
                params, opt_state, jnp.int32(done), keys, x_train, y_train, loss_args, rates
            )
            done += config.chunk
            if on_chunk is not None:
                # Dispatch is asynchronous: wait for the chunk, so that progress bars
                # follow the computation rather than run ahead of it.
                jax.block_until_ready(params)
                on_chunk(config.chunk)
        out[target] = jax.tree_util.tree_map(np.asarray, params)
    return out


def make_apply(net: Net) -> Callable[[Any, jax.Array], tuple[np.ndarray, np.ndarray]]:
    """A compiled ``apply(params, x)`` for ``M`` stacked models.

    ``params`` are stacked ``[M, ...]`` and ``x`` is ``[M, N, L, 1]`` (one input
    set per model); returns logits ``[M, N, C]`` and representations ``[M, N, H]``
    as numpy arrays.
    """
    compiled = jax.jit(jax.vmap(net.apply))

    def apply(params: Any, x: jax.Array) -> tuple[np.ndarray, np.ndarray]:
        logits, hidden = compiled(params, x)
        return np.asarray(logits), np.asarray(hidden)

    return apply


# --------------------------------------------------------------------------- the two arms


def symmetric_loss(logits: jax.Array, labels: jax.Array, _unused: jax.Array) -> jax.Array:
    """The symmetric arm: mean softmax cross-entropy (the cost matrix is ignored)."""
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))


def weighted_loss(logits: jax.Array, labels: jax.Array, cost: jax.Array) -> jax.Array:
    """The utility-weighted arm: `rd.posthoc.utility_weighted_cross_entropy` with ``cost``."""
    import reward_design as rd

    return rd.posthoc.utility_weighted_cross_entropy(logits, labels, cost)


@dataclasses.dataclass(frozen=True)
class ModelGroup:
    """The models trained with one loss, side by side under ``vmap``.

    Attributes:
      name: ``"symmetric"`` or ``"utility_weighted"``.
      loss_fn: ``loss_fn(logits, labels, loss_arg) -> scalar``.
      loss_args: per-model ``loss_arg`` ``[M, ...]``.
      seeds: the ``M`` models' seeds.
      seed_index: ``[M]`` row of each model's data in the stacked splits.
      cost_ratios: each model's cost ratio (None for the symmetric models).
      learning_rates: each model's learning rate ``[M]``, or None for the
        training config's one rate.
    """

    name: str
    loss_fn: Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
    loss_args: np.ndarray
    seeds: list[int]
    seed_index: np.ndarray
    cost_ratios: list[float | None]
    learning_rates: np.ndarray | None = None

    def with_rates(self, rates: Sequence[float]) -> ModelGroup:
        """The group repeated once per learning rate: model ``m * L + l`` is model ``m``
        at ``rates[l]`` (same seed, data, initialisation and minibatches)."""
        n_rates = len(rates)
        return dataclasses.replace(
            self,
            loss_args=np.repeat(self.loss_args, n_rates, axis=0),
            seeds=[s for s in self.seeds for _ in rates],
            seed_index=np.repeat(self.seed_index, n_rates),
            cost_ratios=[r for r in self.cost_ratios for _ in rates],
            learning_rates=np.tile(np.asarray(rates, np.float32), len(self.seeds)),
        )


def model_groups(
    seeds: Sequence[int], costs: np.ndarray, ratios: Sequence[float]
) -> tuple[ModelGroup, ModelGroup]:
    """Symmetric: one model per seed; weighted: one per (seed, cost ratio), seed-major."""
    n = len(seeds)
    symmetric = ModelGroup(
        "symmetric", symmetric_loss, np.zeros(n, np.float32), list(seeds), np.arange(n), [None] * n
    )
    weighted = ModelGroup(
        "utility_weighted",
        weighted_loss,
        np.tile(costs, (n, 1, 1)),
        [s for s in seeds for _ in ratios],
        np.repeat(np.arange(n), len(ratios)),
        [float(r) for _ in seeds for r in ratios],
    )
    return symmetric, weighted


def checksum(tree: Any) -> str:
    """Short hash of a pytree of arrays (to show that arms share data and init)."""
    h = hashlib.sha1()
    for leaf in jax.tree_util.tree_leaves(tree):
        h.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
    return h.hexdigest()[:16]


def _first_batches(keys: jax.Array, n_train: int, config: TrainConfig) -> np.ndarray:
    """Each model's first ``chunk`` minibatches of indices, ``[M, chunk, batch]``."""

    def model_batches(key):
        steps = jnp.arange(config.chunk)
        return jax.vmap(lambda t: batch_indices(key, t, n_train, config.batch_size))(steps)

    return np.asarray(jax.jit(jax.vmap(model_batches))(keys))


def train_group(
    group: ModelGroup,
    net: Net,
    x_train: np.ndarray,
    y_train: np.ndarray,
    config: TrainConfig,
    on_chunk: Callable[[int], None] | None = None,
) -> tuple[dict[int, Any], dict[str, Any]]:
    """Trains a `ModelGroup` on its seeds' training splits.

    Args:
      x_train, y_train: the stacked training splits ``[S, N, ...]``; model m
        reads row ``group.seed_index[m]``.

    Returns:
      ``({step: params}, record)``: `train_models`' checkpoints and the JSON
      record of the training (loss, network, optimiser, and per model the
      checksums of its initial parameters, training data and first batches).
    """
    xt = jnp.asarray(x_train[group.seed_index])
    yt = jnp.asarray(y_train[group.seed_index])
    trained = train_models(
        net,
        group.loss_fn,
        jnp.asarray(group.loss_args),
        xt,
        yt,
        group.seeds,
        config,
        on_chunk,
        learning_rates=group.learning_rates,
    )
    init = trained[0]
    keys = jax.vmap(jax.random.key)(jnp.asarray(group.seeds, dtype=jnp.uint32))
    first_batches = _first_batches(keys, int(xt.shape[1]), config)
    record = {
        "loss": LOSS_NAMES[group.name],
        "network": {
            "kind": "CNN" if net.config.conv_channels else "MLP",
            **dataclasses.asdict(net.config),
            "num_classes": net.num_classes,
        },
        "optimizer": {
            "name": "adamw",
            "learning_rate": (
                config.learning_rate
                if group.learning_rates is None
                else "per model (models[m].learning_rate)"
            ),
            "weight_decay": config.weight_decay,
        },
        "batch_size": config.batch_size,
        "checkpoints": list(config.checkpoints),
        "models": [
            {
                "seed": int(s),
                "cost_ratio": group.cost_ratios[m],
                **(
                    {}
                    if group.learning_rates is None
                    else {"learning_rate": float(group.learning_rates[m])}
                ),
                "init_params_sha1": checksum(jax.tree_util.tree_map(lambda a, m=m: a[m], init)),
                "train_data_sha1": checksum((np.asarray(xt[m]), np.asarray(yt[m]))),
                "first_batches_sha1": checksum(first_batches[m]),
            }
            for m, s in enumerate(group.seeds)
        ],
    }
    return trained, record
