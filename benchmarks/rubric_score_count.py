"""RubricScore() on a boolean rubric: the float mean it used to take against the integer count.

The step of the bench (correctness + Brier, GRPO) with an equal-weight dense rubric
term, timed interleaved in one process: ``before`` computes the term as
``jnp.mean(rubric, axis=-1, dtype=float32)``, ``after`` is `rd.terms.RubricScore()`
as it is now (``jnp.sum(rubric, axis=-1) / K``). Both are checked to give the same
advantages bit for bit first. Read in docs/performance.md.

Usage::

    python benchmarks/rubric_score_count.py
"""

import jax
import jax.numpy as jnp
import numpy as np

import reward_design as rd
from reward_design_bench import implementations as impl
from reward_design_bench import inputs
from reward_design_bench.timing import interleaved, summarize


def main() -> None:
    step = jax.jit(lambda o, r: impl.default_step(o, r, "grpo"))
    for n in (65_536, 1 << 20):
        rollouts = jax.device_put(inputs.make_inputs(n))
        terms = inputs.inner_terms()
        after = jax.device_put(rd.compose(**terms, rubric=rd.terms.RubricScore()))
        before = rd.compose(
            **terms, rubric=lambda r: jnp.mean(r.rubric, axis=-1, dtype=jnp.float32)
        )
        same = np.array_equal(np.asarray(step(after, rollouts)), np.asarray(step(before, rollouts)))
        if not same:
            raise AssertionError("the count and the mean give different advantages")
        fns = {
            "before": lambda o=before, r=rollouts: step(o, r).block_until_ready(),
            "after": lambda o=after, r=rollouts: step(o, r).block_until_ready(),
        }
        for name, samples in interleaved(fns, 30).items():
            s = summarize(samples)
            print(
                f"{n:>9} rollouts, {name:>6}: median {s['median'] * 1e3:.3f} ms "
                f"(quartiles {s['q1'] * 1e3:.3f}-{s['q3'] * 1e3:.3f})"
            )


if __name__ == "__main__":
    main()
