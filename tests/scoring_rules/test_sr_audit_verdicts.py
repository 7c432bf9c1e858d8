"""Pinned verdicts of `audit_confidence_reward` (default arguments) for five rewards.

The table was recorded with the audit as it stood before its restructuring and
speed-up (commit b1ecfcb); it guards that rewrites of the audit's numerics keep
every verdict: calibrated / weakly calibrated / accuracy-preserving under each
estimator at G = 4, 8 and 32, and the answer-choice verdict.
"""

import pytest

import reward_design as rd

sr = rd.scoring_rules

REWARDS = {
    "binary": lambda c, y: y + 0.0 * c,
    "rlcr": lambda c, y: y - (c - y) ** 2,  # correctness + Brier, weight 1
    "log": lambda c, y: y - sr.log_binary(c, y),
    "hedge": lambda c, y: y + 0.5 * c * (2 * y - 1),  # linear in c: improper
    "biased": lambda c, y: y - (c - y) ** 2 + 0.05 * c,  # optimum at q + 0.025
}

# (calibrated, weakly_calibrated, accuracy_preserving) without an estimator
EXPECTED_REWARD = {
    "binary": (False, True, True),
    "rlcr": (True, True, True),
    "log": (True, True, False),
    "hedge": (False, False, True),
    "biased": (False, False, True),
}

# (calibrated, weakly_calibrated, accuracy_preserving, answer_choice.preserving)
# per estimator, the same at G = 4, 8 and 32 unless a G is named
ESTIMATOR = {
    ("binary", "grpo"): (False, True, True, True),
    ("binary", "dr_grpo"): (False, True, True, True),
    ("binary", "rloo"): (False, True, True, True),
    ("rlcr", "grpo"): (False, False, True, False),
    ("rlcr", "dr_grpo"): (True, True, True, True),
    ("rlcr", "rloo"): (True, True, True, True),
    ("log", "grpo"): (False, False, False, False),
    ("log", "dr_grpo"): (True, True, False, False),
    ("log", "rloo"): (True, True, False, False),
    ("hedge", "grpo"): (False, False, True, False),
    ("hedge", "dr_grpo"): (False, False, True, True),
    ("hedge", "rloo"): (False, False, True, True),
    ("biased", "grpo"): (False, False, True, False),
    ("biased", "dr_grpo"): (False, False, True, True),
    ("biased", "rloo"): (False, False, True, True),
}
# Dr. GRPO/RLOO settle near the smoothed optimum q + 0.025 + O(s^2), just inside the
# 0.03 tolerance with G = 32's Monte Carlo draws, just outside with G = 4 and 8's
BY_GROUP_SIZE = {
    ("biased", "dr_grpo", 32): (True, True, True, True),
    ("biased", "rloo", 32): (True, True, True, True),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_REWARD))
def test_expected_reward_verdicts(name):
    rep = sr.audit_confidence_reward(REWARDS[name])
    assert (rep.calibrated, rep.weakly_calibrated, rep.accuracy_preserving) == (
        EXPECTED_REWARD[name]
    )
    assert rep.strictly_calibrated == rep.calibrated and rep.answer_choice is None


@pytest.mark.parametrize("group_size", [4, 8, 32])
@pytest.mark.parametrize("estimator", ["grpo", "dr_grpo", "rloo"])
@pytest.mark.parametrize("name", sorted(EXPECTED_REWARD))
def test_estimator_verdicts(name, estimator, group_size):
    rep = sr.audit_confidence_reward(REWARDS[name], estimator, group_size=group_size)
    want = BY_GROUP_SIZE.get((name, estimator, group_size), ESTIMATOR[(name, estimator)])
    got = (
        rep.calibrated,
        rep.weakly_calibrated,
        rep.accuracy_preserving,
        rep.answer_choice.preserving,
    )
    assert got == want
    assert rep.strictly_calibrated == rep.calibrated
    assert ("Answer choice: NOT preserving" in rep.summary) == (not want[3])
