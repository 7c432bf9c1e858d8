"""Study: the rubric as a gate vs the rubric as a dense reward, under GRPO.

The claim tested (DRO, arXiv 2506.13351; Rubrics as Rewards, arXiv
2507.17746): a rubric turned into a dense reward (weighted fraction of items
passed) lets a policy collect the cheap items and neglect the essential
ones, whereas the same rubric used as a gate, with a fine-grained reward
acting only inside the accepted set, keeps proxy and true quality together.

Arms, trained with GRPO from the same warm-started policy and identical in
everything but the objective:

* ``dense``: ``compose(rubric=RubricScore(w), tokens=TokenReward())``;
* ``gated_floor``: ``Gated(Essential([0, 1]), compose(tokens=TokenReward()),
  on_reject="floor", group_filter=GroupFilter(1, drop_degenerate=True))``;
* ``gated_drop``: the same with ``on_reject="drop"``;

each also under a noisy judge (every rubric check flipped with probability
e), named ``<arm>@e=<e>``. The environment is described in
``_gating_env.py`` and ``docs/studies/gating.md``.

Entry points: ``run_study(config) -> dict`` (Python) and
``reward-design reproduce gating [--quick] [--out DIR] [--seeds N]``, which
writes ``DIR/gating.json``, ``DIR/gating_curves.png``,
``DIR/gating_noise.png`` and ``DIR/gating_items.png`` and prints a table.

References:
  Xu et al., "Direct Reasoning Optimization: LLMs Can Reward and Refine
  Their Own Reasoning for Open-Ended Tasks", arXiv 2506.13351.
  Gunjal et al., "Rubrics as Rewards: Reinforcement Learning Beyond
  Verifiable Domains", arXiv 2507.17746.
  Shao et al., "DeepSeekMath" (GRPO), arXiv 2402.03300.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from reward_design.experiments import _gating_env as genv
from reward_design.experiments._common import (
    metric_summary,
    paired_difference_ci,
    resolve_out_dir,
    run_metadata,
    write_json,
)
from reward_design.experiments._gating_train import TrainConfig, get_trainer

__all__ = [
    "DESCRIPTION",
    "ARMS",
    "FULL_CONFIG",
    "QUICK_CONFIG",
    "make_objective",
    "run_study",
    "add_arguments",
    "run",
    "format_table",
]

DESCRIPTION = "rubric as gate vs rubric as dense reward under GRPO (DRO, Rubrics as Rewards)"
ARMS = ("dense", "gated_floor", "gated_drop")
EXPERIMENT = "gating"

# The headline configuration, fixed before the comparison was run (docs/studies/gating.md).
FULL_CONFIG: dict[str, Any] = {
    "seeds": 5,
    "seed_offset": 0,
    "steps": 400,
    "noise_levels": [0.0, 0.1, 0.2],
    "arms": list(ARMS),
    "num_prompts": 32,
    "group_size": 8,
    "learning_rate": 1e-3,
    "max_grad_norm": 1.0,
    "kl_coef": 0.04,
    "hidden": 64,
    "warmup_steps": 200,
    "warmup_learning_rate": 5e-3,
    "corruption": 0.5,
    "eval_samples": 16,
    "floor": 0.0,
    "curve_every": 10,
    "chunk": 25,
    "fast_compile": False,
}
QUICK_CONFIG: dict[str, Any] = {
    **FULL_CONFIG,
    "seeds": 3,
    "steps": 150,
    "noise_levels": [0.0, 0.2],
    "fast_compile": True,
}

_TRAIN_FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}
_FINAL_METRICS = ("gold", "proxy", "kl", "length")
_TRAIN_METRICS = ("accepted", "kept", "in_update", "groups_with_signal")


def make_objective(arm: str, floor: float = 0.0) -> Any:
    """The objective of ``arm`` (one of `ARMS`); everything else is shared."""
    import reward_design as rd

    if arm == "dense":
        return rd.compose(
            rubric=rd.terms.RubricScore(genv.ITEM_WEIGHTS), tokens=rd.terms.TokenReward()
        )
    if arm in ("gated_floor", "gated_drop"):
        return rd.gates.Gated(
            rd.gates.Essential(genv.ESSENTIAL),
            rd.compose(tokens=rd.terms.TokenReward()),
            on_reject=arm.removeprefix("gated_"),
            floor=floor,
            group_filter=rd.gates.GroupFilter(min_accepted=1, drop_degenerate=True),
        )
    raise ValueError(f"arm must be one of {list(ARMS)}; got {arm!r}.")


def _arm_name(arm: str, noise: float) -> str:
    return arm if noise == 0 else f"{arm}@e={noise:g}"


def _check_config(config: dict[str, Any]) -> dict[str, Any]:
    unknown = set(config) - set(FULL_CONFIG)
    if unknown:
        raise ValueError(
            f"config has unknown keys {sorted(unknown)}; known: {sorted(FULL_CONFIG)}."
        )
    cfg = {**FULL_CONFIG, **config}
    for key in ("seeds", "steps", "num_prompts", "group_size", "eval_samples", "curve_every"):
        if not isinstance(cfg[key], int) or cfg[key] < 1:
            raise ValueError(f"config[{key!r}] must be a positive integer; got {cfg[key]!r}.")
    if cfg["group_size"] < 2:
        raise ValueError(f"config['group_size'] must be >= 2; got {cfg['group_size']}.")
    levels = [float(e) for e in cfg["noise_levels"]]
    if not levels or any(not 0.0 <= e <= 0.5 for e in levels):
        raise ValueError(f"config['noise_levels'] must be non-empty, in [0, 0.5]; got {levels}.")
    cfg["noise_levels"] = levels
    bad = [a for a in cfg["arms"] if a not in ARMS]
    if bad or not cfg["arms"]:
        raise ValueError(f"config['arms'] must be a non-empty subset of {list(ARMS)}; got {bad}.")
    cfg["arms"] = list(cfg["arms"])
    return cfg


def _fingerprint(tree: Any) -> str:
    h = hashlib.sha256()
    for leaf in jax.tree_util.tree_leaves(tree):
        h.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
    return h.hexdigest()[:16]


def _take(tree: Any, idx: np.ndarray) -> Any:
    return jax.tree_util.tree_map(lambda x: x[idx], tree)


def _block_means(x: np.ndarray, every: int) -> np.ndarray:
    """``[..., steps]`` -> ``[..., ceil(steps / every)]`` means over consecutive blocks."""
    steps = x.shape[-1]
    out = [x[..., i : i + every].mean(axis=-1) for i in range(0, steps, every)]
    return np.stack(out, axis=-1)


def run_study(config: dict[str, Any] | None = None, progress: bool = False) -> dict[str, Any]:
    """Runs the study and returns the result dictionary (the JSON schema).

    Args:
      config: overrides of `FULL_CONFIG` (e.g. ``{"seeds": 2, "steps": 20}``).
      progress: show a ``rich`` progress bar.

    Returns:
      ``{"experiment", "config", "arms": {arm: {metric: {"mean", "ci95",
      "per_seed"}}}, "comparisons", "curves", "training", "items",
      "metadata", "wall_seconds"}``. ``training[arm]`` records how the arm
      was trained (shared configuration, initial-parameter fingerprints,
      random keys) and its objective; only the objective differs between
      arms.
    """
    cfg = _check_config(dict(config or {}))
    t_start = time.time()
    tcfg = TrainConfig(**{k: cfg[k] for k in _TRAIN_FIELDS if k in cfg})
    trainer = get_trainer(tcfg)
    n_seeds, levels = cfg["seeds"], cfg["noise_levels"]
    seeds = [cfg["seed_offset"] + s for s in range(n_seeds)]
    seed_keys = jnp.stack([jax.random.key_data(jax.random.key(s)) for s in seeds])
    keys = jax.random.wrap_key_data(seed_keys)

    timings: dict[str, float] = {}
    params0, env = trainer.warm_start(jax.vmap(lambda k: jax.random.fold_in(k, 0))(keys))
    jax.block_until_ready(params0)
    timings["warm_start"] = time.time() - t_start
    init_prints = [_fingerprint(_take(params0, np.array(i))) for i in range(n_seeds)]

    # runs = seeds x noise levels; every arm sees the same keys (common random numbers)
    seed_idx = np.repeat(np.arange(n_seeds), len(levels))
    noise = jnp.asarray(np.tile(np.asarray(levels, np.float32), n_seeds))
    params0_r, env_r = _take(params0, seed_idx), _take(env, seed_idx)
    train_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)[seed_idx]
    eval_keys = jax.vmap(lambda k: jax.random.fold_in(k, 2))(keys)[seed_idx]
    base = trainer.evaluate(params0_r, params0_r, env_r, eval_keys)

    chunks = []
    left = cfg["steps"]
    while left > 0:
        chunks.append(min(cfg["chunk"], left))
        left -= chunks[-1]

    finals: dict[str, dict[str, np.ndarray]] = {}
    traces: dict[str, dict[str, np.ndarray]] = {}
    training: dict[str, Any] = {}
    shared = {
        "train_config": dataclasses.asdict(tcfg),
        "seeds": seeds,
        "noise_levels": levels,
        "init_fingerprints": init_prints,
        "train_key_fingerprint": _fingerprint(jax.random.key_data(train_keys)),
        "eval_key_fingerprint": _fingerprint(jax.random.key_data(eval_keys)),
        "steps": cfg["steps"],
        "chunks": chunks,
        "advantage": "rd.advantages.grpo(out.total, mask=advantage_mask)",
    }

    bar = _progress(progress)
    with bar:
        task = bar.add_task("gating", total=len(cfg["arms"]) * cfg["steps"]) if bar else None
        for arm in cfg["arms"]:
            t_arm = time.time()
            objective = make_objective(arm, cfg["floor"])
            state = (params0_r, trainer.init_opt(params0_r), train_keys)
            pieces = []
            for n in chunks:
                state, metrics = trainer.train_chunk(state, objective, params0_r, env_r, noise, n)
                pieces.append(jax.device_get(metrics))
                if bar:
                    bar.update(task, advance=n, description=f"gating: {arm}")
            trace = {k: np.concatenate([p[k] for p in pieces], axis=1) for k in pieces[0]}
            final = jax.device_get(trainer.evaluate(state[0], params0_r, env_r, eval_keys))
            finals[arm], traces[arm] = final, trace
            timings[arm] = time.time() - t_arm
            training[arm] = {
                **shared,
                "objective": repr(objective),
                "final_fingerprints": [
                    _fingerprint(_take(state[0], np.array(r))) for r in range(len(seed_idx))
                ],
            }

    result = _assemble(cfg, levels, n_seeds, finals, traces, base, training)
    result["wall_seconds"] = time.time() - t_start
    result["timings"] = timings
    result["metadata"] = run_metadata(cfg)
    return result


def _progress(enabled: bool):
    if not enabled:
        return _NoBar()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    )


class _NoBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __bool__(self):
        return False


def _per_seed(values: np.ndarray, n_seeds: int, n_levels: int) -> np.ndarray:
    """``[R, ...]`` runs -> ``[n_levels, n_seeds, ...]``."""
    v = np.asarray(values)
    return np.swapaxes(v.reshape(n_seeds, n_levels, *v.shape[1:]), 0, 1)


def _assemble(cfg, levels, n_seeds, finals, traces, base, training) -> dict[str, Any]:
    n_levels = len(levels)
    tail = max(1, cfg["steps"] // 10)
    arms: dict[str, dict[str, Any]] = {}
    per_seed: dict[str, dict[str, np.ndarray]] = {}
    curves: dict[str, Any] = {}
    items: dict[str, dict[str, Any]] = {}
    train_record: dict[str, Any] = {}
    steps_axis = None
    for arm in cfg["arms"]:
        fin = {k: _per_seed(v, n_seeds, n_levels) for k, v in finals[arm].items()}
        tr = {k: _per_seed(v, n_seeds, n_levels) for k, v in traces[arm].items()}
        for li, e in enumerate(levels):
            name = _arm_name(arm, e)
            vals = {m: fin[m][li] for m in _FINAL_METRICS}
            for m in _TRAIN_METRICS:
                vals[m] = tr[m][li][:, -tail:].mean(axis=1)
            vals["gold_during_training"] = tr["gold"][li].mean(axis=1)
            vals["proxy_during_training"] = tr["proxy"][li].mean(axis=1)
            quarter = max(1, cfg["steps"] // 4)
            vals["gold_first_quarter"] = tr["gold"][li][:, :quarter].mean(axis=1)
            vals["proxy_first_quarter"] = tr["proxy"][li][:, :quarter].mean(axis=1)
            per_seed[name] = vals
            arms[name] = {m: metric_summary(v) for m, v in vals.items()}
            items[name] = {
                item: metric_summary(fin["items"][li][:, k])
                for k, item in enumerate(genv.ITEM_NAMES)
            }
            blocks = {m: _block_means(tr[m][li], cfg["curve_every"]) for m in tr}
            steps_axis = [
                min(i + cfg["curve_every"], cfg["steps"])
                for i in range(0, cfg["steps"], cfg["curve_every"])
            ]
            curves[name] = {
                m: {"mean": blocks[m].mean(axis=0), "per_seed": blocks[m]} for m in blocks
            }
            train_record[name] = {**training[arm], "noise": e}

    base_seed = {k: _per_seed(v, n_seeds, n_levels)[0] for k, v in base.items()}
    initial = {m: metric_summary(base_seed[m]) for m in ("gold", "proxy")}
    initial["items"] = {
        item: metric_summary(base_seed["items"][:, k]) for k, item in enumerate(genv.ITEM_NAMES)
    }

    comparisons: dict[str, Any] = {}
    pairs = [("gated_floor", "dense"), ("gated_drop", "dense"), ("gated_floor", "gated_drop")]
    for a, b in pairs:
        if a not in cfg["arms"] or b not in cfg["arms"]:
            continue
        for e in levels:
            na, nb = _arm_name(a, e), _arm_name(b, e)
            comparisons[f"{na} - {nb}"] = {
                m: paired_difference_ci(per_seed[na][m], per_seed[nb][m])
                for m in ("gold", "proxy", "gold_during_training", "gold_first_quarter", "kl")
            }

    return {
        "experiment": EXPERIMENT,
        "config": cfg,
        "arms": arms,
        "comparisons": comparisons,
        "initial_policy": initial,
        "items": items,
        "item_names": list(genv.ITEM_NAMES),
        "item_weights": genv.ITEM_WEIGHTS.tolist(),
        "curves": {"step": steps_axis, "arms": curves},
        "training": train_record,
    }


# ------------------------------------------------------------------ output
def format_table(result: dict[str, Any]) -> Any:
    """A ``rich`` table: one row per arm, mean ± 95% CI half-width of the headline metrics."""
    from rich.table import Table

    table = Table(
        title=f"gating: rubric as gate vs dense reward ({len(result['config']['arms'])} "
        f"arms, {result['config']['seeds']} seeds, {result['config']['steps']} steps)"
    )
    cols = {
        "gold": "gold",
        "proxy": "proxy",
        "gold_first_quarter": "gold (1st quarter)",
        "gold_during_training": "gold (all steps)",
        "accepted": "accepted",
        "kl": "KL",
    }
    table.add_column("arm", no_wrap=True)
    for header in cols.values():
        table.add_column(header, justify="right", no_wrap=True)
    for name, metrics in result["arms"].items():
        row = [name]
        for c in cols:
            m = metrics[c]
            row.append(f"{m['mean']:.3f} ± {(m['ci95'][1] - m['ci95'][0]) / 2:.3f}")
        table.add_row(*row)
    table.caption = "mean ± half-width of the 95% t-interval over seeds"
    return table


def plot(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """Writes the reward-hacking picture and the noise sweep; returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    steps = np.asarray(result["curves"]["step"])
    levels = result["config"]["noise_levels"]
    arms = result["config"]["arms"]
    colors = {"dense": "tab:red", "gated_floor": "tab:blue", "gated_drop": "tab:green"}

    fig, axes = plt.subplots(len(levels), 4, figsize=(17, 3.4 * len(levels)), squeeze=False)
    for li, e in enumerate(levels):
        for ci, metric in enumerate(("proxy", "gold", "accepted", "kl")):
            ax = axes[li, ci]
            for arm in arms:
                c = result["curves"]["arms"][_arm_name(arm, e)][metric]
                per = np.asarray(c["per_seed"])
                for row in per:
                    ax.plot(steps, row, color=colors[arm], alpha=0.15, lw=0.8)
                ax.plot(steps, np.asarray(c["mean"]), color=colors[arm], lw=2, label=arm)
            ax.set_title(f"{metric} (judge noise e={e:g})")
            ax.set_xlabel("GRPO step")
            if metric in ("proxy", "gold", "accepted"):
                ax.set_ylim(-0.02, 1.02)
            ax.grid(alpha=0.3)
        axes[li, 0].legend(loc="lower right", fontsize=8)
    fig.suptitle(
        "Training batches: proxy (weighted rubric fraction, true checks) and gold "
        "(both essential items truly pass); faint lines = seeds"
    )
    fig.tight_layout()
    path = out_dir / "gating_curves.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, metric in zip(axes, ("gold", "proxy"), strict=True):
        for arm in arms:
            means, lo, hi = [], [], []
            for e in levels:
                m = result["arms"][_arm_name(arm, e)][metric]
                means.append(m["mean"])
                lo.append(m["mean"] - m["ci95"][0])
                hi.append(m["ci95"][1] - m["mean"])
            ax.errorbar(
                levels, means, yerr=[lo, hi], marker="o", capsize=3, color=colors[arm], label=arm
            )
        ax.set_xlabel("judge noise e (probability a check is flipped)")
        ax.set_title(f"final {metric} (mean, 95% CI over seeds)")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    path = out_dir / "gating_noise.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)

    names = result["item_names"]
    fig, ax = plt.subplots(figsize=(10, 3.8))
    groups = [("initial", result["initial_policy"]["items"], "tab:gray")] + [
        (arm, result["items"][arm], colors[arm]) for arm in arms
    ]
    width = 0.8 / len(groups)
    x = np.arange(len(names))
    for gi, (label, table, color) in enumerate(groups):
        means = np.array([table[n]["mean"] for n in names])
        err = np.array(
            [
                [table[n]["mean"] - table[n]["ci95"][0] for n in names],
                [table[n]["ci95"][1] - table[n]["mean"] for n in names],
            ]
        )
        ax.bar(
            x + (gi - (len(groups) - 1) / 2) * width,
            means,
            width,
            yerr=err,
            capsize=2,
            color=color,
            label=label,
        )
    weights = result["item_weights"]
    ax.set_xticks(x, [f"{n}\n(w={w:g})" for n, w in zip(names, weights, strict=True)], fontsize=8)
    ax.set_ylabel("pass rate (true checks)")
    ax.set_ylim(0, 1.05)
    ax.set_title("Rubric items passed by the final policies (judge noise e=0)")
    ax.legend(fontsize=8, ncol=len(groups))
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    path = out_dir / "gating_items.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)
    return paths


# --------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``reward-design reproduce gating``."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_CONFIG['seeds']} seeds, {QUICK_CONFIG['steps']} steps, "
        f"noise {QUICK_CONFIG['noise_levels']} (about 2 minutes on 2 CPU cores)",
    )
    parser.add_argument("--out", default=None, help="output folder (default results/gating)")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (overrides)")
    parser.add_argument("--steps", type=int, default=None, help="GRPO steps per arm (overrides)")


def run(args: argparse.Namespace) -> int:
    """Runs the study from parsed CLI arguments; writes results under ``args.out``."""
    from rich.console import Console

    config = dict(QUICK_CONFIG if getattr(args, "quick", False) else FULL_CONFIG)
    if getattr(args, "seeds", None) is not None:
        config["seeds"] = args.seeds
    if getattr(args, "steps", None) is not None:
        config["steps"] = args.steps
    out_dir = resolve_out_dir(getattr(args, "out", None), EXPERIMENT)
    console = Console(width=None if sys.stdout.isatty() else 150)
    result = run_study(config, progress=True)
    path = write_json(out_dir / f"{EXPERIMENT}.json", result)
    pngs = plot(result, out_dir)
    console.print(format_table(result))
    for name, cmp in result["comparisons"].items():
        g = cmp["gold"]
        console.print(
            f"{name}: gold {g['mean']:+.3f} [{g['low']:+.3f}, {g['high']:+.3f}] "
            f"(p={g['p_value']:.3g})"
        )
    console.print(
        f"wrote {path} and {', '.join(str(p) for p in pngs)} in {result['wall_seconds']:.0f} s"
    )
    return 0
