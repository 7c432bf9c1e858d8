"""The studies' harness: statistics, results schema, tables, plots, config and CLI."""

import argparse
import dataclasses
import json

import numpy as np
import pytest
from fresh_interpreter import modules_loaded_by, run_python
from scipy import stats

from reward_design_studies import STUDIES, available_studies
from reward_design_studies.harness import (
    Study,
    StudyConfig,
    arms_table,
    bootstrap_ci,
    check_results,
    compare_arms,
    comparisons_table,
    execute,
    format_cell,
    markdown_table,
    mean_ci,
    metric_summary,
    paired_difference_ci,
    plots,
    progress,
    read_json,
    run_study,
    summarise_arms,
    write_json,
)
from reward_design_studies.harness.config import check_int

# --------------------------------------------------------------------------- stats


def test_mean_ci_matches_scipy_t_interval():
    x = np.array([0.3, 0.5, 0.2, 0.9, 0.4])
    got = mean_ci(x, level=0.9)
    lo, hi = stats.t.interval(0.9, df=4, loc=x.mean(), scale=stats.sem(x))
    assert got["mean"] == pytest.approx(x.mean())
    assert (got["low"], got["high"]) == (pytest.approx(lo), pytest.approx(hi))
    assert got["std"] == pytest.approx(np.std(x, ddof=1)) and got["n"] == 5


def test_mean_ci_single_value_and_bad_input():
    assert mean_ci([2.0]) == {"mean": 2.0, "low": 2.0, "high": 2.0, "std": 0.0, "n": 1}
    with pytest.raises(ValueError, match="values"):
        mean_ci([])
    with pytest.raises(ValueError, match="values"):
        mean_ci(np.ones((2, 2)))
    with pytest.raises(ValueError, match="level"):
        mean_ci([1.0, 2.0], level=1.5)


def test_metric_summary_cell():
    cell = metric_summary(np.array([1.0, 2.0, 3.0], dtype=np.float32))
    lo, hi = stats.t.interval(0.95, df=2, loc=2.0, scale=stats.sem([1.0, 2.0, 3.0]))
    assert cell["mean"] == 2.0 and cell["ci95"] == [pytest.approx(lo), pytest.approx(hi)]
    assert cell["per_seed"] == [1.0, 2.0, 3.0]
    assert all(type(v) is float for v in cell["per_seed"])


def test_paired_difference_matches_scipy_ttest_rel():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=8), rng.normal(size=8)
    got = paired_difference_ci(a, b)
    ref = stats.ttest_rel(a, b)
    lo, hi = ref.confidence_interval(0.95)
    assert got["mean"] == pytest.approx(np.mean(a - b))
    assert (got["low"], got["high"]) == (pytest.approx(lo), pytest.approx(hi))
    assert got["p_value"] == pytest.approx(ref.pvalue)
    # Identical arms: the difference is exactly 0 and no p-value is reported.
    same = paired_difference_ci(a, a)
    assert same["mean"] == 0.0 and np.isnan(same["p_value"])
    with pytest.raises(ValueError, match="paired"):
        paired_difference_ci([1.0, 2.0], [1.0])


def test_bootstrap_ci_matches_a_numpy_resampling():
    x = np.arange(20.0)
    got = bootstrap_ci(x, num_resamples=500, level=0.8, seed=3)
    idx = np.random.default_rng(3).integers(0, 20, size=(500, 20))
    boot = x[idx].mean(axis=1)
    assert got["estimate"] == pytest.approx(9.5)
    assert got["low"] == pytest.approx(np.quantile(boot, 0.1))
    assert got["high"] == pytest.approx(np.quantile(boot, 0.9))
    with pytest.raises(ValueError, match="values"):
        bootstrap_ci(np.array([]))


def test_summarise_and_compare_arms():
    per_seed = {"a": {"m": [1.0, 2.0, 4.0]}, "b": {"m": [0.0, 1.0, 1.0]}}
    arms = summarise_arms(per_seed)
    assert arms["a"]["m"] == metric_summary([1.0, 2.0, 4.0])
    comp = compare_arms(per_seed, [("a", "b")])
    assert comp["a - b"]["m"] == paired_difference_ci([1.0, 2.0, 4.0], [0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="'c'"):
        compare_arms(per_seed, [("a", "c")])


# --------------------------------------------------------------------------- results


def _results(**changes):
    base = {
        "experiment": "toy",
        "config": {"seeds": 2},
        "arms": {"a": {"m": metric_summary([1.0, 2.0])}, "b": {"m": metric_summary([0.0, 1.0])}},
        "comparisons": {"a - b": {"m": paired_difference_ci([1.0, 2.0], [0.0, 1.5])}},
        "metadata": {},
        "timings_s": {"total_s": 1.5},
        "plots": [],
    }
    base.update(changes)
    return base


def test_check_results_accepts_the_schema_and_extra_keys():
    check_results(_results(sweep=[1, 2], diagnostics={"x": 1}))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"arms": None}, "'arms'"),
        ({"experiment": 3}, "'experiment'"),
        ({"arms": {}}, "at least one arm"),
        ({"arms": {"a": {"m": 0.5}}}, r"'arms'\]\['a'\]\['m'\]"),
        ({"arms": {"a": {"m": {"mean": 1, "ci95": [0], "per_seed": [1]}}}}, "ci95"),
        ({"arms": {"a": [1]}}, r"'arms'\]\['a'\]"),
        ({"comparisons": {"a - b": {"m": {"mean": 1.0}}}}, "'low', 'high'"),
        ({"timings_s": {"x": "slow"}}, r"'timings_s'\]\['x'\]"),
        ({"plots": ["/abs/a.png"]}, "relative"),
    ],
)
def test_check_results_names_the_bad_key(changes, message):
    with pytest.raises(ValueError, match=message):
        check_results(_results(**changes))


def test_check_results_missing_key():
    results = _results()
    del results["timings_s"]
    with pytest.raises(ValueError, match="'timings_s'"):
        check_results(results)


def test_write_json_is_strict_json(tmp_path):
    data = {"a": np.arange(3), "b": np.float32(0.5), "nan": float("nan"), "inf": np.inf, "t": (1,)}
    path = write_json(tmp_path / "sub" / "x.json", data)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert read_json(path) == {"a": [0, 1, 2], "b": 0.5, "nan": None, "inf": "inf", "t": [1]}


# --------------------------------------------------------------------------- tables


def test_markdown_table_splits_to_fit_100_columns():
    header = ["arm"] + [f"metric_{i}" for i in range(6)]
    cells = [metric_summary([-0.5, -0.25, -0.125])] * 6
    rows = [["symmetric_posthoc_uncalibrated", *cells], ["b", *cells]]
    text = markdown_table(header, rows)
    assert max(len(line) for line in text.splitlines()) <= 100
    parts = text.split("\n\n")
    assert len(parts) > 1
    columns = [part.splitlines()[0] for part in parts]
    assert all(c.startswith("| arm ") for c in columns)  # the key column repeats
    named = [f"metric_{i}" for i in range(6)]
    assert [m for c in columns for m in named if f" {m} " in c] == named  # each column once
    for part in parts:
        lines = part.splitlines()
        assert len({len(line) for line in lines}) == 1  # aligned
        assert set(lines[1]) <= {"|", "-"} and len(lines) == 4


def test_markdown_table_bad_rows():
    with pytest.raises(ValueError, match="2 cells"):
        markdown_table(["a", "b"], [[1]])
    with pytest.raises(ValueError, match="key_columns"):
        markdown_table(["a"], [[1]], key_columns=1)


def test_format_cell_kinds():
    assert format_cell(metric_summary([1.0, 1.0])) == "1.000 [1.000, 1.000]"
    comp = {"mean": 0.25, "low": -0.5, "high": 1.0}
    assert format_cell(comp, digits=2, signed=True) == "+0.25 [-0.50, +1.00]"
    assert format_cell(3) == "3" and format_cell(0.12345, 2) == "0.12" and format_cell("x") == "x"
    assert format_cell({"mean": None, "low": None, "high": None}) == "nan [nan, nan]"


def test_arms_and_comparisons_tables():
    results = _results()
    text = arms_table(results)
    assert [c.strip() for c in text.splitlines()[0].split("|")[1:-1]] == ["arm", "m"]
    assert "| a   | 1.500 [" in text
    comp = comparisons_table(results, digits=2)
    assert "| a - b      | +0.75 [" in comp
    assert max(len(line) for line in (text + "\n" + comp).splitlines()) <= 100


# --------------------------------------------------------------------------- config


@dataclasses.dataclass(frozen=True)
class ToyConfig(StudyConfig):
    QUICK = {"steps": 10, "seeds": 2}

    seeds: int = 4
    steps: int = 100

    def __post_init__(self):
        super().__post_init__()
        if self.steps <= 0:
            raise ValueError(f"steps must be positive; got {self.steps}.")


def test_study_config_modes():
    full, quick = ToyConfig.full(), ToyConfig.quick()
    assert (full.seeds, full.steps, full.is_quick, full.mode) == (4, 100, False, "full")
    assert (quick.seeds, quick.steps, quick.is_quick, quick.mode) == (2, 10, True, "quick")
    assert ToyConfig.quick(seeds=7).seeds == 7 and ToyConfig.full(seeds=3).seeds == 3
    assert ToyConfig(seeds=3, seed_offset=10).seed_list == [10, 11, 12]
    assert full.to_dict() == {"seeds": 4, "seed_offset": 0, "mode": "full", "steps": 100}
    assert full.replace(steps=5).steps == 5
    with pytest.raises(ValueError, match="seeds"):
        ToyConfig(seeds=0)
    with pytest.raises(ValueError, match="mode"):
        ToyConfig(mode="fast")
    with pytest.raises(ValueError, match="seed_offset"):
        ToyConfig(seed_offset=-1)
    with pytest.raises(ValueError, match="steps"):
        full.replace(steps=0)


@dataclasses.dataclass(frozen=True)
class _Component:
    steps: int
    width: int = 3


def test_study_config_part_takes_the_fields_of_the_same_names():
    part = ToyConfig(steps=7).part(_Component)
    assert part == _Component(steps=7, width=3)  # width: not a config field, its default


@pytest.mark.parametrize(
    "value, minimum, message",
    [
        (0, 1, "n must be a positive integer; got 0."),
        (True, 1, "n must be a positive integer; got True."),
        (2.0, 1, "n must be a positive integer; got 2.0."),
        (-1, 0, "n must be a non-negative integer; got -1."),
        (2, 3, "n must be an integer >= 3; got 2."),
    ],
)
def test_check_int_names_the_field(value, minimum, message):
    with pytest.raises(ValueError) as error:
        check_int(value, "n", minimum)
    assert str(error.value) == message
    check_int(minimum, "n", minimum)


# --------------------------------------------------------------------------- plots, progress


def test_plots_write_a_png_without_pyplot(tmp_path):
    fig, axes = plots.new_figure(1, 2, width=3, height=2)
    assert axes.shape == (1, 2)
    cells = [metric_summary([v, v + 1.0, v + 0.5]) for v in (0.0, 1.0, 2.0)]
    plots.plot_cells(axes[0, 0], [1, 2, 3], cells, label="band")
    comp = [{"mean": 0.1, "low": 0.0, "high": 0.2}] * 3
    plots.plot_cells(axes[0, 1], [1, 2, 3], comp, label="bars", kind="errorbar")
    path = plots.save(fig, tmp_path / "f" / "x.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="kind"):
        plots.plot_cells(axes[0, 0], [1], cells[:1], kind="pie")
    with pytest.raises(ValueError, match="same length"):
        plots.plot_cells(axes[0, 0], [1, 2], cells[:1])


def test_progress_disabled_is_a_noop(capsys):
    with progress(False, total=3, description="x") as bars:
        bars.advance(2)
        bars.add("y", total=1).advance()
    assert capsys.readouterr() == ("", "")


# --------------------------------------------------------------------------- study flow


def _toy_run(config, show_progress):
    per_seed = {
        "a": {"m": [1.0 + s for s in config.seed_list]},
        "b": {"m": [0.5 * s for s in config.seed_list]},
    }
    return {
        "experiment": "toy",
        "config": config.to_dict(),
        "arms": summarise_arms(per_seed),
        "comparisons": compare_arms(per_seed, [("a", "b")]),
        "metadata": {},
        "timings_s": {"total_s": 0.0},
    }


def _toy_plot(results, out_dir):
    fig, axes = plots.new_figure()
    plots.plot_cells(axes[0, 0], [0], [results["arms"]["a"]["m"]])
    return [plots.save(fig, out_dir / "toy.png")]


def _toy_options(parser):
    parser.add_argument("--steps", type=int, default=None)


def _toy_config(args):
    config = ToyConfig.quick(args.seeds) if args.quick else ToyConfig.full(args.seeds)
    return config.replace(steps=args.steps) if args.steps else config


TOY = Study(
    name="toy",
    description="a toy study",
    config_cls=ToyConfig,
    run=_toy_run,
    table=lambda r: arms_table(r) + "\n\n" + comparisons_table(r),
    plot=_toy_plot,
    headline=lambda r: f"a - b = {r['comparisons']['a - b']['m']['mean']:+.2f}",
    add_arguments=_toy_options,
    config_from_args=_toy_config,
)


def _toy_parser():
    from reward_design_studies.harness import add_common_arguments

    parser = argparse.ArgumentParser()
    add_common_arguments(parser, TOY)
    return parser


def test_study_arguments_and_config():
    parser = _toy_parser()
    args = parser.parse_args(["--quick", "--steps", "7", "--out", "d", "--no-plots"])
    assert (args.quick, args.out, args.no_plots, args.seeds) == (True, "d", True, None)
    assert TOY.make_config(args) == ToyConfig(seeds=2, steps=7, mode="quick")
    assert TOY.make_config(parser.parse_args(["--seeds", "3"])) == ToyConfig(seeds=3)
    with pytest.raises(ValueError, match="identifier"):
        dataclasses.replace(TOY, name="not a name")
    with pytest.raises(TypeError, match="StudyConfig"):
        dataclasses.replace(TOY, config_cls=dict)


def test_run_study_writes_json_markdown_plots(tmp_path, capsys):
    args = _toy_parser().parse_args(["--quick", "--out", str(tmp_path)])
    assert run_study(TOY, args) == 0
    out = capsys.readouterr().out
    results = json.loads((tmp_path / "toy.json").read_text())
    check_results(results)
    assert results["plots"] == ["toy.png"] and (tmp_path / "toy.png").exists()
    assert results["config"]["mode"] == "quick" and results["config"]["steps"] == 10
    table = (tmp_path / "toy.md").read_text()
    assert table.strip() in out and "toy: a - b = +1.25" in out
    assert str(tmp_path / "toy.json") in out
    assert f"  {tmp_path / 'toy.png'}" in out.splitlines()
    assert max(len(line) for line in out.splitlines() if str(tmp_path) not in line) <= 100


def test_execute_without_plots_and_bad_config(tmp_path, capsys):
    output = execute(TOY, ToyConfig(seeds=2), tmp_path, plots=False)
    assert output.results["plots"] == [] and output.plot_paths == []
    assert output.paths == [tmp_path / "toy.json", tmp_path / "toy.md"]
    args = _toy_parser().parse_args(["--seeds", "0", "--out", str(tmp_path / "x")])
    assert run_study(TOY, args) == 2
    assert "seeds must be a positive integer" in capsys.readouterr().err


# --------------------------------------------------------------------------- registry, CLI


def test_registry_lists_the_three_studies():
    assert list(STUDIES)[:3] == ["misaligned", "calibration", "gating"]
    assert set(available_studies()) <= set(STUDIES)


def test_cli_parses_common_and_study_options():
    from reward_design.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["reproduce", "all", "--quick", "--out", "x", "--seeds", "2"])
    assert (args.study, args.quick, args.out, args.seeds, args.no_plots) == (
        "all",
        True,
        "x",
        2,
        False,
    )
    assert parser.parse_args(["reproduce", "all"]).out == "results"
    with pytest.raises(SystemExit):
        parser.parse_args(["reproduce", "no_such_study"])


def test_cli_parser_imports_no_plotting_or_progress_packages():
    code = (
        "import argparse\n"
        "from reward_design_studies import cli\n"
        "p = argparse.ArgumentParser(); cli.register(p.add_subparsers())\n"
    )
    assert modules_loaded_by(code, ("matplotlib", "rich", "mnist1d")) == []


def test_cli_module_needs_the_studies_extra():
    code = (
        "import sys\n"
        "sys.modules['mnist1d'] = None\n"  # as if the extra were not installed
        "import importlib.util\n"
        "real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda n, *a: None if n == 'mnist1d' else real(n, *a)\n"
        "from reward_design.cli import main\n"
        "sys.exit(main(['reproduce', 'all']))\n"
    )
    out = run_python(code)
    assert out.returncode == 2
    assert "needs the 'studies' extra" in out.stderr and "mnist1d" in out.stderr


def test_kept_samples_go_back_only_with_the_same_results():
    from reward_design_studies.harness.study import KeptSamples

    kept = KeptSamples()
    results = {"arms": {}, "raw_final": [1, 2, 3]}
    assert kept.keep(results, "raw_final") is results
    assert "raw_final" not in results
    assert kept.get(results) == [1, 2, 3]
    assert kept.get({"arms": {}}) is None  # equal but another dict: not its samples
