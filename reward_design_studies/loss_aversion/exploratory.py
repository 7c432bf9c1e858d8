"""Exploratory follow-ups of the loss-aversion study (decided after the pre-registered run).

``python -m reward_design_studies.loss_aversion.exploratory [--seeds N] [--out DIR]``
writes ``exploratory.json`` and ``exploratory.md``. Not part of the
pre-registered design (docs/studies/loss-aversion.md, "Exploratory"):

* KTO at ``lambda_U / lambda_D = 1.4``, inside KTO's recommended range for this
  data (``lambda_D n_D / (lambda_U n_U)`` = 1.15), beside 1 and 10;
* checkpoints every 250 steps: when does loss-averse KTO lose competence;
* how it fails: the share of prompts given the single most common answer,
  the policy's mean entropy and abstention probability;
* decisions sampled from the policy (temperature 1) instead of greedy;
* post-hoc choosing on pi_ref itself (no preference training).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from reward_design_studies.harness import markdown_table, metric_summary, write_json
from reward_design_studies.loss_aversion import metrics as M
from reward_design_studies.loss_aversion.config import LossAversionConfig
from reward_design_studies.loss_aversion.data import prepare, stack_feedback
from reward_design_studies.loss_aversion.environment import Rater, softmax
from reward_design_studies.loss_aversion.policy import logits
from reward_design_studies.loss_aversion.training import TrainSettings, kto_objective, train_runs

LAMBDAS = (1.0, 1.4, 10.0)


def _shape_stats(test_logits: np.ndarray, rater: Rater) -> dict[str, float]:
    p = softmax(test_logits)
    top, _ = M.top_answer(rater.actions, test_logits)
    counts = np.bincount(top, minlength=rater.num_classes)
    entropy = -np.sum(p * np.log(np.maximum(p, 1e-300)), axis=-1)
    return {
        "mode_share": float(counts.max() / len(top)),
        "entropy": float(entropy.mean()),
        "p_abstain": float(p[:, -1].mean()),
    }


def _sampled(test_logits: np.ndarray, q: np.ndarray, rater: Rater, lam: float) -> dict:
    """Exact expectations of the metrics when the decision is sampled from the policy."""
    p = softmax(test_logits)
    gold = float(np.mean(np.sum(p * rater.gold(q, lam), -1)))
    wrong = np.repeat(1.0 - q, 2, axis=-1)
    soph = float(np.mean(np.sum(p[:, 1 : 2 * rater.num_classes : 2] * wrong[:, 1::2], -1)))
    return {"sampled_gold_utility": gold, "sampled_sophistry_rate": soph}


def run(seeds: int = 10) -> dict:
    t0 = time.time()
    config = LossAversionConfig.full(seeds).replace(lambdas=LAMBDAS)
    rater = config.part(Rater)
    data = prepare(config)
    n, lams, head = config.seeds, config.lambdas, config.headline_lambda
    settings = TrainSettings(config.steps, config.batch_size, config.learning_rate, config.beta)
    kto_seed = np.tile(np.arange(n), len(lams))
    kto_lam = jnp.asarray(np.repeat(np.asarray(lams, np.float32), n))
    test_x = jnp.asarray(data.test_x[kto_seed])
    f = jax.jit(jax.vmap(logits))
    curves: dict[str, dict[str, list]] = {}

    def checkpoint(step: int, params) -> None:
        out = np.asarray(f(params, test_x), np.float64)
        for i, lam in enumerate(lams):
            rows = curves.setdefault(f"kto_{lam:g}", {"step": []})
            rows["step"].append(step)
            for s in range(n):
                r = i * n + s
                top, conf = M.top_answer(rater.actions, out[r])
                m = M.decision_metrics(
                    M.greedy_decisions(out[r]), top, conf, data.test_q[s], rater, head, 15
                )
                m.update(_shape_stats(out[r], rater))
                for k, v in m.items():
                    rows.setdefault(k, [[] for _ in range(n)])[s].append(v)

    params, _ = train_runs(
        kto_objective(config.beta),
        jax.tree_util.tree_map(lambda a: a[kto_seed], data.params0),
        tuple(a[kto_seed] for a in stack_feedback(data.train, "kto")),
        kto_lam,
        data.keys[kto_seed],
        settings.__class__(settings.steps, settings.batch_size, settings.learning_rate, 0.1, 250),
        on_params=checkpoint,
    )
    final = np.asarray(f(params, test_x), np.float64)
    sampled: dict[str, dict[str, list]] = {}
    for i, lam in enumerate(lams):
        for s in range(n):
            for k, v in _sampled(final[i * n + s], data.test_q[s], rater, lam).items():
                sampled.setdefault(f"kto_{lam:g}@lambda_h={lam:g}", {}).setdefault(k, []).append(v)
    # post-hoc choosing on pi_ref itself, at every lambda_h of the main sweep
    ref_test = np.asarray(f(data.params0, jnp.asarray(data.test_x)), np.float64)
    ref_val = np.asarray(
        f(data.params0, jnp.asarray(np.stack([v.x for v in data.val]))), np.float64
    )
    ref_posthoc: dict[str, dict[str, list]] = {}
    for lam in (1.0, 2.25, 5.0, 10.0):
        for s in range(n):
            dec, top, p = M.posthoc_decisions(ref_test[s], ref_val[s], data.val[s], rater, lam)
            m = M.decision_metrics(dec, top, p, data.test_q[s], rater, lam, 15)
            o = rater.gold(data.test_q[s], lam).argmax(-1)
            q = data.test_q[s]
            g = M.decision_metrics(o, q.argmax(-1), q.max(-1), q, rater, lam, 15)
            for k in ("gold_utility", "sophistry_rate", "answer_rate", "ece"):
                ref_posthoc.setdefault(f"ref_posthoc@{lam:g}", {}).setdefault(k, []).append(m[k])
            for k in ("gold_utility", "answer_rate"):
                ref_posthoc.setdefault(f"gold_oracle@{lam:g}", {}).setdefault(k, []).append(g[k])
    import reward_design as rd

    n_d = sum(fb.counts[0] for fb in data.train) // n
    n_u = sum(fb.counts[1] for fb in data.train) // n
    in_range = {
        f"kto_{lam:g}": rd.halos.check_kto_weights(n_d, n_u, 1.0, lam, warn=False).in_range
        for lam in lams
    }
    summary = {
        arm: {
            k: [metric_summary(np.asarray(v)[:, j]) for j in range(len(rows["step"]))]
            for k, v in rows.items()
            if k != "step"
        }
        for arm, rows in curves.items()
    }
    return {
        "experiment": "loss_aversion_exploratory",
        "seeds": config.seed_list,
        "lambda_h": head,
        "kto_in_recommended_range": in_range,
        "steps": curves["kto_1"]["step"],
        "curves": summary,
        "curves_per_seed": {arm: {k: v for k, v in r.items()} for arm, r in curves.items()},
        "sampled_decisions": {
            a: {k: metric_summary(v) for k, v in m.items()} for a, m in sampled.items()
        },
        "posthoc_on_reference": {
            a: {k: metric_summary(v) for k, v in m.items()} for a, m in ref_posthoc.items()
        },
        "seconds": time.time() - t0,
    }


def table(res: dict) -> str:
    parts = [f"Exploratory (seeds {res['seeds'][0]}-{res['seeds'][-1]}), mean [95% CI]."]
    keys = ("accuracy", "sophistry_rate", "answer_rate", "mode_share")
    for arm, c in res["curves"].items():
        rows = [[step, *(c[k][j] for k in keys)] for j, step in enumerate(res["steps"])]
        parts += [f"{arm} (in range: {res['kto_in_recommended_range'][arm]}):"]
        parts += [markdown_table(["step", *keys], rows)]
    rows = [[a, *m.values()] for a, m in res["sampled_decisions"].items()]
    parts += ["Sampled decisions:", markdown_table(["arm", "gold", "sophistry"], rows)]
    rows = [
        [a, m["gold_utility"], m["answer_rate"], m.get("sophistry_rate", "")]
        for a, m in res["posthoc_on_reference"].items()
    ]
    parts += [markdown_table(["policy", "gold", "answer_rate", "sophistry"], rows)]
    return "\n\n".join(parts)


def write_outputs(out: str | Path, stem: str, res: dict, text: str) -> None:
    """Writes ``res`` as ``<out>/<stem>.json`` and ``text`` as ``<stem>.md``; prints ``text``."""
    out = Path(out)
    write_json(out / f"{stem}.json", res)
    (out / f"{stem}.md").write_text(text + "\n", encoding="utf-8")
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--out", default="benchmarks/results/loss_aversion/exploratory")
    args = parser.parse_args()
    res = run(args.seeds)
    write_outputs(args.out, "exploratory", res, table(res))


if __name__ == "__main__":
    main()
