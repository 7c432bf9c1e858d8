"""A scikit-learn wrapper: fitted classifier + calibrator + cost matrix -> cost-optimal predict."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from reward_design.posthoc._cost import validate_cost_matrix
from reward_design.posthoc._decisions import bayes_decision
from reward_design.posthoc._tuning import tune_threshold

__all__ = ["CostSensitiveClassifier"]

# Log-probabilities of exactly 0 would be -inf logits; the floor is far below
# any probability a calibrator can distinguish.
_LOG_FLOOR = 1e-30


class CostSensitiveClassifier(ClassifierMixin, BaseEstimator):
    """Cost-optimal decisions from an already fitted scikit-learn classifier.

    Learning and choosing stay apart: ``estimator`` was trained with its own
    (symmetric) loss and is not refitted. `fit` only fits the post-hoc parts
    on held-out calibration data: the ``calibrator`` (optional) and, with
    ``decision="tuned"``, the empirical threshold. `predict` returns the
    class that minimises expected cost under the calibrated probabilities.

    Calibrators: `PlattScaling` / `IsotonicCalibration` (binary; they see
    ``predict_proba[:, 1]``) or `TemperatureScaling` / `VectorScaling` (they
    see ``log predict_proba`` as logits, floored at 1e-30).

    Args:
      estimator: a fitted classifier with ``predict_proba`` and ``classes_``.
      cost: ``[C, C]`` cost matrix, rows/columns in the order of
        ``estimator.classes_``.
      calibrator: an unfitted calibrator (cloned in `fit`), or None.
      decision: "bayes" (argmin of expected cost; for binary problems the
        threshold p* of `binary_threshold`) or "tuned" (binary only: the
        threshold on calibrated P(class 1) with the lowest cost on the data
        given to `fit`, as `tune_threshold`).

    Attributes:
      classes_: the estimator's classes.
      calibrator_: the fitted calibrator (None without one).
      threshold_: the tuned threshold (``decision="tuned"`` only).

    References:
      Elkan, "The Foundations of Cost-Sensitive Learning", IJCAI 2001.
    """

    def __init__(
        self,
        estimator: Any,
        cost: Any,
        calibrator: Any = None,
        decision: str = "bayes",
    ):
        self.estimator = estimator
        self.cost = cost
        self.calibrator = calibrator
        self.decision = decision

    def _check_estimator(self) -> None:
        if not hasattr(self.estimator, "predict_proba") or not hasattr(self.estimator, "fit"):
            raise TypeError(
                "CostSensitiveClassifier.estimator must be a fitted scikit-learn classifier "
                f"with predict_proba; got {self.estimator!r}."
            )
        try:
            check_is_fitted(self.estimator)
        except NotFittedError as err:
            raise ValueError(
                "CostSensitiveClassifier.estimator must already be fitted (this wrapper only "
                "fits the post-hoc calibrator/threshold); call estimator.fit(X_train, y_train) "
                "first."
            ) from err
        if not hasattr(self.estimator, "predict_proba"):
            raise TypeError(
                "CostSensitiveClassifier.estimator must have predict_proba; got "
                f"{type(self.estimator).__name__}."
            )

    def _calibrated(self, proba: np.ndarray, calibrator: Any) -> np.ndarray:
        if calibrator is None:
            return proba
        if getattr(calibrator, "_input_kind", None) == "binary_scores":
            p1 = np.asarray(calibrator(proba[:, 1]), dtype=np.float64)
            return np.stack([1.0 - p1, p1], axis=1)
        return np.asarray(calibrator(np.log(np.maximum(proba, _LOG_FLOOR))), dtype=np.float64)

    def fit(self, X: Any, y: Any) -> CostSensitiveClassifier:
        """Fits the calibrator / threshold on held-out ``(X, y)``; returns self."""
        self._check_estimator()
        classes = np.asarray(self.estimator.classes_)
        num = classes.shape[0]
        validate_cost_matrix(self.cost, num_classes=num)
        self.cost_ = np.asarray(self.cost, dtype=np.float64)
        if self.decision not in ("bayes", "tuned"):
            raise ValueError(f"decision must be 'bayes' or 'tuned'; got {self.decision!r}.")
        y = np.asarray(y)
        idx = np.searchsorted(classes, y)
        idx = np.clip(idx, 0, num - 1)
        if not np.all(classes[idx] == y):
            unknown = np.setdiff1d(y, classes)[:5]
            raise ValueError(
                f"y holds labels not in estimator.classes_ {classes.tolist()}: {unknown.tolist()}."
            )
        proba = np.asarray(self.estimator.predict_proba(X), dtype=np.float64)
        binary = getattr(self.calibrator, "_input_kind", None) == "binary_scores"
        if (binary or self.decision == "tuned") and num != 2:
            raise ValueError(
                f"a binary calibrator or decision='tuned' needs 2 classes; the estimator has {num}."
            )
        if self.calibrator is None:
            self.calibrator_ = None
        elif binary:
            self.calibrator_ = clone(self.calibrator).fit(proba[:, 1], idx)
        else:
            logits = np.log(np.maximum(proba, _LOG_FLOOR))
            self.calibrator_ = clone(self.calibrator).fit(logits, idx)
        if self.decision == "tuned":
            p1 = self._calibrated(proba, self.calibrator_)[:, 1]
            self.threshold_ = tune_threshold(p1, idx, self.cost_).threshold
        self.classes_ = classes
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated class probabilities ``[N, C]``."""
        check_is_fitted(self, "classes_")
        proba = np.asarray(self.estimator.predict_proba(X), dtype=np.float64)
        return self._calibrated(proba, self.calibrator_)

    def predict(self, X: Any) -> np.ndarray:
        """The cost-optimal class for each row of ``X``."""
        proba = self.predict_proba(X)
        if self.decision == "tuned":
            d = (proba[:, 1] >= self.threshold_).astype(np.int64)
        else:
            # renormalise: float32 calibrators can be off by ~1e-7
            proba = proba / proba.sum(axis=1, keepdims=True)
            d = np.asarray(bayes_decision(proba, self.cost_))
        return self.classes_[d]
