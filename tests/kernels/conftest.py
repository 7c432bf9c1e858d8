"""Fixtures of the opt-in CPU kernel's tests."""

import os

import pytest


@pytest.fixture
def no_compiler_env(tmp_path):
    """The environment of a fresh interpreter whose kernel build finds no C++ compiler
    (and an empty cache, so no library built before is loaded)."""
    return {
        **os.environ,
        "REWARD_DESIGN_CXX": str(tmp_path / "no-such-compiler"),
        "REWARD_DESIGN_CACHE": str(tmp_path / "cache"),
    }
