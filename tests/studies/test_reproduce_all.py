"""``reward-design reproduce all`` with stand-in studies."""

import dataclasses
import json

import pytest

from reward_design_studies.harness import Study, StudyConfig, metric_summary, run_all


@dataclasses.dataclass(frozen=True)
class FakeConfig(StudyConfig):
    QUICK = {"seeds": 3}


def _fake_study(name, values, fail=False):
    def run(config, show_progress):
        if fail:
            raise RuntimeError("boom")
        return {
            "experiment": name,
            "config": config.to_dict(),
            "arms": {"a": {"m": metric_summary(values[: config.seeds])}},
            "comparisons": {},
            "metadata": {},
            "timings_s": {"total_s": 0.0},
        }

    return Study(
        name=name,
        description=f"fake {name}",
        config_cls=FakeConfig,
        run=run,
        table=lambda r: "| arm |\n|---|\n| a |",
        plot=lambda r, out_dir: [],
        headline=lambda r: f"m = {r['arms']['a']['m']['mean']:.2f}",
    )


@pytest.fixture
def studies():
    return {
        "one": _fake_study("one", [1.0, 2.0, 3.0, 4.0, 5.0]),
        "two": _fake_study("two", [0.5, 0.5, 0.5]),
    }


def test_run_all_writes_combined_summary(tmp_path, studies, capsys):
    assert run_all(out=tmp_path, quick=True, studies=studies) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    rows = {(r["study"], r["arm"], r["metric"]): r for r in summary["rows"]}
    assert rows[("one", "a", "m")]["mean"] == pytest.approx(2.0)  # quick: 3 seeds
    assert rows[("one", "a", "m")]["n"] == 3
    assert rows[("two", "a", "m")]["ci95"] == [0.5, 0.5]
    assert summary["headlines"] == {"one": "m = 2.00", "two": "m = 0.50"}
    assert summary["files"]["one"] == [str(tmp_path / "one" / f) for f in ("one.json", "one.md")]
    text = (tmp_path / "summary.md").read_text()
    assert "- **one** (3 seeds): m = 2.00" in text
    assert "| one   | a   | m      | 2.0000 [" in text
    out = capsys.readouterr().out
    assert "one: m = 2.00" in out and f"    {tmp_path / 'two' / 'two.json'}" in out
    assert str(tmp_path / "summary.json") in out


def test_seeds_flag_reaches_each_study(tmp_path, studies):
    assert run_all(out=tmp_path, seeds=4, studies=studies) == 0
    one = json.loads((tmp_path / "one" / "one.json").read_text())
    assert one["config"]["seeds"] == 4 and one["arms"]["a"]["m"]["mean"] == pytest.approx(2.5)
    assert one["config"]["mode"] == "full"


def test_failing_study_is_reported_and_the_others_run(tmp_path, studies):
    studies = {"bad": _fake_study("bad", [1.0], fail=True), **studies}
    assert run_all(out=tmp_path, quick=True, studies=studies) == 1
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["failures"] == {"bad": "RuntimeError: boom"}
    assert {r["study"] for r in summary["rows"]} == {"one", "two"}
    assert "- **bad**: FAILED (RuntimeError: boom)" in (tmp_path / "summary.md").read_text()
