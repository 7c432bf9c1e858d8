"""Generates the tables of docs/scoring-rules.md from the library itself.

For every built-in scoring rule: its formula (taken from the rule's
docstring), whether it is bounded (evaluated on the simplex grid, vertices
included), whether `check_propriety` finds it strictly proper, and what
`audit_confidence_reward` says about the reward ``correct - rule(confidence,
correct)`` in expectation and under GRPO, Dr. GRPO and RLOO. A second table
sweeps correctness - Brier (RLCR) over estimators, group sizes and
exploration scales.

Usage:
  python benchmarks/scoring_rules_table.py            # rewrite the docs tables + JSON
  python benchmarks/scoring_rules_table.py --quick    # fewer Monte Carlo samples

The generated blocks sit between ``<!-- BEGIN GENERATED: name -->`` and
``<!-- END GENERATED: name -->`` markers; the text around them is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from functools import partial

import jax.numpy as jnp
import numpy as np

import reward_design as rd

sr = rd.scoring_rules
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "scoring-rules.md")
JSON = os.path.join(ROOT, "benchmarks", "results", "scoring_rules_table.json")

# (label, multiclass rule or None, binary rule or None, docstring source)
RULES = [
    ("brier_binary", None, sr.brier_binary, sr.brier_binary),
    ("log_binary", None, sr.log_binary, sr.log_binary),
    ("spherical_binary", None, sr.spherical_binary, sr.spherical_binary),
    ("brier", sr.brier, None, sr.brier),
    ("log", sr.log, None, sr.log),
    ("spherical", sr.spherical, None, sr.spherical),
    ("pseudospherical(order=3)", partial(sr.pseudospherical, order=3.0), None, sr.pseudospherical),
    ("power(order=1.5)", partial(sr.power, order=1.5), None, sr.power),
    ("power(order=3)", partial(sr.power, order=3.0), None, sr.power),
    ("ranked_probability", sr.ranked_probability, None, sr.ranked_probability),
]
ESTIMATORS = ("grpo", "dr_grpo", "rloo")


def formula(fn) -> str:
    first = fn.__doc__.strip().splitlines()[0]
    m = re.search(r"``(.+?)``", first)
    return m.group(1) if m else first


def bounded(multi, binary) -> bool:
    if binary is not None:
        p = jnp.linspace(0.0, 1.0, 101)
        vals = [binary(p, jnp.full(101, y)) for y in (0, 1)]
    else:
        grid = jnp.asarray(sr._propriety._simplex_grid(3, 10), dtype=jnp.float32)
        vals = [multi(grid, jnp.full(grid.shape[0], y)) for y in range(3)]
    return bool(all(np.all(np.isfinite(np.asarray(v))) for v in vals))


def as_reward(multi, binary):
    """``correct - rule(confidence, correct)`` on the two-class view ``[1 - c, c]``."""
    if binary is not None:
        return lambda c, y: y - binary(c, y)
    return lambda c, y: y - multi(jnp.stack([1 - c, c], -1), y.astype(jnp.int32))


def cell(text: str) -> str:
    """Escapes pipes, which would split a Markdown table cell (also inside code spans)."""
    return text.replace("|", "\\|")


def mark(ok: bool) -> str:
    return "yes" if ok else "**no**"


def rule_rows(num_samples: int) -> list[dict]:
    rows = []
    for label, multi, binary, doc in RULES:
        t = time.time()
        if binary is not None:
            prop = sr.check_propriety(binary, binary=True)
        else:
            prop = sr.check_propriety(multi, 3)
        reward = as_reward(multi, binary)
        exp = sr.audit_confidence_reward(reward)
        est = {
            e: sr.audit_confidence_reward(
                reward, e, group_size=8, num_samples=num_samples, answer_choice=False
            )
            for e in ESTIMATORS
        }
        rows.append(
            {
                "rule": label,
                "formula": formula(doc),
                "bounded": bounded(multi, binary),
                "classes_checked": 2 if binary is not None else 3,
                "proper": prop.proper,
                "strictly_proper": prop.strictly_proper,
                "expected": {
                    "calibrated": exp.calibrated,
                    "accuracy_preserving": exp.accuracy_preserving,
                },
                "estimators": {
                    e: {
                        "calibrated": r.calibrated,
                        "accuracy_preserving": r.accuracy_preserving,
                        "max_abs_error": float(np.max(np.abs(r.optimal_confidence - r.q))),
                    }
                    for e, r in est.items()
                },
            }
        )
        print(f"{label}: {time.time() - t:.1f}s")
    return rows


def rules_markdown(rows: list[dict]) -> str:
    head = (
        "| rule | loss | bounded | strictly proper | correct − rule: calibrated / "
        "acc.-preserving (expected reward) | GRPO, G=8 | Dr. GRPO, G=8 | RLOO, G=8 |\n"
        "|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        strict = (
            "yes" if r["strictly_proper"] else ("proper, ties" if r["proper"] else "**no**")
        ) + f" (C={r['classes_checked']})"
        e = r["expected"]
        cells = []
        for name in ESTIMATORS:
            x = r["estimators"][name]
            cells.append(
                f"{mark(x['calibrated'])} / {mark(x['accuracy_preserving'])} "
                f"(max err {x['max_abs_error']:.3f})"
            )
        lines.append(
            f"| `{r['rule']}` | `{cell(r['formula'])}` | {mark(r['bounded'])} | {strict} | "
            f"{mark(e['calibrated'])} / {mark(e['accuracy_preserving'])} | "
            + " | ".join(cells)
            + " |"
        )
    return head + "\n".join(lines) + "\n"


def sweep(num_samples: int, group_sizes, explorations) -> list[dict]:
    def rlcr(c, y):
        return y - sr.brier_binary(c, y)

    out = []
    for est in ESTIMATORS:
        for g in group_sizes:
            for s in explorations:
                t = time.time()
                r = sr.audit_confidence_reward(
                    rlcr,
                    est,
                    group_size=g,
                    exploration=s,
                    num_samples=num_samples,
                    answer_choice=False,
                )
                out.append(
                    {
                        "estimator": est,
                        "group_size": g,
                        "exploration": s,
                        "calibrated": r.calibrated,
                        "accuracy_preserving": r.accuracy_preserving,
                        "max_abs_error": float(np.max(np.abs(r.optimal_confidence - r.q))),
                        "q": r.q.tolist(),
                        "optimal_confidence": r.optimal_confidence.tolist(),
                    }
                )
                print(f"{est} G={g} s={s}: {time.time() - t:.1f}s")
    return out


def sweep_markdown(rows: list[dict], group_sizes, explorations) -> str:
    show = [0.1, 0.3, 0.7, 0.9]
    head = "| estimator | G | exploration | calibrated | max \\|c* − q\\| | " + " | ".join(
        f"c* at q={q}" for q in show
    )
    head += " |\n|---|---|---|---|---|" + "---|" * len(show) + "\n"
    lines = []
    for r in rows:
        q = np.asarray(r["q"])
        c = np.asarray(r["optimal_confidence"])
        picks = [f"{c[int(np.argmin(np.abs(q - v)))]:.3f}" for v in show]
        lines.append(
            f"| {r['estimator']} | {r['group_size']} | {r['exploration']} | "
            f"{mark(r['calibrated'])} | {r['max_abs_error']:.3f} | " + " | ".join(picks) + " |"
        )
    return head + "\n".join(lines) + "\n"


def replace_block(text: str, name: str, body: str) -> str:
    begin, end = f"<!-- BEGIN GENERATED: {name} -->", f"<!-- END GENERATED: {name} -->"
    if begin not in text or end not in text:
        raise SystemExit(f"{DOC} lacks the markers for block {name!r}.")
    i, j = text.index(begin) + len(begin), text.index(end)
    return text[:i] + "\n" + body + text[j:]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2048 Monte Carlo samples")
    parser.add_argument("--no-write", action="store_true", help="print instead of writing")
    parser.add_argument(
        "--from-json", action="store_true", help="re-render the docs from the saved JSON only"
    )
    args = parser.parse_args(argv)
    n = 2048 if args.quick else 8192
    group_sizes, explorations = (2, 4, 8, 16), (0.1, 0.25, 0.5, 1.0)
    t0 = time.time()
    if args.from_json:
        with open(JSON) as f:
            saved = json.load(f)
        rules, swept = saved["rules"], saved["brier_estimators"]
    else:
        rules = rule_rows(n)
        swept = sweep(n, group_sizes, explorations)
    rules_md = rules_markdown(rules)
    sweep_md = sweep_markdown(swept, group_sizes, explorations)
    if args.no_write:
        print(rules_md)
        print(sweep_md)
        return 0
    with open(DOC) as f:
        text = f.read()
    text = replace_block(text, "rules", rules_md)
    text = replace_block(text, "brier-estimators", sweep_md)
    with open(DOC, "w") as f:
        f.write(text)
    if args.from_json:
        print(f"re-rendered {DOC} from {JSON}")
        return 0
    os.makedirs(os.path.dirname(JSON), exist_ok=True)
    meta = {"num_samples": n, "seconds": round(time.time() - t0, 1), "seed": 0}
    with open(JSON, "w") as f:
        json.dump({"meta": meta, "rules": rules, "brier_estimators": swept}, f, indent=1)
    print(f"wrote {DOC} and {JSON} in {time.time() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
