"""Our tunix reward functions inside an installed google-tunix's GRPO learner.

Slow and skipped unless ``tunix`` (``google-tunix``, checked with 0.1.7) is
importable; the default CI environment does not install it. To run::

    python -m venv /tmp/venv-tunix
    /tmp/venv-tunix/bin/pip install -e ".[test]" google-tunix==0.1.7
    /tmp/venv-tunix/bin/python -m pytest tests/integrations/test_integrations_tunix_e2e.py \
        -m slow -q -p no:cacheprovider

What runs is tunix's own code between the rollout and the policy loss:
``RLLearner._prepare_data`` repeats each batch column ``num_generations``
times (``np.repeat`` over the batch pytree) and adds ``trajectory_ids``;
``RLLearner._process_accumulated_batches`` merges the micro-batches
(``rl.utils.merge_micro_batches``), calls
``GRPOLearner._generate_and_compute_advantage`` and slices the result back
per micro-batch. That method passes the completions' text and every other
batch column to ``RLLearner._compute_rewards``, which calls the learner's
``SequenceRewardManager`` (built from tunix's registry as
``RLLearner.__init__`` builds it) and buffers its log metrics, then applies
tunix's registered ``"grpo"`` advantage estimator. The learner is a real
``GRPOLearner`` whose ``__init__`` (model, mesh, optimizer set-up) is skipped;
only its ``rl_cluster`` is a stand-in, which returns fixed completions from
``generate`` and records ``buffer_metrics`` (``beta=0`` and
``num_iterations=1``, so no reference or old-policy model is queried).

Expected rewards come from the RLCR formula written out in numpy, not from
the library: ``correct - w * (confidence - correct)^2`` for completions whose
answer and confidence parse, ``invalid_reward`` otherwise.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import types

import numpy as np
import pytest

import reward_design as rd

tunix = pytest.importorskip("tunix")

import jax  # noqa: E402
from tunix.rl import function_registry  # noqa: E402
from tunix.rl import reward_manager as reward_manager_lib  # noqa: E402
from tunix.rl import rl_cluster as rl_cluster_lib  # noqa: E402
from tunix.rl import utils as rl_utils  # noqa: E402
from tunix.rl.grpo import grpo_learner  # noqa: E402

pytestmark = pytest.mark.slow

BRIER_WEIGHT = 0.5
INVALID = -2.5
G = 3  # num_generations

# Two micro-batches (2 prompts, then 1), as a data loader yields them:
# columns are numpy arrays (grain batches), one row per prompt.
MICRO_BATCHES = [
    {
        "prompts": ["What is 2+2?", "Capital of France?"],
        "solution": ["4", "Paris"],
        "question_id": [11, 12],
    },
    {"prompts": ["What is 6*7?"], "solution": ["42"], "question_id": [13]},
]
# G completions per prompt, in prompt order, with (correct, confidence) or None
# for completions that cannot be scored.
COMPLETIONS = {
    "What is 2+2?": [
        ("<answer>4</answer><confidence>0.9</confidence>", (1.0, 0.9)),
        ("I think 5. <answer>5</answer><confidence>0.7</confidence>", (0.0, 0.7)),
        ("<answer>four</answer><confidence>0.2</confidence>", (0.0, 0.2)),
    ],
    "Capital of France?": [
        ("<answer>The Paris</answer> <confidence>0.6</confidence>", (1.0, 0.6)),
        ("no tags at all", None),
        ("<answer>Lyon</answer><confidence>0.05</confidence>", (0.0, 0.05)),
    ],
    "What is 6*7?": [
        ("<answer>42</answer><confidence>0.25</confidence>", (1.0, 0.25)),
        # A confidence outside [0, 1] does not parse: unscorable under RLCR.
        ("<answer>41</answer><confidence>1.7</confidence>", None),
        # RLCR reads the confidence: an answer without one cannot be scored.
        ("<answer>42</answer>", None),
    ],
}


def _objective():
    return rd.compose(correct=rd.terms.Correctness(), brier=rd.terms.Brier(weight=BRIER_WEIGHT))


def _reference():
    """Per completion, in generation order: total and each component (numpy, float32)."""
    rows = [judged for prompt in _prompts() for _, judged in COMPLETIONS[prompt]]
    valid = np.array([r is not None for r in rows])
    c = np.array([r[0] if r else 0.0 for r in rows], np.float32)
    p = np.array([r[1] if r else 0.0 for r in rows], np.float32)
    brier = np.where(valid, -np.float32(BRIER_WEIGHT) * (p - c) ** 2, 0.0)
    correct = np.where(valid, c, 0.0)
    total = np.where(valid, correct + brier, INVALID)
    rest = np.where(valid, 0.0, INVALID)
    return total, {"correct": correct, "brier": brier, "rest": rest}


def _prompts():
    return [p for mb in MICRO_BATCHES for p in mb["prompts"]]


def _numpy_grpo(rewards):
    """GRPO advantages: (r - group mean) / (group std, ddof=1, + 1e-6)."""
    r = np.asarray(rewards, np.float64).reshape(-1, G)
    adv = (r - r.mean(axis=1, keepdims=True)) / (r.std(axis=1, ddof=1, keepdims=True) + 1e-6)
    return adv.reshape(-1)


class _Cluster:
    """The parts of ``RLCluster`` that the reward/advantage step touches, no model."""

    def __init__(self, max_tokens=8):
        self.cluster_config = types.SimpleNamespace(
            rollout_config=types.SimpleNamespace(max_tokens_to_generate=max_tokens)
        )
        self.rollout = types.SimpleNamespace(pad_id=lambda: 0, eos_id=lambda: 1)
        self.perf = self.perf_v2 = types.SimpleNamespace(
            span=lambda *a, **k: contextlib.nullcontext()
        )
        self.global_steps = 0
        self.metrics = []
        self.generate_calls = []

    def generate(self, prompts, mode, micro_batch_size=None, trace_tags=None):
        self.generate_calls.append(list(prompts))
        seen = {}
        text = []
        for prompt in prompts:
            k = seen.get(prompt, 0)
            seen[prompt] = k + 1
            text.append(COMPLETIONS[str(prompt)][k][0])
        tokens = [np.arange(2, 2 + len(t) % 5 + 1) for t in text]
        return types.SimpleNamespace(
            text=text,
            tokens=tokens,
            left_padded_prompt_tokens=np.full((len(prompts), 4), 3, np.int32),
        )

    def buffer_metrics(self, metrics, mode):
        self.metrics.append((dict(metrics), mode))

    def buffer_metrics_async(self, metrics, mode, step):
        self.metrics.append((dict(metrics), mode))


def _learner(reward_fns):
    """A GRPOLearner with tunix's reward manager and a model-free cluster."""
    config = grpo_learner.GRPOConfig(num_generations=G, num_iterations=1, beta=0.0)
    learner = object.__new__(grpo_learner.GRPOLearner)
    learner.algo_config = config
    learner.rl_cluster = _Cluster()
    learner.metric_fns = []
    learner._rollout_micro_batch_size = 1
    learner._compute_logps_micro_batch_size = 1
    # As RLLearner.__init__ builds it.
    manager_cls = function_registry.get_reward_manager(config.reward_manager)
    learner.reward_manager = manager_cls(reward_fns=reward_fns, algo_config=config)
    return learner


def _repeated_micro_batches(learner, as_bytes):
    """The micro-batches as ``RLLearner._prepare_data`` hands them on."""
    out = []
    for step, mb in enumerate(MICRO_BATCHES):
        example = {
            "prompts": np.array(mb["prompts"]),
            "solution": np.array(mb["solution"], dtype="S" if as_bytes else "U"),
            "question_id": np.array(mb["question_id"]),
        }
        # The two statements of _prepare_data that shape what reward functions see.
        example = jax.tree.map(lambda x: np.repeat(x, G, axis=0), example)
        example["trajectory_ids"] = learner._compute_trajectory_ids(example, step)
        out.append(example)
    return out


def _run_step(reward_fns, as_bytes=False):
    learner = _learner(reward_fns)
    micro_batches = _repeated_micro_batches(learner, as_bytes)
    produced = learner._process_accumulated_batches(
        micro_batches=micro_batches,
        micro_batch_sizes=[len(mb["prompts"]) for mb in micro_batches],
        mode=rl_cluster_lib.Mode.TRAIN,
    )
    advantages = np.concatenate([np.asarray(ex.advantages) for ex in produced])
    reward_metrics = [m for m, _ in learner.rl_cluster.metrics if "rewards/sum" in m]
    assert len(reward_metrics) == 1, "one reward-manager call per merged batch"
    return learner, advantages, reward_metrics[0]


@pytest.mark.parametrize("as_bytes", [False, True], ids=["str-column", "bytes-column"])
def test_grpo_step_rewards_and_advantages(as_bytes):
    fn = rd.integrations.tunix.reward_fn(
        _objective(), answer_key="solution", invalid_reward=INVALID, name="rlcr"
    )
    learner, advantages, metrics = _run_step([fn], as_bytes=as_bytes)
    total, _ = _reference()

    # The prompts reached generate repeated G times, in order.
    assert learner.rl_cluster.generate_calls == [list(np.repeat(_prompts(), G))]
    # Rewards as tunix logs them (per completion, before the advantage).
    np.testing.assert_allclose(metrics["rewards/rlcr"][0], total, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(metrics["rewards/sum"][0], total, rtol=1e-6, atol=1e-7)
    assert metrics["rewards/rlcr"][1] is np.mean
    assert list(metrics["completions"][0]) == [t for p in _prompts() for t, _ in COMPLETIONS[p]]
    # tunix's GRPO advantages of those rewards: the numpy formula, and ours.
    np.testing.assert_allclose(advantages, _numpy_grpo(total), rtol=1e-5, atol=1e-6)
    ours = rd.advantages.grpo(total.reshape(-1, G))
    np.testing.assert_allclose(advantages, np.asarray(ours).reshape(-1), rtol=1e-5, atol=1e-5)


def test_grpo_step_component_functions_sum_and_log_names():
    parts = rd.integrations.tunix.component_reward_fns(
        _objective(), answer_key="solution", invalid_reward=INVALID
    )
    assert [p.__name__ for p in parts] == ["correct", "brier", "rest"]
    _, advantages, metrics = _run_step(parts)
    total, components = _reference()
    for name, expected in components.items():
        values, aggregate = metrics[f"rewards/{name}"]
        np.testing.assert_allclose(values, expected, rtol=1e-6, atol=1e-7)
        assert aggregate is np.mean
    np.testing.assert_allclose(metrics["rewards/sum"][0], total, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(advantages, _numpy_grpo(total), rtol=1e-5, atol=1e-6)


def test_compute_rewards_directly_returns_the_summed_float_array():
    # The exact call _generate_and_compute_advantage makes, on one flat batch.
    fn = rd.integrations.tunix.reward_fn(
        _objective(), answer_key="solution", invalid_reward=INVALID
    )
    learner = _learner(
        [
            fn,
            *rd.integrations.tunix.component_reward_fns(
                _objective(), answer_key="solution", invalid_reward=INVALID, name="split"
            ),
        ]
    )
    merged = rl_utils.merge_micro_batches(_repeated_micro_batches(learner, as_bytes=False))
    completions = [t for p in _prompts() for t, _ in COMPLETIONS[p]]
    rewards = learner._compute_rewards(
        prompts=list(merged["prompts"]),
        completions=completions,
        mode=rl_cluster_lib.Mode.TRAIN,
        **{k: v for k, v in merged.items() if k != "prompts"},
    )
    total, _ = _reference()
    assert isinstance(rewards, np.ndarray) and rewards.shape == (len(completions),)
    assert np.issubdtype(rewards.dtype, np.floating)
    # The total function plus the per-component ones: twice the total.
    np.testing.assert_allclose(rewards, 2 * total, rtol=1e-6, atol=1e-7)
    ((metrics, mode),) = learner.rl_cluster.metrics
    assert mode == rl_cluster_lib.Mode.TRAIN
    assert {
        "rewards/correct+brier",
        "rewards/split/correct",
        "rewards/split/brier",
        "rewards/split/rest",
    } <= set(metrics)


def test_reserved_tunix_metric_names_are_refused():
    # tunix logs its own aggregates under rewards/<sum|mean|min|max>; a reward
    # function named like one of them would overwrite it in the same dict.
    aggregates = reward_manager_lib._calculate_scalar_reward_log_metrics(np.zeros((1, 1)))
    reserved = {key.split("/", 1)[1] for key in aggregates}
    assert reserved == set(rd.integrations.tunix._RESERVED_NAMES)
    for word in sorted(reserved):
        with pytest.raises(ValueError, match="name"):
            rd.integrations.tunix.reward_fn(_objective(), name=word)
        # A one-term objective's default name is its term's name.
        with pytest.raises(ValueError, match="name"):
            rd.integrations.tunix.reward_fn(rd.compose(**{word: rd.terms.Correctness()}))
        with pytest.raises(ValueError, match="name"):
            rd.integrations.tunix.component_reward_fns(rd.compose(**{word: rd.terms.Correctness()}))
        # With a prefix the component's metric is rewards/<prefix>/<word>: fine.
        parts = rd.integrations.tunix.component_reward_fns(
            rd.compose(**{word: rd.terms.Correctness()}), name="rl"
        )
        assert parts[0].__name__ == f"rl/{word}"


def test_functions_survive_a_fresh_worker_process():
    # google-tunix 0.1.7 calls reward functions in the trainer process. tunix's
    # development branch adds reward_num_workers > 1: a forkserver pool that
    # pickles each function and calls it on slices of the batch (columns with
    # one entry per completion are sliced). Do the same with one worker.
    parts = rd.integrations.tunix.component_reward_fns(
        _objective(), answer_key="solution", invalid_reward=INVALID
    )
    fn = rd.integrations.tunix.reward_fn(
        _objective(), answer_key="solution", invalid_reward=INVALID
    )
    completions = [t for p in _prompts() for t, _ in COMPLETIONS[p]]
    solutions = np.repeat([s for mb in MICRO_BATCHES for s in mb["solution"]], G)
    total, components = _reference()
    n = len(completions)
    chunks = [slice(0, n // 2), slice(n // 2, n)]
    ctx = multiprocessing.get_context("forkserver")
    with ctx.Pool(processes=1) as pool:
        assert pool.apply(os.getpid) != os.getpid()
        # As tunix's pool does: the function itself is the pickled callable.
        jobs = [
            (
                f,
                pool.apply_async(
                    f,
                    kwds={
                        "prompts": list(np.repeat(_prompts(), G)[s]),
                        "completions": completions[s],
                        "solution": solutions[s],
                        "mode": "train",
                    },
                ),
            )
            for f in [fn, *parts]
            for s in chunks
        ]
        results = {}
        for f, job in jobs:
            results.setdefault(f.__name__, []).extend(job.get(timeout=300))
    np.testing.assert_allclose(results[fn.__name__], total, rtol=1e-6, atol=1e-7)
    for name, expected in components.items():
        np.testing.assert_allclose(results[name], expected, rtol=1e-6, atol=1e-7)
