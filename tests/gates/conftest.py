"""Fixtures for the gate tests: random rubric batches and a numpy GRPO reference."""

import numpy as np
import pytest
from numpy_reference import np_advantages

import reward_design as rd


def _batch(seed=0, p=8, g=6, k=4, probabilities=False, ragged=True):
    """Random rubric batch with an all-pass group (row 0), an all-fail group (row 1)
    and, when ``ragged``, a random mask with at least one valid member per group."""
    rng = np.random.default_rng(seed)
    if probabilities:
        rubric = rng.uniform(size=(p, g, k)).astype(np.float32)
        rubric[0] = rng.uniform(0.6, 1.0, size=(g, k))
        rubric[1] = rng.uniform(0.0, 0.4, size=(g, k))
    else:
        rubric = rng.uniform(size=(p, g, k)) < 0.6
        rubric[0] = True
        rubric[1] = False
    mask = None
    if ragged:
        mask = rng.uniform(size=(p, g)) < 0.75
        mask[np.arange(p), rng.integers(0, g, size=p)] = True
    correct = (rng.uniform(size=(p, g)) < 0.5).astype(np.float32)
    tokens = rng.normal(size=(p, g, 5)).astype(np.float32)
    return rd.Rollouts(correct=correct, rubric=rubric, token_rewards=tokens, mask=mask).validate()


def _np_grpo(rewards, mask, eps=1e-6):
    """Per-group numpy GRPO (unbiased std), 0 for members outside ``mask``."""
    return np_advantages(rewards, mask, "grpo", eps=eps)


@pytest.fixture
def make_batch():
    return _batch


@pytest.fixture
def np_grpo():
    return _np_grpo
