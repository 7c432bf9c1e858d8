"""The bench step with GRPO's group sums written two ways, timed back to back.

Issue 19's rule for the core: reductions are plain ``jnp.sum``/``mean``/``var``
unless another form makes the whole step at least 1.3x faster on GPU or TPU as
well as on CPU. This script measures the one candidate found so far, the group
sums of `rd.advantages.grpo` as matrix-vector products with a vector of ones
(``r @ ones(G)``, which XLA:CPU turns into a dot instead of a short-axis
reduction), on whatever backend JAX runs on:

* ``plain``: ``Gated.evaluate`` + ``rd.advantages.grpo`` (the library as it is);
* ``dot``: the same evaluation + GRPO with each ``jnp.sum(x, axis=-1)`` over the
  group replaced by ``x @ ones(G)``; everything else (the max shift, the
  masking, the variance, ``eps``) is the library's own code path.

``dot`` is first checked against ``plain`` (same advantages to 1e-5, and the
twin with plain sums must equal ``rd.advantages.grpo`` exactly, so the timing
compares forms and nothing else). Then both are called alternately, ``--calls``
times each; the JSON holds the minimum and the median (ms) per size and the
ratio plain/dot with the rule's verdict for this backend.

Usage::

    python benchmarks/reduction_forms.py --sizes 1048576 --json forms_cpu.json
    python benchmarks/reduction_forms.py --sizes 1048576,16777216 --json forms_gpu.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

import reward_design as rd
from reward_design import advantages as adv
from reward_design_bench import inputs

#: The rule's threshold: a form is kept only if the whole step is this much faster.
RULE = 1.3


def plain_sum(x: jax.Array) -> jax.Array:
    """The group sum as the core writes it."""
    return jnp.sum(x, axis=-1, keepdims=True)


def dot_sum(x: jax.Array) -> jax.Array:
    """The group sum as a matrix-vector product with a vector of ones."""
    x = x.astype(jnp.float32)
    return (x @ jnp.ones((x.shape[-1],), x.dtype))[..., None]


def grpo_with(group_sum: Callable[[jax.Array], jax.Array]):
    """`rd.advantages.grpo` (``scale="group"``, ``ddof=1``) with its group sums
    computed by ``group_sum``; the rest is the library's code path."""

    def grpo(rewards: jax.Array, mask: jax.Array, eps: float = 1e-6) -> jax.Array:
        raw, m = adv._prepare(rewards, mask, "grpo")
        r = adv._shift(raw, m)
        n = group_sum(m.astype(jnp.float32))
        mean = group_sum(r) / jnp.maximum(n, 1)
        centred = jnp.where(m, r - mean, 0.0)
        sq = group_sum(jnp.square(centred))
        out = centred / (adv._safe_sqrt(adv._variance(sq, n, 1)) + eps)
        return jnp.where(m, out, 0.0)

    return grpo


def step_with(grpo: Callable) -> Callable:
    def step(objective: rd.gates.Gated, rollouts: rd.Rollouts) -> jax.Array:
        out, mask = objective.evaluate(rollouts)
        return grpo(out.total, mask)

    return jax.jit(step)


def _check(steps: dict[str, Callable], objective, rollouts) -> None:
    out, mask = jax.jit(lambda o, r: o.evaluate(r))(objective, rollouts)
    reference = np.asarray(jax.jit(lambda r, m: rd.advantages.grpo(r, mask=m))(out.total, mask))
    twin = np.asarray(jax.jit(grpo_with(plain_sum))(out.total, mask))
    if not np.array_equal(twin, reference):
        raise AssertionError("the plain-sum twin differs from rd.advantages.grpo")
    for name, step in steps.items():
        np.testing.assert_allclose(
            np.asarray(step(objective, rollouts)), reference, rtol=1e-5, atol=1e-5, err_msg=name
        )


def measure(num_rollouts: int, calls: int) -> dict:
    rollouts = jax.device_put(inputs.make_inputs(num_rollouts))
    objective = jax.device_put(inputs.make_objective())
    steps = {"plain": step_with(grpo_with(plain_sum)), "dot": step_with(grpo_with(dot_sum))}
    _check(steps, objective, rollouts)
    times: dict[str, list[float]] = {name: [] for name in steps}
    for step in steps.values():  # compile and warm up
        for _ in range(3):
            jax.block_until_ready(step(objective, rollouts))
    for _ in range(calls):
        for name, step in steps.items():
            start = time.perf_counter()
            jax.block_until_ready(step(objective, rollouts))
            times[name].append((time.perf_counter() - start) * 1e3)
    row = {name: {"min_ms": min(t), "median_ms": statistics.median(t)} for name, t in times.items()}
    ratio = row["plain"]["median_ms"] / row["dot"]["median_ms"]
    row["plain_over_dot_median"] = ratio
    row["plain_over_dot_min"] = row["plain"]["min_ms"] / row["dot"]["min_ms"]
    row["meets_rule_here"] = bool(ratio >= RULE)
    return row


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1048576", help="comma-separated rollouts P x G")
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--json", default=None, help="write the result here")
    args = parser.parse_args(argv)
    result = {
        "benchmark": "grpo group sums: jnp.sum vs r @ ones(G), whole bench step",
        "rule": f"keep the dot form only if plain/dot >= {RULE} on GPU or TPU as well as CPU",
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0]),
        "calls": args.calls,
        "rows": {},
    }
    for n in (int(s) for s in args.sizes.split(",")):
        result["rows"][str(n)] = row = measure(n, args.calls)
        print(
            f"{n:>9} rollouts: plain {row['plain']['median_ms']:.3f} ms, "
            f"dot {row['dot']['median_ms']:.3f} ms (medians); plain/dot "
            f"{row['plain_over_dot_median']:.2f} (min: {row['plain_over_dot_min']:.2f})",
            flush=True,
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
