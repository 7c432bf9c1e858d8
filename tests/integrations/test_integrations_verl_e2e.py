"""Our verl reward functions inside an installed verl's reward path.

Slow and skipped unless ``verl`` (checked with 0.9.1) is importable; the
default CI environment does not install it. To run::

    python -m venv /tmp/venv-verl
    /tmp/venv-verl/bin/pip install -e ".[test]" torch==2.13.0 verl==0.9.1 \
        cachetools uvicorn fastapi
    /tmp/venv-verl/bin/python -m pytest tests/integrations/test_integrations_verl_e2e.py \
        -m slow -q -p no:cacheprovider

(verl 0.9.1's agent loop imports ``cachetools``, ``uvicorn`` and ``fastapi``
without declaring them; without them the agent-loop tests are skipped.)

What runs is verl's own code from a rolled-out batch to the token-level
reward tensor that PPO/GRPO trains on, as verl 0.9.1's trainer does it for a
``custom_reward_function``:

* the trainer config is composed by Hydra from verl's installed
  ``ppo_trainer.yaml`` with command-line style overrides
  (``reward.custom_reward_function.path=<our file>``, ``name=...``);
* ``RewardLoopManager(config)`` starts ``reward.num_workers``
  ``RewardLoopWorker`` Ray actors on a local Ray instance; each loads the
  tokenizer with verl's ``hf_tokenizer`` and our function with
  ``load_reward_manager`` -> ``get_custom_reward_fn`` ->
  ``load_extern_object``, and builds the registered ``naive`` manager;
* streaming (the path without a reward model): a real
  ``AgentLoopWorker(config, ..., reward_loop_worker_handles=<those actors>)``
  runs ``generate_sequences`` on a ``DataProto`` with ``raw_prompt``,
  ``data_source``, ``reward_model`` (``ground_truth``), ``extra_info``,
  ``uid`` and ``index``: per sample it pads prompt and response, has an actor
  score it (``NaiveRewardManager.run_single`` decodes the response with
  ``skip_special_tokens=True`` and calls our function from a thread pool),
  and ``_postprocess`` places each score on the last valid response token of
  ``rm_scores`` and collects ``reward_extra_info``;
* colocated (the path with a reward model enabled):
  ``RewardLoopManager.compute_rm_score`` pads the batch to a multiple of the
  number of actors, scores the chunks and builds ``rm_scores``;
* ``verl.trainer.ppo.reward.extract_reward`` returns, for each, what the
  trainer passes on to the advantage estimator.

Stand-ins: the LLM (a registered agent loop whose ``run`` returns fixed
token ids for each prompt instead of calling an inference server) and the
model files (a character-level Hugging Face tokenizer built with
``tokenizers`` plus a tiny ``LlamaConfig``, written to a temporary folder,
so nothing is downloaded).

verl 0.9.1's trainer no longer builds the managers in
``verl.workers.reward_manager`` (its reward loop registry has ``naive``,
``dapo``, ``gdpo``, ``rate_limited`` and ``remote``, no ``batch``); the
package still ships them, and the last test drives its ``NaiveRewardManager``
and ``BatchRewardManager`` (with ``compute_score_batch``) directly.

Expected rewards come from the RLCR formula written out in numpy, not from
the library: ``correct - w * (confidence - correct)^2`` for completions whose
answer and confidence parse, ``invalid_reward`` otherwise (components 0,
``confidence`` reported as -1).
"""

from __future__ import annotations

import asyncio
import os
import string
import threading

import numpy as np
import pytest

import reward_design as rd

verl = pytest.importorskip("verl")

import ray  # noqa: E402
import torch  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from verl import DataProto  # noqa: E402
from verl.experimental.reward_loop import (  # noqa: E402
    RewardLoopManager,
    RewardLoopWorker,
    migrate_legacy_reward_impl,
)
from verl.trainer.ppo import reward as verl_reward  # noqa: E402

pytestmark = pytest.mark.slow

PROMPT_LENGTH = 32
RESPONSE_LENGTH = 96
EXTRA_KEYS = {"score", "valid", "correct_match", "confidence", "in_update", "correct", "brier"}

# One GRPO batch: three prompts, two sampled completions each (rows in order),
# with the ground truth in the forms a verl dataset row can carry (a string,
# a list of acceptable answers, a number). Each completion carries
# (correct, confidence) as a human reads it, or None where it cannot be scored.
GROUPS = [
    (
        "What is 2+2?",
        "4",
        [
            ("<think>2+2=4</think><answer>4</answer><confidence>0.9</confidence>", (1.0, 0.9)),
            ("I am not sure, maybe five.", None),
        ],
    ),
    (
        "Capital of France?",
        ["Paris", "Paris, France"],
        [
            ("<answer>The Paris</answer> <confidence>0.6</confidence>", (1.0, 0.6)),
            # A confidence outside [0, 1] does not parse: unscorable under RLCR.
            ("<answer>Lyon</answer><confidence>1.7</confidence>", None),
        ],
    ),
    (
        "What is 6*7?",
        42,
        [
            ("<answer>41</answer><confidence>0.35</confidence>", (0.0, 0.35)),
            # RLCR reads the confidence: an answer without one cannot be scored.
            ("<answer>42</answer>", None),
        ],
    ),
]
ROWS = [
    (g, prompt, truth, text, judged)
    for g, (prompt, truth, completions) in enumerate(GROUPS)
    for text, judged in completions
]


def _reference(brier_weight, invalid):
    """Per row: total and each extra-info value, in numpy (float32 like the reward tensor)."""
    judged = [r[4] for r in ROWS]
    valid = np.array([j is not None for j in judged])
    c = np.array([j[0] if j else 0.0 for j in judged], np.float32)
    p = np.array([j[1] if j else 0.0 for j in judged], np.float32)
    brier = np.where(valid, -np.float32(brier_weight) * (p - c) ** 2, 0.0).astype(np.float32)
    correct = np.where(valid, c, 0.0).astype(np.float32)
    total = np.where(valid, correct + brier, np.float32(invalid)).astype(np.float32)
    info = {
        "score": total,
        "valid": valid.astype(np.float32),
        "correct_match": correct,
        "confidence": np.where(valid, p, -1.0),
        "in_update": np.ones(len(ROWS)),
        "correct": correct,
        "brier": brier,
    }
    return total, info


def _response_lengths():
    # The character tokenizer gives one token per character; the LLM stand-in
    # ends each response with EOS, as a sampled response does.
    return np.array([len(r[3]) + 1 for r in ROWS])


def _expected_reward_tensor(total):
    out = np.zeros((len(ROWS), RESPONSE_LENGTH), np.float32)
    out[np.arange(len(ROWS)), _response_lengths() - 1] = total
    return out


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A character-level HF tokenizer and a tiny model config, saved locally."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["<pad>", "</s>", *string.printable])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    path = tmp_path_factory.mktemp("char_model")
    PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>"
    ).save_pretrained(path)
    LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=8,
        intermediate_size=16,
        num_hidden_layers=1,
        num_attention_heads=1,
        architectures=["LlamaForCausalLM"],
    ).save_pretrained(path)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")  # local files only
        yield str(path)


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    from verl.utils import hf_tokenizer

    return hf_tokenizer(model_dir, trust_remote_code=True)


def _config(model_dir, *overrides):
    """The trainer config as ``python -m verl.trainer.main_ppo <overrides>`` composes it."""
    config_dir = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        return compose(
            config_name="ppo_trainer",
            overrides=[
                f"actor_rollout_ref.model.path={model_dir}",
                "actor_rollout_ref.rollout.name=vllm",
                f"actor_rollout_ref.rollout.prompt_length={PROMPT_LENGTH}",
                f"actor_rollout_ref.rollout.response_length={RESPONSE_LENGTH}",
                *overrides,
            ],
        )


def _our_file_overrides(name="compute_score", path=None, prefix="reward."):
    path = path or rd.integrations.verl.__file__
    return [
        f"{prefix}custom_reward_function.path={path}",
        f"{prefix}custom_reward_function.name={name}",
    ]


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray instance, as ``run_ppo`` starts one (no dashboard, CPU only)."""
    if ray.is_initialized():
        yield ray
        return
    # Logical CPUs: verl schedules each reward worker actor with one.
    ray.init(
        num_cpus=4,
        include_dashboard=False,
        runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1", "JAX_PLATFORMS": "cpu"}},
    )
    try:
        yield ray
    finally:
        ray.shutdown()


def _rollout_batch(agent_name):
    """The generation batch the trainer hands to the agent loop (non-tensor columns)."""
    n = len(ROWS)

    def column(values):
        out = np.empty(n, dtype=object)
        out[:] = values
        return out

    return DataProto.from_dict(
        non_tensors={
            "raw_prompt": column([[{"role": "user", "content": r[1]}] for r in ROWS]),
            "data_source": column(["rd_toy"] * n),
            "reward_model": column([{"ground_truth": r[2], "style": "rule"} for r in ROWS]),
            "extra_info": column([{"index": r[0], "split": "train"} for r in ROWS]),
            "uid": column([f"uid-{r[0]}" for r in ROWS]),
            "index": np.array([r[0] for r in ROWS]),
            "agent_name": column([agent_name] * n),
        },
        meta_info={"global_steps": 1, "validate": False},
    )


@pytest.fixture(scope="module")
def agent_loop():
    """verl's agent-loop module with a fixed-completion agent loop registered."""
    pytest.importorskip("cachetools", reason="verl 0.9.1's agent loop imports cachetools")
    pytest.importorskip("uvicorn", reason="verl 0.9.1's agent loop imports uvicorn")
    pytest.importorskip("fastapi", reason="verl 0.9.1's agent loop imports fastapi")
    from verl.experimental.agent_loop import agent_loop as al

    al.register("rd_fixed_completion")(FixedCompletionAgentLoop)
    return al


class FixedCompletionAgentLoop:
    """Stand-in for the LLM: the agent loop returns each row's fixed completion.

    Registered with verl's ``register`` (``_target_`` is this class), built by
    ``hydra.utils.instantiate`` in ``AgentLoopWorker._run_agent_loop`` with
    the trainer's tokenizer; the completion is looked up by prompt and by how
    many samples of that prompt were drawn already.
    """

    _lock = threading.Lock()
    _drawn: dict = {}

    def __init__(self, *args, tokenizer, **kwargs):
        self.tokenizer = tokenizer

    @classmethod
    def reset(cls):
        cls._drawn = {}

    async def run(self, sampling_params, **kwargs):
        from verl.experimental.agent_loop.agent_loop import AgentLoopMetrics, AgentLoopOutput

        prompt = kwargs["raw_prompt"][0]["content"]
        with self._lock:
            k = self._drawn.get(prompt, 0)
            self._drawn[prompt] = k + 1
        text = next(c for p, _, c in GROUPS if p == prompt)[k][0]
        prompt_ids = self.tokenizer.encode(prompt, add_special_tokens=False)
        response_ids = self.tokenizer.encode(text, add_special_tokens=False)
        response_ids.append(self.tokenizer.eos_token_id)
        return AgentLoopOutput(
            prompt_ids=prompt_ids,
            response_ids=response_ids,
            response_mask=[1] * len(response_ids),
            num_turns=2,
            metrics=AgentLoopMetrics(),
        )


def _rollout_and_reward(agent_loop, config):
    """The trainer's reward path, streaming and colocated, with verl's Ray reward workers.

    Returns the agent loop's output batch and, for each path, the
    ``(reward_tensor, reward_extra_info)`` that ``extract_reward`` gives.
    """
    FixedCompletionAgentLoop.reset()
    # As the trainer builds it: num_workers RewardLoopWorker actors, each
    # loading the tokenizer and our function from the config.
    manager = RewardLoopManager(config)
    handles = manager.reward_loop_worker_handles
    assert handles is not None and len(handles) == config.reward.num_workers
    # Streaming (rule-based reward without a reward model): each finished
    # sample is scored by a reward actor inside the agent loop.
    worker = agent_loop.AgentLoopWorker(config, llm_client=None, reward_loop_worker_handles=handles)
    output = asyncio.run(worker.generate_sequences(_rollout_batch("rd_fixed_completion")))
    streamed = verl_reward.extract_reward(output)
    # Colocated (compute_rm_score, used when a reward model is enabled): the
    # whole batch split over the actors.
    batch = output.select(batch_keys=["prompts", "responses", "attention_mask"])
    batch.non_tensor_batch.update(_rollout_batch("unused").non_tensor_batch)
    colocated = verl_reward.extract_reward(manager.compute_rm_score(batch))
    for actor in handles:
        ray.kill(actor)
    return output, streamed, colocated


def _check(output, reward_tensor, extra, brier_weight, invalid):
    total, info = _reference(brier_weight, invalid)
    # verl's own padding put each response where we expect it.
    lengths = output.batch["attention_mask"][:, PROMPT_LENGTH:].sum(-1).numpy()
    np.testing.assert_array_equal(lengths, _response_lengths())
    assert reward_tensor.dtype == torch.float32
    assert tuple(reward_tensor.shape) == (len(ROWS), RESPONSE_LENGTH)
    np.testing.assert_allclose(
        reward_tensor.numpy(), _expected_reward_tensor(total), rtol=1e-6, atol=1e-7
    )
    assert set(extra) == EXTRA_KEYS
    for key, expected in info.items():
        got = np.asarray(extra[key], dtype=np.float64)
        assert got.shape == (len(ROWS),), key
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7, err_msg=key)


# ------------------------------------------------------------------- tests
def test_trainer_reward_path_with_our_module(agent_loop, model_dir, ray_cluster):
    # Four actors for six samples: compute_rm_score pads the batch to 8 and drops the padding.
    config = _config(model_dir, *_our_file_overrides(), "reward.num_workers=4")
    output, streamed, colocated = _rollout_and_reward(agent_loop, config)
    _check(output, *streamed, brier_weight=1.0, invalid=-1.0)
    _check(output, *colocated, brier_weight=1.0, invalid=-1.0)
    # Our keys become batch columns next to the dataset's and the agent
    # loop's: the adapter refuses component names that would collide.
    verl_columns = set(_rollout_batch("x").non_tensor_batch) | (
        set(output.non_tensor_batch) - EXTRA_KEYS
    )
    assert verl_columns <= set(rd.integrations.verl._VERL_COLUMNS), verl_columns


def test_trainer_reward_path_with_a_user_file_and_reward_kwargs(
    agent_loop, model_dir, ray_cluster, tmp_path
):
    # The documented "your own objective" file, plus reward_kwargs that verl
    # merges into every call (our functions accept and ignore them).
    user_file = tmp_path / "my_reward.py"
    user_file.write_text(
        "import reward_design as rd\n\n"
        "compute_score = rd.integrations.verl.make_compute_score(\n"
        "    rd.compose(correct=rd.terms.Correctness(), brier=rd.terms.Brier(weight=0.5)),\n"
        "    invalid_reward=-2.5,\n"
        ")\n"
    )
    config = _config(
        model_dir,
        *_our_file_overrides(path=str(user_file)),
        "reward.num_workers=1",
        "+reward.custom_reward_function.reward_kwargs.note=unused",
        "+reward.custom_reward_function.reward_kwargs.scale=3",
    )
    kwargs = dict(config.reward.custom_reward_function.reward_kwargs)
    assert kwargs == {"note": "unused", "scale": 3}
    output, streamed, colocated = _rollout_and_reward(agent_loop, config)
    _check(output, *streamed, brier_weight=0.5, invalid=-2.5)
    _check(output, *colocated, brier_weight=0.5, invalid=-2.5)


def test_reward_worker_in_process_with_reward_router_kwargs(model_dir, tokenizer):
    # With a reward-model router, verl's naive manager also passes
    # reward_router_address= and reward_model_tokenizer= to the function.
    config = _config(model_dir, *_our_file_overrides())
    worker = RewardLoopWorker(config, reward_router_address="127.0.0.1:9")
    manager = worker.reward_manager
    # verl picked its registered naive manager and wrapped our file's function.
    assert type(manager).__name__ == "NaiveRewardManager"
    assert manager.compute_score.func is verl_reward._call_with_kwargs
    raw = manager.compute_score.args[0]
    assert raw.__name__ == "compute_score"
    assert raw.__code__.co_filename == rd.integrations.verl.__file__
    results = worker.loop.run_until_complete(worker.compute_score_batch(_padded_batch(tokenizer)))
    total, info = _reference(1.0, -1.0)
    np.testing.assert_allclose([r["reward_score"] for r in results], total, rtol=1e-6, atol=1e-7)
    for key, expected in info.items():
        got = [r["reward_extra_info"][key] for r in results]
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7, err_msg=key)


def test_component_names_that_collide_with_verl_columns_are_refused(
    agent_loop, model_dir, ray_cluster, tmp_path
):
    # Without the check, verl 0.9.1's agent loop writes its "extras" column
    # after the reward keys: a component of that name would be replaced by
    # None with no error. Show that with a term of another name renamed by
    # hand in the dict our function returns.
    user_file = tmp_path / "renamed.py"
    user_file.write_text(
        "import reward_design as rd\n\n"
        "_fn = rd.integrations.verl.make_compute_score()\n\n\n"
        "def compute_score(**kwargs):\n"
        "    out = _fn(**kwargs)\n"
        "    out['extras'] = out.pop('correct')\n"
        "    return out\n"
    )
    config = _config(model_dir, *_our_file_overrides(path=str(user_file)), "reward.num_workers=1")
    _, streamed, _ = _rollout_and_reward(agent_loop, config)
    assert list(streamed[1]["extras"]) == [None] * len(ROWS)
    for name in rd.integrations.verl._VERL_COLUMNS:
        objective = rd.compose(**{name: rd.terms.Correctness(), "brier": rd.terms.Brier()})
        with pytest.raises(ValueError, match=name):
            rd.integrations.verl.make_compute_score(objective)
        with pytest.raises(ValueError, match=name):
            rd.integrations.verl.make_compute_score(objective, batched=True)


def test_config_keys_that_reach_our_function(model_dir):
    # verl 0.9.1's main_ppo reads reward.custom_reward_function.* only.
    fn = verl_reward.get_custom_reward_fn(_config(model_dir, *_our_file_overrides()))
    got = fn(data_source="d", solution_str=ROWS[0][3], ground_truth="4", extra_info={})
    total, _ = _reference(1.0, -1.0)
    assert got["score"] == pytest.approx(float(total[0]), rel=1e-6)
    # The pre-0.9 top-level keys are still in its config but unused there; the
    # fully-async entry point migrates them with migrate_legacy_reward_impl.
    legacy = _config(model_dir, *_our_file_overrides(prefix=""))
    assert verl_reward.get_custom_reward_fn(legacy) is None
    migrated = migrate_legacy_reward_impl(legacy)
    assert verl_reward.get_custom_reward_fn(migrated) is not None
    # The trainer's reward loop has no "batch" manager in 0.9.1.
    with pytest.raises(ValueError, match="batch"):
        verl_reward.resolve_reward_manager_cls(
            _config(model_dir, *_our_file_overrides(), "reward.reward_manager.name=batch")
        )


def _padded_batch(tokenizer):
    """prompts left-padded, responses right-padded, as verl's rollout lays them out."""
    pad = tokenizer.pad_token_id
    n = len(ROWS)
    prompts = torch.full((n, PROMPT_LENGTH), pad, dtype=torch.long)
    responses = torch.full((n, RESPONSE_LENGTH), pad, dtype=torch.long)
    mask = torch.zeros((n, PROMPT_LENGTH + RESPONSE_LENGTH), dtype=torch.long)
    for i, (_, prompt, _, text, _) in enumerate(ROWS):
        p = tokenizer.encode(prompt, add_special_tokens=False)
        r = tokenizer.encode(text, add_special_tokens=False) + [tokenizer.eos_token_id]
        prompts[i, PROMPT_LENGTH - len(p) :] = torch.tensor(p)
        responses[i, : len(r)] = torch.tensor(r)
        mask[i, PROMPT_LENGTH - len(p) : PROMPT_LENGTH + len(r)] = 1
    non_tensor = _rollout_batch("unused").non_tensor_batch
    non_tensor.pop("agent_name")
    return DataProto.from_dict(
        tensors={
            "prompts": prompts,
            "responses": responses,
            "input_ids": torch.cat([prompts, responses], dim=1),
            "attention_mask": mask,
        },
        non_tensors=non_tensor,
    )


@pytest.mark.parametrize("manager_name", ["naive", "batch"])
def test_legacy_reward_managers_shipped_with_verl(model_dir, tokenizer, manager_name):
    from verl.workers.reward_manager import get_reward_manager_cls

    fn_name = "compute_score_batch" if manager_name == "batch" else "compute_score"
    fn = verl_reward.get_custom_reward_fn(_config(model_dir, *_our_file_overrides(fn_name)))
    manager = get_reward_manager_cls(manager_name)(
        tokenizer=tokenizer, num_examine=0, compute_score=fn
    )
    data = _padded_batch(tokenizer)
    out = manager(data, return_dict=True)
    total, info = _reference(1.0, -1.0)
    np.testing.assert_allclose(
        out["reward_tensor"].numpy(), _expected_reward_tensor(total), rtol=1e-6, atol=1e-7
    )
    assert set(out["reward_extra_info"]) == EXTRA_KEYS
    for key, expected in info.items():
        got = np.asarray(out["reward_extra_info"][key], dtype=np.float64)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7, err_msg=key)
    if manager_name == "batch":
        np.testing.assert_allclose(data.batch["acc"].numpy(), total, rtol=1e-6)
