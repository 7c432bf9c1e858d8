"""`reward-design reproduce all` with stand-in studies registered for the test."""

import json
import sys
import types

import pytest

from reward_design import experiments
from reward_design.experiments import _summary
from reward_design.experiments._common import metric_summary, write_json


def _fake_study(name, values, fail=False):
    module = types.ModuleType(f"fake_{name}")
    module.DESCRIPTION = f"fake {name}"

    def add_arguments(parser):
        parser.add_argument("--quick", action="store_true")
        parser.add_argument("--out", default=None)
        parser.add_argument("--seeds", type=int, default=5)

    def run(args):
        if fail:
            return 3
        seeds = 3 if args.quick else args.seeds
        write_json(
            f"{args.out}/{name}.json",
            {
                "experiment": name,
                "config": {"quick": args.quick, "seeds": seeds},
                "arms": {"a": {"m": metric_summary(values[:seeds])}},
            },
        )
        return 0

    module.add_arguments = add_arguments
    module.run = run
    return module


@pytest.fixture
def fake_registry(monkeypatch):
    modules = {
        "one": _fake_study("one", [1.0, 2.0, 3.0, 4.0, 5.0]),
        "two": _fake_study("two", [0.5, 0.5, 0.5]),
    }
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, f"fake_{name}", module)
    monkeypatch.setattr(experiments, "available_studies", lambda: {n: f"fake_{n}" for n in modules})
    monkeypatch.setattr(_summary, "available_studies", lambda: {n: f"fake_{n}" for n in modules})
    monkeypatch.setattr(_summary, "load_study", lambda n: modules[n])
    return modules


def test_run_all_writes_combined_summary(tmp_path, fake_registry):
    assert _summary.run_all(out=str(tmp_path), quick=True) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    rows = {(r["study"], r["arm"], r["metric"]): r for r in summary["rows"]}
    assert rows[("one", "a", "m")]["mean"] == pytest.approx(2.0)  # quick: first 3 seeds
    assert rows[("one", "a", "m")]["n"] == 3
    assert rows[("two", "a", "m")]["ci95"] == [0.5, 0.5]
    assert "| one | a | m | 2 |" in (tmp_path / "summary.md").read_text()


def test_seeds_flag_reaches_each_study(tmp_path, fake_registry):
    assert _summary.run_all(out=str(tmp_path), seeds=4) == 0
    one = json.loads((tmp_path / "one" / "one.json").read_text())
    assert one["config"]["seeds"] == 4 and one["arms"]["a"]["m"]["mean"] == pytest.approx(2.5)


def test_failing_study_is_reported(tmp_path, fake_registry, monkeypatch):
    fake_registry["two"] = _fake_study("two", [1.0], fail=True)
    assert _summary.run_all(out=str(tmp_path), quick=True) == 1
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["failures"] == {"two": "exit code 3"}
    assert {r["study"] for r in summary["rows"]} == {"one"}
