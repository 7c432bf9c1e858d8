"""Study: symmetric training + post-hoc choosing vs utility-weighted training.

"Misaligned by Design" (Autor, Caplin, Martin, Marx, arXiv 2511.07699) trains
classifiers under asymmetric error costs in two ways and finds that training
with the ordinary, symmetric cross-entropy and applying the costs only at
decision time ("ex-post weighting") beats putting the costs into the training
loss ("weighted training"), even on the cost-weighted objective itself: the
weighted loss correctly incentivises *choosing* but weakens the incentive to
*learn* features. This module replays that comparison on data that needs no
download, with the library's own post-hoc tools:

* tasks: scikit-learn ``digits`` as a rare-positive binary task (digit 8 vs
  rest, like a diagnosis) and the procedural MNIST-1D 10-class task with one
  critical class;
* costs: every error costs 1, missing the critical class costs ``r`` (the
  cost ratio); binary: ``cost = [[0, 1], [r, 0]]``;
* one network, optimiser, minibatch sequence, number of steps and seed per
  pairing; the arms differ only in the training loss:

  - ``symmetric``: ``optax.softmax_cross_entropy_with_integer_labels``;
  - ``utility_weighted``: `rd.posthoc.utility_weighted_cross_entropy` with the
    cost matrix (class weights ``w_i = mean_{j != i} cost[i, j]``);

* decision rules (the reported "arms"):

  - ``symmetric_posthoc``: symmetric model, temperature-scaled on the
    validation split (`rd.posthoc.TemperatureScaling`), then
    `rd.posthoc.bayes_decision`;
  - ``symmetric_posthoc_uncalibrated``: the same without temperature scaling;
  - ``symmetric_argmax``: the symmetric model ignoring the costs (reference);
  - ``utility_weighted_argmax``: the weighted model, argmax (what
    practitioners do; for these costs it is the Bayes rule applied to the
    de-weighted probabilities);
  - ``utility_weighted_bayes``: the weighted model, Bayes rule on its own
    probabilities (which already lean towards the critical class, so the
    costs count twice).

* metrics: ``test_utility`` (minus the mean realised cost per test example),
  ``test_weighted_loss`` (the weighted cross-entropy itself; for the
  symmetric-posthoc arms evaluated on the ex-post weighted prediction
  ``p_u ∝ w * p``, i.e. logits + log w, the prediction that minimises the
  weighted loss given p), ``accuracy`` of the arm's decisions, top-label
  ``ece``, ``critical_recall``, and ``probe_accuracy``: a fresh logistic
  regression (scikit-learn) on the frozen hidden representation, trained on
  the training split for the *full* 10-class label, scored on the test split.

The training budget is swept by evaluating one constant-learning-rate run at
several step checkpoints (a checkpoint at k steps *is* a k-step run).

Run it with ``reward-design reproduce misaligned [--quick] [--out DIR] [--seeds N]``
or call `run_study` with a `StudyConfig`.

References:
  Autor, Caplin, Martin, Marx, "Misaligned by Design: Incentive Failures in
  Machine Learning", arXiv 2511.07699.
  Elkan, "The Foundations of Cost-Sensitive Learning", IJCAI 2001.
  Guo, Pleiss, Sun, Weinberger, "On Calibration of Modern Neural Networks",
  arXiv 1706.04599.
  Greydanus, "Scaling down Deep Learning" (MNIST-1D), arXiv 2011.14439.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from reward_design.experiments._common import (
    metric_summary,
    paired_difference_ci,
    resolve_out_dir,
    run_metadata,
    write_json,
)

__all__ = [
    "DESCRIPTION",
    "ARMS",
    "METRICS",
    "StudyConfig",
    "quick_config",
    "full_config",
    "run_study",
    "markdown_table",
    "make_plots",
    "add_arguments",
    "run",
]

DESCRIPTION = (
    "Misaligned by Design (arXiv 2511.07699): symmetric training + post-hoc Bayes "
    "decisions vs utility-weighted training, on digits and MNIST-1D"
)

ARMS = (
    "symmetric_posthoc",
    "symmetric_posthoc_uncalibrated",
    "symmetric_argmax",
    "utility_weighted_argmax",
    "utility_weighted_bayes",
)
METRICS = (
    "test_utility",
    "test_weighted_loss",
    "accuracy",
    "ece",
    "critical_recall",
    "probe_accuracy",
)
# Paired comparisons written to the JSON: (a, b) reports a - b per seed.
COMPARISONS = (
    ("symmetric_posthoc", "utility_weighted_argmax"),
    ("symmetric_posthoc", "utility_weighted_bayes"),
    ("symmetric_posthoc_uncalibrated", "utility_weighted_argmax"),
)
# Which trained model each arm reads.
_ARM_MODEL = {
    "symmetric_posthoc": "symmetric",
    "symmetric_posthoc_uncalibrated": "symmetric",
    "symmetric_argmax": "symmetric",
    "utility_weighted_argmax": "utility_weighted",
    "utility_weighted_bayes": "utility_weighted",
}
_LOSS_NAMES = {
    "symmetric": "optax.softmax_cross_entropy_with_integer_labels (mean)",
    "utility_weighted": "rd.posthoc.utility_weighted_cross_entropy",
}


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """Everything that defines a run. The headline is fixed before any result is seen.

    Attributes:
      tasks: subset of ``("digits", "mnist1d")``.
      cost_ratios: cost of missing the critical class (other errors cost 1).
      seeds: number of seeds (0 .. seeds-1); seed s fixes the data split, the
        initial parameters and the minibatch sequence of every arm.
      checkpoints: training budgets (optimiser steps) evaluated.
      headline_task, headline_cost_ratio, headline_steps: the configuration
        reported under ``"arms"`` in the JSON (must be in the sweep).
      positive_digit: the rare positive class of the digits task.
      mnist1d_samples: signals generated by ``mnist1d.data.make_dataset``.
      val_fraction, test_fraction: stratified split sizes.
      hidden: widths of the MLP's hidden layers; the last is the representation.
      learning_rate, weight_decay, batch_size: AdamW, shared by both arms.
      chunk: steps per compiled ``lax.scan`` (checkpoints must be multiples).
      ece_bins: bins of the top-label ECE.
      probe_c: inverse L2 strength of the logistic-regression probe.
    """

    tasks: tuple[str, ...] = ("digits", "mnist1d")
    cost_ratios: tuple[float, ...] = (1.0, 5.0, 20.0, 50.0)
    seeds: int = 5
    checkpoints: tuple[int, ...] = (300, 1000, 3000)
    headline_task: str = "mnist1d"
    headline_cost_ratio: float = 20.0
    headline_steps: int = 1000
    positive_digit: int = 8
    mnist1d_samples: int = 6000
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    hidden: tuple[int, ...] = (128, 64)
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 128
    chunk: int = 50
    ece_bins: int = 15
    probe_c: float = 1.0

    def __post_init__(self):
        unknown = set(self.tasks) - {"digits", "mnist1d"}
        if not self.tasks or unknown:
            raise ValueError(
                f"tasks must be a non-empty subset of ('digits', 'mnist1d'); got {self.tasks}."
            )
        if not self.cost_ratios or any(not np.isfinite(r) or r <= 0 for r in self.cost_ratios):
            raise ValueError(f"cost_ratios must be positive and finite; got {self.cost_ratios}.")
        if self.seeds < 2:
            raise ValueError(f"seeds must be >= 2 (for confidence intervals); got {self.seeds}.")
        if self.headline_task not in self.tasks:
            raise ValueError(
                f"headline_task {self.headline_task!r} must be one of tasks {self.tasks}."
            )
        if self.headline_cost_ratio not in self.cost_ratios:
            raise ValueError(
                f"headline_cost_ratio {self.headline_cost_ratio} must be one of "
                f"cost_ratios {self.cost_ratios}."
            )
        if self.headline_steps not in self.checkpoints:
            raise ValueError(
                f"headline_steps {self.headline_steps} must be one of checkpoints "
                f"{self.checkpoints}."
            )


def full_config(seeds: int = 5) -> StudyConfig:
    """The full run: 5 seeds, budgets of 300 / 1000 / 3000 steps."""
    return StudyConfig(seeds=seeds)


def quick_config(seeds: int = 3) -> StudyConfig:
    """``--quick``: the same headline with 3 seeds and budgets 300 / 1000 steps."""
    return StudyConfig(seeds=seeds, checkpoints=(300, 1000))


# --------------------------------------------------------------------------- helpers


def _checksum(tree: Any) -> str:
    """Short hash of a pytree of arrays (to show that arms share data and init)."""
    import jax

    h = hashlib.sha1()
    for leaf in jax.tree_util.tree_leaves(tree):
        h.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
    return h.hexdigest()[:16]


def _probe_accuracy(
    train_h: np.ndarray, train_y: np.ndarray, test_h: np.ndarray, test_y: np.ndarray, c: float
) -> float:
    """Accuracy of a logistic-regression probe on frozen features (full label set)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    probe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    # One BLAS thread: on a small shared CPU, multithreaded OpenBLAS inside L-BFGS
    # spends its time waiting for cores (measured 40x slower under load).
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        probe.fit(train_h, train_y)
        return float(probe.score(test_h, test_y))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _arm_metrics(
    arm: str,
    logits: np.ndarray,
    labels: np.ndarray,
    cost: np.ndarray,
    critical: int,
    temperature: float,
    probe: float,
    ece_bins: int,
) -> dict[str, float]:
    """The metrics of one arm for one seed / cost ratio / budget."""
    import reward_design as rd

    weights = np.asarray(rd.posthoc.utility_weights(cost))
    if arm == "symmetric_posthoc":
        scaled = logits / temperature
        probs = _softmax(scaled)
        decisions = np.asarray(rd.posthoc.bayes_decision(probs, cost))
        weighted_logits = scaled + np.log(weights)
    elif arm == "symmetric_posthoc_uncalibrated":
        probs = _softmax(logits)
        decisions = np.asarray(rd.posthoc.bayes_decision(probs, cost))
        weighted_logits = logits + np.log(weights)
    elif arm in ("symmetric_argmax", "utility_weighted_argmax"):
        probs = _softmax(logits)
        decisions = probs.argmax(-1)
        weighted_logits = logits
    elif arm == "utility_weighted_bayes":
        probs = _softmax(logits)
        decisions = np.asarray(rd.posthoc.bayes_decision(probs, cost))
        weighted_logits = logits
    else:  # pragma: no cover - ARMS is closed
        raise ValueError(f"unknown arm {arm!r}.")
    confidence = probs.max(-1)
    top_correct = probs.argmax(-1) == labels
    is_critical = labels == critical
    return {
        "test_utility": float(np.mean(rd.posthoc.utility(decisions, labels, cost))),
        "test_weighted_loss": float(
            rd.posthoc.utility_weighted_cross_entropy(weighted_logits, labels, cost)
        ),
        "accuracy": float(np.mean(decisions == labels)),
        "ece": float(
            rd.calibration.expected_calibration_error(confidence, top_correct, num_bins=ece_bins)
        ),
        "critical_recall": float(np.mean(decisions[is_critical] == critical)),
        "probe_accuracy": probe,
    }


def _summarise(per_seed: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    return {
        arm: {m: metric_summary(vals) for m, vals in metrics.items()}
        for arm, metrics in per_seed.items()
    }


def _comparisons(per_seed: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    out = {}
    for a, b in COMPARISONS:
        out[f"{a} - {b}"] = {
            m: paired_difference_ci(per_seed[a][m], per_seed[b][m]) for m in METRICS
        }
    return out


# --------------------------------------------------------------------------- the study


def _run_task(
    name: str, config: StudyConfig, progress: Any, timings: dict[str, float]
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """Trains both arms on one task and evaluates every (cost ratio, budget)."""
    import jax
    import jax.numpy as jnp
    import optax

    import reward_design as rd
    from reward_design.experiments._misaligned_data import (
        load_task,
        misclassification_cost,
        stratified_split,
    )
    from reward_design.experiments._misaligned_train import (
        Net,
        NetConfig,
        TrainConfig,
        batch_indices,
        make_apply,
        train_models,
    )

    t0 = time.perf_counter()
    task = load_task(
        name, positive_digit=config.positive_digit, mnist1d_samples=config.mnist1d_samples
    )
    seeds = list(range(config.seeds))
    splits = [
        stratified_split(task.y_full, config.val_fraction, config.test_fraction, seed=s)
        for s in seeds
    ]

    def stack(idx_name: str, arr: np.ndarray) -> np.ndarray:
        return np.stack([arr[getattr(sp, idx_name)] for sp in splits])

    x = {k: stack(k, task.x) for k in ("train", "val", "test")}
    y = {k: stack(k, task.y) for k in ("train", "val", "test")}
    y_full = {k: stack(k, task.y_full) for k in ("train", "test")}
    timings[f"{name}/data_s"] = time.perf_counter() - t0

    ratios = list(config.cost_ratios)
    costs = np.stack(
        [misclassification_cost(task.num_classes, task.critical_class, r) for r in ratios]
    )
    for c in costs:  # eager validation once, outside the compiled loop
        rd.posthoc.validate_cost_matrix(c, num_classes=task.num_classes)

    net_config = NetConfig(conv_channels=(), hidden=tuple(config.hidden))
    net = Net(net_config, task.num_classes)
    train_config = TrainConfig(
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        batch_size=config.batch_size,
        checkpoints=tuple(config.checkpoints),
        chunk=config.chunk,
    )

    def symmetric_loss(logits, labels, _unused):
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))

    def weighted_loss(logits, labels, cost):
        return rd.posthoc.utility_weighted_cross_entropy(logits, labels, cost)

    # Models: symmetric, one per seed; weighted, one per (seed, ratio), seed-major.
    sym_seeds = seeds
    w_seeds = [s for s in seeds for _ in ratios]
    w_seed_idx = np.repeat(np.arange(len(seeds)), len(ratios))
    w_costs = np.tile(costs, (len(seeds), 1, 1))

    total_steps = config.checkpoints[-1]
    trained = {}
    records = {}
    for model, loss_fn, loss_args, model_seeds, seed_idx in (
        (
            "symmetric",
            symmetric_loss,
            np.zeros(len(seeds), np.float32),
            sym_seeds,
            np.arange(len(seeds)),
        ),
        ("utility_weighted", weighted_loss, w_costs, w_seeds, w_seed_idx),
    ):
        t1 = time.perf_counter()
        bar = progress.add_task(
            f"{name}: train {model} ({len(model_seeds)} nets)", total=total_steps
        )
        xt, yt = jnp.asarray(x["train"][seed_idx]), jnp.asarray(y["train"][seed_idx])
        trained[model] = train_models(
            net,
            loss_fn,
            jnp.asarray(loss_args),
            xt,
            yt,
            model_seeds,
            train_config,
            on_chunk=lambda k, bar=bar: progress.advance(bar, k),
        )
        init = trained[model][0]
        keys = jax.vmap(jax.random.key)(jnp.asarray(model_seeds, dtype=jnp.uint32))
        n_train = int(xt.shape[1])
        first_batches = jax.jit(
            jax.vmap(
                lambda k, n_train=n_train: jax.vmap(
                    lambda t: batch_indices(k, t, n_train, config.batch_size)
                )(jnp.arange(config.chunk))
            )
        )(keys)
        records[model] = {
            "loss": _LOSS_NAMES[model],
            "network": {
                "kind": "MLP",
                **dataclasses.asdict(net_config),
                "num_classes": task.num_classes,
            },
            "optimizer": {
                "name": "adamw",
                "learning_rate": train_config.learning_rate,
                "weight_decay": train_config.weight_decay,
            },
            "batch_size": train_config.batch_size,
            "checkpoints": list(train_config.checkpoints),
            "models": [
                {
                    "seed": int(s),
                    "cost_ratio": None if model == "symmetric" else float(ratios[m % len(ratios)]),
                    "init_params_sha1": _checksum(
                        jax.tree_util.tree_map(lambda a, m=m: a[m], init)
                    ),
                    "train_data_sha1": _checksum((np.asarray(xt[m]), np.asarray(yt[m]))),
                    "first_batches_sha1": _checksum(np.asarray(first_batches[m])),
                }
                for m, s in enumerate(model_seeds)
            ],
        }
        if model == "utility_weighted":
            records[model]["cost_ratios"] = ratios
        timings[f"{name}/train_{model}_s"] = time.perf_counter() - t1

    # Evaluation.
    t2 = time.perf_counter()
    apply = make_apply(net)
    n_eval = len(config.checkpoints) * (len(seeds) + len(w_seeds))
    bar = progress.add_task(f"{name}: evaluate + probes", total=n_eval)
    rows = []
    diagnostics = {"temperature": {}, "temperature_not_converged": 0}
    # Reference probes (what a linear probe gets without any learning): on the
    # raw inputs and on the untrained network's representation, per seed.
    init_out = apply(trained["symmetric"][0], jnp.asarray(x["train"]))
    init_test = apply(trained["symmetric"][0], jnp.asarray(x["test"]))
    raw, rand = [], []
    for s in range(len(seeds)):
        raw.append(
            _probe_accuracy(
                x["train"][s].reshape(x["train"].shape[1], -1),
                y_full["train"][s],
                x["test"][s].reshape(x["test"].shape[1], -1),
                y_full["test"][s],
                config.probe_c,
            )
        )
        rand.append(
            _probe_accuracy(
                init_out[1][s],
                y_full["train"][s],
                init_test[1][s],
                y_full["test"][s],
                config.probe_c,
            )
        )
    diagnostics["probe_accuracy_raw_inputs"] = metric_summary(raw)
    diagnostics["probe_accuracy_untrained_network"] = metric_summary(rand)
    for steps in config.checkpoints:
        out = {}
        for model, seed_idx in (
            ("symmetric", np.arange(len(seeds))),
            ("utility_weighted", w_seed_idx),
        ):
            params = trained[model][steps]
            out[model] = {
                split: apply(params, jnp.asarray(x[split][seed_idx]))
                for split in ("train", "val", "test")
            }
        # Symmetric: temperature on validation and probe, once per seed.
        temps, sym_probe = [], []
        for s in range(len(seeds)):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                cal = rd.posthoc.TemperatureScaling().fit(
                    out["symmetric"]["val"][0][s], y["val"][s]
                )
            diagnostics["temperature_not_converged"] += sum(
                "did not converge" in str(w.message) for w in caught
            )
            temps.append(cal.temperature_)
            sym_probe.append(
                _probe_accuracy(
                    out["symmetric"]["train"][1][s],
                    y_full["train"][s],
                    out["symmetric"]["test"][1][s],
                    y_full["test"][s],
                    config.probe_c,
                )
            )
            progress.advance(bar)
        diagnostics["temperature"][str(steps)] = temps
        w_probe = []
        for m in range(len(w_seeds)):
            s = w_seed_idx[m]
            w_probe.append(
                _probe_accuracy(
                    out["utility_weighted"]["train"][1][m],
                    y_full["train"][s],
                    out["utility_weighted"]["test"][1][m],
                    y_full["test"][s],
                    config.probe_c,
                )
            )
            progress.advance(bar)

        for r_i, ratio in enumerate(ratios):
            per_seed = {arm: {m: [] for m in METRICS} for arm in ARMS}
            for s in range(len(seeds)):
                wm = s * len(ratios) + r_i
                for arm in ARMS:
                    if _ARM_MODEL[arm] == "symmetric":
                        logits, probe, temp = out["symmetric"]["test"][0][s], sym_probe[s], temps[s]
                    else:
                        logits, probe, temp = (
                            out["utility_weighted"]["test"][0][wm],
                            w_probe[wm],
                            1.0,
                        )
                    metrics = _arm_metrics(
                        arm,
                        logits,
                        y["test"][s],
                        costs[r_i],
                        task.critical_class,
                        temp,
                        probe,
                        config.ece_bins,
                    )
                    for m, v in metrics.items():
                        per_seed[arm][m].append(v)
            rows.append(
                {
                    "task": name,
                    "cost_ratio": float(ratio),
                    "steps": int(steps),
                    "cost_matrix": costs[r_i].tolist(),
                    "arms": _summarise(per_seed),
                    "comparisons": _comparisons(per_seed),
                }
            )
    timings[f"{name}/evaluate_s"] = time.perf_counter() - t2
    task_info = {
        "description": task.description,
        "num_classes": task.num_classes,
        "critical_class": task.critical_class,
        "num_examples": int(len(task.y)),
        "split_sizes": {k: int(x[k].shape[1]) for k in ("train", "val", "test")},
        "critical_fraction": float(np.mean(task.y == task.critical_class)),
        "probe_labels": "10 digit classes" if name == "digits" else "10 MNIST-1D classes",
    }
    return rows, {"task": task_info, "training": records}, diagnostics


def run_study(config: StudyConfig, progress: bool = True) -> dict[str, Any]:
    """Runs the study and returns the JSON-ready results.

    Returns:
      ``{"experiment": "misaligned", "config", "arms", "comparisons", "sweep",
      "tasks", "training", "diagnostics", "timings_s", "metadata"}``. ``arms``
      holds ``{arm: {metric: {"mean", "ci95", "per_seed"}}}`` at the headline
      configuration; ``sweep`` one such block per (task, cost ratio, steps).
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    start = time.perf_counter()
    timings: dict[str, float] = {}
    sweep: list[dict[str, Any]] = []
    tasks_info, training, diagnostics = {}, {}, {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not progress,
        transient=False,
    ) as bars:
        for name in config.tasks:
            rows, info, diag = _run_task(name, config, bars, timings)
            sweep.extend(rows)
            tasks_info[name] = info["task"]
            training[name] = info["training"]
            diagnostics[name] = diag
    timings["total_s"] = time.perf_counter() - start

    headline = next(
        row
        for row in sweep
        if row["task"] == config.headline_task
        and row["cost_ratio"] == float(config.headline_cost_ratio)
        and row["steps"] == config.headline_steps
    )
    config_dict = dataclasses.asdict(config)
    config_dict["headline"] = {
        "task": config.headline_task,
        "cost_ratio": float(config.headline_cost_ratio),
        "steps": config.headline_steps,
    }
    config_dict["arms"] = {
        arm: {"model": _ARM_MODEL[arm], "loss": _LOSS_NAMES[_ARM_MODEL[arm]]} for arm in ARMS
    }
    return {
        "experiment": "misaligned",
        "config": config_dict,
        "arms": headline["arms"],
        "comparisons": headline["comparisons"],
        "sweep": sweep,
        "tasks": tasks_info,
        "training": training,
        "diagnostics": diagnostics,
        "timings_s": timings,
        "metadata": run_metadata(config_dict),
    }


# --------------------------------------------------------------------------- reporting


def _fmt(cell: dict[str, Any], digits: int = 3) -> str:
    lo, hi = cell["ci95"]
    return f"{cell['mean']:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def markdown_table(results: dict[str, Any]) -> str:
    """The headline table and a sweep table of paired differences, as markdown."""
    head = results["config"]["headline"]
    lines = [
        f"### Headline: {head['task']}, cost ratio {head['cost_ratio']:g}, "
        f"{head['steps']} steps ({results['config']['seeds']} seeds, mean [95% CI])",
        "",
        "| arm | " + " | ".join(METRICS) + " |",
        "|---|" + "---|" * len(METRICS),
    ]
    for arm, cells in results["arms"].items():
        lines.append(f"| {arm} | " + " | ".join(_fmt(cells[m]) for m in METRICS) + " |")
    lines += [
        "",
        "### Sweep: symmetric_posthoc minus utility_weighted_argmax (paired over seeds)",
        "",
        "| task | cost ratio | steps | Δ test_utility | Δ test_weighted_loss | Δ probe_accuracy "
        "| Δ accuracy |",
        "|---|---|---|---|---|---|---|",
    ]
    key = "symmetric_posthoc - utility_weighted_argmax"
    for row in results["sweep"]:
        comp = row["comparisons"][key]

        def cell(m: str, comp=comp) -> str:
            c = comp[m]
            return f"{c['mean']:+.4f} [{c['low']:+.4f}, {c['high']:+.4f}]"

        lines.append(
            f"| {row['task']} | {row['cost_ratio']:g} | {row['steps']} | "
            + " | ".join(
                cell(m)
                for m in ("test_utility", "test_weighted_loss", "probe_accuracy", "accuracy")
            )
            + " |"
        )
    return "\n".join(lines)


_ARM_STYLE = {
    "symmetric_posthoc": ("tab:blue", "o", "-"),
    "symmetric_posthoc_uncalibrated": ("tab:cyan", "s", "--"),
    "symmetric_argmax": ("tab:gray", "x", ":"),
    "utility_weighted_argmax": ("tab:red", "^", "-"),
    "utility_weighted_bayes": ("tab:orange", "v", "--"),
}


def make_plots(results: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Writes the study's PNGs under ``out_dir``; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = results["config"]
    tasks = cfg["tasks"]
    steps = cfg["headline"]["steps"]
    rows = [r for r in results["sweep"] if r["steps"] == steps]
    paths = []

    def errbar(ax, xs, cells, arm, offset=0.0, label=None):
        color, marker, ls = _ARM_STYLE[arm]
        means = np.array([c["mean"] for c in cells])
        lo = np.array([c["ci95"][0] for c in cells])
        hi = np.array([c["ci95"][1] for c in cells])
        xs = np.asarray(xs) * (1 + offset)
        ax.errorbar(
            xs,
            means,
            yerr=[means - lo, hi - means],
            color=color,
            marker=marker,
            ls=ls,
            capsize=3,
            label=label or arm,
        )

    # 1. utility vs cost ratio, and the paired gap.
    fig, axes = plt.subplots(2, len(tasks), figsize=(5.5 * len(tasks), 8), squeeze=False)
    for col, task in enumerate(tasks):
        trs = sorted((r for r in rows if r["task"] == task), key=lambda r: r["cost_ratio"])
        xs = [r["cost_ratio"] for r in trs]
        ax = axes[0, col]
        for k, arm in enumerate(ARMS):
            errbar(
                ax, xs, [r["arms"][arm]["test_utility"] for r in trs], arm, offset=0.03 * (k - 2)
            )
        ax.set_xscale("log")
        ax.set_title(f"{task}: test utility ({steps} steps)")
        ax.set_xlabel("cost ratio r (missing the critical class)")
        ax.set_ylabel("test utility = -mean realised cost")
        ax.grid(alpha=0.3)
        ax = axes[1, col]
        for k, (a, b) in enumerate(COMPARISONS):
            comp = [r["comparisons"][f"{a} - {b}"]["test_utility"] for r in trs]
            means = np.array([c["mean"] for c in comp])
            lo = np.array([c["low"] for c in comp])
            hi = np.array([c["high"] for c in comp])
            ax.errorbar(
                np.asarray(xs) * (1 + 0.03 * (k - 1)),
                means,
                yerr=[means - lo, hi - means],
                marker="o",
                capsize=3,
                label=f"{a} − {b}",
            )
        ax.axhline(0.0, color="k", lw=0.8)
        ax.set_xscale("log")
        ax.set_title(f"{task}: paired utility difference (>0: post-hoc better)")
        ax.set_xlabel("cost ratio r")
        ax.set_ylabel("Δ test utility")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    axes[1, 0].legend(fontsize=7)
    fig.tight_layout()
    path = out_dir / "utility_vs_cost_ratio.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    paths.append(path)

    # 2. probe accuracy vs cost ratio (one curve per trained model) and the paired gap.
    fig, axes = plt.subplots(2, len(tasks), figsize=(5.5 * len(tasks), 7.5), squeeze=False)
    key = "symmetric_posthoc - utility_weighted_argmax"
    for col, task in enumerate(tasks):
        trs = sorted((r for r in rows if r["task"] == task), key=lambda r: r["cost_ratio"])
        xs = [r["cost_ratio"] for r in trs]
        ax = axes[0, col]
        errbar(
            ax,
            xs,
            [r["arms"]["symmetric_posthoc"]["probe_accuracy"] for r in trs],
            "symmetric_posthoc",
            label="symmetric model",
        )
        errbar(
            ax,
            xs,
            [r["arms"]["utility_weighted_argmax"]["probe_accuracy"] for r in trs],
            "utility_weighted_argmax",
            offset=0.03,
            label="utility-weighted model",
        )
        diag = results.get("diagnostics", {}).get(task, {})
        for name, style, label in (
            ("probe_accuracy_raw_inputs", ":", "probe on raw inputs"),
            ("probe_accuracy_untrained_network", "-.", "probe on untrained network"),
        ):
            if name in diag:
                ax.axhline(diag[name]["mean"], color="k", ls=style, lw=1, label=label)
        ax.set_xscale("log")
        ax.set_title(f"{task}: 10-class linear probe ({steps} steps)")
        ax.set_xlabel("cost ratio r")
        ax.set_ylabel("probe test accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        ax = axes[1, col]
        comp = [r["comparisons"][key]["probe_accuracy"] for r in trs]
        means = np.array([c["mean"] for c in comp])
        ax.errorbar(
            xs,
            means,
            yerr=[means - [c["low"] for c in comp], [c["high"] for c in comp] - means],
            marker="o",
            capsize=3,
            color="tab:purple",
        )
        ax.axhline(0.0, color="k", lw=0.8)
        ax.set_xscale("log")
        ax.set_title(f"{task}: paired probe gap, symmetric − weighted")
        ax.set_xlabel("cost ratio r")
        ax.set_ylabel("Δ probe accuracy")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path = out_dir / "probe_accuracy_vs_cost_ratio.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    paths.append(path)

    # 3. the utility and probe gaps vs training budget, per cost ratio.
    from matplotlib.ticker import ScalarFormatter

    fig, axes = plt.subplots(2, len(tasks), figsize=(5.5 * len(tasks), 7.5), squeeze=False)
    key = "symmetric_posthoc - utility_weighted_argmax"
    for col, task in enumerate(tasks):
        for row_i, (metric, label) in enumerate(
            (("test_utility", "Δ test utility"), ("probe_accuracy", "Δ probe accuracy"))
        ):
            ax = axes[row_i, col]
            for k, ratio in enumerate(cfg["cost_ratios"]):
                trs = sorted(
                    (
                        r
                        for r in results["sweep"]
                        if r["task"] == task and r["cost_ratio"] == float(ratio)
                    ),
                    key=lambda r: r["steps"],
                )
                comp = [r["comparisons"][key][metric] for r in trs]
                means = np.array([c["mean"] for c in comp])
                ax.errorbar(
                    np.array([r["steps"] for r in trs]) * (1 + 0.02 * (k - 1.5)),
                    means,
                    yerr=[means - [c["low"] for c in comp], [c["high"] for c in comp] - means],
                    marker="o",
                    capsize=3,
                    label=f"r = {ratio:g}",
                )
            ax.axhline(0.0, color="k", lw=0.8)
            ax.set_xscale("log")
            ax.set_xticks(cfg["checkpoints"])
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.minorticks_off()
            ax.set_title(f"{task}: {label} (post-hoc − weighted argmax)")
            ax.set_xlabel("training steps")
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    path = out_dir / "gaps_vs_budget.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    paths.append(path)
    return paths


# --------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--quick``, ``--out DIR``, ``--seeds N`` and the cost/budget sweep."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 seeds, budgets 300/1000 steps (under 3 minutes on 2 CPU cores)",
    )
    parser.add_argument("--out", default=None, help="output folder (default results/misaligned)")
    parser.add_argument(
        "--seeds", type=int, default=None, help="number of seeds (default 5, or 3 with --quick)"
    )
    parser.add_argument(
        "--cost-ratios",
        type=float,
        nargs="+",
        default=None,
        help="costs of missing the critical class (default 1 5 20 50)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        nargs="+",
        default=None,
        help="training budgets to evaluate, multiples of 50 "
        "(default 300 1000 3000, or 300 1000 with --quick)",
    )
    parser.add_argument("--tasks", nargs="+", choices=("digits", "mnist1d"), default=None)
    parser.add_argument(
        "--hidden",
        type=int,
        nargs="+",
        default=None,
        help="MLP hidden widths; the last is the probed representation (default 128 64)",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNGs")


def _config_from_args(args: argparse.Namespace) -> StudyConfig:
    quick = bool(getattr(args, "quick", False))
    seeds = getattr(args, "seeds", None) or (3 if quick else 5)
    base = quick_config(seeds) if quick else full_config(seeds)
    changes: dict[str, Any] = {}
    ratios = getattr(args, "cost_ratios", None)
    if ratios:
        ratios = tuple(sorted(set(float(r) for r in ratios)))
        changes["cost_ratios"] = ratios
        if base.headline_cost_ratio not in ratios:  # headline: 20 if swept, else the largest
            changes["headline_cost_ratio"] = max(ratios)
    steps = getattr(args, "steps", None)
    if steps:
        steps = tuple(sorted(set(int(s) for s in steps)))
        changes["checkpoints"] = steps
        if base.headline_steps not in steps:
            changes["headline_steps"] = max(steps)
    hidden = getattr(args, "hidden", None)
    if hidden:
        if any(h <= 0 for h in hidden):
            raise ValueError(f"--hidden widths must be positive; got {hidden}.")
        changes["hidden"] = tuple(int(h) for h in hidden)
    tasks = getattr(args, "tasks", None)
    if tasks:
        changes["tasks"] = tuple(dict.fromkeys(tasks))
        if base.headline_task not in changes["tasks"]:
            changes["headline_task"] = changes["tasks"][0]
    return dataclasses.replace(base, **changes)


def run(args: argparse.Namespace) -> int:
    """CLI entry point: runs the study, writes ``DIR/misaligned.json``, PNGs and the table."""
    config = _config_from_args(args)
    out_dir = resolve_out_dir(getattr(args, "out", None), "misaligned")
    results = run_study(config, progress=True)
    results["config"]["mode"] = "quick" if getattr(args, "quick", False) else "full"
    table = markdown_table(results)
    (out_dir / "misaligned.md").write_text(table + "\n")
    if not getattr(args, "no_plots", False):
        results["plots"] = [p.name for p in make_plots(results, out_dir)]
    write_json(out_dir / "misaligned.json", results)
    print(table)
    print(f"\nwrote {out_dir / 'misaligned.json'} ({results['timings_s']['total_s']:.0f} s)")
    return 0
