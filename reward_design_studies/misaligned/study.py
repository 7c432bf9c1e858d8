"""The misaligned study's run: every task trained, evaluated and summarised.

Per task: split the data once per seed, train the two model groups (the
symmetric loss, one model per seed; the utility-weighted loss, one model per
seed and cost ratio) on identical data, initialisations and minibatches, then
evaluate every checkpoint. The training budget is swept by evaluating one
constant-learning-rate run at several step checkpoints (a checkpoint at k
steps *is* a k-step run).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from reward_design_studies.harness import progress as progress_bars
from reward_design_studies.harness import run_metadata
from reward_design_studies.misaligned.config import (
    ARM_MODEL,
    ARMS,
    LOSS_NAMES,
    MisalignedConfig,
)

__all__ = ["run", "run_task"]


def _costs(task: Any, ratios: list[float]) -> np.ndarray:
    import reward_design as rd
    from reward_design_studies.misaligned.environment import misclassification_cost

    costs = np.stack(
        [misclassification_cost(task.num_classes, task.critical_class, r) for r in ratios]
    )
    for c in costs:  # eager validation once, outside the compiled loop
        rd.posthoc.validate_cost_matrix(c, num_classes=task.num_classes)
    return costs


def _train(name, config, data, costs, bars, timings) -> tuple[dict, dict, Any, Any]:
    """Both model groups of task ``name``: ``(params by group and step, records, net, groups)``."""
    from reward_design_studies.misaligned.training import (
        Net,
        TrainConfig,
        model_groups,
        train_group,
    )

    net = Net(config.net_config(), data.task.num_classes)
    train_config = TrainConfig(
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        batch_size=config.batch_size,
        checkpoints=tuple(config.checkpoints),
        chunk=config.chunk,
    )
    ratios = list(config.cost_ratios)
    groups = model_groups(list(data.seeds), costs, ratios)
    trained, records = {}, {}
    for group in groups:
        t1 = time.perf_counter()
        label = f"{name}: train {group.name} ({len(group.seeds)} nets)"
        bar = bars.add(label, total=config.checkpoints[-1])
        trained[group.name], records[group.name] = train_group(
            group, net, data.x["train"], data.y["train"], train_config, on_chunk=bar.advance
        )
        if group.name == "utility_weighted":
            records[group.name]["cost_ratios"] = ratios
        timings[f"{name}/train_{group.name}_s"] = time.perf_counter() - t1
    return trained, records, net, groups


def run_task(
    name: str, config: MisalignedConfig, bars: Any, timings: dict[str, float]
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """Trains both arms on task ``name`` and evaluates every (cost ratio, budget).

    Returns:
      ``(sweep rows, {"task", "training"} (and "tuned" at the headline task with
      ``config.tune``), diagnostics)``.
    """
    from reward_design_studies.misaligned.environment import (
        load_task,
        split_per_seed,
        task_summary,
    )
    from reward_design_studies.misaligned.evaluation import (
        evaluate_checkpoint,
        reference_probes,
        sweep_rows,
    )
    from reward_design_studies.misaligned.training import make_apply

    t0 = time.perf_counter()
    task = load_task(
        name, positive_digit=config.positive_digit, mnist1d_samples=config.mnist1d_samples
    )
    data = split_per_seed(task, config.seed_list, config.val_fraction, config.test_fraction)
    timings[f"{name}/data_s"] = time.perf_counter() - t0
    costs = _costs(task, list(config.cost_ratios))
    trained, records, net, (symmetric, weighted) = _train(name, config, data, costs, bars, timings)

    t2 = time.perf_counter()
    apply = make_apply(net)
    n_eval = len(config.checkpoints) * (len(symmetric.seeds) + len(weighted.seeds))
    bar = bars.add(f"{name}: evaluate + probes", total=n_eval)
    diagnostics: dict[str, Any] = {"temperature": {}, "temperature_not_converged": 0}
    diagnostics.update(reference_probes(apply, trained["symmetric"][0], data, config.probe_c))
    rows = []
    for steps in config.checkpoints:
        params = {group: trained[group][steps] for group in trained}
        out = evaluate_checkpoint(
            apply, params, data, weighted.seed_index, config.probe_c, advance=bar.advance
        )
        diagnostics["temperature"][str(steps)] = out.temperatures
        diagnostics["temperature_not_converged"] += out.not_converged
        rows += sweep_rows(out, data, steps, costs, list(config.cost_ratios), config.ece_bins)
    timings[f"{name}/evaluate_s"] = time.perf_counter() - t2
    info = {"task": task_summary(data), "training": records}
    if config.tune and name == config.headline_task:
        from reward_design_studies.misaligned.tuning import tune

        info["tuned"] = tune(config, data, bars, timings)
    return rows, info, diagnostics


def _config_record(config: MisalignedConfig) -> dict[str, Any]:
    record = config.to_dict()
    record["headline"] = config.headline
    record["arms"] = {
        arm: {"model": ARM_MODEL[arm], "loss": LOSS_NAMES[ARM_MODEL[arm]]} for arm in ARMS
    }
    return record


def run(config: MisalignedConfig, progress: bool = False) -> dict[str, Any]:
    """Runs the study and returns the JSON-ready results.

    Returns:
      ``{"experiment": "misaligned", "config", "arms", "comparisons", "sweep",
      "tasks", "training", "diagnostics", "timings_s", "metadata"}`` (and
      ``"tuned"`` with ``config.tune``, see `tuning.tune`). ``arms``
      holds ``{arm: {metric: {"mean", "ci95", "per_seed"}}}`` at the headline
      configuration, ``comparisons`` the paired differences there; ``sweep``
      one such block per (task, cost ratio, steps).
    """
    if not isinstance(config, MisalignedConfig):
        raise TypeError(f"config must be a MisalignedConfig; got {type(config).__name__}.")
    start = time.perf_counter()
    timings: dict[str, float] = {}
    sweep: list[dict[str, Any]] = []
    tasks, training, diagnostics = {}, {}, {}
    tuned = None
    with progress_bars(progress) as bars:
        for name in config.tasks:
            rows, info, diag = run_task(name, config, bars, timings)
            sweep.extend(rows)
            tasks[name] = info["task"]
            training[name] = info["training"]
            diagnostics[name] = diag
            tuned = info.get("tuned", tuned)
    timings["total_s"] = time.perf_counter() - start
    head = config.headline
    headline = next(
        row
        for row in sweep
        if (row["task"], row["cost_ratio"], row["steps"])
        == (head["task"], head["cost_ratio"], head["steps"])
    )
    config_record = _config_record(config)
    extra = {} if tuned is None else {"tuned": tuned}
    return {
        "experiment": "misaligned",
        "config": config_record,
        "arms": headline["arms"],
        "comparisons": headline["comparisons"],
        "sweep": sweep,
        "tasks": tasks,
        "training": training,
        "diagnostics": diagnostics,
        **extra,
        "timings_s": timings,
        "metadata": run_metadata(config_record),
    }
