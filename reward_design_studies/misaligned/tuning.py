"""Per-arm tuning on validation: each decision rule picks its learning rate and stopping step.

The fixed-budget comparison gives both losses one learning rate and one
number of steps, which confounds the weighted loss's weaker incentive to
*learn* with slower optimisation (with weight r on one class and 1 on nine,
the nine cheap classes carry 9 / (9 + r) of its gradient). Here each arm gets
the best its own objective reaches on the validation split
(docs/studies/misaligned.md, "Second round"):

* both losses are trained at every learning rate of ``tune_learning_rates``
  for ``tune_max_steps`` steps, at the headline task and cost ratio (one run
  per learning rate and loss; seed s fixes the data split, the
  initialisation and the minibatches of every run, as in the fixed-budget
  run);
* every ``tune_every`` steps every model is scored on the validation split;
* selection ``"val_utility"`` (the pre-registered one): each decision rule
  (`config.ARMS`) takes the (learning rate, step) of its model whose
  *decisions* have the highest validation utility (``symmetric_posthoc``
  refits its temperature on the validation split at every candidate);
* selection ``"own_loss"``: each model takes the (learning rate, step) with
  the lowest validation value of its own training loss (the mean
  cross-entropy, or the utility-weighted cross-entropy), and its decision
  rules use that model;
* ties go to the fewer steps, then the smaller learning rate;
* the chosen models are then scored once on the test split, with the
  fixed-budget arms' metrics (`metrics.arm_metrics`) and probe.

Test data never enter a choice.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from reward_design_studies.harness import compare_arms, summarise_arms
from reward_design_studies.misaligned.config import (
    ARM_MODEL,
    ARMS,
    COMPARISONS,
    METRICS,
    MisalignedConfig,
)
from reward_design_studies.misaligned.environment import SeedSplits

__all__ = ["SELECTIONS", "select", "validation_scores", "tune"]

SELECTIONS = {
    "val_utility": "each decision rule: the learning rate and step of its model with the "
    "highest validation utility of its own decisions (pre-registered)",
    "own_loss": "each model: the learning rate and step with the lowest validation value of "
    "its own training loss; its decision rules use that model",
}
MODELS = ("symmetric", "utility_weighted")


def select(scores: np.ndarray, maximise: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Each seed's best candidate of a ``[L, K, S]`` score grid (L rates, K steps, S seeds).

    Ties go to the fewer steps, then the lower learning-rate index; a
    non-finite score (a diverged run) is never chosen over a finite one.

    Returns:
      ``(rate index [S], step index [S])``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 3:
        raise ValueError(f"scores must be [rates, steps, seeds]; got shape {scores.shape}.")
    n_rates, n_steps, n_seeds = scores.shape
    signed = scores if maximise else -scores
    signed = np.where(np.isfinite(signed), signed, -np.inf)
    # Candidate c = step * n_rates + rate: argmax's first maximum is the tie rule.
    flat = np.transpose(signed, (1, 0, 2)).reshape(n_steps * n_rates, n_seeds)
    best = np.argmax(flat, axis=0)
    return best % n_rates, best // n_rates


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _cross_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``[S, N]`` cross-entropies of ``logits [S, N, C]`` (float64)."""
    z = logits.astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return -np.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]


def _mean_utility(decisions: Any, labels: np.ndarray, cost: np.ndarray) -> np.ndarray:
    import reward_design as rd

    return np.asarray(rd.posthoc.utility(np.asarray(decisions), labels, cost)).mean(axis=-1)


def validation_scores(
    model: str, logits: np.ndarray, labels: np.ndarray, cost: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, int]:
    """Validation scores of ``S`` models of one kind at one candidate.

    Args:
      model: ``"symmetric"`` or ``"utility_weighted"``.
      logits: validation logits ``[S, N, C]``; labels ``[S, N]``.
      cost: the cost matrix ``[C, C]``.

    Returns:
      ``({arm: validation utility [S]} for the model's arms, own loss [S],
      temperatures [S] (1 for the weighted model), temperature fits that did
      not converge)``.
    """
    import reward_design as rd
    from reward_design_studies.misaligned.evaluation import fit_temperature

    probs = _softmax(logits)
    ce = _cross_entropy(logits, labels)
    if model == "utility_weighted":
        w = np.asarray(rd.posthoc.utility_weights(cost), dtype=np.float64)[labels]
        utilities = {
            "utility_weighted_argmax": _mean_utility(probs.argmax(-1), labels, cost),
            "utility_weighted_bayes": _mean_utility(
                rd.posthoc.bayes_decision(probs, cost), labels, cost
            ),
        }
        return utilities, (w * ce).sum(-1) / w.sum(-1), np.ones(len(labels)), 0
    fits = [fit_temperature(logits[s], labels[s]) for s in range(len(labels))]
    temps = np.array([t for t, _ in fits])
    calibrated = _softmax(logits / temps[:, None, None])
    utilities = {
        "symmetric_posthoc": _mean_utility(
            rd.posthoc.bayes_decision(calibrated, cost), labels, cost
        ),
        "symmetric_posthoc_uncalibrated": _mean_utility(
            rd.posthoc.bayes_decision(probs, cost), labels, cost
        ),
        "symmetric_argmax": _mean_utility(probs.argmax(-1), labels, cost),
    }
    return utilities, ce.mean(-1), temps, sum(warned for _, warned in fits)


def _train_grid(config, data, cost, net, rates, bars, timings):
    """``({model: {step: params [S * L, ...]}}, records)``; model ``s * L + l`` is
    seed row ``s`` at ``rates[l]`` (one compiled program per loss for the whole grid)."""
    from reward_design_studies.misaligned.training import TrainConfig, model_groups, train_group

    groups = model_groups(list(data.seeds), cost[None], [float(config.headline_cost_ratio)])
    train_config = TrainConfig(
        weight_decay=config.weight_decay,
        batch_size=config.batch_size,
        checkpoints=config.tune_steps,
        chunk=config.chunk,
    )
    bar = bars.add(f"tune: train {len(rates)} rates x 2 losses", total=2 * config.tune_max_steps)
    trained, records = {}, {}
    for group in groups:
        t0 = time.perf_counter()
        trained[group.name], records[group.name] = train_group(
            group.with_rates(rates),
            net,
            data.x["train"],
            data.y["train"],
            train_config,
            on_chunk=bar.advance,
        )
        timings[f"tune/train_{group.name}_s"] = time.perf_counter() - t0
    return trained, records


def _score_grid(config, data, cost, apply, trained, rates, bars):
    """Validation scores on the grid: ``({arm: [L, K, S]}, {model: [L, K, S]}, temps, warned)``."""
    import jax.numpy as jnp

    steps = config.tune_steps
    n_rates, n_seeds = len(rates), len(data.seeds)
    shape = (n_rates, len(steps), n_seeds)
    utility = {arm: np.zeros(shape) for arm in ARMS}
    own = {m: np.zeros(shape) for m in MODELS}
    temps = np.ones(shape)
    warned = 0
    rows = np.repeat(np.arange(n_seeds), n_rates)  # model s * L + l reads seed row s
    x_val, y_val = jnp.asarray(data.x["val"][rows]), data.y["val"][rows]

    def grid(values: np.ndarray) -> np.ndarray:  # [S * L] -> [L, S]
        return np.asarray(values).reshape(n_seeds, n_rates).T

    bar = bars.add("tune: validation scores", total=2 * len(steps))
    for k, step in enumerate(steps):
        for model in MODELS:
            logits, _ = apply(trained[model][step], x_val)
            arms, loss, t, w = validation_scores(model, logits, y_val, cost)
            for arm, values in arms.items():
                utility[arm][:, k] = grid(values)
            own[model][:, k] = grid(loss)
            if model == "symmetric":
                temps[:, k] = grid(t)
                warned += w
            bar.advance()
    return utility, own, temps, warned


def _choices(utility, own) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """``{selection: {arm: (rate index [S], step index [S])}}``."""
    by_model = {m: select(own[m], maximise=False) for m in MODELS}
    return {
        "val_utility": {arm: select(utility[arm]) for arm in ARMS},
        "own_loss": {arm: by_model[ARM_MODEL[arm]] for arm in ARMS},
    }


def tune(
    config: MisalignedConfig, data: SeedSplits, bars: Any, timings: dict[str, float]
) -> dict[str, Any]:
    """Trains the grid, chooses on validation and scores the choices on test.

    Args:
      config: the study's configuration (the tuning grid and the headline).
      data: the headline task's per-seed splits.
      bars: progress bars (`harness.progress`).
      timings: per-phase seconds, filled in.

    Returns:
      The JSON block ``"tuned"``: the grid, ``selections`` (per selection rule
      the arms' test metrics, the paired comparisons and each seed's chosen
      learning rate and step), every candidate's validation scores and the
      training records.
    """
    import jax
    import jax.numpy as jnp

    from reward_design_studies.misaligned.environment import misclassification_cost
    from reward_design_studies.misaligned.evaluation import seed_probe
    from reward_design_studies.misaligned.metrics import arm_metrics
    from reward_design_studies.misaligned.training import Net, make_apply

    task = data.task
    cost = misclassification_cost(task.num_classes, task.critical_class, config.headline_cost_ratio)
    rates = sorted(float(r) for r in config.tune_learning_rates)
    steps = config.tune_steps
    net = Net(config.net_config(), task.num_classes)
    apply = make_apply(net)
    trained, records = _train_grid(config, data, cost, net, rates, bars, timings)

    t0 = time.perf_counter()
    utility, own, temps, warned = _score_grid(config, data, cost, apply, trained, rates, bars)
    choices = _choices(utility, own)
    timings["tune/validation_s"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    cache: dict[tuple[str, int, int, int], tuple[np.ndarray, float]] = {}

    def chosen_model(model: str, l_i: int, k: int, s: int) -> tuple[np.ndarray, float]:
        """Test logits and probe accuracy of seed row ``s``'s model at a candidate."""
        key = (model, l_i, k, s)
        if key not in cache:
            m = s * len(rates) + l_i
            params = jax.tree_util.tree_map(lambda a: a[m : m + 1], trained[model][steps[k]])
            test = apply(params, jnp.asarray(data.x["test"][s : s + 1]))
            train = apply(params, jnp.asarray(data.x["train"][s : s + 1]))
            probe = seed_probe(data, s, train[1][0], test[1][0], config.probe_c)
            cache[key] = (test[0][0], probe)
        return cache[key]

    selections = {}
    for name, by_arm in choices.items():
        per_seed = {arm: {m: [] for m in METRICS} for arm in ARMS}
        chosen = {}
        for arm in ARMS:
            model = ARM_MODEL[arm]
            rate_i, step_i = by_arm[arm]
            for s in range(len(data.seeds)):
                logits, probe = chosen_model(model, int(rate_i[s]), int(step_i[s]), s)
                temp = float(temps[rate_i[s], step_i[s], s]) if model == "symmetric" else 1.0
                metrics = arm_metrics(
                    arm,
                    logits,
                    data.y["test"][s],
                    cost,
                    task.critical_class,
                    temp,
                    probe,
                    config.ece_bins,
                )
                for m, v in metrics.items():
                    per_seed[arm][m].append(v)
            score = utility[arm] if name == "val_utility" else own[model]
            chosen[arm] = {
                "learning_rate": [rates[i] for i in rate_i],
                "steps": [steps[k] for k in step_i],
                "validation_score": [
                    float(score[rate_i[s], step_i[s], s]) for s in range(len(data.seeds))
                ],
            }
        selections[name] = {
            "rule": SELECTIONS[name],
            "arms": summarise_arms(per_seed),
            "comparisons": compare_arms(per_seed, COMPARISONS, METRICS),
            "chosen": chosen,
        }
    timings["tune/test_s"] = time.perf_counter() - t1
    return {
        "task": task.name,
        "cost_ratio": float(config.headline_cost_ratio),
        "learning_rates": rates,
        "steps": list(steps),
        "selections": selections,
        # Every candidate's validation score, [rate][step][seed row]: the choices can be
        # re-derived from these with `select`.
        "validation_grid": {
            "utility": {arm: utility[arm].tolist() for arm in ARMS},
            "own_loss": {m: own[m].tolist() for m in MODELS},
            "temperature": temps.tolist(),
        },
        "temperature_not_converged": int(warned),
        "training": records,
    }
