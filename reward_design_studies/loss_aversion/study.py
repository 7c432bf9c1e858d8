"""The loss-aversion study's run: environment check, arms, metrics, the results dict.

Order of a run: (1) per-seed warm start and feedback (`data.prepare`);
(2) the environment check: can this world produce sophistry at all (the
approval-maximising oracle and a policy trained on the fooled rater's
expected approval), next to the gold-optimal oracle and pi_ref;
(3) the arms from the same data and initialisation: KTO at every
``lambda_U / lambda_D`` of the sweep, DPO on pairs from the same feedback,
and the symmetric (lambda = 1) KTO model with the asymmetry applied at
decision time (`metrics.posthoc_decisions`); (4) metrics at every rater
loss ``lambda_h`` of the sweep, intervals over seeds, paired comparisons.
"""

from __future__ import annotations

import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from reward_design_studies.harness import compare_arms, progress, run_metadata, summarise_arms
from reward_design_studies.loss_aversion import metrics as M
from reward_design_studies.loss_aversion.config import LossAversionConfig, kto_arm
from reward_design_studies.loss_aversion.data import SeedData, prepare, stack_feedback
from reward_design_studies.loss_aversion.environment import Rater
from reward_design_studies.loss_aversion.policy import features, logits
from reward_design_studies.loss_aversion.training import (
    TrainSettings,
    approval_objective,
    dpo_objective,
    kto_objective,
    train_runs,
)

__all__ = ["EXPERIMENT", "POSTHOC", "POSTHOC_ALL", "run", "environment_check"]

EXPERIMENT = "loss_aversion"
POSTHOC = "symmetric_posthoc"
POSTHOC_ALL = "symmetric_posthoc_allstyles"


def _take(tree: Any, idx: Any) -> Any:
    return jax.tree_util.tree_map(lambda a: a[idx], tree)


def _outputs(params: Any, data: SeedData, seed_idx: np.ndarray) -> dict[str, np.ndarray]:
    """Test and validation logits, probe features of each run (``seed_idx[r]``: its seed)."""
    f = jax.jit(jax.vmap(lambda p, x: (logits(p, x), features(p, x))))
    test_logits, test_h = f(params, jnp.asarray(data.test_x[seed_idx]))
    val_x = np.stack([v.x for v in data.val])[seed_idx]
    val_logits, _ = f(params, jnp.asarray(val_x))
    _, probe_h = f(params, jnp.asarray(data.probe_x[seed_idx]))
    return {
        "test_logits": np.asarray(test_logits, np.float64),
        "test_h": np.asarray(test_h),
        "val_logits": np.asarray(val_logits, np.float64),
        "probe_h": np.asarray(probe_h),
    }


def _probe(out: dict[str, np.ndarray], r: int, data: SeedData, s: int) -> float:
    return M.probe_accuracy(out["probe_h"][r], data.probe_y[s], out["test_h"][r], data.test_q[s])


def _policy_metrics(out, r, data, s, rater, lam, bins) -> dict[str, float]:
    test_logits = out["test_logits"][r]
    top, conf = M.top_answer(rater.actions, test_logits)
    decisions = M.greedy_decisions(test_logits)
    return M.decision_metrics(decisions, top, conf, data.test_q[s], rater, lam, bins)


def _oracle_metrics(q: np.ndarray, rater: Rater, lam: float, bins: int, kind: str):
    values = rater.approval(q) if kind == "approval" else rater.gold(q, lam)
    decisions = values.argmax(-1)
    top = q.argmax(-1)
    return M.decision_metrics(decisions, top, q.max(-1), q, rater, lam, bins)


def environment_check(
    config: LossAversionConfig, data: SeedData, rater: Rater, settings: TrainSettings, bar=None
) -> dict[str, Any]:
    """Can this world produce sophistry? Per-seed metrics of four policies at lambda_h = max.

    ``approval_oracle``: the response the fooled rater approves most often,
    from the known posterior; ``approval_trained``: pi_ref trained to
    maximise the rater's exact expected approval (RL with infinitely many
    samples); ``gold_oracle``: the best response under the true utility;
    ``reference``: pi_ref, greedy. Not an arm comparison.
    """
    lam, bins, n = config.headline_lambda, config.num_bins, config.seeds
    x = jnp.asarray(np.stack([f.x for f in data.train]))
    approval = jnp.asarray(np.stack([rater.approval(f.q) for f in data.train]), jnp.float32)
    check = TrainSettings(config.approval_steps, settings.batch_size, settings.learning_rate)
    params, _ = train_runs(
        approval_objective(),
        data.params0,
        (x, approval),
        jnp.zeros(n),
        data.keys,
        check,
        on_chunk=(lambda k: bar.advance(k * n)) if bar else None,
    )
    jax.block_until_ready(params)
    trained = _outputs(params, data, np.arange(n))
    ref = _outputs(data.params0, data, np.arange(n))
    rows: dict[str, dict[str, list[float]]] = {}
    for s in range(n):
        q = data.test_q[s]
        per = {
            "approval_oracle": _oracle_metrics(q, rater, lam, bins, "approval"),
            "approval_trained": _policy_metrics(trained, s, data, s, rater, lam, bins),
            "gold_oracle": _oracle_metrics(q, rater, lam, bins, "gold"),
            "reference": _policy_metrics(ref, s, data, s, rater, lam, bins),
        }
        per["reference"]["probe_accuracy"] = _probe(ref, s, data, s)
        for name, m in per.items():
            for k, v in m.items():
                rows.setdefault(name, {}).setdefault(k, []).append(v)
    return {"lambda_h": lam, "policies": summarise_arms(rows)}


def _kto_weight_checks(config: LossAversionConfig, data: SeedData) -> dict[str, Any]:
    import reward_design as rd

    n_d = sum(f.counts[0] for f in data.train) // config.seeds
    n_u = sum(f.counts[1] for f in data.train) // config.seeds
    out = {}
    for lam in config.lambdas:
        check = rd.halos.check_kto_weights(n_d, n_u, 1.0, lam, warn=False)
        out[kto_arm(lam)] = {
            "ratio": check.ratio,
            "in_range": check.in_range,
            "undesirable_weight_range": list(check.undesirable_weight_range or []),
        }
    return {"num_desirable_per_seed": n_d, "num_undesirable_per_seed": n_u, "arms": out}


def run(config: LossAversionConfig, progress_bar: bool = False) -> dict[str, Any]:
    """Runs the study; the results dict (harness schema, without ``plots``).

    Returns:
      ``{"experiment", "config", "arms", "comparisons", "by_lambda",
      "environment_check", "kto_weight_check", "reference", "training",
      "metadata", "timings_s"}``. ``arms`` and ``comparisons`` are at the
      headline rater loss ``lambda_h = max(lambdas)``; ``by_lambda[l]`` has
      the arms at rater loss ``l``, KTO there being ``kto_l``.
    """
    if not isinstance(config, LossAversionConfig):
        raise TypeError(f"config must be a LossAversionConfig; got {type(config).__name__}.")
    t0 = time.time()
    timings: dict[str, float] = {}
    rater = config.part(Rater)
    settings = TrainSettings(config.steps, config.batch_size, config.learning_rate, config.beta)
    data = prepare(config)
    timings["data_and_warm_start"] = time.time() - t0
    n, lams = config.seeds, config.lambdas
    total = config.approval_steps * n + settings.steps * (n * len(lams) + n)
    with progress(progress_bar, total=total, description=EXPERIMENT) as bars:
        t = time.time()
        env = environment_check(config, data, rater, settings, bars)
        timings["environment_check"] = time.time() - t

        t = time.time()
        kto_seed = np.tile(np.arange(n), len(lams))  # run r: seed r % n, lambda r // n
        kto_lam = jnp.asarray(np.repeat(np.asarray(lams, np.float32), n))
        kto_data = tuple(a[kto_seed] for a in stack_feedback(data.train, "kto"))
        kto_params, kto_losses = train_runs(
            kto_objective(config.beta),
            _take(data.params0, kto_seed),
            kto_data,
            kto_lam,
            data.keys[kto_seed],
            settings,
            on_chunk=lambda k: bars.advance(k * n * len(lams)),
        )
        jax.block_until_ready(kto_params)
        timings["kto"] = time.time() - t
        t = time.time()
        dpo_params, dpo_losses = train_runs(
            dpo_objective(config.beta),
            data.params0,
            stack_feedback(data.train, "dpo"),
            jnp.zeros(n),
            data.keys,
            settings,
            on_chunk=lambda k: bars.advance(k * n),
        )
        jax.block_until_ready(dpo_params)
        timings["dpo"] = time.time() - t

    t = time.time()
    kto_out = _outputs(kto_params, data, kto_seed)
    dpo_out = _outputs(dpo_params, data, np.arange(n))
    per_lambda, probes = _evaluate(config, data, rater, kto_out, dpo_out)
    timings["evaluation"] = time.time() - t
    head = config.headline_lambda
    arms_raw = per_lambda[head]
    by_lambda = {
        f"{lam:g}": summarise_arms(
            {
                "kto": per_lambda[lam][kto_arm(lam)],
                POSTHOC: per_lambda[lam][POSTHOC],
                POSTHOC_ALL: per_lambda[lam][POSTHOC_ALL],
                "dpo": per_lambda[lam]["dpo"],
            }
        )
        for lam in lams
    }
    comparisons = compare_arms(
        arms_raw,
        [
            (kto_arm(head), POSTHOC),
            ("dpo", POSTHOC),
            (kto_arm(head), kto_arm(1.0)),
            (kto_arm(1.0), "dpo"),
        ],
    )
    for lam in lams:
        if lam != head:
            name = f"{kto_arm(lam)} - {POSTHOC}@{lam:g}"
            comparisons[name] = compare_arms(
                {"a": per_lambda[lam][kto_arm(lam)], "b": per_lambda[lam][POSTHOC]}, [("a", "b")]
            )["a - b"]
    cfg = config.to_dict()
    timings["total"] = time.time() - t0
    return {
        "experiment": EXPERIMENT,
        "config": cfg,
        "lambda_h": head,
        "arms": summarise_arms(arms_raw),
        "comparisons": comparisons,
        "by_lambda": by_lambda,
        "environment_check": env,
        "kto_weight_check": _kto_weight_checks(config, data),
        "reference": probes,
        "training": {
            "final_loss": {
                **{
                    kto_arm(lam): np.asarray(
                        kto_losses[i * n : (i + 1) * n, -50:].mean(-1)
                    ).tolist()
                    for i, lam in enumerate(lams)
                },
                "dpo": np.asarray(dpo_losses[:, -50:].mean(-1)).tolist(),
            },
            "same_initialisation": "every arm of a seed starts from pi_ref (the warm start)",
            "same_batches": "every arm of a seed draws the same minibatch prompt indices",
        },
        "metadata": run_metadata(cfg),
        "timings_s": timings,
    }


def _evaluate(config, data, rater, kto_out, dpo_out):
    """``{lambda_h: {arm: {metric: [per seed]}}}`` and the reference probes."""
    n, lams, bins = config.seeds, config.lambdas, config.num_bins
    sym = lams.index(1.0)
    per_lambda: dict[float, dict[str, dict[str, list[float]]]] = {lam: {} for lam in lams}
    raw_probe, kto_probe, dpo_probe = [], {}, []
    for s in range(n):
        raw_probe.append(
            M.probe_accuracy(data.probe_x[s], data.probe_y[s], data.test_x[s], data.test_q[s])
        )
        for i in range(len(lams)):
            kto_probe[(i, s)] = _probe(kto_out, i * n + s, data, s)
        dpo_probe.append(_probe(dpo_out, s, data, s))
    for lam in lams:
        rows = per_lambda[lam]
        for s in range(n):
            per = {}
            for i, arm_lam in enumerate(lams):
                m = _policy_metrics(kto_out, i * n + s, data, s, rater, lam, bins)
                per[kto_arm(arm_lam)] = {**m, "probe_accuracy": kto_probe[(i, s)]}
            m = _policy_metrics(dpo_out, s, data, s, rater, lam, bins)
            per["dpo"] = {**m, "probe_accuracy": dpo_probe[s]}
            for arm, plain in ((POSTHOC, True), (POSTHOC_ALL, False)):
                r = sym * n + s
                dec, top, p = M.posthoc_decisions(
                    kto_out["test_logits"][r],
                    kto_out["val_logits"][r],
                    data.val[s],
                    rater,
                    lam,
                    plain,
                )
                m = M.decision_metrics(dec, top, p, data.test_q[s], rater, lam, bins)
                per[arm] = {**m, "probe_accuracy": kto_probe[(sym, s)]}
            for arm, m in per.items():
                cells = rows.setdefault(arm, {})
                for k in M.METRICS:
                    cells.setdefault(k, []).append(m[k])
    from reward_design_studies.harness import metric_summary

    probes = {
        "probe_accuracy_raw_inputs": metric_summary(raw_probe),
        "bayes_accuracy": metric_summary([float(data.test_q[s].max(-1).mean()) for s in range(n)]),
    }
    return per_lambda, probes
