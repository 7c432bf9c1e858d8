"""The scikit-learn wrapper: fitted classifier + calibrator + cost -> cost-optimal predict."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.preprocessing import StandardScaler

import reward_design as rd

P = rd.posthoc


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    X_tr, X_rest, y_tr, y_rest = train_test_split(X, y, test_size=0.6, random_state=0)
    X_cal, X_te, y_cal, y_te = train_test_split(X_rest, y_rest, test_size=0.5, random_state=0)
    clf = GaussianNB().fit(X_tr, y_tr)  # notoriously over-confident
    return clf, X_cal, y_cal, X_te, y_te


def test_bayes_predict_is_threshold_on_calibrated_probability(cancer):
    clf, X_cal, y_cal, X_te, _ = cancer
    # in breast_cancer, class 0 = malignant: missing it (truth 0, decide 1) costs 10
    cost = np.array([[0.0, 10.0], [1.0, 0.0]])
    for calibrator in (None, P.PlattScaling(), P.IsotonicCalibration(), P.TemperatureScaling()):
        model = P.CostSensitiveClassifier(clf, cost, calibrator=calibrator).fit(X_cal, y_cal)
        proba = model.predict_proba(X_te)
        np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
        p1 = proba[:, 1]
        t = float(P.binary_threshold(cost))
        clear = np.abs(p1 - t) > 1e-5
        np.testing.assert_array_equal(model.predict(X_te)[clear], (p1 >= t)[clear].astype(int))
    # the Platt-calibrated probabilities are exactly the calibrator applied to P(class 1)
    model = P.CostSensitiveClassifier(clf, cost, calibrator=P.PlattScaling()).fit(X_cal, y_cal)
    direct = P.PlattScaling().fit(clf.predict_proba(X_cal)[:, 1], y_cal)
    np.testing.assert_allclose(
        model.predict_proba(X_te)[:, 1],
        np.asarray(direct(clf.predict_proba(X_te)[:, 1])),
        atol=1e-6,
    )


def test_tuned_threshold_and_cost_reduction(cancer):
    clf, X_cal, y_cal, X_te, y_te = cancer
    cost = np.array([[0.0, 10.0], [1.0, 0.0]])
    tuned = P.CostSensitiveClassifier(clf, cost, decision="tuned").fit(X_cal, y_cal)
    ref = P.tune_threshold(clf.predict_proba(X_cal)[:, 1], y_cal, cost).threshold
    assert tuned.threshold_ == ref
    np.testing.assert_array_equal(
        tuned.predict(X_te), (clf.predict_proba(X_te)[:, 1] >= ref).astype(int)
    )


def test_multiclass_with_temperature(cancer):
    X, y = load_digits(return_X_y=True)
    X_tr, X_cal, y_tr, y_cal = train_test_split(X / 16.0, y, test_size=0.5, random_state=0)
    clf = LogisticRegression(max_iter=300).fit(X_tr, y_tr)
    cost = np.asarray(P.cost_matrix_from_class_costs(np.arange(1.0, 11.0)))
    model = P.CostSensitiveClassifier(clf, cost, calibrator=P.TemperatureScaling())
    model.fit(X_cal, y_cal)
    proba = model.predict_proba(X_cal)
    expect = np.asarray(P.bayes_decision(proba / proba.sum(1, keepdims=True), cost))
    np.testing.assert_array_equal(model.predict(X_cal), clf.classes_[expect])
    assert clone(model).get_params()["calibrator"].__class__ is P.TemperatureScaling


def test_errors(cancer):
    clf, X_cal, y_cal, _, _ = cancer
    with pytest.raises(ValueError, match="must already be fitted"):
        P.CostSensitiveClassifier(GaussianNB(), 1 - np.eye(2)).fit(X_cal, y_cal)
    with pytest.raises(ValueError, match=r"cost must have shape \[2, 2\]"):
        P.CostSensitiveClassifier(clf, 1 - np.eye(3)).fit(X_cal, y_cal)
    with pytest.raises(ValueError, match="decision must be"):
        P.CostSensitiveClassifier(clf, 1 - np.eye(2), decision="x").fit(X_cal, y_cal)
    with pytest.raises(ValueError, match="labels not in estimator.classes_"):
        P.CostSensitiveClassifier(clf, 1 - np.eye(2)).fit(X_cal, y_cal + 5)
