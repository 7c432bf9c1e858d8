"""Parts of the gated GRPO step with and without the CPU kernel, timed interleaved.

`reward-design bench` times each implementation in its own block of calls;
on a shared machine a slow spell can then favour one of them. This script
alternates the programs it compares, round after round, and keeps each
one's minimum, so the numbers are comparable with each other:

* ``parts``: at 10^6 rollouts (G = 8, K = 8), the reward pass alone (the
  objective's terms, written to memory), the same with the extra term, the
  kernel alone (on rewards already in memory), the whole step with the
  kernel (``rd.kernels.gated_advantages``) and as the XLA program (the core's
  ``Gated.advantages``), each with and without the extra term;
* ``sizes``: the whole step, kernel vs XLA program, at 1 024 … 65 536
  rollouts (dispatch-bound sizes);
* ``group_sizes``: the whole step at 10^6 rollouts for G = 4, 16, 32, 64;
* ``reward_fusion_shapes``: the reward pass alone (correctness - Brier, and
  with the spherical term) over 10^6 rollouts shaped ``[P, 8]``, ``[P, 16]``
  or flat, and over ``[P, 8]`` with a flat output: why the kernel takes its
  rewards flat.

Usage: ``python benchmarks/cpu_kernel_parts.py --json out.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import jax
import numpy as np

import reward_design as rd
from reward_design_bench import inputs as bench
from reward_design_bench.report import machine


def kernel_step(objective, rollouts):
    """The gated GRPO step with the opt-in CPU kernel."""
    return rd.kernels.gated_advantages(objective, rollouts)[1]


def xla_step(objective, rollouts):
    """The same step as the core computes it (the XLA program)."""
    return objective.advantages(rollouts)[1]


def interleaved_min(fns: dict[str, Callable[[], jax.Array]], rounds: int, calls: int) -> dict:
    """Min seconds per call of each function, alternating ``rounds`` times."""
    for f in fns.values():
        f().block_until_ready()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, f in fns.items():
            for _ in range(calls):
                t = time.perf_counter()
                f().block_until_ready()
                best[name] = min(best[name], time.perf_counter() - t)
    return best


def parts(num_rollouts: int, rounds: int) -> dict:
    r = jax.device_put(bench.make_inputs(num_rollouts))
    base = jax.device_put(bench.make_objective())
    extra = jax.device_put(bench.make_objective(extra_term=True))
    reward = jax.jit(lambda o, rr: o.inner(rr).total)
    total = reward(base, r)
    kernel = jax.jit(lambda t, rb: rd.kernels.gated_group_advantages(t, rb, None, 8.0)[0])
    step = jax.jit(kernel_step)
    xla = jax.jit(xla_step)
    np.testing.assert_allclose(step(base, r), xla(base, r), rtol=1e-4, atol=1e-4)
    fns = {
        "reward_pass": lambda: reward(base, r),
        "reward_pass_extra_term": lambda: reward(extra, r),
        "kernel": lambda: kernel(total, r.rubric),
        "step": lambda: step(base, r),
        "step_extra_term": lambda: step(extra, r),
        "xla_step": lambda: xla(base, r),
        "xla_step_extra_term": lambda: xla(extra, r),
    }
    return interleaved_min(fns, rounds, 20)


def step_pair(num_rollouts: int, group_size: int, rounds: int, calls: int) -> dict:
    r = jax.device_put(bench.make_inputs(num_rollouts, group_size=group_size))
    objective = jax.device_put(bench.make_objective())
    step = jax.jit(kernel_step)
    xla = jax.jit(xla_step)
    np.testing.assert_allclose(step(objective, r), xla(objective, r), rtol=1e-4, atol=1e-4)
    return interleaved_min(
        {"step": lambda: step(objective, r), "xla_step": lambda: xla(objective, r)},
        rounds,
        calls,
    )


def reward_fusion_shapes(num_rollouts: int, rounds: int) -> dict:
    from reward_design import scoring_rules

    rng = np.random.default_rng(0)
    c0 = (rng.uniform(size=num_rollouts) < 0.6).astype(np.float32)
    p0 = rng.uniform(size=num_rollouts).astype(np.float32)

    def base(c, p):
        return c - (p - c) ** 2

    def term(c, p):
        return base(c, p) - 0.5 * scoring_rules.spherical_binary(p, c)

    fns = {}
    for label, shape in (("P_8", (-1, 8)), ("P_16", (-1, 16)), ("flat", (-1,))):
        c, p = (jax.device_put(x.reshape(shape)) for x in (c0, p0))
        for name, f in (("base", base), ("term", term)):
            fn = jax.jit(f)
            fns[f"{label}_{name}"] = lambda fn=fn, c=c, p=p: fn(c, p)
    c, p = (jax.device_put(x.reshape(-1, 8)) for x in (c0, p0))
    for name, f in (("base", base), ("term", term)):
        fn = jax.jit(lambda c, p, f=f: f(c, p).reshape(-1))
        fns[f"P_8_flat_output_{name}"] = lambda fn=fn, c=c, p=p: fn(c, p)
    return interleaved_min(fns, rounds, 20)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--json", help="write the result here")
    args = parser.parse_args(argv)
    status = rd.kernels.kernel_status()
    if jax.default_backend() != "cpu" or not status["available"]:
        raise SystemExit(f"needs the CPU backend with the kernel built: {status}")
    result = {
        "benchmark": "cpu_kernel_parts",
        "machine": machine(),
        "rounds": args.rounds,
        "timestamp_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": {
            "parts_1048576": parts(1 << 20, args.rounds),
            "sizes": {str(n): step_pair(n, 8, args.rounds, 50) for n in (1_024, 8_192, 65_536)},
            "group_sizes_1048576": {
                str(g): step_pair(1 << 20, g, args.rounds, 10) for g in (4, 16, 32, 64)
            },
            "reward_fusion_shapes_1048576": reward_fusion_shapes(1 << 20, args.rounds),
        },
    }
    for name, value in result["seconds"]["parts_1048576"].items():
        print(f"{name:>24}: {value * 1e3:.3f} ms")
    for name, value in result["seconds"]["reward_fusion_shapes_1048576"].items():
        print(f"{name:>24}: {value * 1e3:.3f} ms")
    for key in ("sizes", "group_sizes_1048576"):
        for label, pair in result["seconds"][key].items():
            print(
                f"{key} {label:>8}: kernel {pair['step'] * 1e3:.3f} ms, "
                f"XLA {pair['xla_step'] * 1e3:.3f} ms"
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
