"""The scripts under examples/ run as documented.

The quick ones run in this process (their ``main``); the TRL recipe, which must
set ``JAX_PLATFORMS`` before JAX loads, and the full audit run in a fresh
interpreter and are slow.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(script: str):
    path = EXAMPLES / script
    spec = importlib.util.spec_from_file_location(f"example_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_main(script: str, *args: str, capsys) -> str:
    module = load_example(script)
    assert (module.main(list(args)) if args else module.main()) == 0
    return capsys.readouterr().out


def run_example(script: str, *args: str, cwd: Path, timeout: int = 600) -> str:
    env = dict(os.environ, JAX_PLATFORMS="cpu", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_gates_walkthrough(capsys):
    out = run_main("gates_walkthrough.py", capsys=capsys)
    # the dense arm's advantages of prompt 1, as docs/gates.md's table
    assert "advantage [+0.781 +0.598 +0.046 -1.425]" in out
    assert "gate/groups_degenerate=0.50" in out
    assert "pass rate by threshold: {1.0: 1.0, 2.0: 0.875, 3.0: 0.75, 4.0: 0.25}" in out


def test_audit_example_expected_reward(capsys):
    out = run_main("audit_your_reward.py", "--estimators", "none", capsys=capsys).splitlines()
    verdicts = {line.split()[0]: line for line in out if not line.startswith(" ")}
    assert "calibrated=True  accuracy-preserving=True" in verdicts["rlcr"]
    assert "calibrated=False" in verdicts["confidence_bonus"]
    assert "calibrated=True  accuracy-preserving=False" in verdicts["heavy_brier"]


def test_tunix_example_scores_like_tunix(capsys):
    out = run_main("tunix_grpo_rlcr.py", capsys=capsys)
    assert "sum (the reward) [0.99, -0.36, -1.0, -1.0]" in out


def test_verl_reward_file_and_data(tmp_path, monkeypatch, capsys):
    module = load_example("verl/rlcr_reward.py")
    score = module.compute_score(
        "rlcr_addition", "<answer>42.0</answer><confidence>0.8</confidence>", "42", {}
    )
    assert score["valid"] == 1.0 and score["correct_match"] == 1.0
    assert score["score"] == pytest.approx(1 - 0.2**2, abs=1e-6)
    pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    monkeypatch.chdir(tmp_path)
    run_main("verl/prepare_data.py", "--out", "data", "--train", "3", "--test", "2", capsys=capsys)
    import pandas as pd

    rows = pd.read_parquet(tmp_path / "data" / "train.parquet")
    assert len(rows) == 3
    question = rows.iloc[0]["prompt"][1]["content"]
    a, b = (int(x) for x in question.removeprefix("What is ").removesuffix("?").split(" + "))
    assert rows.iloc[0]["reward_model"]["ground_truth"] == str(a + b)


@pytest.mark.slow
def test_audit_example_all_estimators(tmp_path):
    out = run_example("audit_your_reward.py", cwd=tmp_path)
    lines = [line for line in out.splitlines() if line.startswith("rlcr ")]
    # correctness + Brier: not calibrated under std-scaled GRPO, calibrated otherwise
    assert [("calibrated=True" in line) for line in lines] == [True, False, True, True]


@pytest.mark.slow
def test_trl_recipe_runs_offline(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("trl")
    pytest.importorskip("datasets")
    # offline (run_example sets HF_HUB_OFFLINE): the default model downloads nothing
    out = run_example("trl_grpo_rlcr.py", "--steps", "2", "--output-dir", "out", cwd=tmp_path)
    table = out[out.index("step  reward") :].splitlines()[1:3]
    assert [row.split()[0] for row in table] == ["1", "2"]
    valid = np.array([float(row.split()[2]) for row in table])
    assert ((0 <= valid) & (valid <= 1)).all()
