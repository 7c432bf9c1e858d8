"""Speed benchmark: a composed objective + advantages vs numpy, a Python loop and the memory floor.

The objective measured is the one the library is pitched on: correctness +
Brier, an `AllOf` rubric gate (``on_reject="drop"``) and GRPO advantages
over the accepted members, on ``P x G`` rollouts with ``K`` boolean rubric
items. For every size, on the same inputs and in one run:

* ``jit``: the compiled objective + advantages (``jax.jit``,
  ``block_until_ready``), min over repeats after warm-up; timed alternating
  with ``extra_term`` and ``xla`` (the three are compared with each other);
* ``numpy``: an idiomatic vectorised numpy implementation of the same math;
* ``loop``: a per-completion Python loop as reward functions are commonly
  written in RL frameworks (parse the completion text, score it, then group
  statistics per prompt). Above ``loop_cap`` completions it is timed on the
  first ``loop_cap`` and scaled linearly (marked ``loop_extrapolated``);
* ``floor``: the bytes the computation must read and write divided by the
  bandwidth of a large copy measured in the same run, on the same backend;
* ``extra_term``: the same objective with one more term
  (``ScoringRuleTerm(spherical_binary)``) — the marginal cost of a term;
* ``vmap16`` / ``separate16``: 16 Brier weights swept with ``jax.vmap`` in
  one call, vs 16 separate calls of the compiled step;
* ``compile_s`` and ``retraces`` when hyperparameters change (must be 0);
* the parts every step must contain, each compiled alone (`_time_parts`):
  the rubric AND, one masked-reward pass, and writing a fresh ``[16, P, G]``
  sweep output — the lower bounds that docs/performance.md reasons from;
  on CPU also the extra term's own arithmetic on cache-resident data
  (`_time_term_arithmetic`), the least that adding it can cost.

Run ``reward-design bench`` (or ``python benchmarks/speed.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import reward_design as rd

__all__ = [
    "make_inputs",
    "make_objective",
    "jax_step",
    "numpy_step",
    "python_loop_step",
    "completion_texts",
    "measure_copy_bandwidth",
    "benchmark_size",
    "run_benchmark",
    "format_table",
    "plot_results",
    "main",
]

DEFAULT_SIZES = (1_024, 8_192, 65_536, 262_144, 1_048_576)


# ---------------------------------------------------------------- inputs
def make_inputs(
    num_rollouts: int,
    group_size: int = 8,
    num_items: int = 8,
    seed: int = 0,
    input_dtype: str = "float32",
    num_tokens: int = 0,
):
    """Random rollouts: ``correct``, ``confidence`` ``[P, G]`` and a bool rubric ``[P, G, K]``.

    Each rubric item passes with probability 0.97, so about 78% of rollouts
    pass all of 8 items (a realistic, mostly-accepting gate). With
    ``input_dtype="bfloat16"`` correctness and confidence (and token rewards)
    are stored in bfloat16 (half the bytes to read); the terms compute in
    float32. With ``num_tokens=T > 0`` the rollouts also carry per-token
    rewards ``[P, G, T]`` (normal, scale 0.1) and a token mask whose valid
    prefix has a uniform random length in 1..T (right padding).
    """
    if input_dtype not in ("float32", "bfloat16"):
        raise ValueError(f"input_dtype must be 'float32' or 'bfloat16'; got {input_dtype!r}.")
    if num_rollouts % group_size:
        raise ValueError(
            f"num_rollouts ({num_rollouts}) must be a multiple of group_size ({group_size})."
        )
    if num_tokens < 0:
        raise ValueError(f"num_tokens must be >= 0; got {num_tokens}.")
    p = num_rollouts // group_size
    rng = np.random.default_rng(seed)
    correct = (rng.uniform(size=(p, group_size)) < 0.6).astype(np.float32)
    confidence = rng.uniform(size=(p, group_size)).astype(np.float32)
    rubric = rng.uniform(size=(p, group_size, num_items)) < 0.97
    tokens: dict[str, Any] = {}
    if num_tokens:
        lengths = rng.integers(1, num_tokens + 1, size=(p, group_size, 1))
        tokens["token_rewards"] = (0.1 * rng.normal(size=(p, group_size, num_tokens))).astype(
            np.float32
        )
        tokens["token_mask"] = np.arange(num_tokens) < lengths
    if input_dtype == "bfloat16":
        correct = jnp.asarray(correct, jnp.bfloat16)
        confidence = jnp.asarray(confidence, jnp.bfloat16)
        if num_tokens:
            tokens["token_rewards"] = jnp.asarray(tokens["token_rewards"], jnp.bfloat16)
    return rd.Rollouts(correct=correct, confidence=confidence, rubric=rubric, **tokens).validate()


TOKEN_WEIGHT = 0.5


def _inner_terms(brier_weight: Any = 1.0, tokens: bool = False) -> dict[str, Any]:
    """correctness + Brier, and with ``tokens`` the token mean: every benchmarked objective's."""
    terms = {"correct": rd.terms.Correctness(), "brier": rd.terms.Brier(weight=brier_weight)}
    if tokens:
        terms["tokens"] = rd.terms.TokenReward(weight=TOKEN_WEIGHT, normalize=True)
    return terms


def make_objective(brier_weight: float = 1.0, extra_term: bool = False, tokens: bool = False):
    """correctness + Brier (+ spherical score) behind an AllOf gate with ``"drop"``.

    ``tokens=True`` adds ``TokenReward(weight=TOKEN_WEIGHT, normalize=True)``:
    the mean of each completion's valid per-token rewards.
    """
    terms = _inner_terms(brier_weight, tokens)
    if extra_term:
        terms["spherical"] = rd.terms.ScoringRuleTerm(
            rule=rd.scoring_rules.spherical_binary, weight=0.5
        )
    return rd.gates.Gated(gate=rd.gates.AllOf(), inner=rd.compose(**terms), on_reject="drop")


def jax_step(objective, rollouts, estimator: str = "grpo", cpu_kernel: bool = True) -> jax.Array:
    """The measured computation: rewards, gate, advantages (GRPO by default) over the
    members the objective's advantage mask selects (the accepted ones, for
    `make_objective`).

    A `Gated` objective goes through the opt-in ``rd.kernels.gated_advantages``
    (the gate and the estimator as one CPU kernel) where the backend is the CPU
    and the kernel implements the configuration, else through the core's
    `Gated.advantages` (``cpu_kernel=False``: always the core, timed as ``xla``).
    """
    if isinstance(objective, rd.gates.Gated):
        if (
            cpu_kernel
            and jax.default_backend() == "cpu"
            and rd.kernels.supports(objective, estimator)
        ):
            return rd.kernels.gated_advantages(objective, rollouts, estimator)[1]
        return objective.advantages(rollouts, estimator)[1]
    out = objective(rollouts)
    return getattr(rd.advantages, estimator)(out.total, mask=out.accepted)


# ---------------------------------------------------------------- references
def numpy_step(
    correct: np.ndarray,
    confidence: np.ndarray,
    rubric: np.ndarray,
    brier_weight: float = 1.0,
    eps: float = 1e-6,
    token_rewards: np.ndarray | None = None,
    token_mask: np.ndarray | None = None,
) -> np.ndarray:
    """The same math in idiomatic, vectorised numpy (token term if tokens are given)."""
    reward = correct - brier_weight * np.square(confidence - correct)
    if token_rewards is not None:
        count = token_mask.sum(axis=-1)
        total = np.where(token_mask, token_rewards, 0.0).sum(axis=-1)
        reward = reward + TOKEN_WEIGHT * np.where(count > 0, total / np.maximum(count, 1), 0.0)
    accepted = rubric.all(axis=-1)
    n = accepted.sum(axis=1, keepdims=True)
    r = np.where(accepted, reward, 0.0)
    mean = r.sum(axis=1, keepdims=True) / np.maximum(n, 1)
    sq = np.where(accepted, np.square(reward - mean), 0.0).sum(axis=1, keepdims=True)
    std = np.sqrt(np.where(n > 1, sq / np.maximum(n - 1, 1), 0.0))
    return np.where(accepted, (reward - mean) / (std + eps), 0.0).astype(np.float32)


def completion_texts(correct: np.ndarray, confidence: np.ndarray) -> list[str]:
    """RLCR-format completions whose answer is right iff ``correct`` (ground truth "42")."""
    return [
        f"<think>work</think><answer>{'42' if c else '17'}</answer><confidence>{p:.6f}</confidence>"
        for c, p in zip(correct.reshape(-1).tolist(), confidence.reshape(-1).tolist(), strict=True)
    ]


_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S)
_CONFIDENCE = re.compile(r"<confidence>(.*?)</confidence>", re.S)


def python_loop_step(
    texts: Sequence[str],
    rubric_rows: Sequence[Sequence[bool]],
    group_size: int,
    truth: str = "42",
    brier_weight: float = 1.0,
    eps: float = 1e-6,
    token_rows: Sequence[Sequence[float]] | None = None,
) -> list[float]:
    """A per-completion Python loop, as reward functions are commonly written.

    Parses each completion, scores correctness + Brier (+ the mean of its
    valid per-token rewards, given as one list per completion), applies the
    rubric gate, then computes GRPO statistics group by group with
    ``statistics``.
    """
    rewards: list[float] = []
    accepted: list[bool] = []
    for i, (text, items) in enumerate(zip(texts, rubric_rows, strict=True)):
        answer = _ANSWER.findall(text)
        conf = _CONFIDENCE.findall(text)
        correct = 1.0 if answer and answer[-1].strip() == truth else 0.0
        c = float(conf[-1]) if conf else 0.5
        reward = correct - brier_weight * (c - correct) ** 2
        if token_rows is not None and token_rows[i]:
            reward += TOKEN_WEIGHT * statistics.fmean(token_rows[i])
        rewards.append(reward)
        accepted.append(all(items))
    advantages = [0.0] * len(rewards)
    for start in range(0, len(rewards), group_size):
        idx = [i for i in range(start, start + group_size) if accepted[i]]
        vals = [rewards[i] for i in idx]
        if not vals:
            continue
        mean = statistics.fmean(vals)
        std = statistics.stdev(vals) if len(vals) > 1 else 0.0
        for i in idx:
            advantages[i] = (rewards[i] - mean) / (std + eps)
    return advantages


# ---------------------------------------------------------------- timing
def _min_time(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _alternating_min_times(
    fns: dict[str, Callable[[], Any]], repeats: int, rounds: int = 10
) -> dict[str, float]:
    """Min seconds per call of each function: ``repeats`` calls each (at least one per
    round), spread over ``rounds`` rounds that visit the functions in turn."""
    for fn in fns.values():
        fn()
    per_round = max(1, -(-repeats // rounds))
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            for _ in range(per_round):
                start = time.perf_counter()
                fn()
                best[name] = min(best[name], time.perf_counter() - start)
    return best


def measure_copy_bandwidth(num_bytes: int = 1 << 28, repeats: int = 10) -> dict[str, float]:
    """Bytes/s of a large copy (read + write counted), the memory floor's yardstick.

    Measured two ways and the faster one is used, so the floor is the
    strictest we can justify: a compiled ``x + 1`` on the default JAX backend
    with the input buffer donated (no fresh allocation per call), and, on
    CPU, numpy's ``copyto`` into a preallocated array.

    Returns:
      ``{"jax": ..., "numpy": ... (CPU only), "used": max of them}`` in bytes/s.
    """
    n = num_bytes // 4
    step = jax.jit(lambda a: a + 1.0, donate_argnums=0)
    state = {"x": jnp.ones((n,), jnp.float32)}

    def run_jax():
        state["x"] = step(state["x"])
        state["x"].block_until_ready()

    out = {"jax": 2 * n * 4 / _min_time(run_jax, repeats, warmup=2)}
    del state["x"]
    if jax.default_backend() == "cpu":
        src = np.ones((n,), np.float32)
        dst = np.empty_like(src)
        out["numpy"] = 2 * n * 4 / _min_time(lambda: np.copyto(dst, src), repeats, warmup=2)
    out["used"] = max(out.values())
    return out


def _floor_bytes(
    num_rollouts: int, num_items: int, input_bytes: int = 4, num_tokens: int = 0
) -> int:
    # read correct and confidence (input_bytes each), rubric (1 byte per bool item),
    # token rewards (input_bytes) and token mask (1 byte) per token; write advantages (f32)
    return num_rollouts * (2 * input_bytes + num_items + num_tokens * (input_bytes + 1) + 4)


def benchmark_size(
    num_rollouts: int,
    group_size: int,
    num_items: int,
    bandwidth: float,
    repeats: int = 20,
    loop_cap: int = 1 << 17,
    sweep: int = 16,
    input_dtype: str = "float32",
    num_tokens: int = 0,
) -> dict[str, Any]:
    """Times every implementation on one input size; checks they agree.

    ``num_tokens=T > 0`` adds ``[P, G, T]`` token rewards and the token term
    (`make_objective(tokens=True)`) to every implementation and to the floor.
    """
    r = make_inputs(
        num_rollouts, group_size, num_items, input_dtype=input_dtype, num_tokens=num_tokens
    )
    input_bytes = 2 if input_dtype == "bfloat16" else 4
    r_dev = jax.device_put(r)
    correct, confidence = (np.asarray(x, np.float32) for x in (r.correct, r.confidence))
    rubric = np.asarray(r.rubric)
    tok: dict[str, np.ndarray] = {}
    if num_tokens:
        tok = {
            "token_rewards": np.asarray(r.token_rewards, np.float32),
            "token_mask": np.asarray(r.token_mask),
        }

    def objective_for(w: Any = 1.0, extra_term: bool = False):
        return make_objective(w, extra_term=extra_term, tokens=bool(num_tokens))

    # A training loop keeps its objective on the device, as it keeps its parameters:
    # otherwise every call copies the hyperparameters host -> device.
    objective = jax.device_put(objective_for())

    traces = {"n": 0}

    def counted(objective, rollouts):
        traces["n"] += 1
        return jax_step(objective, rollouts)

    step = jax.jit(counted)
    start = time.perf_counter()
    first = step(objective, r_dev).block_until_ready()
    compile_s = time.perf_counter() - start
    extra = jax.device_put(objective_for(extra_term=True))
    step_extra = jax.jit(jax_step)
    step_extra(extra, r_dev).block_until_ready()
    # The step, the step with one more term and (where the CPU kernel runs) the XLA
    # program are compared with each other: time them alternating, so that a slow
    # spell of a shared machine cannot favour one of them.
    compared = {
        "jit": lambda: step(objective, r_dev).block_until_ready(),
        "extra_term": lambda: step_extra(extra, r_dev).block_until_ready(),
    }
    uses_kernel = _uses_kernel(objective, r_dev, "grpo")
    if uses_kernel:
        step_xla = jax.jit(lambda o, rr: jax_step(o, rr, cpu_kernel=False))
        np.testing.assert_allclose(
            np.asarray(step_xla(objective, r_dev)), np.asarray(first), rtol=1e-4, atol=1e-4
        )
        compared["xla"] = lambda: step_xla(objective, r_dev).block_until_ready()
    times = _alternating_min_times(compared, repeats)
    t_jit, t_extra = times["jit"], times["extra_term"]
    t_xla = times.get("xla", t_jit)
    traces_before = traces["n"]
    weights = np.linspace(0.25, 4.0, sweep, dtype=np.float32)
    for w in weights:
        step(jax.device_put(objective_for(float(w))), r_dev).block_until_ready()
    retraces = traces["n"] - traces_before

    ref = numpy_step(correct, confidence, rubric, **tok)
    np.testing.assert_allclose(np.asarray(first), ref, rtol=2e-4, atol=2e-4)
    t_numpy = _min_time(
        lambda: numpy_step(correct, confidence, rubric, **tok), max(3, repeats // 4)
    )

    n_loop = min(num_rollouts, loop_cap)
    n_loop -= n_loop % group_size
    texts = completion_texts(correct, confidence)[:n_loop]
    rows = rubric.reshape(-1, num_items)[:n_loop].tolist()
    token_rows = None
    if num_tokens:
        flat_tok = tok["token_rewards"].reshape(-1, num_tokens)[:n_loop]
        flat_mask = tok["token_mask"].reshape(-1, num_tokens)[:n_loop]
        token_rows = [t[m].tolist() for t, m in zip(flat_tok, flat_mask, strict=True)]
    loop_out = python_loop_step(texts, rows, group_size, token_rows=token_rows)
    np.testing.assert_allclose(np.asarray(loop_out), ref.reshape(-1)[:n_loop], rtol=1e-3, atol=1e-3)
    t_loop = _min_time(
        lambda: python_loop_step(texts, rows, group_size, token_rows=token_rows), 1, warmup=0
    )
    t_loop *= num_rollouts / n_loop

    sweep_fn = jax.jit(jax.vmap(lambda w, rr: jax_step(objective_for(w), rr), in_axes=(0, None)))
    w_dev = jnp.asarray(weights)
    swept = sweep_fn(w_dev, r_dev).block_until_ready()
    np.testing.assert_allclose(
        np.asarray(swept[-1]),
        numpy_step(correct, confidence, rubric, brier_weight=float(weights[-1]), **tok),
        rtol=2e-4,
        atol=2e-4,
    )
    t_vmap = _min_time(lambda: sweep_fn(w_dev, r_dev).block_until_ready(), max(3, repeats // 4))
    objectives = [jax.device_put(objective_for(float(w))) for w in weights]

    def separate():
        outs = [step(o, r_dev) for o in objectives]
        jax.block_until_ready(outs)

    t_sep = _min_time(separate, max(3, repeats // 4))
    floor_bytes = _floor_bytes(num_rollouts, num_items, input_bytes, num_tokens)
    t_floor = floor_bytes / bandwidth
    tiny = jax.jit(lambda x: x + 1.0)
    one = jnp.ones((1,), jnp.float32)
    t_dispatch = _min_time(lambda: tiny(one).block_until_ready(), repeats, warmup=2)
    parts = _time_parts(r_dev, weights, repeats)
    t_term_arith = _time_term_arithmetic(num_rollouts, repeats)
    if t_term_arith is not None:
        parts["extra_term_arithmetic"] = t_term_arith
    variants = _time_variants(r_dev, repeats, tokens=bool(num_tokens))

    return {
        "rollouts": num_rollouts,
        "group_size": group_size,
        "rubric_items": num_items,
        "seconds": {
            "jit": t_jit,
            "xla": t_xla,
            "numpy": t_numpy,
            "loop": t_loop,
            "floor": t_floor,
            "dispatch": t_dispatch,
            "extra_term": t_extra,
            f"vmap{sweep}": t_vmap,
            f"separate{sweep}": t_sep,
            **parts,
        },
        "ratios": {
            "numpy_over_jit": t_numpy / t_jit,
            "loop_over_jit": t_loop / t_jit,
            "jit_over_floor": t_jit / t_floor,
            "xla_over_jit": t_xla / t_jit,
            "extra_term_overhead": t_extra / t_jit - 1.0,
            f"vmap{sweep}_over_one": t_vmap / t_jit,
            f"separate{sweep}_over_one": t_sep / t_jit,
            "two_passes_over_floor": (
                parts["rubric_all"] + parts.get("token_reward", 0.0) + parts["masked_reward"]
            )
            / t_floor,
            "sweep_output_write_over_one": parts["sweep_output_write"] / t_jit,
            # What the extra term's arithmetic alone would add to a step at exactly
            # twice the floor (CPU only): above 0.2, the goals "within 2x of the
            # floor" and "one more term adds < 20%" cannot both hold.
            "term_arithmetic_over_2x_floor": (
                t_term_arith / (2.0 * t_floor) if t_term_arith is not None else None
            ),
        },
        "compile_s": compile_s,
        "retraces": retraces,
        "loop_extrapolated": n_loop < num_rollouts,
        "loop_measured_on": n_loop,
        "floor_bytes": floor_bytes,
        "tokens": num_tokens,
        "cpu_kernel": uses_kernel,
        "variants_seconds": variants["jit"],
        "variants_xla_seconds": variants["xla"],
        "input_dtype": input_dtype,
    }


def _time_parts(rollouts, weights: np.ndarray, repeats: int) -> dict[str, float]:
    """Seconds for the parts every compiled step must contain, each compiled alone.

    * ``rubric_all``: the K-item AND over the ``[P, G, K]`` rubric
      (one ``jnp.all``). XLA:CPU never fuses a reduce into a consumer that reads its
      elements more than once (the group statistics do), so this is a pass of
      its own in any step with a rubric gate.
    * ``masked_reward``: one elementwise pass that reads correctness,
      confidence and the ``[P, G]`` gate verdict and writes one float32
      (``where(accepted, correct - (confidence - correct)^2, 0)``): the least
      a second pass, which must write the advantages, can do.
    * ``grpo_alone``: `rd.advantages.grpo` on rewards and a gate verdict that
      are already in memory: the group statistics and the advantages' write
      without any reward or gate work.
    * ``token_reward`` (only with token rewards): the masked per-token mean
      over T alone, one more reduce that is a pass of its own.
    * ``sweep_output_write``: writing a freshly allocated ``[16, P, G]``
      float32 array (a broadcast multiply): what a 16-value sweep's output
      alone costs, page faults of new memory included.

    ``rubric_all + token_reward + masked_reward`` is a lower bound for the
    gated step under XLA's fusion rules; ``sweep_output_write`` one for the
    vmap sweep.
    """
    correct, confidence, rubric = rollouts.correct, rollouts.confidence, rollouts.rubric
    all_items = jax.jit(lambda x: jnp.all(x, axis=-1))
    accepted = all_items(rubric).block_until_ready()

    def reward(c, p, m):
        c = c.astype(jnp.float32)
        return jnp.where(m, c - jnp.square(p.astype(jnp.float32) - c), 0.0)

    masked = jax.jit(reward)
    rewards = masked(correct, confidence, accepted).block_until_ready()  # also the warm-up
    grpo = jax.jit(lambda r, m: rd.advantages.grpo(r, mask=m))
    grpo(rewards, accepted).block_until_ready()
    w = jnp.asarray(weights)
    write = jax.jit(lambda x, w: x.astype(jnp.float32)[None] * w[:, None, None])
    write(correct, w).block_until_ready()
    out = {}
    if rollouts.token_rewards is not None:
        token_term = jax.jit(lambda r: rd.terms.TokenReward(normalize=True)(r))
        token_term(rollouts).block_until_ready()
        out["token_reward"] = _min_time(lambda: token_term(rollouts).block_until_ready(), repeats)
    return {
        **out,
        "rubric_all": _min_time(lambda: all_items(rubric).block_until_ready(), repeats),
        "masked_reward": _min_time(
            lambda: masked(correct, confidence, accepted).block_until_ready(), repeats
        ),
        "grpo_alone": _min_time(lambda: grpo(rewards, accepted).block_until_ready(), repeats),
        "sweep_output_write": _min_time(
            lambda: write(correct, w).block_until_ready(), max(3, repeats // 4)
        ),
    }


TERM_BLOCK = 1 << 16
TERM_ITERATIONS = 256


def _term_loop_body(p: jax.Array, y: jax.Array, with_term: bool) -> jax.Array:
    """One iteration of `_time_term_arithmetic`'s loop: the next confidence.

    ``0.25 + 0.5 * brier`` without the term, ``0.25 + 0.25 * (brier + spherical)``
    with it; both losses lie in [0, 1], so the confidence stays in [0.25, 0.75].
    """
    brier = jnp.square(p - y)
    if not with_term:
        return 0.25 + 0.5 * brier
    return 0.25 + 0.25 * (brier + rd.scoring_rules.spherical_binary(p, y))


def _time_term_arithmetic(num_rollouts: int, repeats: int) -> float | None:
    """Seconds the extra term's arithmetic costs for ``num_rollouts``, data in cache.

    The extra term of ``+1 term`` (`scoring_rules.spherical_binary`, a square
    root and a division per rollout) is applied ``TERM_ITERATIONS`` times to a
    block of ``TERM_BLOCK`` rollouts that stays in the CPU's cache (a
    ``fori_loop`` that feeds each result back as the next confidence, so no
    iteration can be skipped), and the same loop with the Brier term alone is
    subtracted. What is left is the term's own arithmetic with no memory
    traffic, scaled to ``num_rollouts``: a lower bound on what adding the term
    to any compiled step costs on this machine. Measured on CPU only (on an
    accelerator each loop iteration is a kernel launch); None elsewhere.
    """
    if jax.default_backend() != "cpu":
        return None
    rng = np.random.default_rng(1)
    p0 = jnp.asarray(rng.uniform(0.25, 0.75, size=TERM_BLOCK).astype(np.float32))
    y = jnp.asarray((rng.uniform(size=TERM_BLOCK) < 0.6).astype(np.float32))

    def loop(with_term: bool):
        def body(_, p):
            return _term_loop_body(p, y, with_term)

        return jax.jit(lambda p: jax.lax.fori_loop(0, TERM_ITERATIONS, body, p))

    times = []
    for with_term in (False, True):
        f = loop(with_term)
        f(p0).block_until_ready()
        times.append(_min_time(lambda f=f: f(p0).block_until_ready(), max(3, repeats // 2)))
    per_rollout = max(times[1] - times[0], 0.0) / (TERM_BLOCK * TERM_ITERATIONS)
    return per_rollout * num_rollouts


def variant_objectives(tokens: bool = False) -> dict[str, tuple[Callable, str]]:
    """Other gates, the dense rubric baseline and other estimators.

    Returns ``{name: (make(num_items) -> objective, estimator)}`` with
    ``estimator`` a function name of `rd.advantages`; a step is
    ``jax_step(objective, rollouts, estimator)``. Each shares the inner terms
    of `make_objective` (correctness + Brier, and the token mean with
    ``tokens``), so times compare directly with ``jit``.
    """
    terms = _inner_terms(tokens=tokens)
    inner = rd.compose(**terms)
    w = np.linspace(0.5, 2.0, 8, dtype=np.float32)

    def gated(gate):
        return rd.gates.Gated(gate=gate, inner=inner, on_reject="drop")

    def weights(k):
        return np.resize(w, k)

    return {
        "AtLeast(K-2) gate + GRPO": (lambda k: gated(rd.gates.AtLeast(k=max(k - 2, 0))), "grpo"),
        "WeightedThreshold gate + GRPO": (
            lambda k: gated(
                rd.gates.WeightedThreshold(weights=weights(k), threshold=0.8 * weights(k).sum())
            ),
            "grpo",
        ),
        "AllOf gate (floor) + GroupFilter + GRPO": (
            lambda k: rd.gates.Gated(
                gate=rd.gates.AllOf(),
                inner=inner,
                on_reject="floor",
                group_filter=rd.gates.GroupFilter(),
            ),
            "grpo",
        ),
        "dense RubricScore(w) + GRPO": (
            lambda k: rd.compose(**terms, rubric=rd.terms.RubricScore(weights=weights(k))),
            "grpo",
        ),
        "AllOf gate + Dr. GRPO": (lambda k: gated(rd.gates.AllOf()), "dr_grpo"),
        "AllOf gate + RLOO": (lambda k: gated(rd.gates.AllOf()), "rloo"),
    }


def _uses_kernel(objective, rollouts, estimator: str) -> bool:
    """Whether `jax_step` runs the CPU kernel for this objective: read off the lowered
    program, so it never disagrees with the choice `jax_step` makes."""
    from reward_design.kernels._build import TARGET

    step = jax.jit(lambda o, r: jax_step(o, r, estimator))
    return TARGET in step.lower(objective, rollouts).as_text()


def _time_variants(rollouts, repeats: int, tokens: bool = False) -> dict[str, dict[str, float]]:
    """Seconds per compiled step for each of `variant_objectives`.

    Returns ``{"jit": {name: s}, "xla": {name: s}}``; ``xla`` (the XLA program
    without the CPU kernel) only for the variants the kernel applies to.
    """
    num_items = rollouts.rubric.shape[-1]
    out: dict[str, dict[str, float]] = {"jit": {}, "xla": {}}
    for name, (make, estimator) in variant_objectives(tokens).items():
        objective = jax.device_put(make(num_items))
        modes = [("jit", True)]
        if _uses_kernel(objective, rollouts, estimator):
            modes.append(("xla", False))
        for key, kernel in modes:
            fn = jax.jit(
                lambda o, r, estimator=estimator, kernel=kernel: jax_step(o, r, estimator, kernel)
            )
            fn(objective, rollouts).block_until_ready()
            out[key][name] = _min_time(
                lambda fn=fn, objective=objective: fn(objective, rollouts).block_until_ready(),
                repeats,
            )
    return out


def _machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [d.device_kind for d in jax.devices()],
        "load_average_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def run_benchmark(
    sizes: Sequence[int] = DEFAULT_SIZES,
    group_size: int = 8,
    num_items: int = 8,
    repeats: int = 20,
    loop_cap: int = 1 << 17,
    progress: bool = True,
    input_dtype: str = "float32",
    num_tokens: int = 0,
) -> dict[str, Any]:
    """Runs `benchmark_size` for every size; returns the JSON-ready result."""
    bandwidth = measure_copy_bandwidth()
    rows = []
    for n in sizes:
        row = benchmark_size(
            n,
            group_size,
            num_items,
            bandwidth["used"],
            repeats,
            loop_cap,
            input_dtype=input_dtype,
            num_tokens=num_tokens,
        )
        rows.append(row)
        if progress:
            print(f"  {n:>9} rollouts: jit {row['seconds']['jit'] * 1e3:9.3f} ms", flush=True)
    return {
        "benchmark": "speed",
        "machine": _machine(),
        "copy_bandwidth_bytes_per_s": bandwidth["used"],
        "copy_bandwidth_measurements": bandwidth,
        "config": {
            "sizes": list(sizes),
            "group_size": group_size,
            "rubric_items": num_items,
            "repeats": repeats,
            "input_dtype": input_dtype,
            "tokens": num_tokens,
            "loop_cap": loop_cap,
        },
        "timestamp_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rows": rows,
    }


def format_table(result: dict[str, Any]) -> str:
    """Ratios first, absolute times second, machine and backend named."""
    m = result["machine"]
    lines = [
        f"reward_design bench — {m['backend']} ({', '.join(sorted(set(m['devices'])))}), "
        f"{m['cpu_count']} CPUs, jax {m['jax']}, {m['platform']}",
        f"copy bandwidth {result['copy_bandwidth_bytes_per_s'] / 1e9:.1f} GB/s; objective = "
        "correctness + Brier"
        + (
            f" + token mean (T = {result['config']['tokens']})"
            if result.get("config", {}).get("tokens")
            else ""
        )
        + " + AllOf gate (drop) + GRPO advantages; inputs "
        f"{result.get('config', {}).get('input_dtype', 'float32')}"
        + (
            "; jit = with the CPU kernel for gate + GRPO, xla = the XLA program alone"
            if any(row.get("cpu_kernel") for row in result["rows"])
            else ""
        ),
        "",
        "ratios (higher numpy/jit and loop/jit is better; jit/floor near 1 is best)",
        f"{'rollouts':>10}{'numpy/jit':>11}{'loop/jit':>11}{'jit/floor':>11}"
        f"{'+1 term':>9}{'vmap16/1':>10}{'16 calls/1':>12}{'retraces':>10}{'xla/jit':>9}",
    ]
    for row in result["rows"]:
        q = row["ratios"]
        loop = f"{q['loop_over_jit']:.0f}" + ("*" if row["loop_extrapolated"] else "")
        lines.append(
            f"{row['rollouts']:>10}{q['numpy_over_jit']:>11.1f}{loop:>11}"
            f"{q['jit_over_floor']:>11.2f}{q['extra_term_overhead'] * 100:>8.0f}%"
            f"{q['vmap16_over_one']:>10.2f}{q['separate16_over_one']:>12.2f}{row['retraces']:>10}"
            + _optional(q.get("xla_over_jit"), 9, 1, ".2f")
        )
    lines += [
        "",
        "absolute times (ms)",
        f"{'rollouts':>10}{'jit':>10}{'numpy':>10}{'loop':>12}{'floor':>10}"
        f"{'+1 term':>10}{'vmap16':>10}{'dispatch':>10}{'compile s':>11}{'xla':>10}",
    ]
    for row in result["rows"]:
        s = row["seconds"]
        lines.append(
            f"{row['rollouts']:>10}{s['jit'] * 1e3:>10.3f}{s['numpy'] * 1e3:>10.3f}"
            f"{s['loop'] * 1e3:>12.1f}{s['floor'] * 1e3:>10.3f}{s['extra_term'] * 1e3:>10.3f}"
            f"{s['vmap16'] * 1e3:>10.3f}{s['dispatch'] * 1e3:>10.3f}{row['compile_s']:>11.2f}"
            + _optional(s.get("xla"), 10, 1e3, ".3f")
        )
    if all("rubric_all" in row["seconds"] for row in result["rows"]):
        lines += [
            "",
            "parts every step must contain, each compiled alone (ms; see docs/performance.md)",
            f"{'rollouts':>10}{'rubric AND':>12}{'masked rw':>11}{'GRPO':>9}{'sum/floor':>11}"
            f"{'jit/floor':>11}{'16 outputs':>12}{'16 out/1':>10}{'term arith':>12}"
            f"{'term/2floor':>13}",
        ]
        for row in result["rows"]:
            s, q = row["seconds"], row["ratios"]
            lines.append(
                f"{row['rollouts']:>10}{s['rubric_all'] * 1e3:>12.3f}"
                f"{s['masked_reward'] * 1e3:>11.3f}{s.get('grpo_alone', float('nan')) * 1e3:>9.3f}"
                f"{q['two_passes_over_floor']:>11.2f}"
                f"{q['jit_over_floor']:>11.2f}{s['sweep_output_write'] * 1e3:>12.3f}"
                f"{q['sweep_output_write_over_one']:>10.2f}"
                + _optional(s.get("extra_term_arithmetic"), 12, 1e3, ".3f")
                + _optional(q.get("term_arithmetic_over_2x_floor"), 13, 100, ".0f", "%")
            )
    if all("variants_seconds" in row for row in result["rows"]):
        names = list(result["rows"][0]["variants_seconds"])
        lines += ["", "other objectives, compiled step (ms; same inner terms)"]
        lines.append(f"{'':42}" + "".join(f"{row['rollouts']:>11}" for row in result["rows"]))
        lines.append(
            f"{'AllOf gate + GRPO (the jit column)':42}"
            + "".join(f"{row['seconds']['jit'] * 1e3:>11.3f}" for row in result["rows"])
        )
        for name in names:
            lines.append(
                f"{name:42}"
                + "".join(f"{row['variants_seconds'][name] * 1e3:>11.3f}" for row in result["rows"])
            )
            if all(name in row.get("variants_xla_seconds", {}) for row in result["rows"]):
                xla = [row["variants_xla_seconds"][name] for row in result["rows"]]
                lines.append(
                    f"{'  ' + name + ', XLA only':42}" + "".join(f"{t * 1e3:>11.3f}" for t in xla)
                )
    if any(row["loop_extrapolated"] for row in result["rows"]):
        lines.append("* loop timed on the first completions and scaled linearly")
    lines.append(
        "dispatch = a trivial jitted call (x + 1 on one element): the fixed cost of any step"
    )
    return "\n".join(lines)


def _optional(value: float | None, width: int, scale: float, spec: str, unit: str = "") -> str:
    """A table cell for a value that is only measured on some machines ("-" otherwise)."""
    if value is None:
        return f"{'-':>{width}}"
    return f"{format(value * scale, spec) + unit:>{width}}"


def plot_results(result: dict[str, Any], path: str | os.PathLike) -> Path:
    """PNG: time vs number of rollouts for each implementation (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [row["rollouts"] for row in result["rows"]]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for key, label, style in [
        ("loop", "Python loop (per completion)", "o-"),
        ("numpy", "numpy (vectorised)", "s-"),
        ("jit", "reward_design (jax.jit; CPU kernel where it applies)", "D-"),
        ("extra_term", "reward_design + 1 term", "d--"),
        ("floor", "memory floor", "k:"),
        ("dispatch", "trivial jitted call", "k-."),
    ]:
        ax.plot(sizes, [row["seconds"][key] for row in result["rows"]], style, label=label)
    if any(row.get("cpu_kernel") for row in result["rows"]):
        ax.plot(
            sizes,
            [row["seconds"]["xla"] for row in result["rows"]],
            "D:",
            label="reward_design, XLA program only (no CPU kernel)",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rollouts (P x G)")
    ax.set_ylabel("seconds per step (min of repeats)")
    m = result["machine"]
    ax.set_title(f"objective + GRPO advantages — {m['backend']}, {m['cpu_count']} CPUs")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sizes",
        default=",".join(str(s) for s in DEFAULT_SIZES),
        help="comma-separated numbers of rollouts (P x G)",
    )
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--rubric-items", type=int, default=8)
    parser.add_argument(
        "--tokens",
        type=int,
        default=0,
        help="T > 0 adds [P, G, T] per-token rewards and a token-mean term (default 0: none)",
    )
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--loop-cap", type=int, default=1 << 17)
    parser.add_argument("--quick", action="store_true", help="sizes up to 65536, fewer repeats")
    parser.add_argument(
        "--input-dtype",
        choices=("float32", "bfloat16"),
        default="float32",
        help="storage dtype of correct/confidence (terms compute in float32)",
    )
    parser.add_argument("--json", default=None, help="write the result JSON here")
    parser.add_argument("--plot", default=None, help="write the PNG here")


def run(args: argparse.Namespace) -> int:
    sizes = [int(s) for s in args.sizes.split(",")]
    repeats = args.repeats
    if args.quick:
        sizes = [s for s in sizes if s <= 65_536] or sizes[:1]
        repeats = min(repeats, 5)
    result = run_benchmark(
        sizes,
        args.group_size,
        args.rubric_items,
        repeats,
        args.loop_cap,
        input_dtype=args.input_dtype,
        num_tokens=args.tokens,
    )
    print(format_table(result))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.plot:
        print(f"wrote {plot_results(result, args.plot)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="reward-design bench", description=__doc__.splitlines()[0]
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
