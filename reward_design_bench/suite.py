"""The rows of one bench run: the step at each size and the text reward function.

Every row first checks that its implementations agree, then times them
interleaved (`reward_design_bench.timing`). `run_benchmark` returns the
JSON-ready result that `reward_design_bench.report` prints and plots.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from reward_design_bench import implementations as impl
from reward_design_bench import inputs
from reward_design_bench.report import machine
from reward_design_bench.timing import interleaved, summarize

__all__ = [
    "DEFAULT_SIZES",
    "TEXT_COMPLETIONS",
    "benchmark_size",
    "benchmark_variants",
    "benchmark_text",
    "run_benchmark",
]

#: P x G of the step rows (G = 8): realistic batches, and 2^20 (about 10^6).
DEFAULT_SIZES = (256, 4_096, 65_536, 1_048_576)
#: Completions per call in the text row.
TEXT_COMPLETIONS = 1_024
SCHEMA_VERSION = 2


class _Traced:
    """``fn`` with a count of its traces (a Python side effect: runs once per trace)."""

    def __init__(self, fn: Callable[..., Any]):
        self.fn, self.count = fn, 0

    def __call__(self, *args: Any) -> Any:
        self.count += 1
        return self.fn(*args)


def _numpy_inputs(r) -> dict[str, np.ndarray]:
    out = {
        "correct": np.asarray(r.correct, np.float32),
        "confidence": np.asarray(r.confidence, np.float32),
        "rubric": np.asarray(r.rubric),
    }
    if r.token_rewards is not None:
        out["token_rewards"] = np.asarray(r.token_rewards, np.float32)
        out["token_mask"] = np.asarray(r.token_mask)
    return out


def _loop_fn(arrays: dict[str, np.ndarray], group_size: int) -> Callable[[], list[float]]:
    """The Python loop on the whole batch (texts and lists built once, outside the timing)."""
    texts = inputs.completion_texts(arrays["correct"], arrays["confidence"])
    num_items = arrays["rubric"].shape[-1]
    rows = arrays["rubric"].reshape(-1, num_items).tolist()
    token_rows = None
    if "token_rewards" in arrays:
        t = arrays["token_rewards"].shape[-1]
        flat = zip(
            arrays["token_rewards"].reshape(-1, t), arrays["token_mask"].reshape(-1, t), strict=True
        )
        token_rows = [tok[mask].tolist() for tok, mask in flat]
    return lambda: impl.python_loop_step(texts, rows, group_size, token_rows=token_rows)


def _check(name: str, got: Any, want: np.ndarray, tol: float = 2e-4) -> None:
    np.testing.assert_allclose(
        np.asarray(got, np.float32).reshape(want.shape), want, rtol=tol, atol=tol, err_msg=name
    )


def _step_functions(r, arrays, group_size: int, sweep: int, with_loop: bool) -> dict[str, Any]:
    """The row's compiled steps, checked against numpy, as zero-argument timed functions.

    Returns ``{"fns": {name: fn}, "traced": {name: _Traced}, "compile_s",
    "kernel_runs", "objective_for", "steps": {name: jitted step}}``.
    """
    tokens = r.token_rewards is not None

    def objective_for(w: Any = 1.0, extra_term: bool = False):
        # kept on the device, as a training loop keeps its parameters there
        return jax.device_put(inputs.make_objective(w, extra_term=extra_term, tokens=tokens))

    objective, extra = objective_for(), objective_for(extra_term=True)
    ref = impl.numpy_step(**arrays)
    traced = {"ours": _Traced(impl.default_step)}
    ours = jax.jit(traced["ours"])
    start = time.perf_counter()
    _check("ours vs numpy", ours(objective, r).block_until_ready(), ref)
    compile_s = time.perf_counter() - start
    step_extra = jax.jit(impl.default_step)
    fns = {
        "ours": lambda: ours(objective, r).block_until_ready(),
        "numpy": lambda: impl.numpy_step(**arrays),
        "extra_term": lambda: step_extra(extra, r).block_until_ready(),
    }
    steps = {"ours": ours}
    if impl.ynn_off_status()["available"]:
        traced["ours_ynn_off"] = _Traced(impl.default_step)
        ynn_off = steps["ours_ynn_off"] = jax.jit(
            traced["ours_ynn_off"], compiler_options=impl.YNN_OFF
        )
        _check("ours (YNN fusions off) vs numpy", ynn_off(objective, r), ref)
        fns["ours_ynn_off"] = lambda: ynn_off(objective, r).block_until_ready()
    kernel_runs = impl.kernel_runs(objective, group_size)
    if kernel_runs:
        traced["kernel"] = _Traced(impl.kernel_step)
        kernel = steps["kernel"] = jax.jit(traced["kernel"])
        _check("kernel vs numpy", kernel(objective, r), ref)
        fns["kernel"] = lambda: kernel(objective, r).block_until_ready()
    if with_loop:
        loop = _loop_fn(arrays, group_size)
        _check("loop vs numpy", loop(), ref, tol=1e-3)
        fns["loop"] = loop
    fns.update(_sweep_functions(ours, objective_for, r, arrays, sweep))
    tiny, one = jax.jit(lambda x: x + 1.0), jnp.ones((1,), jnp.float32)
    fns["dispatch"] = lambda: tiny(one).block_until_ready()
    return {
        "fns": fns,
        "traced": traced,
        "compile_s": compile_s,
        "kernel_runs": kernel_runs,
        "objective_for": objective_for,
        "steps": steps,
    }


def _sweep_functions(ours, objective_for, r, arrays, sweep: int) -> dict[str, Callable]:
    """``sweep`` Brier weights: one ``jax.vmap`` call, and ``sweep`` separate calls of ``ours``."""
    tokens = r.token_rewards is not None
    weights = jnp.linspace(0.25, 4.0, sweep, dtype=jnp.float32)
    vmapped = jax.jit(
        jax.vmap(
            lambda w, rr: impl.default_step(inputs.make_objective(w, tokens=tokens), rr),
            in_axes=(0, None),
        )
    )
    swept = vmapped(weights, r)
    _check("vmap sweep vs numpy", swept[-1], impl.numpy_step(**arrays, brier_weight=4.0))
    objectives = [objective_for(float(w)) for w in np.asarray(weights)]

    def separate():
        jax.block_until_ready([ours(o, r) for o in objectives])

    return {
        f"vmap{sweep}": lambda: vmapped(weights, r).block_until_ready(),
        f"separate{sweep}": separate,
    }


def _retraces(steps: dict[str, Callable], traced: dict[str, _Traced], objective_for, r) -> dict:
    """Traces of each compiled step when the Brier weight changes (8 new weights): 0 expected."""
    before = {name: t.count for name, t in traced.items()}
    for w in np.linspace(0.3, 3.0, 8):
        objective = objective_for(float(w))
        for step in steps.values():
            step(objective, r).block_until_ready()
    return {name: traced[name].count - before[name] for name in traced}


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a / b


def benchmark_size(
    num_rollouts: int,
    group_size: int = 8,
    num_items: int = 8,
    bandwidth: float = 1e10,
    repeats: int = 20,
    loop_cap: int = 65_536,
    sweep: int = 16,
    input_dtype: str = "float32",
    num_tokens: int = 0,
    variants: bool = True,
) -> dict[str, Any]:
    """One step row: every implementation on one batch, checked, then timed interleaved.

    The Python loop runs only where ``num_rollouts <= loop_cap``. Seconds are
    medians over at least ``repeats`` interleaved calls (``spread`` holds
    the quartiles); the floor is `floor_bytes` over ``bandwidth`` (bytes/s).
    """
    r = jax.device_put(
        inputs.make_inputs(
            num_rollouts, group_size, num_items, input_dtype=input_dtype, num_tokens=num_tokens
        )
    )
    arrays = _numpy_inputs(r)
    made = _step_functions(r, arrays, group_size, sweep, num_rollouts <= loop_cap)
    spread = {name: summarize(s) for name, s in interleaved(made["fns"], repeats).items()}
    seconds: dict[str, float | None] = {name: s["median"] for name, s in spread.items()}
    input_bytes = 2 if input_dtype == "bfloat16" else 4
    nbytes = impl.floor_bytes(num_rollouts, num_items, input_bytes, num_tokens)
    seconds["floor"] = nbytes / bandwidth
    for name in ("kernel", "loop", "ours_ynn_off"):
        seconds.setdefault(name, None)
    ours = seconds["ours"]
    return {
        "rollouts": num_rollouts,
        "group_size": group_size,
        "rubric_items": num_items,
        "tokens": num_tokens,
        "input_dtype": input_dtype,
        "kernel_runs": made["kernel_runs"],
        "seconds": seconds,
        "spread": spread,
        "ratios": {
            "numpy_over_ours": seconds["numpy"] / ours,
            "loop_over_ours": _ratio(seconds["loop"], ours),
            "ours_over_floor": ours / seconds["floor"],
            "kernel_over_floor": _ratio(seconds["kernel"], seconds["floor"]),
            "ours_over_kernel": _ratio(ours, seconds["kernel"]),
            "ours_over_ynn_off": _ratio(ours, seconds["ours_ynn_off"]),
            "ynn_off_over_floor": _ratio(seconds["ours_ynn_off"], seconds["floor"]),
            "extra_term_overhead": seconds["extra_term"] / ours - 1.0,
            "vmap_over_one": seconds[f"vmap{sweep}"] / ours,
            "separate_over_one": seconds[f"separate{sweep}"] / ours,
        },
        "sweep": sweep,
        "compile_s": made["compile_s"],
        "retraces": _retraces(made["steps"], made["traced"], made["objective_for"], r),
        "floor_bytes": nbytes,
        "variants": benchmark_variants(r, repeats, group_size) if variants else None,
    }


def benchmark_variants(r, repeats: int, group_size: int) -> dict[str, dict[str, float | None]]:
    """Other objectives (`inputs.variant_objectives`): ours, and where they run, ours with
    XLA:CPU's YNN fusions off and the kernel.

    Returns ``{name: {"ours": median s, "ours_ynn_off": median s or None,
    "kernel": median s or None}}``; each is checked against ours first.
    """
    num_items = r.rubric.shape[-1]
    ynn_off = impl.ynn_off_status()["available"]
    fns: dict[str, Callable] = {}
    for name, (make, estimator) in inputs.variant_objectives(r.token_rewards is not None).items():
        objective = jax.device_put(make(num_items))
        modes = [("ours", impl.default_step, None)]
        if ynn_off:
            modes.append(("ours_ynn_off", impl.default_step, impl.YNN_OFF))
        if impl.kernel_runs(objective, group_size, estimator):
            modes.append(("kernel", impl.kernel_step, None))
        outs = []
        for mode, fn, options in modes:
            jit_options = {} if options is None else {"compiler_options": options}
            step = jax.jit(lambda o, rr, fn=fn, est=estimator: fn(o, rr, est), **jit_options)
            outs.append(step(objective, r).block_until_ready())
            fns[f"{name}|{mode}"] = lambda s=step, o=objective: s(o, r).block_until_ready()
        for (mode, _, _), got in zip(modes[1:], outs[1:], strict=True):
            _check(f"{name}: {mode} vs ours", got, np.asarray(outs[0]), tol=1e-4)
    medians = {k: summarize(s)["median"] for k, s in interleaved(fns, max(3, repeats // 2)).items()}
    out: dict[str, dict[str, float | None]] = {}
    for key, t in medians.items():
        name, mode = key.split("|")
        out.setdefault(name, {"ours": None, "ours_ynn_off": None, "kernel": None})[mode] = t
    return out


def benchmark_text(
    num_completions: int = TEXT_COMPLETIONS, repeats: int = 20, seed: int = 1_000
) -> dict[str, Any]:
    """The text row: `impl.trl_reward_func` against `impl.handwritten_rlcr_reward`.

    Every call gets a batch neither function has seen (a reward function
    that caches its last batch gains nothing); both see the same sequence of
    batches. The two are first checked to give the same values (``max_abs_diff``,
    ``agree`` at 1e-7) on three fresh batches.
    """
    ours, hand = impl.trl_reward_func(), impl.handwritten_rlcr_reward
    diffs = []
    for i in range(3):
        completions, solutions = inputs.text_batch(num_completions, seed=seed - 1 - i)
        a = np.asarray(ours(completions=completions, solution=solutions), np.float64)
        b = np.asarray(hand(completions=completions, solution=solutions), np.float64)
        diffs.append(float(np.max(np.abs(a - b))))
    max_calls = 2
    pool = [
        inputs.text_batch(num_completions, seed=seed + i) for i in range(2 + repeats * max_calls)
    ]

    def fresh(fn):
        batches = itertools.cycle(pool)  # longer than the calls made: each batch once
        return lambda: fn(completions=(b := next(batches))[0], solution=b[1])

    samples = interleaved({"ours": fresh(ours), "handwritten": fresh(hand)}, repeats, max_calls=2)
    spread = {name: summarize(s) for name, s in samples.items()}
    seconds = {name: s["median"] for name, s in spread.items()}
    return {
        "completions": num_completions,
        "format": "<think>…</think><answer>a</answer> <confidence>p</confidence>",
        "objective": "correctness + Brier",
        "seconds": seconds,
        "spread": spread,
        "ratios": {"ours_over_handwritten": seconds["ours"] / seconds["handwritten"]},
        "max_abs_diff": max(diffs),
        "agree": max(diffs) <= 1e-7,
        "fresh_batches": True,
    }


def run_benchmark(
    sizes: Sequence[int] = DEFAULT_SIZES,
    group_size: int = 8,
    num_items: int = 8,
    repeats: int = 20,
    loop_cap: int = 65_536,
    input_dtype: str = "float32",
    num_tokens: int = 0,
    text_completions: int = TEXT_COMPLETIONS,
    variants: bool = True,
    progress: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Every step row, then the text row (``text_completions=0``: none); the JSON-ready result."""
    bandwidth = impl.measure_copy_bandwidth()
    say = progress or (lambda line: None)
    rows = []
    for n in sizes:
        row = benchmark_size(
            n, group_size, num_items, bandwidth["used"], repeats, loop_cap,
            input_dtype=input_dtype, num_tokens=num_tokens, variants=variants,
        )  # fmt: skip
        rows.append(row)
        say(f"  {n:>9} rollouts: ours {row['seconds']['ours'] * 1e3:9.3f} ms")
    text = benchmark_text(text_completions, repeats) if text_completions else None
    if text is not None:
        say(
            f"  text reward, {text_completions} completions: {text['seconds']['ours'] * 1e3:.3f} ms"
        )
    return {
        "benchmark": "reward_design.bench",
        "schema_version": SCHEMA_VERSION,
        "machine": machine(),
        "kernel": _kernel_status(),
        "ynn_off": {**impl.ynn_off_status(), "compiler_options": impl.YNN_OFF},
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
            "text_completions": text_completions,
        },
        "timestamp_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rows": rows,
        "text": text,
    }


def _kernel_status() -> dict[str, Any]:
    if jax.default_backend() != "cpu":
        return {"available": False, "reason": f"default backend is {jax.default_backend()}"}
    import reward_design as rd

    status = rd.kernels.kernel_status()
    return {"available": bool(status["available"]), "reason": str(status["reason"])}
