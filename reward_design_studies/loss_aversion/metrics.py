"""Decisions and metrics of the loss-aversion study.

Every metric is an exact expectation over the rater's randomness and the
full label, computed from the known posterior ``q(x)`` of each test prompt:

* ``gold_utility``: mean true utility of the decisions (+1 right,
  ``-lambda_h`` wrong, 0 abstain; the rater not fooled);
* ``approval``: mean probability that the foolable rater approves them;
* ``sophistry_rate``: share of decisions that answer in the persuasive style
  and are wrong (``P(persuasive answer and wrong)``);
* ``persuasion_rate``, ``answer_rate``;
* ``accuracy``: probability that the policy's top answer (the argmax of its
  answer distribution, styles summed, abstention removed) is right, on
  every prompt (competence, whether or not it abstains);
* ``ece``: `rd.calibration.expected_calibration_error` of the probability
  the arm decides with (the answer distribution's top probability; the
  post-hoc arm's calibrated probability) against ``q`` of that answer;
* ``probe_accuracy``: a logistic-regression probe of the full label on the
  frozen representation (trained on sampled labels, scored as expected
  accuracy on the test prompts).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from reward_design_studies.loss_aversion.environment import Actions, Feedback, Rater, softmax

__all__ = [
    "METRICS",
    "greedy_decisions",
    "top_answer",
    "decision_metrics",
    "posthoc_decisions",
    "probe_accuracy",
    "answer_cost",
]

METRICS = (
    "gold_utility",
    "sophistry_rate",
    "probe_accuracy",
    "accuracy",
    "ece",
    "approval",
    "persuasion_rate",
    "answer_rate",
)


def answer_cost(lam: float) -> Any:
    """The rater's utility as a cost matrix for answer-or-abstain.

    Truth 0 = the answer is wrong, 1 = right; decision 0 = abstain, 1 =
    answer: ``[[0, lam], [0, -1]]`` (minus the utility). Its Bayes threshold
    is ``lam / (1 + lam)``.
    """
    import reward_design as rd

    return rd.posthoc.binary_cost_matrix(c_fp=lam, c_fn=0.0, c_tn=0.0, c_tp=-1.0)


def greedy_decisions(logits: np.ndarray) -> np.ndarray:
    """The policy's decisions: its most likely response (greedy decoding)."""
    return np.asarray(logits).argmax(-1)


def top_answer(actions: Actions, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(answer [N], probability [N])``: the top of the answer distribution (styles summed)."""
    marginal = actions.answer_marginal(softmax(logits))
    top = marginal.argmax(-1)
    return top, np.take_along_axis(marginal, top[:, None], axis=1)[:, 0]


def decision_metrics(
    decisions: np.ndarray,
    top: np.ndarray,
    confidence: np.ndarray,
    q: np.ndarray,
    rater: Rater,
    lam: float,
    num_bins: int,
) -> dict[str, float]:
    """The decision metrics (all but ``probe_accuracy``) of one arm at rater loss ``lam``."""
    import reward_design as rd

    acts = rater.actions
    decisions = np.asarray(decisions)
    answered = decisions != acts.abstain
    persuasive = answered & (acts.style(decisions) == 1)
    q_dec = np.where(
        answered,
        np.take_along_axis(q, np.maximum(acts.answer(decisions), 0)[:, None], 1)[:, 0],
        0.0,
    )
    q_top = np.take_along_axis(q, top[:, None], axis=1)[:, 0]
    gold = np.take_along_axis(rater.gold(q, lam), decisions[:, None], axis=1)[:, 0]
    approval = np.take_along_axis(rater.approval(q), decisions[:, None], axis=1)[:, 0]
    ece = rd.calibration.expected_calibration_error(
        np.clip(confidence, 0.0, 1.0), np.clip(q_top, 0.0, 1.0), num_bins=num_bins
    )
    return {
        "gold_utility": float(gold.mean()),
        "sophistry_rate": float(np.mean(persuasive * (1.0 - q_dec))),
        "accuracy": float(q_top.mean()),
        "ece": float(ece),
        "approval": float(approval.mean()),
        "persuasion_rate": float(persuasive.mean()),
        "answer_rate": float(answered.mean()),
    }


def posthoc_decisions(
    test_logits: np.ndarray,
    val_logits: np.ndarray,
    val: Feedback,
    rater: Rater,
    lam: float,
    plain_only: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Symmetric model, then the asymmetry at decision time (`rd.posthoc`).

    1. Calibrate: `rd.posthoc.PlattScaling` maps the logit of the model's
       answer probability to P(approved), fitted on the held-out feedback's
       answers (plain-style ones only when ``plain_only``: for those the
       rater's label is the answer's correctness).
    2. Decide: the top answer is given (in the style the model prefers for
       it) iff `rd.posthoc.bayes_decision` under `answer_cost(lam)` says
       so, i.e. iff its calibrated probability is at least
       ``lam / (1 + lam)``; otherwise abstain.

    Returns:
      ``(decisions [N], top answers [N], calibrated probabilities [N])``.
    """
    import reward_design as rd

    acts = rater.actions
    val_marginal = acts.answer_marginal(softmax(val_logits))
    answers = acts.answer(val.actions)
    keep = answers >= 0
    if plain_only:
        keep &= acts.style(val.actions) == 0
    rows = np.nonzero(keep)[0]
    p_val = val_marginal[rows, answers[keep]]
    cal = rd.posthoc.PlattScaling().fit(_logit(p_val), val.desirable[keep].astype(np.int32))

    top, p_top = top_answer(acts, test_logits)
    calibrated = np.asarray(cal(_logit(p_top)), dtype=np.float64)
    probs = np.stack([1.0 - calibrated, calibrated], axis=-1)
    answer = np.asarray(rd.posthoc.bayes_decision(probs, answer_cost(lam))) == 1
    probs_full = softmax(test_logits)
    styles = probs_full[np.arange(len(top)), 2 * top + 1] > probs_full[np.arange(len(top)), 2 * top]
    decisions = np.where(answer, acts.encode(top, styles.astype(int)), acts.abstain)
    return decisions, top, calibrated


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p) - np.log1p(-p)


def probe_accuracy(
    train_h: np.ndarray, train_y: np.ndarray, test_h: np.ndarray, test_q: np.ndarray
) -> float:
    """Expected accuracy ``mean q[prediction]`` of a logistic-regression probe of the full label.

    The probe (standardised features, scikit-learn's ``LogisticRegression``)
    is fitted to sampled labels ``train_y``; on the test prompts it is scored
    against the known posterior ``test_q`` (no sampling noise).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        probe.fit(np.asarray(train_h, np.float64), train_y)
        classes = probe.classes_
        pred = classes[probe.predict_proba(np.asarray(test_h, np.float64)).argmax(-1)]
    return float(np.mean(np.take_along_axis(test_q, pred[:, None], axis=1)))
