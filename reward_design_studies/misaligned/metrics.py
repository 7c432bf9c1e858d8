"""The misaligned study's metrics: one arm's decisions scored, and the linear probe.

* ``test_utility``: minus the mean realised cost per test example;
* ``test_weighted_loss``: the weighted cross-entropy itself; for the
  symmetric-posthoc arms evaluated on the ex-post weighted prediction
  ``p_u ∝ w * p`` (logits + log w), the prediction that minimises the
  weighted loss given p;
* ``accuracy`` of the arm's decisions, top-label ``ece``, ``critical_recall``;
* ``probe_accuracy``: a fresh logistic regression (scikit-learn) on the
  frozen hidden representation, trained on the training split for the full
  10-class label, scored on the test split.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["softmax", "arm_decisions", "arm_metrics", "probe_accuracy"]


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis (numpy, max-shifted)."""
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def arm_decisions(
    arm: str, logits: np.ndarray, cost: np.ndarray, temperature: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How arm ``arm`` decides from a model's test ``logits`` ``[N, C]``.

    Returns:
      ``(probs, decisions, weighted_logits)``: the arm's probabilities, its
      decisions ``[N]`` and the logits its weighted loss is evaluated on.
    """
    import reward_design as rd

    weights = np.asarray(rd.posthoc.utility_weights(cost))
    if arm == "symmetric_posthoc":
        scaled = logits / temperature
        probs = softmax(scaled)
        return probs, np.asarray(rd.posthoc.bayes_decision(probs, cost)), scaled + np.log(weights)
    probs = softmax(logits)
    if arm == "symmetric_posthoc_uncalibrated":
        decisions = np.asarray(rd.posthoc.bayes_decision(probs, cost))
        return probs, decisions, logits + np.log(weights)
    if arm in ("symmetric_argmax", "utility_weighted_argmax"):
        return probs, probs.argmax(-1), logits
    if arm == "utility_weighted_bayes":
        return probs, np.asarray(rd.posthoc.bayes_decision(probs, cost)), logits
    raise ValueError(f"unknown arm {arm!r}.")


def arm_metrics(
    arm: str,
    logits: np.ndarray,
    labels: np.ndarray,
    cost: np.ndarray,
    critical: int,
    temperature: float,
    probe: float,
    ece_bins: int,
) -> dict[str, float]:
    """The metrics of one arm for one seed / cost ratio / budget.

    Args:
      arm: one of `config.ARMS`.
      logits: the arm's model's test logits ``[N, C]``.
      labels: test labels ``[N]``.
      cost: the cost matrix ``[C, C]`` (truth, decision).
      critical: the critical class.
      temperature: the fitted temperature (used by ``symmetric_posthoc``).
      probe: the model's probe accuracy (reported as is).
      ece_bins: bins of the top-label ECE.
    """
    import reward_design as rd

    probs, decisions, weighted_logits = arm_decisions(arm, logits, cost, temperature)
    confidence = probs.max(-1)
    top_correct = probs.argmax(-1) == labels
    is_critical = labels == critical
    return {
        "test_utility": float(np.mean(rd.posthoc.utility(decisions, labels, cost))),
        "test_weighted_loss": float(
            rd.posthoc.utility_weighted_cross_entropy(weighted_logits, labels, cost)
        ),
        "accuracy": float(np.mean(decisions == labels)),
        "ece": float(
            rd.calibration.expected_calibration_error(confidence, top_correct, num_bins=ece_bins)
        ),
        "critical_recall": float(np.mean(decisions[is_critical] == critical)),
        "probe_accuracy": probe,
    }


def probe_accuracy(
    train_h: np.ndarray, train_y: np.ndarray, test_h: np.ndarray, test_y: np.ndarray, c: float
) -> float:
    """Accuracy of a logistic-regression probe on frozen features (full label set)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    probe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    # One BLAS thread: on a small shared CPU, multithreaded OpenBLAS inside L-BFGS
    # spends its time waiting for cores (measured 40x slower under load).
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        probe.fit(train_h, train_y)
        return float(probe.score(test_h, test_y))
