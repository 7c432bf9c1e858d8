"""Distributed helpers: single-device behaviour here, 8-device checks in a subprocess."""

import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import reward_design as rd
from reward_design import distributed as dist


def _rollouts(p=5, g=3):
    rng = np.random.default_rng(0)
    return rd.Rollouts(
        correct=rng.integers(0, 2, (p, g)).astype(np.float32),
        confidence=rng.uniform(size=(p, g)).astype(np.float32),
        token_rewards=rng.normal(size=(p, g, 4)).astype(np.float32),
        token_mask=rng.uniform(size=(p, g, 4)) > 0.5,
    )


def test_pad_rollouts_masks_out_padding():
    r = _rollouts()
    padded, n = dist.pad_rollouts(r, 4)
    assert n == 5 and padded.shape == (8, 3)
    mask = np.asarray(padded.mask)
    assert mask[:5].all() and not mask[5:].any()
    assert np.asarray(padded.token_mask)[5:].sum() == 0
    padded.validate(allow_empty_groups=True)
    with pytest.raises(ValueError, match="no valid member"):
        padded.validate()
    out = rd.compose(c=rd.terms.Correctness(), b=rd.terms.Brier())(padded)
    adv = rd.advantages.grpo(out.total, mask=out.accepted)
    assert np.all(np.asarray(adv)[5:] == 0) and np.all(np.asarray(out.total)[5:] == 0)
    ref = rd.advantages.grpo(rd.compose(c=rd.terms.Correctness(), b=rd.terms.Brier())(r).total)
    np.testing.assert_allclose(dist.unpad(adv, n), ref, atol=1e-6)


def test_pad_noop_and_bad_multiple():
    r = _rollouts(p=4)
    padded, n = dist.pad_rollouts(r, 2)
    assert n == 4 and padded.shape == (4, 3) and np.asarray(padded.mask).all()
    with pytest.raises(ValueError, match="multiple must be a positive integer"):
        dist.pad_rollouts(r, 0)


def test_mesh_axis_errors():
    mesh = dist.default_mesh("data")
    with pytest.raises(ValueError, match="axis 'model' is not an axis of the mesh"):
        dist.shard_rollouts(_rollouts(p=jax.device_count()), mesh, axis="model")


def test_single_device_shard_is_identity():
    r = _rollouts(p=jax.device_count() * 2)
    s = dist.shard_rollouts(r)
    np.testing.assert_array_equal(s.correct, r.correct)


def test_multidevice_checks_in_subprocess():
    """Runs multidevice_checks.py with 8 simulated CPU devices."""
    here = Path(__file__).parent
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    ).strip()
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            "0",  # in this process: the default run's `-n auto` would start workers
            str(here / "multidevice_checks.py"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "skipped" not in proc.stdout.splitlines()[-1]


def test_padding_leaves_gate_statistics_unchanged():
    rng = np.random.default_rng(1)
    r = rd.Rollouts(
        correct=rng.integers(0, 2, (5, 4)).astype(np.float32),
        rubric=rng.uniform(size=(5, 4, 3)) > 0.4,
        token_rewards=rng.normal(size=(5, 4, 2)).astype(np.float32),
    )
    gated = rd.gates.Gated(
        gate=rd.gates.AtLeast(2),
        inner=rd.compose(tokens=rd.terms.TokenReward()),
        group_filter=rd.gates.GroupFilter(min_accepted=2),
    )
    padded, n = dist.pad_rollouts(r, 8)
    a, b = gated(r).stats, gated(padded).stats
    assert set(a) == set(b)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-6, err_msg=key)


def test_collective_mean_takes_a_list_argument_inside_shard_map():
    # A list passed to a shard_map_step function arrives as a list of traced scalars,
    # which numpy cannot convert (found by the fuzz suite's long profile).
    def step(x, w):
        return jax.numpy.reshape(dist.collective_mean(x, "data", w), (1,))

    x, w = [1.0, 3.0, 4.0], [1.0, 0.0, 1.0]
    got = dist.shard_map_step(step)(x, w)
    np.testing.assert_allclose(got, [np.average(x, weights=w)], rtol=1e-6)
    got = dist.shard_map_step(lambda x: step(x, None))([2.0, 5.0])
    np.testing.assert_allclose(got, [3.5], rtol=1e-6)
    with pytest.raises(ValueError, match="x must be a rectangular array"):
        dist.shard_map_step(lambda x: step(x, None))([[0.0], [1.0, 2.0]])
