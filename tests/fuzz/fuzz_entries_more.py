"""Fuzz entries of calibration, posthoc and halos; and the public names that are not
fuzzed, with the reason."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from fuzz_entries_core import NonEmptyMask
from fuzz_kinds import Arr, Choice, Ctx, Entry, Flag, Int, Num, Obj
from hypothesis import strategies as st

from reward_design import calibration as CAL
from reward_design import halos as H
from reward_design import posthoc as P

N_UNIT = Arr(lambda c: (c.N,), "unit")
N_MASK = NonEmptyMask(lambda c: (c.N,), "bool", optional=True)
BINS = Int(1, 4, names=("num_bins",))
STRATEGY = Choice(["uniform", "quantile"])


class BothClasses(Arr):
    """[N + 2] correctness with both classes present (AUROC needs both)."""

    def valid(self, ctx: Ctx) -> st.SearchStrategy:
        return (
            super()
            .valid(ctx)
            .map(
                lambda y: None if y is None else np.concatenate([np.asarray(y, np.float32), [0, 1]])
            )
        )


class MaskedBoth(Arr):
    """A mask of N + 2 entries keeping the last two (the two classes)."""

    def valid(self, ctx: Ctx) -> st.SearchStrategy:
        return (
            super()
            .valid(ctx)
            .map(
                lambda m: None if m is None else np.concatenate([np.asarray(m, bool), [True, True]])
            )
        )


def _scalar_unit(result: Any, args: dict, ctx: Ctx, bad: set) -> None:
    value = np.asarray(result)
    assert value.shape == ()
    if not bad:
        assert 0.0 <= float(value) <= 1.0 + 1e-6


def _binary_metric(name: str) -> Entry:
    return Entry(
        f"calibration.{name}",
        lambda **kw: getattr(CAL, name)(**kw),
        {
            "confidence": N_UNIT,
            "correct": Arr(lambda c: (c.N,), "binary"),
            "num_bins": BINS,
            "strategy": STRATEGY,
            "mask": N_MASK,
        },
        check=_scalar_unit if name.endswith("error") else None,
        other_errors=(),
    )


def _multiclass_metric(name: str) -> Entry:
    return Entry(
        f"calibration.{name}",
        lambda **kw: getattr(CAL, name)(**kw),
        {
            "probs": Arr(lambda c: (c.N, c.C), "prob"),
            "labels": Arr(lambda c: (c.N,), "index", 0, lambda c: c.C - 1),
            "num_bins": BINS,
            "strategy": STRATEGY,
            "mask": N_MASK,
        },
        check=_scalar_unit,
    )


class CostKind(Arr):
    """A [C, C] cost matrix: 0 on the diagonal, mistakes cost 0.5 or more."""

    def valid(self, ctx: Ctx) -> st.SearchStrategy:
        def zero_diagonal(cost: Any) -> Any:
            cost = np.array(cost, dtype=np.float32)
            np.fill_diagonal(cost, 0.0)
            return cost

        return super().valid(ctx).map(zero_diagonal)


COST = CostKind(lambda c: (c.C, c.C), "real", 0.5, 5.0)
PROBS = Arr(lambda c: (c.N, c.C), "prob")
LABELS = Arr(lambda c: (c.N,), "index", 0, lambda c: c.C - 1)
LOGITS = Arr(lambda c: (c.N, c.C), "real")
BINARY_LABELS = Arr(lambda c: (c.N + 2,), "binary")


class TwoClassScores(Arr):
    """[N + 2] scores (the labels' last two entries are 0 and 1)."""

    def valid(self, ctx: Ctx) -> st.SearchStrategy:
        return (
            super()
            .valid(ctx)
            .map(
                lambda s: (
                    None if s is None else np.concatenate([np.asarray(s, np.float32), [0.2, 0.8]])
                )
            )
        )


class TwoClassLabels(Arr):
    def valid(self, ctx: Ctx) -> st.SearchStrategy:
        return (
            super()
            .valid(ctx)
            .map(lambda y: None if y is None else np.concatenate([np.asarray(y, np.int32), [0, 1]]))
        )


SCORES = TwoClassScores(lambda c: (c.N,), "unit")
BIN_LABELS = TwoClassLabels(lambda c: (c.N,), "index", 0, 1)


def _decisions(result: Any, args: dict, ctx: Ctx, bad: set) -> None:
    assert np.asarray(result).shape[0] == ctx.N


def _reject(ctx: Ctx) -> st.SearchStrategy:
    return st.sampled_from([None, 5.0, [5.0] * ctx.C])


def _fitted_classifier(ctx: Ctx) -> st.SearchStrategy:
    from sklearn.linear_model import LogisticRegression

    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    return st.just(LogisticRegression().fit(x, [0, 0, 1, 1]))


B = Arr(lambda c: (c.N,), "real", -5.0, 0.0)
BETA = Num(0.05, 2.0)
WEIGHT = Num(0.0, 3.0)
DESIRABLE = Arr(lambda c: (c.N,), "bool")


def _halo_call(make: Any) -> Any:
    return lambda policy_logps, reference_logps, desirable, reference_point, **kw: make(**kw)(
        policy_logps, reference_logps, desirable, reference_point
    )


HALO_ARGS = {
    "policy_logps": B,
    "reference_logps": B,
    "desirable": DESIRABLE,
    "reference_point": Num(-1.0, 1.0),
}


def _vector(result: Any, args: dict, ctx: Ctx, bad: set) -> None:
    arr = np.asarray(result)
    assert arr.shape == (ctx.N,), arr.shape
    if not bad:
        assert np.all(np.isfinite(arr))


ENTRIES: list[Entry] = [
    # ------------------------------------------------------------- calibration
    _binary_metric("expected_calibration_error"),
    _binary_metric("maximum_calibration_error"),
    _binary_metric("brier_decomposition"),
    _binary_metric("reliability_bins"),
    _multiclass_metric("top_label_calibration_error"),
    _multiclass_metric("classwise_calibration_error"),
    Entry(
        "calibration.auroc",
        lambda **kw: CAL.auroc(**kw),
        {
            "confidence": TwoClassScores(lambda c: (c.N,), "unit"),
            "correct": BothClasses(lambda c: (c.N,), "binary"),
            "mask": MaskedBoth(lambda c: (c.N,), "bool", optional=True),
        },
        check=_scalar_unit,
    ),
    Entry(
        "calibration.bin_edges",
        lambda **kw: CAL.bin_edges(**kw),
        {"confidence": N_UNIT, "num_bins": BINS, "strategy": STRATEGY, "mask": N_MASK},
        check=lambda r, a, c, b: np.asarray(r).ndim == 1,
    ),
    Entry(
        "calibration.reliability_diagram",
        lambda **kw: CAL.reliability_diagram(**kw),
        {
            "confidence": N_UNIT,
            "correct": Arr(lambda c: (c.N,), "binary"),
            "num_bins": BINS,
            "mask": N_MASK,
            "title": Obj(lambda c: st.sampled_from([None, "t"]), junk=(3, b"t")),
        },
        fast_valid=False,
        examples=(1, 6),
    ),
    # ---------------------------------------------------------------- posthoc
    Entry("posthoc.validate_cost_matrix", P.validate_cost_matrix, {"cost": COST}),
    Entry(
        "posthoc.binary_cost_matrix",
        P.binary_cost_matrix,
        {
            "c_fp": Num(1.0, 5.0),
            "c_fn": Num(1.0, 5.0),
            "c_tn": Num(-1.0, 1.0),
            "c_tp": Num(-1.0, 1.0),
        },
    ),
    Entry(
        "posthoc.cost_matrix_from_gain", P.cost_matrix_from_gain, {"gain": COST, "regret": Flag()}
    ),
    Entry(
        "posthoc.cost_matrix_from_class_costs",
        P.cost_matrix_from_class_costs,
        {"class_costs": Arr(lambda c: (c.C,), "real", 0.0, 5.0)},
    ),
    Entry(
        "posthoc.with_reject_option",
        P.with_reject_option,
        {"cost": COST, "reject_cost": Num(5.0, 9.0)},
    ),
    Entry("posthoc.utility_weights", P.utility_weights, {"cost": COST}),
    Entry(
        "posthoc.binary_threshold",
        lambda c_fp, c_fn: P.binary_threshold(P.binary_cost_matrix(c_fp, c_fn)),
        {"c_fp": Num(0.5, 5.0), "c_fn": Num(0.5, 5.0)},
    ),
    *[
        Entry(
            f"posthoc.{name}",
            lambda probs, cost, reject_cost, _name=name: getattr(P, _name)(
                probs, cost, reject_cost=reject_cost
            ),
            {"probs": PROBS, "cost": COST, "reject_cost": Obj(_reject)},
            check=_decisions,
        )
        for name in ("expected_cost", "bayes_decision", "bayes_risk")
    ],
    *[
        Entry(
            f"posthoc.{name}",
            lambda decisions, labels, cost, _name=name: getattr(P, _name)(decisions, labels, cost),
            {"decisions": LABELS, "labels": LABELS, "cost": COST},
            check=_decisions,
        )
        for name in ("realized_cost", "utility")
    ],
    *[
        Entry(
            f"posthoc.{name}",
            lambda logits, labels, cost, _name=name: getattr(P, _name)(logits, labels, cost),
            {"logits": LOGITS, "labels": LABELS, "cost": COST},
        )
        for name in ("utility_weighted_cross_entropy", "utility_weighted_cross_entropy_per_example")
    ],
    Entry(
        "posthoc.proxy_tune",
        P.proxy_tune,
        {
            "base_logits": LOGITS,
            "expert_logits": LOGITS,
            "antiexpert_logits": LOGITS,
            "alpha": Num(0.0, 2.0),
        },
    ),
    Entry(
        "posthoc.pool_adjacent_violators",
        P.pool_adjacent_violators,
        {"y": Arr(lambda c: (c.N,), "unit"), "weights": Arr(lambda c: (c.N,), "real", 0.1, 2.0)},
    ),
    Entry(
        "posthoc.tune_threshold",
        lambda scores, labels, c_fn: P.tune_threshold(
            scores, labels, P.binary_cost_matrix(1.0, c_fn)
        ),
        {"scores": SCORES, "labels": BIN_LABELS, "c_fn": Num(0.5, 4.0)},
        check=lambda r, a, c, b: isinstance(r, P.TunedThreshold),
        covers=("posthoc.TunedThreshold",),
    ),
    Entry(
        "posthoc.TemperatureScaling",
        lambda logits, labels, max_iter: P.TemperatureScaling(max_iter=max_iter).fit(
            logits, labels
        )(logits),
        {"logits": LOGITS, "labels": LABELS, "max_iter": Int(1, 20)},
        fast_valid=False,
        examples=(2, 8),
    ),
    Entry(
        "posthoc.VectorScaling",
        lambda logits, labels, max_iter: P.VectorScaling(max_iter=max_iter).fit(logits, labels)(
            logits
        ),
        {"logits": LOGITS, "labels": LABELS, "max_iter": Int(1, 20)},
        fast_valid=False,
        examples=(2, 8),
    ),
    Entry(
        "posthoc.PlattScaling",
        lambda scores, labels, max_iter: P.PlattScaling(max_iter=max_iter).fit(scores, labels)(
            scores
        ),
        {"scores": SCORES, "labels": BIN_LABELS, "max_iter": Int(1, 20)},
        fast_valid=False,
        examples=(2, 8),
    ),
    Entry(
        "posthoc.IsotonicCalibration",
        lambda scores, labels: P.IsotonicCalibration().fit(scores, labels)(scores),
        {"scores": SCORES, "labels": BIN_LABELS},
    ),
    Entry(
        "posthoc.CostSensitiveClassifier",
        lambda estimator, cost, decision, X: (
            P.CostSensitiveClassifier(estimator, cost, decision=decision)
            .fit(X, np.array([0, 1] * (len(X) // 2)))
            .predict(X)
        ),
        {
            "estimator": Obj(_fitted_classifier),
            "cost": Arr(lambda c: (2, 2), "real", 0.0, 5.0),
            "decision": Choice(["bayes", "tuned"]),
            "X": Obj(lambda c: st.just(np.array([[0.0], [3.0], [1.0], [2.5]])), junk=(None, "x")),
        },
        fast_valid=False,
        examples=(2, 8),
    ),
    # ------------------------------------------------------------------ halos
    Entry(
        "halos.HALO",
        _halo_call(lambda value, beta: H.HALO(value=value, beta=beta)),
        {
            **HALO_ARGS,
            "value": Obj(lambda c: st.sampled_from([jax.nn.sigmoid, H.KahnemanTverskyValue()])),
            "beta": BETA,
        },
        check=_vector,
    ),
    Entry(
        "halos.kto_halo",
        _halo_call(
            lambda beta, desirable_weight, undesirable_weight: H.kto_halo(
                beta, desirable_weight, undesirable_weight
            )
        ),
        {**HALO_ARGS, "beta": BETA, "desirable_weight": WEIGHT, "undesirable_weight": WEIGHT},
        check=_vector,
    ),
    Entry(
        "halos.dpo_halo",
        _halo_call(lambda beta: H.dpo_halo(beta)),
        {**HALO_ARGS, "beta": BETA},
        check=_vector,
    ),
    Entry(
        "halos.kahneman_tversky_halo",
        _halo_call(lambda alpha, loss_aversion: H.kahneman_tversky_halo(alpha, loss_aversion)),
        {**HALO_ARGS, "alpha": Num(0.2, 1.0), "loss_aversion": Num(0.5, 3.0)},
        check=_vector,
    ),
    Entry(
        "halos.FunctionValue",
        lambda fn, z: H.FunctionValue(fn)(z),
        {"fn": Obj(lambda c: st.just(jnp.tanh)), "z": Arr(lambda c: (c.N,), "real")},
    ),
    Entry(
        "halos.KahnemanTverskyValue",
        lambda alpha_gain, alpha_loss, loss_aversion, z: H.KahnemanTverskyValue(
            alpha_gain, alpha_loss, loss_aversion
        )(z),
        {
            "alpha_gain": Num(0.2, 1.0),
            "alpha_loss": Num(0.2, 1.0),
            "loss_aversion": Num(0.5, 3.0),
            "z": Arr(lambda c: (c.N,), "real"),
        },
    ),
    Entry(
        "halos.kahneman_tversky_value",
        H.kahneman_tversky_value,
        {
            "z": Arr(lambda c: (c.N,), "real"),
            "alpha": Num(0.2, 1.0),
            "loss_aversion": Num(0.5, 3.0),
        },
    ),
    Entry(
        "halos.probability_weighting",
        H.probability_weighting,
        {"p": Arr(lambda c: (c.N,), "unit"), "gamma": Num(0.3, 1.0)},
    ),
    Entry(
        "halos.check_kto_weights",
        lambda **kw: H.check_kto_weights(**kw, warn=False),
        {
            "num_desirable": Int(1, 50),
            "num_undesirable": Int(1, 50),
            "desirable_weight": Num(0.1, 3.0),
            "undesirable_weight": Num(0.1, 3.0),
        },
        covers=("halos.KTOWeightCheck",),
    ),
    Entry(
        "halos.dpo_loss",
        H.dpo_loss,
        {
            "policy_chosen_logps": B,
            "policy_rejected_logps": B,
            "reference_chosen_logps": B,
            "reference_rejected_logps": B,
            "beta": BETA,
            "loss_type": Choice(H.DPO_LOSS_TYPES),
            "label_smoothing": Num(0.0, 0.4),
        },
        check=_vector,
    ),
    Entry(
        "halos.preference_rewards",
        H.preference_rewards,
        {
            "policy_chosen_logps": B,
            "policy_rejected_logps": B,
            "reference_chosen_logps": B,
            "reference_rejected_logps": B,
            "beta": BETA,
        },
        covers=("halos.PreferenceRewards",),
    ),
    Entry(
        "halos.implicit_reward",
        H.implicit_reward,
        {"policy_logps": B, "reference_logps": B, "beta": BETA},
        check=_vector,
    ),
    Entry(
        "halos.kto_loss",
        H.kto_loss,
        {
            "policy_logps": B,
            "reference_logps": B,
            "desirable": DESIRABLE,
            "kl": Num(-1.0, 1.0),
            "beta": BETA,
            "desirable_weight": WEIGHT,
            "undesirable_weight": WEIGHT,
        },
        check=_vector,
    ),
    Entry(
        "halos.kto_kl_estimate",
        H.kto_kl_estimate,
        {
            "policy_logps_mismatched": B,
            "reference_logps_mismatched": B,
            "mask": Arr(lambda c: (c.N,), "bool", optional=True),
        },
    ),
    Entry(
        "halos.sequence_logps",
        H.sequence_logps,
        {
            "token_logps": Arr(lambda c: (c.N, c.C), "real", -5.0, 0.0),
            "mask": Arr(lambda c: (c.N, c.C), "bool"),
        },
        covers=("halos.SequenceLogps",),
    ),
    Entry(
        "halos.token_logps",
        H.token_logps,
        {
            "logits": Arr(lambda c: (c.N, c.C, 3), "real"),
            "tokens": Arr(lambda c: (c.N, c.C), "index", 0, 2),
        },
    ),
]

# Public names with no entry of their own, and why.
EXEMPT: dict[str, str] = {
    "RewardOutput": "a result container returned by objectives; a custom inner objective's "
    "output is checked where it is consumed (gates.Gated, fuzzed with a bad inner)",
    "gates.Gate": "an abstract base class (its &, |, ~ build And, Or, Not, fuzzed)",
    "scoring_rules.AnswerChoiceReport": "a result container (answer_choice_audit, fuzzed)",
    "scoring_rules.FixedPointTable": "a result container (estimator_fixed_points, fuzzed)",
    "scoring_rules.IncentiveReport": "a result container (audit_confidence_reward, fuzzed)",
    "scoring_rules.ProprietyReport": "a result container (check_propriety, fuzzed)",
    "calibration.BrierDecomposition": "a result container (brier_decomposition, fuzzed)",
    "calibration.ReliabilityBins": "a result container (reliability_bins, fuzzed)",
}
