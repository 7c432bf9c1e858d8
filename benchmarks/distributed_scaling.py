"""Scaling of a sharded objective + advantages over simulated (or real) devices.

For each device count D, a subprocess with ``--xla_force_host_platform_device_count=D``
(CPU) or the first D real accelerators times one jitted step — correctness + Brier +
rubric gate + GRPO advantages — on the same global batch sharded along P.
Simulated CPU devices share the machine's cores, so on a 2-core machine this measures
partitioning overhead, not speed-up; on a multi-GPU host it measures real scaling.

    python benchmarks/distributed_scaling.py --rollouts 1048576 \
        --json benchmarks/results/distributed_scaling_cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

_CHILD = r"""
import json, sys, time
import jax, jax.numpy as jnp, numpy as np
import reward_design as rd
from reward_design import distributed as dist

devices, P, G, K, repeats = (int(a) for a in sys.argv[1:6])
rng = np.random.default_rng(0)
r = rd.Rollouts(
    correct=rng.integers(0, 2, (P, G)).astype(np.float32),
    confidence=rng.uniform(size=(P, G)).astype(np.float32),
    rubric=rng.uniform(size=(P, G, K)) > 0.3,
)
gated = rd.gates.Gated(
    gate=rd.gates.AllOf(),
    inner=rd.compose(correct=rd.terms.Correctness(), brier=rd.terms.Brier()),
    on_reject="drop",
)
mesh = dist.default_mesh(devices=jax.devices()[:devices])
sr = dist.shard_rollouts(r, mesh)

def step(objective, rollouts):
    out = objective(rollouts)
    return rd.advantages.grpo(out.total, mask=out.accepted)

fn = dist.sharded_jit(step, mesh)
t0 = time.perf_counter(); jax.block_until_ready(fn(gated, sr)); compile_s = time.perf_counter() - t0
times = []
for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(gated, sr))
    times.append(time.perf_counter() - t0)
print(json.dumps({"devices": devices, "min_s": min(times), "median_s": float(np.median(times)),
                  "first_call_s": compile_s, "backend": jax.default_backend()}))
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=1 << 20, help="P x G (default 2^20)")
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--rubric-items", type=int, default=8)
    parser.add_argument("--devices", default="1,2,4,8")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--json", default=None, help="write results here")
    args = parser.parse_args(argv)
    g = args.group_size
    p = args.rollouts // g
    rows = []
    for d in (int(x) for x in args.devices.split(",")):
        pd = p - p % d
        env = dict(os.environ)
        if env.get("JAX_PLATFORMS", "cpu") == "cpu":
            env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={d}"
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                _CHILD,
                str(d),
                str(pd),
                str(g),
                str(args.rubric_items),
                str(args.repeats),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        row["rollouts"] = pd * g
        rows.append(row)
        print(
            f"devices={d:>2}  min {row['min_s'] * 1e3:8.2f} ms  median "
            f"{row['median_s'] * 1e3:8.2f} ms  first call {row['first_call_s']:.2f} s  "
            f"[{row['backend']}]",
            flush=True,
        )
    base = rows[0]["min_s"]
    for row in rows:
        row["speedup_vs_first"] = base / row["min_s"]
    result = {
        "benchmark": "distributed_scaling",
        "machine": platform.platform(),
        "cpu_count": os.cpu_count(),
        "config": vars(args),
        "timestamp_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rows": rows,
    }
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
