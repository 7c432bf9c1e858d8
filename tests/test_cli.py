"""The reward-design command line."""

import subprocess
import sys

import pytest

from reward_design import cli
from reward_design._demo import run_demo


def test_demo_ranks_calibrated_first_and_binary_ties():
    text = run_demo(num_prompts=256, group_size=4, seed=1)
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line[:1].isalpha()}
    # columns: policy accuracy meanconf |conf-q| Rbinary Rbrier Rrlcr
    binary = {name: float(rows[name][4]) for name in ("calibrated", "overconfident", "hedging")}
    rlcr = {name: float(rows[name][6]) for name in ("calibrated", "overconfident", "hedging")}
    assert len(set(binary.values())) == 1
    assert max(rlcr, key=rlcr.get) == "calibrated"
    assert "prefers: calibrated" in text


def test_demo_bad_arguments():
    with pytest.raises(ValueError, match="group_size >= 2"):
        run_demo(num_prompts=4, group_size=1)


def test_main_demo_prints_table(capsys):
    assert cli.main(["demo", "--prompts", "64", "--group-size", "4"]) == 0
    assert "overconfident" in capsys.readouterr().out


def test_console_script_help():
    out = subprocess.run(
        [sys.executable, "-m", "reward_design.cli", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "demo" in out.stdout and "reproduce" in out.stdout


def test_reproduce_takes_common_and_study_options():
    parser = cli.build_parser()
    args = parser.parse_args(
        ["reproduce", "misaligned", "--quick", "--steps", "100", "--out", "d", "--no-plots"]
    )
    assert (args.study, args.quick, args.steps, args.out, args.no_plots) == (
        "misaligned",
        True,
        [100],
        "d",
        True,
    )
    assert parser.parse_args(["reproduce", "misaligned"]).seeds is None


def test_version_matches_the_installed_package(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"reward-design {version('reward-design')}"


@pytest.mark.parametrize(
    "argv", [["reproduce", "--help"], ["--help"], ["demo", "--prompts", "64", "--group-size", "4"]]
)
def test_closed_pipe_stops_quietly(argv):
    """`reward-design ... | head -1`: no BrokenPipeError traceback, exit status 141."""
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "reward_design.cli", *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        os.close(write_end)
    assert proc.stderr == ""
    # argparse drops a failed help write itself (status 0); our own output stops with 141
    assert proc.returncode == (0 if "--help" in argv else cli.EXIT_BROKEN_PIPE)
