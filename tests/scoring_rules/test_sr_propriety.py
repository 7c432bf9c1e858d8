"""check_propriety classifies textbook proper, strictly proper and improper rules."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reward_design as rd
from reward_design._jax_compat import enable_x64

sr = rd.scoring_rules


def _p_y(p, y):
    return jnp.take_along_axis(p, y[:, None], axis=1)[:, 0]


def linear(p, y):  # -p_y: improper (reports the mode with certainty)
    return -_p_y(p, y)


def true_class_square(p, y):  # (1 - p_y)^2: binary Brier for C = 2, improper for C >= 3
    return (1.0 - _p_y(p, y)) ** 2


def zero_one(p, y):  # discontinuous; proper (argmax of q is optimal) with ties
    return (jnp.argmax(p, axis=-1) != y).astype(p.dtype)


def quantised_brier(p, y):  # discontinuous; proper with ties inside each cell
    return sr.brier(jnp.round(p * 4) / 4, y)


def confident_bonus(p, y):  # discontinuous; improper: a bonus for max p >= 0.9
    return sr.brier(p, y) - 0.1 * (jnp.max(p, axis=-1) >= 0.9)


def absolute(p, y):  # L1 loss: improper
    return jnp.sum(jnp.abs(p - jax.nn.one_hot(y, p.shape[-1], dtype=p.dtype)), axis=-1)


def _expected(rule, q, p):
    """Independent numpy evaluation of E_{y~q} S(p, y)."""
    c = len(q)
    with enable_x64(True):
        s = np.asarray(rule(jnp.asarray(np.tile(p, (c, 1))), jnp.arange(c)))
    return float(np.sum(np.where(q > 0, q * s, 0.0)))


CASES = [
    # (name, rule, num_classes, binary, proper, strictly_proper)
    ("brier_binary", sr.brier_binary, 2, True, True, True),
    ("true_class_square C=2", true_class_square, 2, False, True, True),
    ("true_class_square C=3", true_class_square, 3, False, False, False),
    ("zero_one", zero_one, 2, False, True, False),
    ("confident_bonus", confident_bonus, 3, False, False, False),
]
SLOW_CASES = [
    ("log C=3", sr.log, 3, False, True, True),
    ("log_binary", sr.log_binary, 2, True, True, True),
    ("spherical_binary", sr.spherical_binary, 2, True, True, True),
    ("absolute", absolute, 2, False, False, False),
    ("quantised_brier", quantised_brier, 2, False, True, False),
    ("power 1.5 C=3", lambda p, y: sr.power(p, y, 1.5), 3, False, True, True),
    ("brier C=4", sr.brier, 4, False, True, True),
    ("spherical C=3", sr.spherical, 3, False, True, True),
    ("pseudospherical 3 C=5", lambda p, y: sr.pseudospherical(p, y, 3.0), 5, False, True, True),
    ("ranked_probability C=4", sr.ranked_probability, 4, False, True, True),
    ("linear C=5", linear, 5, False, False, False),
    ("zero_one C=4", zero_one, 4, False, True, False),
    ("constant C=3", lambda p, y: jnp.zeros(p.shape[:-1], p.dtype), 3, False, True, False),
    ("absolute C=6", absolute, 6, False, False, False),
]


def _check(name, rule, c, binary, proper, strict):
    report = sr.check_propriety(rule, c, binary=binary)
    assert report.proper is proper, (name, str(report))
    assert report.strictly_proper is strict, (name, str(report))
    if not proper:
        q, p = report.counterexample
        if binary:
            q, p = np.array([1 - q, q]), np.array([1 - p, p])
            rule_mc = lambda pp, yy: rule(pp[..., 1], yy)  # noqa: E731
        else:
            rule_mc = rule
        gain = _expected(rule_mc, q, q) - _expected(rule_mc, q, p)
        np.testing.assert_allclose(gain, report.max_violation, rtol=1e-6, atol=1e-9)
        assert gain > 1e-3
    elif not strict:
        q, p = report.tie
        assert np.max(np.abs(np.asarray(p) - np.asarray(q))) >= 0.1 - 1e-9
        assert report.min_far_gap <= report.tolerance
    else:
        assert report.counterexample is None and report.tie is None
        assert report.min_far_gap > report.tolerance


@pytest.mark.parametrize("name, rule, c, binary, proper, strict", CASES, ids=[x[0] for x in CASES])
def test_classification(name, rule, c, binary, proper, strict):
    _check(name, rule, c, binary, proper, strict)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, rule, c, binary, proper, strict", SLOW_CASES, ids=[x[0] for x in SLOW_CASES]
)
def test_classification_more_classes(name, rule, c, binary, proper, strict):
    _check(name, rule, c, binary, proper, strict)


def test_known_counterexample_for_linear_score():
    # E_q[-p_y] = -<q, p> is minimised at the vertex of q's mode: max gain 1/4 at q = 0.5/0.5...
    # for C = 2 the gain at q1 is max(q1, 1 - q1) - (q1^2 + (1 - q1)^2), maximal 1/8 at 1/4, 3/4.
    report = sr.check_propriety(lambda p, y: -(y * p + (1 - y) * (1 - p)), binary=True)
    assert not report.proper
    np.testing.assert_allclose(report.max_violation, 0.125, atol=1e-6)
    q, p = report.counterexample
    assert min(abs(q - 0.25), abs(q - 0.75)) < 1e-9 and p in (0.0, 1.0)
    assert "NOT proper" in str(report)


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_classes"):
        sr.check_propriety(sr.brier, 1)
    with pytest.raises(ValueError, match="binary=True needs num_classes=2"):
        sr.check_propriety(sr.brier_binary, 3, binary=True)
    with pytest.raises(TypeError, match="callable"):
        sr.check_propriety("brier")
    with pytest.raises(ValueError, match=r"must return \[N\] scores"):
        sr.check_propriety(lambda p, y: p, 2)


def test_nan_at_the_truthful_report_raises():
    # p log p is NaN at p = 0, so every vertex q gets a NaN expected score: that is a broken
    # rule, not a misreport beating the truth (it was reported "NOT proper", violation inf)
    def nan_at_vertices(p, y):
        return sr.brier(p, y) + 0.0 * jnp.sum(p * jnp.log(p), axis=-1)

    with pytest.raises(ValueError, match="truthful report .* is NaN"):
        sr.check_propriety(nan_at_vertices, 2, num_candidates=101, refine_rounds=1)


@pytest.mark.slow
def test_untraceable_rule_runs_eagerly():
    def python_rule(p, y):  # float() on values: cannot be traced by jax.jit
        p, y = np.asarray(p), np.asarray(y)
        return np.array([(float(p[i, 1]) - float(y[i])) ** 2 for i in range(len(y))])

    report = sr.check_propriety(python_rule, 2, num_candidates=501, refine_rounds=4)
    assert report.proper and report.strictly_proper


def test_a_rule_of_the_other_layout_is_named_with_the_flag_to_pass():
    SR = rd.scoring_rules
    with pytest.raises(ValueError, match="For a binary rule .* pass binary=True"):
        SR.check_propriety(SR.brier_binary)
    with pytest.raises(ValueError, match="for a multiclass rule leave binary=False"):
        SR.check_propriety(SR.brier, binary=True)
    with pytest.raises(TypeError, match="check_propriety: rtol must be"):
        SR.check_propriety(SR.brier, rtol="tiny")
    with pytest.raises(ValueError, match="check_propriety: num_truths must be an integer"):
        SR.check_propriety(SR.brier, num_truths=2.5)
