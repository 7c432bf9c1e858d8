"""The implementations the bench times against each other, and the memory floor.

The step (rewards, gate, advantages):

* `default_step`: ours, the core's default path (`Gated.evaluate`, then an
  estimator of `rd.advantages`), plain `jnp`, the same program on every
  backend; compiled with ``jax.jit`` by the caller;
* `default_step` again, compiled with `YNN_OFF` (`ynn_off_status` says where
  that applies): the same program with XLA:CPU's YNNPACK library fusions
  switched off, a compile option a user can set (docs/performance.md);
* `kernel_step`: ours with the opt-in CPU kernel,
  ``rd.kernels.gated_advantages`` (`kernel_runs` says whether the kernel,
  rather than its XLA fallback, runs);
* `numpy_step`: the same math in idiomatic, vectorised numpy;
* `python_loop_step`: a per-completion Python loop as reward functions are
  commonly written (parse the text, score, group statistics per prompt);
* `floor_seconds`: the bytes the step must read and write over the
  bandwidth of a large copy (`measure_copy_bandwidth`).

The text reward function: `trl_reward_func` (ours,
``rd.integrations.trl.reward_func``) against `handwritten_rlcr_reward`, a
TRL-style reward function written the obvious way.
"""

from __future__ import annotations

import functools
import re
import statistics
import time
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import reward_design as rd
from reward_design_bench.inputs import TOKEN_WEIGHT

__all__ = [
    "default_step",
    "YNN_OFF",
    "ynn_off_status",
    "kernel_step",
    "kernel_runs",
    "numpy_step",
    "python_loop_step",
    "trl_reward_func",
    "handwritten_rlcr_reward",
    "measure_copy_bandwidth",
    "floor_bytes",
]


def default_step(objective: Any, rollouts: rd.Rollouts, estimator: str = "grpo") -> jax.Array:
    """Ours, the default path: the objective's rewards and advantage mask, then the estimator.

    For a `Gated` objective this is `Gated.evaluate` followed by
    ``rd.advantages.<estimator>`` over its advantage mask (what
    `Gated.advantages` computes); any other objective's mask is
    ``output.accepted``.
    """
    if isinstance(objective, rd.gates.Gated):
        out, mask = objective.evaluate(rollouts)
    else:
        out = objective(rollouts)
        mask = out.accepted
    return getattr(rd.advantages, estimator)(out.total, mask=mask)


#: The XLA compile option that switches XLA:CPU's YNNPACK library fusions off.
#: JAX 0.10 hands float reductions to them, and over a short axis (a group of
#: G, a rubric of K items) they are several times slower than XLA's own loops
#: (docs/performance.md, "On a CPU: XLA's library reductions").
YNN_OFF = {"xla_cpu_experimental_ynn_fusion_type": ""}


def ynn_off_status() -> dict[str, Any]:
    """Whether `YNN_OFF` can be used here: ``{"available": bool, "reason": str}``.

    Available on the CPU backend when this jaxlib's XLA knows the option (it
    is experimental: older and newer releases may not) and ``jax.jit`` takes
    ``compiler_options``; a trivial function is compiled with it to find out,
    once per backend and option set (a bench run asks once per row).
    """
    return dict(_compile_status(jax.default_backend(), tuple(YNN_OFF.items())))


@functools.cache
def _compile_status(backend: str, options: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    if backend != "cpu":
        return {"available": False, "reason": f"default backend is {backend}"}
    try:
        jax.jit(lambda x: x + 1.0, compiler_options=dict(options)).lower(jnp.zeros(2)).compile()
    except Exception as err:  # TypeError (old jax.jit) or XLA's unknown-option error
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return {"available": False, "reason": f"not accepted here: {reason[:200]}"}
    return {"available": True, "reason": "XLA:CPU accepts " + ", ".join(k for k, _ in options)}


def kernel_step(objective: Any, rollouts: rd.Rollouts, estimator: str = "grpo") -> jax.Array:
    """Ours with the opt-in CPU kernel: ``rd.kernels.gated_advantages(...)[1]``."""
    return rd.kernels.gated_advantages(objective, rollouts, estimator)[1]


def kernel_runs(objective: Any, group_size: int, estimator: str = "grpo") -> bool:
    """Whether `kernel_step` runs the hand-written kernel (not its XLA fallback) here.

    True where the default backend is the CPU, the kernel is built
    (``rd.kernels.kernel_status()``), the configuration is one it implements
    (``rd.kernels.supports``) and the group size is one of
    ``rd.kernels.GROUP_SIZES`` (the bench's totals are float32).
    """
    if jax.default_backend() != "cpu":
        return False
    if not rd.kernels.supports(objective, estimator):
        return False
    if group_size not in rd.kernels.GROUP_SIZES:
        return False
    return bool(rd.kernels.kernel_status()["available"])


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


_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_CONFIDENCE = re.compile(r"<confidence>(.*?)</confidence>", re.DOTALL)


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


def trl_reward_func() -> Any:
    """Ours for the text row: ``rd.integrations.trl.reward_func`` with correctness + Brier."""
    objective = rd.compose(correct=rd.terms.Correctness(), brier=rd.terms.Brier(weight=1.0))
    return rd.integrations.trl.reward_func(objective, answer_key="solution")


def handwritten_rlcr_reward(
    completions: Sequence[str],
    solution: Sequence[str],
    invalid_reward: float = -1.0,
    **kwargs: Any,
) -> list[float]:
    """A TRL-style RLCR reward function written the obvious way.

    The reference ``rd.integrations.trl.reward_func`` is measured against: its
    speed in the bench's text row, its values in
    ``tests/integrations/test_integrations_rewards.py``.

    Per completion: a regular expression per tag (the last match wins),
    ``float()`` on the confidence, an exact string match against the ground
    truth (both stripped), then correctness + Brier,
    ``correct - (confidence - correct) ** 2``, in plain Python;
    ``invalid_reward`` where the answer is missing or the confidence is
    missing, unparsable or outside [0, 1].

    It agrees with `trl_reward_func`, i.e.
    ``reward_func(compose(correct=Correctness(), brier=Brier()))`` (to float32
    rounding), on RLCR text whose tags are not nested, whose answers are
    unchanged by SQuAD normalisation up to surrounding whitespace (e.g.
    ``"42"``) and whose confidences are plain ASCII decimals; ours also
    normalises answers (`rd.integrations.exact_match`), reads the innermost
    pair of nested tags and refuses confidences with ``_``, non-ASCII digits
    or over 64 characters.
    """
    del kwargs  # TRL passes prompts, completion_ids, trainer_state, ...
    rewards = []
    for text, truth in zip(completions, solution, strict=True):
        answers = _ANSWER.findall(text)
        confidences = _CONFIDENCE.findall(text)
        answer = answers[-1].strip() if answers else ""
        try:
            confidence = float(confidences[-1])
        except (IndexError, ValueError):
            confidence = -1.0
        if not answer or not 0.0 <= confidence <= 1.0:
            rewards.append(invalid_reward)
            continue
        correct = 1.0 if answer == str(truth).strip() else 0.0
        rewards.append(correct - (confidence - correct) ** 2)
    return rewards


def _min_seconds(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure_copy_bandwidth(num_bytes: int = 1 << 28, repeats: int = 10) -> dict[str, float]:
    """Bytes/s of a large copy (read + write counted), the memory floor's yardstick.

    Measured two ways and the faster one is used, so the floor is the
    strictest we can justify: a compiled ``x + 1`` on the default JAX backend
    with the input buffer donated (no fresh allocation per call), and, on
    CPU, numpy's ``copyto`` into a preallocated array. Minimum of ``repeats``.

    Returns:
      ``{"jax": ..., "numpy": ... (CPU only), "used": max of them}`` in bytes/s.
    """
    n = num_bytes // 4
    step = jax.jit(lambda a: a + 1.0, donate_argnums=0)
    state = {"x": jnp.ones((n,), jnp.float32)}

    def run_jax():
        state["x"] = step(state["x"])
        state["x"].block_until_ready()

    out = {"jax": 2 * n * 4 / _min_seconds(run_jax, repeats)}
    del state["x"]
    if jax.default_backend() == "cpu":
        src = np.ones((n,), np.float32)
        dst = np.empty_like(src)
        out["numpy"] = 2 * n * 4 / _min_seconds(lambda: np.copyto(dst, src), repeats)
    out["used"] = max(out.values())
    return out


def floor_bytes(
    num_rollouts: int, num_items: int, input_bytes: int = 4, num_tokens: int = 0
) -> int:
    """Bytes the step must move: read correct and confidence (``input_bytes`` each), the
    rubric (1 byte per item), token rewards (``input_bytes``) and mask (1 byte) per
    token; write the float32 advantages."""
    return num_rollouts * (2 * input_bytes + num_items + num_tokens * (input_bytes + 1) + 4)
