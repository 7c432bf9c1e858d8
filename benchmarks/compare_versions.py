"""Time the compiled bench step of whichever ``reward_design`` is first on ``sys.path``.

Used to compare two versions of the library back to back on one machine (the
step of ``reward-design bench``: correctness + Brier behind an AllOf gate with
``"drop"``, then GRPO advantages; and the same with the extra spherical term).
Each version runs in its own process, so alternate them::

    git archive <old-commit> reward_design | tar -x -C /tmp/old
    for i in 1 2 3; do
      PYTHONPATH=/tmp/old python benchmarks/compare_versions.py old 1048576,4194304
      PYTHONPATH=.        python benchmarks/compare_versions.py new 1048576,4194304
    done

The step and its inputs come from `reward_design_bench` (the checkout's, whatever
``reward_design`` is imported). Each run prints one line ``RESULT {json}`` with the
minimum over ``--calls`` calls (ms) per size, after checking the step against the
numpy reference.
``benchmarks/results/speed_gpu_h100_old_vs_new.json`` was made this way.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np

import reward_design as rd
from reward_design_bench import implementations, inputs


def _min_ms(fn, calls: int) -> float:
    best = float("inf")
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("label", help="a name for this version in the output")
    parser.add_argument("sizes", help="comma-separated numbers of rollouts")
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args(argv)
    result = {
        "label": args.label,
        "file": rd.__file__,
        "jax": jax.__version__,
        "device": str(jax.devices()[0]),
        "ms": {},
    }
    step = jax.jit(implementations.default_step)
    for n in (int(s) for s in args.sizes.split(",")):
        r = jax.device_put(inputs.make_inputs(n))
        plain = jax.device_put(inputs.make_objective())
        extra = jax.device_put(inputs.make_objective(extra_term=True))
        ref = implementations.numpy_step(
            np.asarray(r.correct, np.float32),
            np.asarray(r.confidence, np.float32),
            np.asarray(r.rubric),
        )
        np.testing.assert_allclose(np.asarray(step(plain, r)), ref, rtol=2e-4, atol=2e-4)
        step(extra, r).block_until_ready()
        result["ms"][n] = {
            "jit": _min_ms(lambda o=plain, r=r: step(o, r).block_until_ready(), args.calls),
            "extra": _min_ms(lambda o=extra, r=r: step(o, r).block_until_ready(), args.calls),
        }
    print("RESULT " + json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
