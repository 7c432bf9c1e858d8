"""The loss-aversion study's confirmatory round: two exploratory findings on fresh seeds.

``python -m reward_design_studies.loss_aversion.confirmatory [--seeds N]
[--seed-offset 100] [--out DIR]`` writes ``confirmatory.json`` and
``confirmatory.md``; ``--power`` prints the power calculation from the
committed exploratory values and exits. Pre-registered in
docs/studies/loss-aversion.md ("Confirmatory round (pre-registered)"):

* **C1** ``sophistry_rate(kto_1.4) - sophistry_rate(kto_1)`` > 0: KTO with a
  mild loss aversion, inside KTO's recommended range, adds sophistry;
* **C2** ``gold_utility(ref_posthoc) - gold_utility(symmetric_posthoc)`` > 0 at
  ``lambda_h = 2.25``: post-hoc choosing on pi_ref itself beats post-hoc
  choosing on symmetric KTO.

Each is a two-sided paired t-test over seeds with a 95% interval; the two
p-values are Holm-adjusted. Every arm goes through the study's own code:
`data.prepare`, `training.train_runs` with `training.kto_objective`,
`metrics.greedy_decisions` / `metrics.posthoc_decisions` and
`metrics.decision_metrics`, so that at ``seed_offset = 0`` the per-seed values
are those of the committed main and exploratory runs.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from reward_design_studies.harness import (
    format_cell,
    markdown_table,
    metric_summary,
    paired_difference_ci,
    read_json,
    run_metadata,
)
from reward_design_studies.loss_aversion import metrics as M
from reward_design_studies.loss_aversion.config import LossAversionConfig, kto_arm
from reward_design_studies.loss_aversion.data import prepare, stack_feedback
from reward_design_studies.loss_aversion.environment import Rater
from reward_design_studies.loss_aversion.exploratory import write_outputs
from reward_design_studies.loss_aversion.policy import logits
from reward_design_studies.loss_aversion.study import POSTHOC
from reward_design_studies.loss_aversion.training import TrainSettings, kto_objective, train_runs

__all__ = [
    "ALPHA",
    "HYPOTHESES",
    "LAMBDA_H",
    "LAMBDAS",
    "PREREGISTRATION",
    "REF_POSTHOC",
    "holm",
    "hypothesis_tests",
    "power_paired_t",
    "seeds_needed",
    "power_calculation",
    "per_seed_values",
    "preregistration_commit",
    "run",
    "table",
]

PREREGISTRATION = "loss-aversion confirmatory: pre-registration"
LAMBDAS = (1.0, 1.4)  # the KTO arms trained: kto_1 and kto_1.4
LAMBDA_H = 2.25  # the rater's loss of the post-hoc arms
REF_POSTHOC = "ref_posthoc"
ALPHA = 0.05
# name: (arm a, arm b, metric); each hypothesis is a - b > 0
HYPOTHESES: dict[str, tuple[str, str, str]] = {
    "C1": (kto_arm(1.4), kto_arm(1.0), "sophistry_rate"),
    "C2": (REF_POSTHOC, POSTHOC, "gold_utility"),
}
_ROOT = Path(__file__).resolve().parents[2]
_RESULTS = Path("benchmarks/results/loss_aversion")


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given.

    The i-th smallest p-value (from 0) is multiplied by ``m - i``, the
    running maximum is taken so that the adjusted values keep the order of
    the raw ones, and the result is capped at 1. Rejecting where the
    adjusted value is below alpha controls the familywise error at alpha. A
    NaN p-value (no spread in the differences) counts as 1.
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p_values must be 1-D; got shape {p.shape}.")
    p = np.where(np.isnan(p), 1.0, p)
    if np.any((p < 0) | (p > 1)):
        raise ValueError(f"p_values must be in [0, 1]; got {p.tolist()}.")
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted.tolist()


def _verdict(mean: float, p_holm: float, alpha: float) -> str:
    if p_holm < alpha:
        return "confirmed" if mean > 0 else "contradicted (significant, opposite sign)"
    return "not confirmed"


def hypothesis_tests(
    per_seed: dict[str, dict[str, Sequence[float]]],
    hypotheses: dict[str, tuple[str, str, str]] = HYPOTHESES,
    alpha: float = ALPHA,
) -> dict[str, dict[str, Any]]:
    """The pre-registered tests: paired differences, raw and Holm-adjusted p-values, verdicts.

    Args:
      per_seed: ``{arm: {metric: per-seed values}}``, seeds in the same order.
      hypotheses: ``{name: (a, b, metric)}``, each stating ``a - b > 0``.
      alpha: the familywise level.

    Returns:
      ``{name: {"a", "b", "metric", "mean", "low", "high", "std", "n",
      "p_value", "p_holm", "n_positive", "verdict"}}``: `paired_difference_ci`
      of ``a - b`` (two-sided paired t-test, 95% t-interval), the Holm-adjusted
      p-value over the family, the number of seeds with ``a > b``, and
      ``"confirmed"`` iff ``p_holm < alpha`` with a positive mean
      (``"contradicted ..."`` when significant the other way, else ``"not
      confirmed"``).
    """
    out = {}
    for name, (a, b, metric) in hypotheses.items():
        va = np.asarray(per_seed[a][metric], np.float64)
        vb = np.asarray(per_seed[b][metric], np.float64)
        cell = paired_difference_ci(va, vb)
        out[name] = {"a": a, "b": b, "metric": metric, **cell, "n_positive": int(np.sum(va > vb))}
    adjusted = holm([out[name]["p_value"] for name in out])
    for name, p in zip(out, adjusted, strict=True):
        out[name]["p_holm"] = p
        out[name]["verdict"] = _verdict(out[name]["mean"], p, alpha)
    return out


def power_paired_t(effect: float, sd: float, n: int, alpha: float = ALPHA) -> float:
    """Power of the two-sided paired t-test at level ``alpha`` with ``n`` pairs.

    The differences are taken as normal with mean ``effect`` and standard
    deviation ``sd``; the statistic is then noncentral t with ``n - 1``
    degrees of freedom and noncentrality ``effect / sd * sqrt(n)``.
    """
    from scipy import stats

    if n < 2:
        raise ValueError(f"n must be >= 2; got {n!r}.")
    df = n - 1
    crit = stats.t.ppf(1 - alpha / 2, df)
    nc = effect / sd * math.sqrt(n)
    return float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))


def seeds_needed(
    effect: float, sd: float, power: float = 0.9, alpha: float = ALPHA, minimum: int = 2
) -> int:
    """The smallest ``n >= minimum`` whose `power_paired_t` reaches ``power``."""
    n = max(minimum, 2)
    while power_paired_t(effect, sd, n, alpha) < power:
        n += 1
        if n > 10_000:
            raise ValueError("no n up to 10000 reaches the power asked for.")
    return n


def _exploratory_differences(root: Path = _ROOT) -> dict[str, np.ndarray]:
    """Per-seed differences of C1 and C2 on the exploratory seeds, from the committed JSONs."""
    exp = read_json(root / _RESULTS / "exploratory" / "exploratory.json")
    main = read_json(root / _RESULTS / "loss_aversion.json")
    seeds = len(exp["seeds"])
    last = {
        arm: np.array([row[-1] for row in exp["curves_per_seed"][arm]["sophistry_rate"]])
        for arm in (kto_arm(1.4), kto_arm(1.0))
    }
    ref = exp["posthoc_on_reference"][f"{REF_POSTHOC}@{LAMBDA_H:g}"]["gold_utility"]["per_seed"]
    sym = main["by_lambda"][f"{LAMBDA_H:g}"][POSTHOC]["gold_utility"]["per_seed"][:seeds]
    return {
        "C1": last[kto_arm(1.4)] - last[kto_arm(1.0)],
        "C2": np.asarray(ref) - np.asarray(sym),
    }


def power_calculation(
    root: Path = _ROOT, shrink: float = 0.5, power: float = 0.9, minimum: int = 10
) -> dict[str, Any]:
    """The number of confirmatory seeds, from the exploratory per-seed differences.

    For each hypothesis: the exploratory mean and standard deviation of the
    paired differences, the effect planned for (``shrink`` times the
    observed mean, against the winner's curse), the smallest n reaching
    ``power`` at alpha 0.05 and at 0.025 (Holm's first step), and the power
    of the chosen n. The chosen n is the largest of those and ``minimum``.
    """
    diffs = _exploratory_differences(root)
    rows: dict[str, Any] = {}
    for name, d in diffs.items():
        mean, sd = float(d.mean()), float(d.std(ddof=1))
        rows[name] = {
            "exploratory_seeds": int(d.size),
            "observed_mean": mean,
            "observed_sd": sd,
            "planned_effect": shrink * mean,
            "planned_dz": shrink * mean / sd,
            "n_needed_alpha_0.05": seeds_needed(shrink * mean, sd, power, 0.05),
            "n_needed_alpha_0.025": seeds_needed(shrink * mean, sd, power, 0.025),
        }
    n = max([minimum] + [r[k] for r in rows.values() for k in r if k.startswith("n_needed")])
    for r in rows.values():
        sd = r["observed_sd"]
        r["power_at_n_alpha_0.05"] = power_paired_t(r["planned_effect"], sd, n, 0.05)
        r["power_at_n_alpha_0.025"] = power_paired_t(r["planned_effect"], sd, n, 0.025)
    return {"shrink": shrink, "target_power": power, "minimum": minimum, "n": n, "rows": rows}


def per_seed_values(config: LossAversionConfig) -> tuple[dict[str, dict[str, list]], dict]:
    """Trains kto_1 and kto_1.4 on each seed of ``config``; every arm's metrics per seed.

    The KTO runs of all seeds and both lambdas are trained together, as in
    the study (`training.train_runs`, same data, initialisation and
    minibatches per seed). The arms: ``kto_1`` and ``kto_1.4`` (greedy
    decisions), ``symmetric_posthoc`` (the kto_1 model, then
    `metrics.posthoc_decisions` with the calibrator fitted on plain-style
    validation answers), ``ref_posthoc`` (the same rule on pi_ref) and the
    gold-optimal oracle (known posterior), each scored by
    `metrics.decision_metrics` at ``lambda_h = LAMBDA_H`` (the greedy arms'
    sophistry, persuasion, answer rate and accuracy do not depend on it).

    Returns:
      ``({arm: {metric: [per seed]}}, kto weight check of the training data)``.
    """
    import reward_design as rd

    config = config.replace(lambdas=LAMBDAS)
    rater = config.part(Rater)
    data = prepare(config)
    n, lams, bins = config.seeds, config.lambdas, config.num_bins
    settings = TrainSettings(config.steps, config.batch_size, config.learning_rate, config.beta)
    kto_seed = np.tile(np.arange(n), len(lams))  # run r: seed r % n, lambda r // n
    kto_lam = jnp.asarray(np.repeat(np.asarray(lams, np.float32), n))
    params, _ = train_runs(
        kto_objective(config.beta),
        jax.tree_util.tree_map(lambda a: a[kto_seed], data.params0),
        tuple(a[kto_seed] for a in stack_feedback(data.train, "kto")),
        kto_lam,
        data.keys[kto_seed],
        settings,
    )
    f = jax.jit(jax.vmap(logits))
    val_x = np.stack([v.x for v in data.val])
    test = np.asarray(f(params, jnp.asarray(data.test_x[kto_seed])), np.float64)
    val = np.asarray(f(params, jnp.asarray(val_x[kto_seed])), np.float64)
    ref_test = np.asarray(f(data.params0, jnp.asarray(data.test_x)), np.float64)
    ref_val = np.asarray(f(data.params0, jnp.asarray(val_x)), np.float64)
    sym = lams.index(1.0)
    rows: dict[str, dict[str, list]] = {}
    for s in range(n):
        q = data.test_q[s]
        per = {}
        for i, lam in enumerate(lams):
            out = test[i * n + s]
            top, conf = M.top_answer(rater.actions, out)
            per[kto_arm(lam)] = M.decision_metrics(
                M.greedy_decisions(out), top, conf, q, rater, LAMBDA_H, bins
            )
        for arm, (t_logits, v_logits) in (
            (POSTHOC, (test[sym * n + s], val[sym * n + s])),
            (REF_POSTHOC, (ref_test[s], ref_val[s])),
        ):
            dec, top, p = M.posthoc_decisions(t_logits, v_logits, data.val[s], rater, LAMBDA_H)
            per[arm] = M.decision_metrics(dec, top, p, q, rater, LAMBDA_H, bins)
        oracle = rater.gold(q, LAMBDA_H).argmax(-1)
        per["gold_oracle"] = M.decision_metrics(
            oracle, q.argmax(-1), q.max(-1), q, rater, LAMBDA_H, bins
        )
        for arm, m in per.items():
            for k, v in m.items():
                rows.setdefault(arm, {}).setdefault(k, []).append(v)
    n_d = sum(fb.counts[0] for fb in data.train) // n
    n_u = sum(fb.counts[1] for fb in data.train) // n
    weights = {"num_desirable_per_seed": n_d, "num_undesirable_per_seed": n_u}
    for lam in lams:
        check = rd.halos.check_kto_weights(n_d, n_u, 1.0, lam, warn=False)
        weights[kto_arm(lam)] = {"ratio": check.ratio, "in_range": check.in_range}
    return rows, weights


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=_ROOT, capture_output=True, text=True, check=False, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def preregistration_commit() -> dict[str, Any]:
    """The pre-registration commit (subject starting with `PREREGISTRATION`), if any.

    Returns:
      ``{"commit": hash or None, "code_unchanged": whether this module is
      the same in the working tree as in that commit (None without one)}``.
    """
    module = str(Path(__file__).resolve().relative_to(_ROOT))
    log = _git("log", "--format=%H%x09%s", "--", module) or ""
    commit = None
    for line in log.splitlines():
        sha, _, subject = line.partition("\t")
        if subject.startswith(PREREGISTRATION):
            commit = sha
    if commit is None:
        return {"commit": None, "code_unchanged": None}
    unchanged = _git("diff", "--quiet", commit, "--", module) is not None
    return {"commit": commit, "code_unchanged": unchanged}


def run(config: LossAversionConfig) -> dict[str, Any]:
    """The confirmatory round on the seeds of ``config`` (lambdas replaced by `LAMBDAS`).

    Returns:
      ``{"experiment", "seeds", "lambda_h", "config", "preregistration",
      "arms", "hypotheses", "alpha", "kto_weight_check", "metadata",
      "seconds"}``: ``arms[arm][metric]`` is `metric_summary` (per-seed
      values included), ``hypotheses`` is `hypothesis_tests`.
    """
    if not isinstance(config, LossAversionConfig):
        raise TypeError(f"config must be a LossAversionConfig; got {type(config).__name__}.")
    t0 = time.time()
    config = config.replace(lambdas=LAMBDAS)
    rows, weights = per_seed_values(config)
    cfg = config.to_dict()
    return {
        "experiment": "loss_aversion_confirmatory",
        "seeds": config.seed_list,
        "lambda_h": LAMBDA_H,
        "config": cfg,
        "preregistration": preregistration_commit(),
        "arms": {arm: {k: metric_summary(v) for k, v in m.items()} for arm, m in rows.items()},
        "hypotheses": hypothesis_tests(rows),
        "alpha": ALPHA,
        "kto_weight_check": weights,
        "metadata": run_metadata(cfg),
        "seconds": time.time() - t0,
    }


def table(res: dict[str, Any]) -> str:
    """The report: the two tests, then every arm's metrics (mean [95% CI])."""
    seeds = res["seeds"]
    pre = res["preregistration"]
    head = (
        f"Loss-aversion confirmatory round, seeds {seeds[0]}-{seeds[-1]} (n = {len(seeds)}), "
        f"lambda_h = {res['lambda_h']:g}; pre-registration commit {pre['commit']} "
        f"(code unchanged since: {pre['code_unchanged']})."
    )
    rows = [
        [
            name,
            f"{h['metric']}: {h['a']} - {h['b']}",
            format_cell(h, signed=True),
            f"{h['p_value']:.2g}",
            f"{h['p_holm']:.2g}",
            f"{h['n_positive']}/{h['n']}",
            h["verdict"],
        ]
        for name, h in res["hypotheses"].items()
    ]
    tests = markdown_table(["", "difference", "mean [95% CI]", "p", "p Holm", "a > b", ""], rows)
    keys = ("gold_utility", "sophistry_rate", "persuasion_rate", "answer_rate", "accuracy", "ece")
    arms = markdown_table(
        ["arm", *keys], [[arm, *(m[k] for k in keys)] for arm, m in res["arms"].items()]
    )
    return "\n\n".join([head, tests, arms])


def _power_text(calc: dict[str, Any]) -> str:
    rows = [
        [
            name,
            r["observed_mean"],
            r["observed_sd"],
            r["planned_effect"],
            r["planned_dz"],
            r["n_needed_alpha_0.05"],
            r["n_needed_alpha_0.025"],
            r["power_at_n_alpha_0.05"],
        ]
        for name, r in calc["rows"].items()
    ]
    header = ["", "mean", "sd", "planned", "d_z", "n (0.05)", "n (0.025)", "power at n"]
    return f"{markdown_table(header, rows)}\n\nn = {calc['n']}"


def main(argv: Sequence[str] | None = None) -> None:
    """The command line: ``--seeds``, ``--seed-offset``, ``--out``, ``--power``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="number of seeds (default 10)")
    parser.add_argument("--seed-offset", type=int, default=100, help="first seed (default 100)")
    parser.add_argument("--out", default=str(_RESULTS / "confirmatory"), help="output folder")
    parser.add_argument("--power", action="store_true", help="print the power calculation")
    args = parser.parse_args(argv)
    if args.power:
        print(_power_text(power_calculation()))
        return
    if args.seed_offset >= 100 and preregistration_commit()["commit"] is None:
        parser.error("seeds >= 100 are the confirmatory ones: commit the pre-registration first.")
    config = LossAversionConfig.full(args.seeds).replace(seed_offset=args.seed_offset)
    res = run(config)
    write_outputs(args.out, "confirmatory", res, table(res))


if __name__ == "__main__":
    main()
