"""The bench's inputs: rollout batches, RLCR-format completions and the objectives.

The step every size row measures is correctness + Brier behind an `AllOf`
rubric gate (``on_reject="drop"``), then GRPO advantages over the accepted
members, on ``P x G`` rollouts with ``K`` boolean rubric items
(`make_inputs`, `make_objective`). The text row scores RLCR-format
completions (`text_batch`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np

import reward_design as rd

__all__ = [
    "TOKEN_WEIGHT",
    "make_inputs",
    "inner_terms",
    "make_objective",
    "variant_objectives",
    "completion_texts",
    "text_batch",
]

#: Weight of the token-mean term (``--tokens T``).
TOKEN_WEIGHT = 0.5


def make_inputs(
    num_rollouts: int,
    group_size: int = 8,
    num_items: int = 8,
    seed: int = 0,
    input_dtype: str = "float32",
    num_tokens: int = 0,
) -> rd.Rollouts:
    """Random rollouts: ``correct``, ``confidence`` ``[P, G]`` and a bool rubric ``[P, G, K]``.

    Each rubric item passes with probability 0.97, so about 78% of rollouts
    pass all of 8 items (a realistic, mostly-accepting gate). With
    ``input_dtype="bfloat16"`` correctness and confidence (and token rewards)
    are stored in bfloat16 (half the bytes to read); the terms compute in
    float32. With ``num_tokens=T > 0`` the rollouts also carry per-token
    rewards ``[P, G, T]`` (normal, scale 0.1) and a token mask whose valid
    prefix has a uniform random length in 1..T (right padding).

    Raises:
      ValueError: for an unknown ``input_dtype``, a ``num_rollouts`` that is
        not a multiple of ``group_size``, or ``num_tokens < 0``.
    """
    if input_dtype not in ("float32", "bfloat16"):
        raise ValueError(f"input_dtype must be 'float32' or 'bfloat16'; got {input_dtype!r}.")
    if group_size < 1 or num_rollouts < group_size or num_rollouts % group_size:
        raise ValueError(
            f"num_rollouts ({num_rollouts}) must be a positive multiple of group_size "
            f"({group_size})."
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


def inner_terms(brier_weight: Any = 1.0, tokens: bool = False) -> dict[str, Any]:
    """correctness + Brier, and with ``tokens`` the token mean: every benchmarked objective's."""
    terms = {"correct": rd.terms.Correctness(), "brier": rd.terms.Brier(weight=brier_weight)}
    if tokens:
        terms["tokens"] = rd.terms.TokenReward(weight=TOKEN_WEIGHT, normalize=True)
    return terms


def make_objective(
    brier_weight: Any = 1.0, extra_term: bool = False, tokens: bool = False
) -> rd.gates.Gated:
    """correctness + Brier (+ the spherical score) behind an `AllOf` gate with ``"drop"``.

    ``extra_term=True`` adds ``ScoringRuleTerm(spherical_binary, weight=0.5)``
    (the "+1 term" row); ``tokens=True`` adds
    ``TokenReward(weight=TOKEN_WEIGHT, normalize=True)``, the mean of each
    completion's valid per-token rewards.
    """
    terms = inner_terms(brier_weight, tokens)
    if extra_term:
        terms["spherical"] = rd.terms.ScoringRuleTerm(
            rule=rd.scoring_rules.spherical_binary, weight=0.5
        )
    return rd.gates.Gated(gate=rd.gates.AllOf(), inner=rd.compose(**terms), on_reject="drop")


def variant_objectives(tokens: bool = False) -> dict[str, tuple[Callable[[int], Any], str]]:
    """Other gates, the dense rubric baseline and other estimators.

    Returns ``{name: (make(num_items) -> objective, estimator)}`` with
    ``estimator`` a function name of `rd.advantages`. Each shares the inner
    terms of `make_objective`, so their times compare directly with the
    step's.
    """
    terms = inner_terms(tokens=tokens)
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
        "AllOf (floor) + GroupFilter + GRPO": (
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


def completion_texts(correct: np.ndarray, confidence: np.ndarray) -> list[str]:
    """RLCR-format completions whose answer is right iff ``correct`` (ground truth "42").

    The Python loop of the step row parses these.
    """
    return [
        f"<think>work</think><answer>{'42' if c else '17'}</answer><confidence>{p:.6f}</confidence>"
        for c, p in zip(correct.reshape(-1).tolist(), confidence.reshape(-1).tolist(), strict=True)
    ]


_REASONING = (
    "First restate the question. The quantities given are related by the rule above, "
    "so apply it step by step and check the result against the constraints. "
)


def text_batch(
    num_completions: int = 1024, seed: int = 0, invalid_fraction: float = 0.02
) -> tuple[list[str], list[str]]:
    """One batch of RLCR-format completions and their ground truths (the text row's input).

    Each completion is ``<think>…</think>`` (80 to 400 characters of
    reasoning) followed by ``<answer>a</answer> <confidence>p</confidence>``;
    the answer is an integer that equals the ground truth with probability
    0.6 and ``p`` has two to four decimals. About ``invalid_fraction`` of the
    completions lack their confidence tag (unscorable: ``invalid_reward``).
    Different seeds give different texts, so a batch can be fresh for every
    call of a reward function that caches its last batch.

    Returns:
      ``(completions, solutions)``: two lists of ``num_completions`` strings.
    """
    if num_completions < 1:
        raise ValueError(f"num_completions must be >= 1; got {num_completions}.")
    rng = np.random.default_rng(seed)
    truths = rng.integers(0, 10_000, size=num_completions)
    right = rng.uniform(size=num_completions) < 0.6
    offsets = rng.integers(1, 100, size=num_completions)
    decimals = rng.integers(2, 5, size=num_completions)
    confidences = rng.uniform(size=num_completions)
    lengths = rng.integers(80, 401, size=num_completions)
    invalid = rng.uniform(size=num_completions) < invalid_fraction
    reasoning = _REASONING * (400 // len(_REASONING) + 1)
    completions, solutions = [], []
    for i in range(num_completions):
        truth = int(truths[i])
        answer = truth if right[i] else truth + int(offsets[i])
        text = f"<think>{reasoning[: lengths[i]]}</think><answer>{answer}</answer>"
        if not invalid[i]:
            text += f" <confidence>{confidences[i]:.{decimals[i]}f}</confidence>"
        completions.append(text)
        solutions.append(str(truth))
    return completions, solutions
