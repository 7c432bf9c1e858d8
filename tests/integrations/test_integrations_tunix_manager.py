"""Our tunix reward functions inside tunix's own ``SequenceRewardManager``.

Skipped unless the ``tunix`` package (``google-tunix``) is importable. Only
``tunix/rl/reward_manager.py`` and its two small dependencies
(``algorithm_config``, ``function_registry``) are loaded: the package's
``__init__`` imports the whole training stack, so light parent packages are
registered in its place for the duration of the test.
"""

from __future__ import annotations

import importlib
import importlib.util
import pathlib
import sys
import types

import numpy as np
import pytest

import reward_design as rd

RLCR = rd.compose(correct=rd.terms.Correctness(), brier=rd.terms.Brier(weight=1.0))


@pytest.fixture
def reward_manager_module():
    spec = importlib.util.find_spec("tunix")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("tunix (google-tunix) is not installed")
    root = pathlib.Path(list(spec.submodule_search_locations)[0])
    saved = {k: v for k, v in sys.modules.items() if k == "tunix" or k.startswith("tunix.")}
    for name, path in (("tunix", root), ("tunix.rl", root / "rl")):
        module = types.ModuleType(name)
        module.__path__ = [str(path)]
        sys.modules[name] = module
    try:
        yield importlib.import_module("tunix.rl.reward_manager")
    finally:
        for k in [k for k in sys.modules if k == "tunix" or k.startswith("tunix.")]:
            del sys.modules[k]
        sys.modules.update(saved)


def _completion(answer, confidence):
    return f"<answer>{answer}</answer><confidence>{confidence}</confidence>"


def test_sequence_reward_manager_sums_our_functions(reward_manager_module):
    rm = reward_manager_module
    config = rm.algo_config_lib.AlgorithmConfig()
    completions = [_completion("4", 0.9), _completion("3", 0.4), "junk", _completion("4", 0.2)]
    batch = {"prompts": ["q"] * 4, "completions": completions, "answer": ["4"] * 4}

    total_fn = rd.integrations.tunix.reward_fn(RLCR)
    manager = rm.SequenceRewardManager(reward_fns=[total_fn], algo_config=config)
    info = manager(**batch, mode="train", question=["2+2?"] * 4)
    correct = np.array([1.0, 0.0, 1.0], np.float32)[:, None]
    conf = np.array([0.9, 0.4, 0.2], np.float32)[:, None]
    expected = np.asarray(RLCR(rd.Rollouts(correct=correct, confidence=conf)).total)[:, 0]
    np.testing.assert_allclose(
        info["rewards"], [expected[0], expected[1], -1.0, expected[2]], rtol=1e-6
    )
    assert f"rewards/{total_fn.__name__}" in info["log_metrics"]

    parts = rd.integrations.tunix.component_reward_fns(RLCR)
    manager = rm.SequenceRewardManager(reward_fns=parts, algo_config=config)
    split = manager(**batch, mode="train")
    np.testing.assert_allclose(split["rewards"], info["rewards"], rtol=1e-6)
    for fn in parts:
        assert f"rewards/{fn.__name__}" in split["log_metrics"]
