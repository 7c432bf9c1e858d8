"""Evaluating the trained models: temperatures, probes and the sweep's rows.

At each checkpoint the symmetric models get a temperature fitted on the
validation split (`rd.posthoc.TemperatureScaling`) and a linear probe each;
the weighted models (one per seed and cost ratio) get a probe each; then every
arm is scored at every cost ratio (`metrics.arm_metrics`) and the seeds are
summarised with the harness's intervals.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from reward_design_studies.harness import compare_arms, metric_summary, summarise_arms
from reward_design_studies.misaligned.config import ARM_MODEL, ARMS, COMPARISONS, METRICS
from reward_design_studies.misaligned.environment import SeedSplits
from reward_design_studies.misaligned.metrics import arm_metrics, probe_accuracy

__all__ = [
    "CheckpointOutputs",
    "seed_probe",
    "fit_temperature",
    "reference_probes",
    "evaluate_checkpoint",
    "sweep_rows",
]

Apply = Callable[[Any, Any], tuple[np.ndarray, np.ndarray]]


def seed_probe(data: SeedSplits, s: int, train_h, test_h, c: float) -> float:
    """The probe of seed row ``s``'s features (full labels of that seed's split)."""
    return probe_accuracy(train_h, data.y_full["train"][s], test_h, data.y_full["test"][s], c)


def reference_probes(apply: Apply, init_params: Any, data: SeedSplits, c: float) -> dict[str, Any]:
    """What a linear probe gets without learning: on raw inputs and the untrained network.

    Returns:
      ``{"probe_accuracy_raw_inputs", "probe_accuracy_untrained_network"}``,
      each a `metric_summary` over seeds.
    """
    import jax.numpy as jnp

    init_train = apply(init_params, jnp.asarray(data.x["train"]))
    init_test = apply(init_params, jnp.asarray(data.x["test"]))
    x_train, x_test = data.x["train"], data.x["test"]
    raw, untrained = [], []
    for s in range(len(data.seeds)):
        flat_train = x_train[s].reshape(x_train.shape[1], -1)
        flat_test = x_test[s].reshape(x_test.shape[1], -1)
        raw.append(seed_probe(data, s, flat_train, flat_test, c))
        untrained.append(seed_probe(data, s, init_train[1][s], init_test[1][s], c))
    return {
        "probe_accuracy_raw_inputs": metric_summary(raw),
        "probe_accuracy_untrained_network": metric_summary(untrained),
    }


@dataclasses.dataclass(frozen=True)
class CheckpointOutputs:
    """What every arm needs at one checkpoint.

    Attributes:
      symmetric_logits: test logits of the symmetric models ``[S, N, C]``.
      weighted_logits: test logits of the weighted models ``[S * R, N, C]``
        (seed-major).
      temperatures: the symmetric models' fitted temperatures ``[S]``.
      symmetric_probe, weighted_probe: the models' probe accuracies.
      not_converged: temperature fits that warned they did not converge.
    """

    symmetric_logits: np.ndarray
    weighted_logits: np.ndarray
    temperatures: list[float]
    symmetric_probe: list[float]
    weighted_probe: list[float]
    not_converged: int


def _outputs(apply: Apply, params: Any, data: SeedSplits, seed_index: np.ndarray) -> dict:
    import jax.numpy as jnp

    return {
        part: apply(params, jnp.asarray(data.x[part][seed_index]))
        for part in ("train", "val", "test")
    }


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
    """The fitted temperature and how many did-not-converge warnings the fit gave."""
    import reward_design as rd

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cal = rd.posthoc.TemperatureScaling().fit(logits, labels)
    return cal.temperature_, sum("did not converge" in str(w.message) for w in caught)


def evaluate_checkpoint(
    apply: Apply,
    params: dict[str, Any],
    data: SeedSplits,
    weighted_seed_index: np.ndarray,
    c: float,
    advance: Callable[[], None] = lambda: None,
) -> CheckpointOutputs:
    """Temperatures and probes of every model at one checkpoint.

    Args:
      apply: `training.make_apply`'s compiled forward pass.
      params: ``{"symmetric": params [S, ...], "utility_weighted": params [S * R, ...]}``.
      data: the stacked splits.
      weighted_seed_index: each weighted model's seed row.
      c: the probe's inverse L2 strength.
      advance: called once per model evaluated (progress).
    """
    n_seeds = len(data.seeds)
    sym = _outputs(apply, params["symmetric"], data, np.arange(n_seeds))
    wtd = _outputs(apply, params["utility_weighted"], data, weighted_seed_index)
    temps, sym_probe, not_converged = [], [], 0
    for s in range(n_seeds):
        temp, warned = fit_temperature(sym["val"][0][s], data.y["val"][s])
        temps.append(temp)
        not_converged += warned
        sym_probe.append(seed_probe(data, s, sym["train"][1][s], sym["test"][1][s], c))
        advance()
    w_probe = []
    for m, s in enumerate(weighted_seed_index):
        w_probe.append(seed_probe(data, s, wtd["train"][1][m], wtd["test"][1][m], c))
        advance()
    return CheckpointOutputs(
        sym["test"][0], wtd["test"][0], temps, sym_probe, w_probe, not_converged
    )


def _per_seed_metrics(
    out: CheckpointOutputs,
    data: SeedSplits,
    cost: np.ndarray,
    r_i: int,
    n_ratios: int,
    ece_bins: int,
) -> dict[str, dict[str, list[float]]]:
    """``{arm: {metric: [per seed]}}`` at cost ratio number ``r_i``."""
    per_seed = {arm: {m: [] for m in METRICS} for arm in ARMS}
    for s in range(len(data.seeds)):
        wm = s * n_ratios + r_i
        for arm in ARMS:
            if ARM_MODEL[arm] == "symmetric":
                logits, probe, temp = (
                    out.symmetric_logits[s],
                    out.symmetric_probe[s],
                    out.temperatures[s],
                )
            else:
                logits, probe, temp = out.weighted_logits[wm], out.weighted_probe[wm], 1.0
            metrics = arm_metrics(
                arm,
                logits,
                data.y["test"][s],
                cost,
                data.task.critical_class,
                temp,
                probe,
                ece_bins,
            )
            for m, v in metrics.items():
                per_seed[arm][m].append(v)
    return per_seed


def sweep_rows(
    out: CheckpointOutputs,
    data: SeedSplits,
    steps: int,
    costs: np.ndarray,
    ratios: Sequence[float],
    ece_bins: int,
) -> list[dict[str, Any]]:
    """One sweep row per cost ratio at this checkpoint: the arms and their comparisons."""
    rows = []
    for r_i, ratio in enumerate(ratios):
        per_seed = _per_seed_metrics(out, data, costs[r_i], r_i, len(ratios), ece_bins)
        rows.append(
            {
                "task": data.task.name,
                "cost_ratio": float(ratio),
                "steps": int(steps),
                "cost_matrix": costs[r_i].tolist(),
                "arms": summarise_arms(per_seed),
                "comparisons": compare_arms(per_seed, COMPARISONS, METRICS),
            }
        )
    return rows
