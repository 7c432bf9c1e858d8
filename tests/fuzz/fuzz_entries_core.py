"""Fuzz entries of the core: Rollouts, compose, terms, advantages, gates, scoring rules."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
from fuzz_kinds import Arr, Choice, Const, Ctx, Entry, Flag, Int, Kind, Num, Obj
from hypothesis import strategies as st

import reward_design as rd
from reward_design import gates as G
from reward_design import scoring_rules as SR
from reward_design import terms as T

# ------------------------------------------------------------------ rollouts

_FIELD_KINDS = {
    "correct": lambda: Arr(lambda c: (c.P, c.G), "binary"),
    "confidence": lambda: Arr(lambda c: (c.P, c.G), "unit"),
    "rubric": lambda: Arr(lambda c: (c.P, c.G, c.K), "bool"),
    "token_rewards": lambda: Arr(lambda c: (c.P, c.G, c.T), "real"),
    "token_mask": lambda: Arr(lambda c: (c.P, c.G, c.T), "bool"),
    "mask": lambda: Arr(lambda c: (c.P, c.G), "bool"),
}


def valid_rollouts(ctx: Ctx, draw: Any, need: tuple[str, ...] = ()) -> rd.Rollouts:
    """Valid rollouts of the context's sizes with the fields in ``need`` (others maybe)."""
    fields: dict[str, Any] = {"correct": draw(_FIELD_KINDS["correct"]().valid(ctx))}
    for name in ("confidence", "rubric", "token_rewards", "mask"):
        if name in need or draw(st.booleans()):
            fields[name] = draw(_FIELD_KINDS[name]().valid(ctx))
    if "rubric" in fields and draw(st.booleans()):
        fields["rubric"] = draw(Arr(lambda c: (c.P, c.G, c.K), "unit").valid(ctx))
    if "token_rewards" in fields and draw(st.booleans()):
        fields["token_mask"] = draw(_FIELD_KINDS["token_mask"]().valid(ctx))
    if "mask" in fields:
        mask = np.array(fields["mask"], dtype=bool)
        mask[:, 0] = True  # no empty group (validate() refuses them by default)
        fields["mask"] = mask
    return rd.Rollouts(**fields)


class RolloutsKind(Kind):
    """A `Rollouts` argument; malformed: another type, or one field malformed."""

    names = ("rollouts", "Rollouts")

    def __init__(self, need: tuple[str, ...] = ()):
        self.need = need

    def valid(self, ctx: Ctx) -> st.SearchStrategy:
        return st.composite(lambda draw: valid_rollouts(ctx, draw, self.need))()

    def bad(self, ctx: Ctx) -> st.SearchStrategy:
        @st.composite
        def draw(draw_: Any) -> Any:
            if draw_(st.integers(0, 5)) == 0:
                return draw_(st.sampled_from([None, {"correct": [[1.0]]}, np.ones((2, 2)), "r"]))
            r = valid_rollouts(ctx, draw_, self.need)
            name = draw_(st.sampled_from(list(_FIELD_KINDS)))
            value = draw_(_FIELD_KINDS[name]().bad(ctx))
            if name == "mask" and draw_(st.booleans()):
                value = np.where(np.asarray(r.valid_mask), 1.0, 0.3)  # a float mask
            fields = {f: getattr(r, f) for f in _FIELD_KINDS}
            fields[name] = value
            return rd.Rollouts(**fields)  # may raise: a ragged list

        return draw()


def _pg(result: Any, ctx: Ctx, dtype: str = "f") -> None:
    arr = np.asarray(result)
    assert arr.shape == (ctx.P, ctx.G), arr.shape
    assert arr.dtype.kind in dtype, arr.dtype


def check_output(out: Any, args: dict, ctx: Ctx, bad: set) -> None:
    """`RewardOutput` contract: [P, G] total/components/accepted; 0 off the mask."""
    assert isinstance(out, rd.RewardOutput)
    _pg(out.total, ctx)
    _pg(out.accepted, ctx, "b")
    r = next(v for v in args.values() if isinstance(v, rd.Rollouts))
    mask = np.asarray(r.valid_mask)
    for value in out.components.values():
        _pg(value, ctx)
        assert np.all(np.asarray(value)[~mask] == 0)
    assert not np.any(np.asarray(out.accepted)[~mask])
    if not bad:
        assert np.all(np.isfinite(np.asarray(out.total)))


def check_terms(result: Any, args: dict, ctx: Ctx, bad: set) -> None:
    _pg(result, ctx)
    if not bad:
        assert np.all(np.isfinite(np.asarray(result)))


def check_verdict(result: Any, args: dict, ctx: Ctx, bad: set) -> None:
    _pg(result, ctx, "b")
    r = args["rollouts"]
    assert not np.any(np.asarray(result)[~np.asarray(r.valid_mask)])


WEIGHT = Num(-3.0, 3.0)
PG_REWARDS = Arr(lambda c: (c.P, c.G), "real", -10.0, 10.0)
PG_MASK = Arr(lambda c: (c.P, c.G), "bool", optional=True)
TERM_CHOICES = {
    "correct": T.Correctness(),
    "brier": T.Brier(weight=0.5),
    "tokens": T.TokenReward(normalize=True),
    "rubric": T.RubricScore(),
    "spherical": T.ScoringRuleTerm(rule=SR.spherical_binary),
    "fn": lambda r: jnp.asarray(r.correct, jnp.float32) * 2.0,
}
ALL_FIELDS = ("confidence", "rubric", "token_rewards")


def _terms_map(ctx: Ctx) -> st.SearchStrategy:
    return st.lists(st.sampled_from(sorted(TERM_CHOICES)), min_size=1, max_size=3, unique=True).map(
        lambda names: {n: TERM_CHOICES[n] for n in names}
    )


def _advantage_check(result: Any, args: dict, ctx: Ctx, bad: set) -> None:
    arr = np.asarray(result)
    assert arr.shape in ((ctx.P, ctx.G), (ctx.P, 1)), arr.shape
    if not bad:
        assert np.all(np.isfinite(arr))
        mask = args.get("mask")
        if mask is not None and arr.shape == (ctx.P, ctx.G):
            assert np.all(arr[~np.asarray(mask, bool)] == 0)


def _advantage(name: str, extra: dict[str, Kind] | None = None) -> Entry:
    fn = getattr(rd.advantages, name)
    return Entry(
        f"advantages.{name}",
        fn,
        {"rewards": PG_REWARDS, "mask": PG_MASK, **(extra or {})},
        check=_advantage_check,
    )


def _gate_entry(name: str, make: Any, params: dict[str, Kind], need=("rubric",)) -> Entry:
    return Entry(
        f"gates.{name}",
        lambda rollouts, **hyper: make(**hyper)(rollouts),
        {"rollouts": RolloutsKind(need), **params},
        check=check_verdict,
    )


class NonEmptyMask(Arr):
    """A mask whose rows each keep their first element (validate() refuses empty groups,
    the calibration metrics a mask that selects nothing)."""

    def valid(self, ctx: Ctx) -> st.SearchStrategy:
        def fill(mask: Any) -> Any:
            if mask is None:
                return None
            mask = np.array(mask, dtype=bool)
            mask[..., 0] = True
            return mask

        return super().valid(ctx).map(fill)


PASS = Num(0.01, 1.0)
SIMPLE_GATES = [G.AllOf(), G.AtLeast(1), G.Not(G.AllOf()), lambda r: r.correct > 0.5]


def _gate(ctx: Ctx) -> st.SearchStrategy:
    return st.sampled_from(SIMPLE_GATES)


def _objective(ctx: Ctx) -> st.SearchStrategy:
    return st.sampled_from(
        [
            rd.compose(c=T.Correctness(), b=T.Brier()),
            rd.compose(c=T.Correctness(), count_invalid=True),
            G.Gated(G.AllOf(), rd.compose(c=T.Correctness(), b=T.Brier())),
        ]
    )


def _bad_inner(r: Any) -> Any:
    return {"total": r.correct}


def _probs_check(result: Any, args: dict, ctx: Ctx, bad: set) -> None:
    arr = np.asarray(result)
    assert arr.shape == (ctx.N,), arr.shape
    if not bad:
        assert not np.any(np.isnan(arr))


def _binary_rule(name: str) -> Entry:
    return Entry(
        f"scoring_rules.{name}",
        getattr(SR, name),
        {
            "p": Arr(lambda c: (c.N,), "unit"),
            "y": Arr(lambda c: (c.N,), "binary"),
        },
        check=_probs_check,
    )


def _multiclass_rule(name: str, order: bool = False) -> Entry:
    params: dict[str, Kind] = {
        "probs": Arr(lambda c: (c.N, c.C), "prob"),
        "outcome": Arr(lambda c: (c.N,), "index", 0, lambda c: c.C - 1),
    }
    if order:
        params["order"] = Num(1.01, 4.0)
    return Entry(f"scoring_rules.{name}", getattr(SR, name), params, check=_probs_check)


def _rlcr(c: Any, y: Any) -> Any:
    return y - (c - y) ** 2


REWARD_FNS = Obj(lambda ctx: st.sampled_from([_rlcr, SR.brier_binary]), names=("reward_fn",))
SMALL_AUDIT = dict(group_size=Int(2, 3), exploration=Num(0.1, 1.0), num_samples=Const(16))


def _strategy_check(result: Any, args: dict, ctx: Ctx, bad: set) -> None:
    assert isinstance(result, st.SearchStrategy)


ENTRIES: list[Entry] = [
    Entry(
        "Rollouts",
        lambda **fields: rd.Rollouts(**fields).validate(),
        {
            **{name: kind() for name, kind in _FIELD_KINDS.items() if name != "mask"},
            "mask": NonEmptyMask(lambda c: (c.P, c.G), "bool", optional=True),
        },
        check=lambda r, a, c, b: isinstance(r, rd.Rollouts),
        covers=("Rollouts",),
    ),
    Entry(
        "compose",
        lambda terms, count_invalid, rollouts: rd.compose(terms, count_invalid=count_invalid)(
            rollouts
        ),
        {
            "terms": Obj(_terms_map, names=("term",)),
            "count_invalid": Flag(),
            "rollouts": RolloutsKind(ALL_FIELDS),
        },
        check=check_output,
        covers=("compose", "Objective"),
    ),
    Entry(
        "Objective",
        lambda terms, count_invalid, rollouts: rd.Objective(
            terms=terms, count_invalid=count_invalid
        )(rollouts),
        {
            "terms": Obj(_terms_map, names=("term",)),
            "count_invalid": Flag(),
            "rollouts": RolloutsKind(ALL_FIELDS),
        },
        check=check_output,
    ),
    _advantage(
        "grpo",
        {"eps": Num(0.0, 1.0), "ddof": Int(0, 1), "scale": Choice(["group", "batch", "none"])},
    ),
    _advantage("dr_grpo"),
    _advantage("rloo"),
    _advantage("group_mean"),
    _advantage("group_std", {"ddof": Int(0, 1)}),
    Entry(
        "terms.Correctness",
        lambda weight, rollouts: T.Correctness(weight=weight)(rollouts),
        {"weight": WEIGHT, "rollouts": RolloutsKind()},
        check=check_terms,
    ),
    Entry(
        "terms.Brier",
        lambda weight, rollouts: T.Brier(weight=weight)(rollouts),
        {"weight": WEIGHT, "rollouts": RolloutsKind(("confidence",))},
        check=check_terms,
    ),
    Entry(
        "terms.TokenReward",
        lambda weight, normalize, rollouts: T.TokenReward(weight=weight, normalize=normalize)(
            rollouts
        ),
        {"weight": WEIGHT, "normalize": Flag(), "rollouts": RolloutsKind(("token_rewards",))},
        check=check_terms,
    ),
    Entry(
        "terms.RubricScore",
        lambda weights, weight, rollouts: T.RubricScore(weights=weights, weight=weight)(rollouts),
        {
            "weights": Arr(lambda c: (c.K,), "real", 0.1, 2.0, optional=True),
            "weight": WEIGHT,
            "rollouts": RolloutsKind(("rubric",)),
        },
        check=check_terms,
    ),
    Entry(
        "terms.ScoringRuleTerm",
        lambda rule, weight, rollouts: T.ScoringRuleTerm(rule=rule, weight=weight)(rollouts),
        {
            "rule": Obj(lambda c: st.sampled_from([SR.brier_binary, SR.log_binary])),
            "weight": WEIGHT,
            "rollouts": RolloutsKind(("confidence",)),
        },
        check=lambda r, a, c, b: _pg(r, c),
    ),
    Entry(
        "terms.FunctionTerm",
        lambda fn, rollouts: T.FunctionTerm(fn=fn)(rollouts),
        {
            "fn": Obj(lambda c: st.sampled_from([lambda r: r.correct, lambda r: r.valid_mask])),
            "rollouts": RolloutsKind(),
        },
        check=lambda r, a, c, b: _pg(r, c, "fb"),
    ),
    Entry(
        "terms.require_field",
        lambda rollouts, name, term: T.require_field(rollouts, name, term),
        {
            "rollouts": RolloutsKind(("confidence",)),
            "name": Choice(["correct", "confidence"]),
            "term": Const("MyTerm"),
        },
    ),
    # ------------------------------------------------------------------ gates
    _gate_entry("AllOf", lambda pass_threshold: G.AllOf(pass_threshold), {"pass_threshold": PASS}),
    _gate_entry(
        "AtLeast",
        lambda k, pass_threshold: G.AtLeast(k, pass_threshold),
        {
            "k": Obj(lambda c: st.integers(0, c.K), junk=(-1, 2.5, "1", None, np.nan)),
            "pass_threshold": PASS,
        },
    ),
    _gate_entry(
        "Essential",
        lambda indices, rest: G.Essential(indices, rest=rest),
        {
            "indices": Obj(lambda c: st.just((0,)), junk=((), (-1,), (0, 0), "0", None, (1.5,))),
            "rest": Obj(lambda c: st.sampled_from([None] if c.K == 1 else [None, G.AtLeast(0)])),
        },
    ),
    _gate_entry(
        "WeightedThreshold",
        lambda weights, threshold: G.WeightedThreshold(weights, threshold),
        {"weights": Arr(lambda c: (c.K,), "real", -1.0, 2.0), "threshold": Num(-1.0, 2.0)},
    ),
    Entry(
        "gates.WeightedThreshold.score",
        lambda rollouts, weights: G.WeightedThreshold(weights, 0.5).score(rollouts),
        {"rollouts": RolloutsKind(("rubric",)), "weights": Arr(lambda c: (c.K,), "real")},
        check=lambda r, a, c, b: _pg(r, c),
    ),
    _gate_entry(
        "FunctionGate",
        lambda fn, params: G.FunctionGate(fn, params),
        {
            "fn": Obj(lambda c: st.just(lambda r, p=None: r.correct > 0.5)),
            "params": Const(None),
        },
        need=(),
    ),
    _gate_entry(
        "gate_from_fn",
        lambda fn: G.gate_from_fn(fn),
        {"fn": Obj(lambda c: st.just(lambda r: r.correct > 0.5))},
        need=(),
    ),
    _gate_entry("Not", lambda gate: G.Not(gate), {"gate": Obj(_gate)}),
    _gate_entry(
        "And",
        lambda gates: G.And(gates),
        {
            "gates": Obj(
                lambda c: st.lists(_gate(c), min_size=1, max_size=3), junk=([], [3], "g", None)
            )
        },
    ),
    _gate_entry(
        "Or",
        lambda gates: G.Or(gates=gates),
        {
            "gates": Obj(
                lambda c: st.lists(_gate(c), min_size=1, max_size=3), junk=([], [3], "g", None)
            )
        },
    ),
    Entry(
        "gates.rubric_passes",
        lambda rollouts, pass_threshold: G.rubric_passes(rollouts, pass_threshold),
        {"rollouts": RolloutsKind(("rubric",)), "pass_threshold": PASS},
        check=lambda r, a, c, b: np.asarray(r).shape == (c.P, c.G, c.K),
    ),
    Entry(
        "gates.Gated",
        lambda gate, inner, on_reject, floor, group_filter, rollouts, estimator: G.Gated(
            gate, inner, on_reject=on_reject, floor=floor, group_filter=group_filter
        ).advantages(rollouts, estimator),
        {
            "gate": Obj(_gate),
            "inner": Obj(_objective, junk=(3, None, "f", _bad_inner), names=("inner",)),
            "on_reject": Choice(["floor", "drop"]),
            "floor": Num(-2.0, 2.0),
            "group_filter": Obj(lambda c: st.sampled_from([None, G.GroupFilter()])),
            "rollouts": RolloutsKind(("confidence", "rubric")),
            "estimator": Choice(["grpo", "dr_grpo", "rloo"]),
        },
        check=lambda r, a, c, b: (check_output(r[0], a, c, b), _pg(r[1], c)),
    ),
    Entry(
        "gates.GroupFilter",
        lambda min_accepted, atol, drop_degenerate, rewards, accepted, signal_mask: G.GroupFilter(
            min_accepted, drop_degenerate, atol
        ).verdicts(rewards, accepted, signal_mask),
        {
            "min_accepted": Int(0, 3),
            "atol": Num(0.0, 1.0),
            "drop_degenerate": Flag(),
            "rewards": PG_REWARDS,
            "accepted": Arr(lambda c: (c.P, c.G), "bool"),
            "signal_mask": PG_MASK,
        },
        check=lambda r, a, c, b: all(np.asarray(v).shape == (c.P,) for v in r),
    ),
    # ----------------------------------------------------------- scoring rules
    _multiclass_rule("brier"),
    _multiclass_rule("log"),
    _multiclass_rule("spherical"),
    _multiclass_rule("ranked_probability"),
    _multiclass_rule("power", order=True),
    _multiclass_rule("pseudospherical", order=True),
    _binary_rule("brier_binary"),
    _binary_rule("log_binary"),
    _binary_rule("spherical_binary"),
    Entry(
        "scoring_rules.validate_forecast",
        lambda forecast, outcome, atol: SR.validate_forecast(forecast, outcome, atol=atol),
        {
            "forecast": Arr(lambda c: (c.N, c.C), "prob"),
            "outcome": Arr(lambda c: (c.N,), "index", 0, lambda c: c.C - 1, optional=True),
            "atol": Const(1e-4),
        },
    ),
    Entry(
        "scoring_rules.check_propriety",
        lambda rule, num_classes, binary: SR.check_propriety(
            rule,
            num_classes,
            binary=binary,
            num_truths=5,
            num_candidates=9,
            refine_rounds=0,
            num_proposals=2,
        ),
        {
            "rule": Obj(lambda c: st.just(SR.brier), names=("rule",)),
            "num_classes": Int(2, 3),
            "binary": Const(False),
        },
        fast_valid=False,
        examples=(1, 5),
        check=lambda r, a, c, b: isinstance(r, SR.ProprietyReport),
    ),
    Entry(
        "scoring_rules.audit_confidence_reward",
        lambda reward_fn, estimator, **kw: SR.audit_confidence_reward(
            reward_fn, estimator, num_q=5, num_confidences=11, answer_choice=False, **kw
        ),
        {"reward_fn": REWARD_FNS, "estimator": Choice([None, "dr_grpo"]), **SMALL_AUDIT},
        fast_valid=False,
        examples=(2, 6),
        check=lambda r, a, c, b: isinstance(r, SR.IncentiveReport),
    ),
    Entry(
        "scoring_rules.estimator_fixed_points",
        lambda reward_fn, estimator, **kw: SR.estimator_fixed_points(
            reward_fn, estimator, num_grid=5, **kw
        ),
        {"reward_fn": REWARD_FNS, "estimator": Choice(["grpo", "rloo"]), **SMALL_AUDIT},
        fast_valid=False,
        examples=(1, 5),
        check=lambda r, a, c, b: isinstance(r, SR.FixedPointTable),
    ),
    Entry(
        "scoring_rules.answer_choice_audit",
        lambda reward_fn, estimator, **kw: SR.answer_choice_audit(
            reward_fn, estimator, q=(0.3, 0.7), choice=(0.5,), **kw
        ),
        {"reward_fn": REWARD_FNS, "estimator": Choice(["dr_grpo"]), **SMALL_AUDIT},
        fast_valid=False,
        examples=(1, 4),
        check=lambda r, a, c, b: isinstance(r, SR.AnswerChoiceReport),
    ),
    Entry(
        "scoring_rules.strategies.probability_vectors",
        lambda num_classes, allow_zeros: SR.strategies.probability_vectors(
            num_classes, allow_zeros=allow_zeros
        ),
        {"num_classes": Int(2, 4), "allow_zeros": Flag()},
        check=_strategy_check,
    ),
    Entry(
        "scoring_rules.strategies.binary_outcomes",
        lambda shape: SR.strategies.binary_outcomes(shape),
        {"shape": Obj(lambda c: st.sampled_from([None, 3, (2, 2)]), junk=(-1, "3", (2.5,)))},
        check=_strategy_check,
    ),
    Entry(
        "scoring_rules.strategies.confidences",
        lambda allow_boundary: SR.strategies.confidences(allow_boundary=allow_boundary),
        {"allow_boundary": Flag()},
        check=_strategy_check,
    ),
    Entry(
        "scoring_rules.strategies.class_outcomes",
        lambda num_classes, shape: SR.strategies.class_outcomes(num_classes, shape),
        {
            "num_classes": Int(2, 4),
            "shape": Obj(lambda c: st.sampled_from([None, 3, (2, 2)]), junk=(-1, "3", (2.5,))),
        },
        check=_strategy_check,
    ),
]
