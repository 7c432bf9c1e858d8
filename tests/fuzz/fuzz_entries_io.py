"""Fuzz entries of integrations, distributed and kernels."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
from fuzz_entries_core import RolloutsKind, check_output
from fuzz_kinds import Arr, Choice, Const, Ctx, Entry, Flag, Int, Num, Obj, Text
from hypothesis import strategies as st

import reward_design as rd
from reward_design import integrations as I
from reward_design.integrations import flat as F


def _text_ok(result: Any, args: dict, ctx: Ctx, bad: set) -> None:
    answer, confidence = result
    assert answer is None or isinstance(answer, str)
    assert confidence is None or 0.0 <= confidence <= 1.0


OBJECTIVES = Obj(
    lambda c: st.sampled_from([None, I.default_objective(), rd.compose(c=rd.terms.Correctness())]),
    junk=(3, "f", lambda r: 1.0),
)
MATCH = Obj(lambda c: st.sampled_from([I.exact_match, I.numeric_match]))
PARSE = Obj(lambda c: st.sampled_from([I.parse_answer_confidence]))


class Completions(Text):
    """N completions (one Text each) as a list."""

    def valid(self, ctx: Ctx) -> st.SearchStrategy:
        return st.lists(super().valid(ctx), min_size=ctx.N, max_size=ctx.N)

    def bad(self, ctx: Ctx) -> st.SearchStrategy:
        return st.one_of(
            st.lists(super().bad(ctx), min_size=ctx.N, max_size=ctx.N),
            st.sampled_from([None, "one string", 3]),
        )


class Truths(Completions):
    def bad(self, ctx: Ctx) -> st.SearchStrategy:
        return st.sampled_from([None, ["a"] * (ctx.N + 1), 3, [None] * ctx.N])


COMPLETIONS = Completions(names=("completions", "texts", "solution_strs"))
TRUTHS = Truths(names=("ground truth", "ground_truth", "solution", "answer"))


def _floats(result: Any, args: dict, ctx: Ctx, bad: set) -> None:
    assert isinstance(result, list) and all(isinstance(v, float) for v in result)


def _trl(make: Any, per_component: bool = False) -> Any:
    def call(objective, match, invalid_reward, completions, truths):
        fns = make(objective=objective, match=match, invalid_reward=invalid_reward)
        fns = fns if isinstance(fns, list) else [fns]
        key = fns[0].answer_key
        return [v for fn in fns for v in fn(prompts=None, completions=completions, **{key: truths})]

    return call


TEXT_FN_ARGS = {
    "objective": OBJECTIVES,
    "match": MATCH,
    "invalid_reward": Num(-2.0, 0.0),
    "completions": COMPLETIONS,
    "truths": TRUTHS,
}


def _mesh(ctx: Ctx) -> st.SearchStrategy:
    return st.just(rd.distributed.default_mesh())


def _step(r: Any) -> Any:
    return rd.compose(c=rd.terms.Correctness())(r).total


ENTRIES: list[Entry] = [
    # ----------------------------------------------------------- integrations
    Entry(
        "integrations.parse_answer_confidence",
        lambda text, allow_percent: I.parse_answer_confidence(text, allow_percent=allow_percent),
        {"text": Text(), "allow_percent": Flag()},
        check=_text_ok,
    ),
    Entry(
        "integrations.extract_tag",
        I.extract_tag,
        {"text": Text(), "tag": Choice(["answer", "confidence"])},
        check=lambda r, a, c, b: r is None or isinstance(r, str),
    ),
    Entry(
        "integrations.parse_confidence",
        lambda content, allow_percent: I.parse_confidence(content, allow_percent=allow_percent),
        {"content": Text(tags=False), "allow_percent": Flag()},
        check=lambda r, a, c, b: r is None or 0.0 <= r <= 1.0,
    ),
    Entry(
        "integrations.parse_number",
        I.parse_number,
        {"text": Text(tags=False)},
        check=lambda r, a, c, b: r is None or np.isfinite(r),
    ),
    Entry(
        "integrations.normalize_answer",
        I.normalize_answer,
        {"text": Text()},
        check=lambda r, a, c, b: isinstance(r, str),
    ),
    Entry(
        "integrations.exact_match",
        I.exact_match,
        {"prediction": Text(), "ground_truth": Text()},
        check=lambda r, a, c, b: isinstance(r, bool),
    ),
    Entry(
        "integrations.numeric_match",
        lambda prediction, ground_truth, rel_tol: I.numeric_match(
            prediction, ground_truth, rel_tol=rel_tol
        ),
        {
            "prediction": Text(tags=False),
            "ground_truth": Text(tags=False),
            "rel_tol": Num(0.0, 0.1),
        },
        check=lambda r, a, c, b: isinstance(r, bool),
    ),
    Entry(
        "integrations.completion_text",
        I.completion_text,
        {
            "completion": Obj(
                lambda c: st.sampled_from(
                    [
                        "x",
                        b"x",
                        {"role": "assistant", "content": "x"},
                        [{"content": [{"text": "y"}]}],
                    ]
                ),
                junk=(None, 3, [1, 2], {"content": 3}),
            )
        },
        check=lambda r, a, c, b: r is None or isinstance(r, str),
        covers=("integrations.trl.completion_text",),
    ),
    Entry(
        "integrations.default_objective",
        lambda rollouts: I.default_objective()(rollouts),
        {"rollouts": RolloutsKind(("confidence",))},
        check=check_output,
    ),
    Entry(
        "integrations.TextScorer",
        lambda objective, match, invalid_reward, completions, truths: I.TextScorer(
            objective, match=match, invalid_reward=invalid_reward
        ).score(completions, truths),
        TEXT_FN_ARGS,
        check=lambda r, a, c, b: isinstance(r, I.ScoredBatch) and r.total.shape == (c.N,),
        covers=("integrations.ScoredBatch",),
        examples=(3, 12),
    ),
    Entry(
        "integrations.trl.reward_func",
        _trl(I.trl.reward_func),
        TEXT_FN_ARGS,
        check=_floats,
        covers=("integrations.TextRewardFunction", "integrations.trl.TextRewardFunction"),
        examples=(3, 12),
    ),
    Entry(
        "integrations.trl.component_reward_funcs",
        _trl(I.trl.component_reward_funcs),
        TEXT_FN_ARGS,
        check=_floats,
        examples=(2, 10),
    ),
    Entry(
        "integrations.tunix.reward_fn",
        _trl(I.tunix.reward_fn),
        TEXT_FN_ARGS,
        check=_floats,
        examples=(2, 10),
    ),
    Entry(
        "integrations.tunix.component_reward_fns",
        _trl(I.tunix.component_reward_fns),
        TEXT_FN_ARGS,
        check=_floats,
        examples=(2, 10),
    ),
    Entry(
        "integrations.verl.compute_score",
        lambda solution_str, ground_truth: I.verl.compute_score("src", solution_str, ground_truth),
        {"solution_str": Text(), "ground_truth": Text(names=("ground_truth",))},
        check=lambda r, a, c, b: isinstance(r, dict) and isinstance(r["score"], float),
    ),
    Entry(
        "integrations.verl.compute_score_batch",
        lambda completions, truths: I.verl.compute_score_batch(None, completions, truths, None),
        {"completions": COMPLETIONS, "truths": TRUTHS},
        check=lambda r, a, c, b: isinstance(r, list),
    ),
    Entry(
        "integrations.verl.make_compute_score",
        lambda objective, match, invalid_reward, completions, truths: I.verl.make_compute_score(
            objective, match=match, invalid_reward=invalid_reward, batched=True
        )(None, completions, truths, None),
        TEXT_FN_ARGS,
        check=lambda r, a, c, b: isinstance(r, list),
        covers=("integrations.verl.VerlScore",),
        examples=(2, 10),
    ),
    Entry(
        "integrations.flat.flat_index",
        lambda group_ids, group_size, num_samples: (
            F.flat_index(group_ids, num_samples=num_samples)
            if group_size is None
            else F.flat_index(group_size=group_size, num_samples=num_samples)
        ),
        {
            "group_ids": Arr(lambda c: (c.N,), "index", 0, 2),
            "group_size": Obj(lambda c: st.sampled_from([None, 1]), junk=(0, "1", 2.5)),
            "num_samples": Obj(lambda c: st.just(c.N), junk=("4", 2.5, -1)),
        },
        check=lambda r, a, c, b: isinstance(r, F.FlatIndex),
        covers=("integrations.flat.FlatIndex",),
    ),
    Entry(
        "integrations.flat.to_grouped",
        lambda values, fill_value: F.to_grouped(
            values, F.flat_index(group_size=1, num_samples=3), fill_value
        ),
        {"values": Arr(lambda c: (3,), "real"), "fill_value": Num(-1.0, 1.0)},
    ),
    Entry(
        "integrations.flat.to_flat",
        lambda grouped: F.to_flat(grouped, F.flat_index([0, 1, 0], num_samples=3)),
        {"grouped": Arr(lambda c: (2, 2), "real")},
    ),
    Entry(
        "integrations.flat.rollouts_from_flat",
        lambda correct, confidence, group_size: F.rollouts_from_flat(
            correct, confidence, group_size=group_size
        ),
        {
            "correct": Arr(lambda c: (4,), "binary"),
            "confidence": Arr(lambda c: (4,), "unit", optional=True),
            "group_size": Choice([1, 2, 4]),
        },
    ),
    Entry(
        "integrations.flat.flat_advantages",
        lambda rewards, mask, estimator: F.flat_advantages(
            rewards, group_ids=[0, 1, 0, 1], mask=mask, estimator=estimator
        ),
        {
            "rewards": Arr(lambda c: (4,), "real"),
            "mask": Arr(lambda c: (4,), "bool", optional=True),
            "estimator": Obj(lambda c: st.sampled_from([rd.advantages.grpo, rd.advantages.rloo])),
        },
    ),
    # ------------------------------------------------------------ distributed
    Entry(
        "distributed.default_mesh",
        rd.distributed.default_mesh,
        {
            "axis": Choice(["data", "x"]),
            "devices": Obj(lambda c: st.just(None), junk=("cpu", [1], [])),
        },
    ),
    Entry(
        "distributed.prompt_sharding",
        rd.distributed.prompt_sharding,
        {"mesh": Obj(_mesh), "axis": Const("data")},
    ),
    Entry(
        "distributed.shard_rollouts",
        lambda rollouts, mesh: rd.distributed.shard_rollouts(rollouts, mesh),
        {
            "rollouts": RolloutsKind(),
            "mesh": Obj(lambda c: st.sampled_from([None, rd.distributed.default_mesh()])),
        },
    ),
    Entry(
        "distributed.pad_rollouts",
        rd.distributed.pad_rollouts,
        {"rollouts": RolloutsKind(), "multiple": Int(1, 4)},
    ),
    Entry(
        "distributed.unpad",
        lambda num_prompts: rd.distributed.unpad({"a": jnp.ones((3, 2)), "s": 1.0}, num_prompts),
        {"num_prompts": Int(0, 3)},
    ),
    Entry(
        "distributed.sharded_jit",
        lambda fn, rollouts: rd.distributed.sharded_jit(fn)(rollouts),
        {
            "fn": Obj(lambda c: st.just(_step)),
            "rollouts": Obj(lambda c: st.just(rd.Rollouts(correct=np.ones((2, 2))))),
        },
        fast_valid=False,
        examples=(1, 5),
    ),
    Entry(
        "distributed.shard_map_step",
        lambda fn, replicated_argnums: rd.distributed.shard_map_step(
            fn, replicated_argnums=replicated_argnums
        )(rd.Rollouts(correct=np.ones((2, 2)))),
        {
            "fn": Obj(lambda c: st.just(_step)),
            "replicated_argnums": Obj(lambda c: st.just(()), junk=("0", 1.5, None)),
        },
        fast_valid=False,
        examples=(1, 5),
    ),
    Entry(
        "distributed.collective_mean",
        lambda x, weights: rd.distributed.shard_map_step(
            lambda x: jnp.reshape(rd.distributed.collective_mean(x, "data", weights), (1,))
        )(x),
        {
            "x": Arr(lambda c: (c.N,), "real", names=("argument 0",)),
            "weights": Arr(lambda c: (c.N,), "unit", optional=True),
        },
        examples=(2, 6),
    ),
    Entry(
        "distributed.rollouts_from_process_local",
        lambda local: rd.distributed.rollouts_from_process_local(local),
        {"local": RolloutsKind()},
    ),
    # ---------------------------------------------------------------- kernels
    Entry(
        "kernels.gated_advantages",
        lambda gated, rollouts, estimator: rd.kernels.gated_advantages(gated, rollouts, estimator),
        {
            "gated": Obj(
                lambda c: st.just(
                    rd.gates.Gated(
                        rd.gates.AllOf(), rd.compose(c=rd.terms.Correctness()), on_reject="drop"
                    )
                ),
                junk=(None, rd.compose(c=rd.terms.Correctness())),
            ),
            "rollouts": RolloutsKind(("rubric",)),
            "estimator": Choice(rd.kernels.ESTIMATORS),
        },
        check=lambda r, a, c, b: check_output(r[0], a, c, b),
    ),
    Entry(
        "kernels.gated_group_advantages",
        lambda rewards, rubric, valid, k, estimator: rd.kernels.gated_group_advantages(
            rewards, rubric, valid, k, estimator=estimator
        ),
        {
            "rewards": Arr(lambda c: (c.P, c.G), "real"),
            "rubric": Arr(lambda c: (c.P, c.G, c.K), "bool"),
            "valid": Arr(lambda c: (c.P, c.G), "bool", optional=True),
            "k": Obj(lambda c: st.integers(0, c.K), junk=("1", None, np.ones(2))),
            "estimator": Choice(rd.kernels.ESTIMATORS),
        },
    ),
    Entry(
        "kernels.supports",
        lambda gated, estimator: rd.kernels.supports(gated, estimator),
        {"gated": Obj(lambda c: st.just(None)), "estimator": Choice(rd.kernels.ESTIMATORS)},
        check=lambda r, a, c, b: isinstance(r, bool),
    ),
    Entry(
        "kernels.kernel_status",
        rd.kernels.kernel_status,
        {},
        check=lambda r, a, c, b: isinstance(r, dict),
    ),
]
