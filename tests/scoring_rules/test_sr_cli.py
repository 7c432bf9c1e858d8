"""The ``reward-design audit`` sub-command."""

import sys
import textwrap

import pytest

from reward_design import cli
from reward_design.scoring_rules._cli import load_reward


@pytest.fixture
def reward_file(tmp_path):
    path = tmp_path / "my_rewards.py"
    path.write_text(
        textwrap.dedent(
            """
            import reward_design as rd

            def rlcr(c, y):
                return y - rd.scoring_rules.brier_binary(c, y)

            def hedge(c, y):
                return y + 0.5 * c * (2 * y - 1)

            NOT_CALLABLE = 3
            """
        )
    )
    return path


def test_audit_prints_report_and_writes_plot(reward_file, tmp_path, capsys):
    png = tmp_path / "out" / "audit.png"
    code = cli.main(["audit", f"{reward_file}:rlcr", "--plot", str(png), "--strict"])
    out = capsys.readouterr().out
    assert code == 0
    assert "calibrated: c = q is the unique optimum" in out
    assert "0.50       0.500        0.2500" in out  # V(0.5) = 0.5^2
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_audit_strict_fails_for_an_improper_reward(reward_file, capsys, monkeypatch):
    monkeypatch.chdir(reward_file.parent)
    code = cli.main(["audit", "my_rewards:hedge", "--strict"])
    assert code == 1
    assert "NOT calibrated" in capsys.readouterr().out


def test_audit_with_an_estimator(reward_file, capsys):
    code = cli.main(
        [
            "audit",
            f"{reward_file}:rlcr",
            "--estimator",
            "dr_grpo",
            "--num-samples",
            "512",
            "--group-size",
            "4",
        ]
    )
    assert code == 0
    assert "Dr. GRPO, G=4" in capsys.readouterr().out


def test_bad_targets(reward_file, capsys):
    assert cli.main(["audit", "no_colon"]) == 2
    assert "MODULE:FUNCTION" in capsys.readouterr().err
    with pytest.raises(ValueError, match="no attribute"):
        load_reward(f"{reward_file}:missing")
    with pytest.raises(ValueError, match="not callable"):
        load_reward(f"{reward_file}:NOT_CALLABLE")
    with pytest.raises(ValueError, match="cannot import"):
        load_reward("surely_not_a_module_xyz:f")


def test_plot_without_matplotlib_names_the_extra(reward_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails
    code = cli.main(["audit", f"{reward_file}:rlcr", "--plot", str(tmp_path / "a.png")])
    assert code == 2
    assert "studies" in capsys.readouterr().err
    assert not (tmp_path / "a.png").exists()


@pytest.fixture
def scalar_rewards(tmp_path):
    path = tmp_path / "scalar_rewards.py"
    path.write_text(
        textwrap.dedent(
            """
            import math

            def branchy(c, y):  # written for one float at a time
                if c > 0.5:
                    return y
                return 0.0

            def logged(c, y):
                return y + math.log(c)

            def rlcr(c, y):
                return y - (c - y) ** 2
            """
        )
    )
    return path


@pytest.mark.parametrize("name", ["branchy", "logged"])
@pytest.mark.parametrize("estimator", [[], ["--estimator", "grpo"]])
def test_audit_of_a_scalar_reward_is_one_line_naming_the_fix(
    scalar_rewards, capsys, name, estimator
):
    code = cli.main(["audit", f"{scalar_rewards}:{name}", *estimator])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "receives arrays" in lines[0]
    assert "jnp.where" in lines[0] and "jnp.log" in lines[0]
    assert "Traceback" not in captured.err + captured.out


@pytest.mark.parametrize(
    "options, match",
    [
        (["--group-size", "1"], "--group-size must be an integer >= 2"),
        (["--exploration", "0"], "--exploration must be in"),
        (["--num-samples", "1"], "--num-samples must be an integer >= 2"),
    ],
)
def test_audit_impossible_options_are_one_line(scalar_rewards, capsys, options, match):
    code = cli.main(["audit", f"{scalar_rewards}:rlcr", "--estimator", "grpo", *options])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and match in lines[0], captured.err


def test_audit_of_a_file_that_raises_on_import_is_one_line(tmp_path, capsys):
    path = tmp_path / "broken.py"
    path.write_text("raise RuntimeError('boom')\n")
    code = cli.main(["audit", f"{path}:f"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.strip().splitlines() == [
        f"reward-design audit: running {str(path)!r} raised RuntimeError: boom"
    ]
