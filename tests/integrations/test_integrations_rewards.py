"""Text reward functions (TRL, tunix, verl): values vs the JAX objective, signatures, robustness."""

from __future__ import annotations

import functools
import importlib.util
import inspect
import pickle
import subprocess
import sys
import warnings

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reward_design as rd
from reward_design.integrations import TextScorer, numeric_match
from reward_design_bench.implementations import handwritten_rlcr_reward

RLCR = rd.compose(correct=rd.terms.Correctness(), brier=rd.terms.Brier(weight=1.0))


def _completion(answer, confidence):
    conf = "" if confidence is None else f"<confidence>{confidence!r}</confidence>"
    return f"<think>hm</think><answer>{answer}</answer><analysis>ok</analysis>{conf}"


def _objective_on_arrays(objective, correct, confidence):
    """The JAX objective evaluated eagerly on the same numbers, [N, 1]."""
    r = rd.Rollouts(
        correct=np.asarray(correct, np.float32)[:, None],
        confidence=None if confidence is None else np.asarray(confidence, np.float32)[:, None],
    )
    out = objective(r.validate())
    return np.asarray(out.total)[:, 0], {k: np.asarray(v)[:, 0] for k, v in out.components.items()}


# ------------------------------------------------------- values vs objective
@given(
    st.lists(
        st.tuples(st.sampled_from(["4", "5", "four"]), st.floats(0.0, 1.0)), min_size=1, max_size=12
    ),
    st.floats(0.0, 3.0),
)
@settings(max_examples=20)
def test_trl_rewards_equal_jax_objective_on_arrays(rows, weight):
    objective = rd.compose(correct=rd.terms.Correctness(), brier=rd.terms.Brier(weight=weight))
    fn = rd.integrations.trl.reward_func(objective, answer_key="solution")
    completions = [_completion(a, c) for a, c in rows]
    got = fn(prompts=["q"] * len(rows), completions=completions, solution=["4"] * len(rows))
    correct = [float(a == "4") for a, _ in rows]
    expected, _ = _objective_on_arrays(objective, correct, [c for _, c in rows])
    assert all(isinstance(v, float) for v in got)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    # Closed form of correctness + w * Brier (RLCR).
    closed = [y - weight * (c - y) ** 2 for y, (_, c) in zip(correct, rows, strict=True)]
    np.testing.assert_allclose(got, closed, rtol=1e-5, atol=1e-6)


# An RLCR-like completion, well formed or not, on which the hand-written
# TRL-style function (`handwritten_rlcr_reward`, the bench's reference) and
# ours must agree: pairs that are not nested (a stray unclosed tag only after
# the last pair), answers that SQuAD normalisation leaves as they are (up to
# surrounding whitespace).
_answers = st.sampled_from(["42", "17", " 42 ", "\n42", "paris", "", "  "])
_confidences = st.one_of(
    st.floats(0.0, 1.0).map(repr),
    st.floats(-0.5, 1.5).map(lambda p: f"{p:.6f}"),
    st.sampled_from(["high", "", " 0.25 ", ".5", "1", "0", "1e-1", "80%", "nan", "inf", "1.5"]),
)
_pair = st.tuples(st.booleans(), st.sampled_from(["complete", "missing", "unclosed"]))


@st.composite
def _rlcr_like(draw):
    text = draw(st.sampled_from(["", "<think>2+2=4</think>", "reasoning... "]))
    if draw(st.booleans()):  # an earlier attempt, superseded by the last pair
        text += f"<answer>{draw(_answers)}</answer><confidence>0.3</confidence> wait. "
    answer_form = draw(st.sampled_from(["complete", "complete", "missing", "unclosed"]))
    answer = draw(_answers)
    if answer_form == "complete":
        text += f"<answer>{answer}</answer>"
    if draw(st.booleans()):
        text += "<analysis>sure?</analysis>"
    confidence_form = draw(st.sampled_from(["complete", "complete", "missing", "unclosed"]))
    if confidence_form == "complete":
        text += f"<confidence>{draw(_confidences)}</confidence>"
    if answer_form == "unclosed":
        text += f"<answer>{answer}"
    if confidence_form == "unclosed":
        text += "<confidence>0.9"
    return text


@given(
    st.lists(st.tuples(_rlcr_like(), st.sampled_from(["42", " 42", "paris"])), max_size=40),
    st.sampled_from([-1.0, -2.5, 0.0]),
)
@settings(max_examples=60)
def test_trl_reward_func_equals_a_hand_written_regex_function(rows, invalid_reward):
    completions = [text for text, _ in rows]
    solution = [truth for _, truth in rows]
    fn = rd.integrations.trl.reward_func(RLCR, invalid_reward=invalid_reward)
    got = fn(prompts=["q"] * len(rows), completions=completions, solution=solution)
    expected = handwritten_rlcr_reward(completions, solution, invalid_reward=invalid_reward)
    assert all(isinstance(v, float) for v in got)
    # float32 (ours) against float64 (plain Python): the same numbers to 1e-7.
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-7)


def test_invalid_completions_get_invalid_reward_and_valid_ones_are_unaffected():
    fn = rd.integrations.trl.reward_func(RLCR, invalid_reward=-2.5)
    completions = [
        _completion("4", 0.9),
        "no tags",
        _completion("4", None),  # confidence missing: Brier cannot be computed
        "<answer>4</answer><confidence>1.7</confidence>",  # out of range
        _completion("5", 0.2),
    ]
    got = fn(completions=completions, solution=["4"] * 5)
    expected, _ = _objective_on_arrays(RLCR, [1.0, 0.0], [0.9, 0.2])
    np.testing.assert_allclose(got, [expected[0], -2.5, -2.5, -2.5, expected[1]], rtol=1e-6)


def test_objective_without_confidence_accepts_missing_confidence():
    objective = rd.compose(correct=rd.terms.Correctness(weight=2.0))
    scorer = TextScorer(objective)
    assert not scorer.require_confidence
    fn = rd.integrations.trl.reward_func(objective)
    assert fn(completions=["<answer>4</answer>", "x"], solution=["4", "4"]) == [2.0, -1.0]
    strict = rd.integrations.trl.reward_func(objective, require_confidence=True)
    assert strict(completions=["<answer>4</answer>"], solution=["4"]) == [-1.0]


def test_gated_or_custom_objectives_and_matchers():
    def length_penalty(r):
        return -0.1 * np.ones(np.shape(r.correct), np.float32)

    objective = rd.compose(
        correct=rd.terms.Correctness(), brier=rd.terms.Brier(weight=0.5), length=length_penalty
    )
    fn = rd.integrations.trl.reward_func(objective, match=numeric_match)
    got = fn(
        completions=[_completion("1,000", 0.5), _completion("999", 0.5)], solution=[1000, 1000]
    )
    expected, _ = _objective_on_arrays(objective, [1.0, 0.0], [0.5, 0.5])
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # Partial credit from a matcher is passed through as `correct` in [0, 1].
    half = rd.integrations.trl.reward_func(RLCR, match=lambda a, t: 0.5)
    expected, _ = _objective_on_arrays(RLCR, [0.5], [0.5])
    np.testing.assert_allclose(half(completions=[_completion("x", 0.5)], solution=["y"]), expected)


# ---------------------------------------------------------- TRL conventions
def test_trl_signature_extra_kwargs_and_logging():
    fn = rd.integrations.trl.reward_func(RLCR, answer_key="solution")
    assert fn.__name__ == "correct+brier"
    metrics = {}
    got = fn(
        prompts=["p1", "p2"],
        completions=[_completion("4", 1.0), "oops"],
        completion_ids=[[1, 2], [3]],
        solution=["4", "4"],
        difficulty=["easy", "hard"],  # another dataset column
        trainer_state=object(),
        log_extra=lambda column, values: None,
        log_metric=lambda name, value: metrics.__setitem__(name, value),
    )
    assert got == [1.0, -1.0]
    assert metrics == {"correct+brier/valid_fraction": 0.5}
    named = rd.integrations.trl.reward_func(RLCR, name="rlcr")
    assert named.__name__ == "rlcr"


def test_trl_conversational_completions_use_last_assistant_message():
    fn = rd.integrations.trl.reward_func(RLCR)
    conversational = [
        [{"role": "assistant", "content": _completion("4", 0.8)}],
        [
            {"role": "assistant", "content": _completion("5", 0.1)},
            {"role": "tool", "content": "result"},
            {"role": "assistant", "content": _completion("4", 0.6)},
        ],
        [{"role": "assistant", "content": [{"type": "text", "text": _completion("4", 0.3)}]}],
        [{"content": _completion("5", 0.0)}],  # no role: the last message
        [{"role": "assistant", "content": None}],
        [],
    ]
    got = fn(
        prompts=[[{"role": "user", "content": "2+2?"}]] * 6,
        completions=conversational,
        solution=["4"] * 6,
    )
    expected, _ = _objective_on_arrays(RLCR, [1, 1, 1, 0], [0.8, 0.6, 0.3, 0.0])
    np.testing.assert_allclose(got, [*expected, -1.0, -1.0], rtol=1e-6)


def test_trl_missing_answer_column_is_a_clear_error():
    fn = rd.integrations.trl.reward_func(RLCR, answer_key="answer")
    with pytest.raises(ValueError, match="'answer' is missing.*solution"):
        fn(completions=["x"], solution=["4"])
    with pytest.raises(ValueError, match="completions"):
        fn(prompts=["p"], answer=["4"])
    with pytest.raises(ValueError, match="one ground truth per completion"):
        fn(completions=["x", "y"], answer=["4"])
    # the column is named, with both lengths (3 completions, 2 solutions)
    fn = rd.integrations.trl.reward_func(RLCR)
    with pytest.raises(ValueError, match="column 'solution' has 2 entries but completions has 3"):
        fn(completions=["a", "b", "c"], solution=["a", "b"])
    with pytest.raises(TypeError, match="completions must be a list"):
        fn(completions="a single string", solution=["a"])
    scorer = rd.integrations.TextScorer(RLCR)
    with pytest.raises(ValueError, match=r"3 completions \(texts\) but 2 ground truths"):
        scorer.score(["a", "b", "c"], ["a", "b"])
    with pytest.raises(TypeError, match="TextScorer.score: ground_truths must be a sequence"):
        scorer.score(["a"], 4)


def test_component_functions_sum_to_the_total():
    fns = rd.integrations.trl.component_reward_funcs(RLCR, invalid_reward=-3.0)
    assert [f.__name__ for f in fns] == ["correct", "brier", "rest"]
    total = rd.integrations.trl.reward_func(RLCR, invalid_reward=-3.0)
    completions = [_completion("4", 0.7), "bad", _completion("5", 0.4)]
    kwargs = {"completions": completions, "solution": ["4"] * 3}
    parts = np.array([f(**kwargs) for f in fns])
    np.testing.assert_allclose(parts.sum(axis=0), total(**kwargs), rtol=1e-6)
    _, comps = _objective_on_arrays(RLCR, [1.0, 0.0], [0.7, 0.4])
    np.testing.assert_allclose(parts[0], [comps["correct"][0], 0.0, comps["correct"][1]])
    np.testing.assert_allclose(parts[1], [comps["brier"][0], 0.0, comps["brier"][1]], rtol=1e-6)
    np.testing.assert_allclose(parts[2], [0.0, -3.0, 0.0], atol=1e-7)
    prefixed = rd.integrations.trl.component_reward_funcs(RLCR, name="rd")
    assert [f.__name__ for f in prefixed] == ["rd/correct", "rd/brier", "rd/rest"]


def test_component_functions_share_one_evaluation():
    calls = []

    def counting_parse(text):
        calls.append(text)
        return rd.integrations.parse_answer_confidence(text)

    fns = rd.integrations.trl.component_reward_funcs(RLCR, parse=counting_parse)
    kwargs = {"completions": [_completion("4", 0.5)] * 3, "solution": ["4"] * 3}
    for f in fns:
        f(**kwargs)
    assert len(calls) == 3  # parsed once for all three functions
    fns[0](completions=[_completion("4", 0.5)] * 3, solution=["5"] * 3)
    assert len(calls) == 6  # new ground truths: recomputed


_TRACES: list = []


def _trace_counter(r):
    """A zero reward term that records each trace of the objective (a Python side effect)."""
    _TRACES.append(1)
    return jnp.zeros_like(r.correct)


def test_one_compile_across_hyperparameters_and_batch_sizes():
    def objective(weight):  # the same static term function each time: one structure
        return rd.compose(
            correct=rd.terms.Correctness(), brier=rd.terms.Brier(weight=weight), zero=_trace_counter
        )

    weights = (0.3, 0.7, 1.9, 0.1)
    fns = [rd.integrations.trl.reward_func(objective(w)) for w in weights]
    before = len(_TRACES)  # construction traces abstractly (eval_shape)
    for fn, weight, n in zip(fns, weights, [3, 5, 8, 1], strict=True):
        got = fn(completions=[_completion("4", 0.5)] * n, solution=["4"] * n)
        np.testing.assert_allclose(got, [1.0 - weight * 0.25] * n, rtol=1e-6)
    # One trace for the first call; the others reuse its program: same bucket
    # (8 rows), and the weights are traced, not static.
    assert len(_TRACES) - before == 1
    fns[0](completions=[_completion("4", 0.5)] * 9, solution=["4"] * 9)
    assert len(_TRACES) - before == 2  # 16 rows: a new bucket, one more program


# ------------------------------------------------------- never raise on text
_weird = st.one_of(
    st.text(max_size=80),
    st.none(),
    st.integers(),
    st.binary(max_size=10),
    st.lists(
        st.dictionaries(
            st.sampled_from(["role", "content", "x"]),
            st.one_of(st.text(max_size=20), st.none(), st.integers()),
            max_size=3,
        ),
        max_size=3,
    ),
    st.builds(lambda a, c: _completion(a, c), st.text(max_size=10), st.floats(allow_nan=True)),
)


@given(
    st.lists(_weird, min_size=1, max_size=8),
    st.lists(
        st.one_of(
            st.text(max_size=5), st.integers(), st.none(), st.lists(st.text(max_size=3), max_size=2)
        ),
        min_size=8,
        max_size=8,
    ),
)
def test_invalid_text_never_raises(completions, truths):
    fn = rd.integrations.trl.reward_func(RLCR, invalid_reward=-1.0)
    got = fn(completions=completions, solution=truths[: len(completions)])
    assert len(got) == len(completions)
    assert all(isinstance(v, float) and (v == -1.0 or -1.0 <= v <= 1.0) for v in got)


def test_raising_matcher_or_parser_gives_invalid_reward_with_a_warning():
    def boom(answer, truth):
        raise RuntimeError("matcher bug")

    fn = rd.integrations.trl.reward_func(RLCR, match=boom)
    with pytest.warns(RuntimeWarning, match="matcher bug"):
        assert fn(completions=[_completion("4", 0.5)], solution=["4"]) == [-1.0]
    bad_range = rd.integrations.trl.reward_func(RLCR, match=lambda a, t: 2.0)
    with pytest.warns(RuntimeWarning, match="outside"):
        assert bad_range(completions=[_completion("4", 0.5)], solution=["4"]) == [-1.0]

    def bad_parse(text):
        raise KeyError("parser bug")

    fn = rd.integrations.trl.reward_func(RLCR, parse=bad_parse)
    with pytest.warns(RuntimeWarning, match="parser bug"):
        assert fn(completions=["x"], solution=["4"]) == [-1.0]


def test_percent_parser_option():
    from reward_design.integrations import parse_answer_confidence

    fn = rd.integrations.trl.reward_func(
        RLCR, parse=functools.partial(parse_answer_confidence, allow_percent=True)
    )
    expected, _ = _objective_on_arrays(RLCR, [1.0], [0.8])
    got = fn(completions=["<answer>4</answer><confidence>80%</confidence>"], solution=["4"])
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_configuration_errors_raise_at_construction():
    with pytest.raises(ValueError, match="invalid_reward"):
        rd.integrations.trl.reward_func(RLCR, invalid_reward=float("nan"))
    with pytest.raises(ValueError, match="invalid_reward"):
        rd.integrations.trl.reward_func(RLCR, invalid_reward="low")
    with pytest.raises(TypeError, match="match"):
        rd.integrations.trl.reward_func(RLCR, match="exact")
    with pytest.raises(ValueError, match="require_confidence=False"):
        rd.integrations.trl.reward_func(RLCR, require_confidence=False)
    with pytest.raises(ValueError, match="rubric or token rewards"):
        rd.integrations.trl.reward_func(rd.compose(rubric=rd.terms.RubricScore()))
    with pytest.raises(ValueError, match="answer_key"):
        rd.integrations.trl.reward_func(RLCR, answer_key="")
    with pytest.raises(ValueError, match="'rest'"):
        rd.integrations.trl.component_reward_funcs(
            rd.compose(correct=rd.terms.Correctness(), rest=rd.terms.Correctness())
        )


# -------------------------------------------------------------------- tunix
def test_tunix_reward_fn_signature_and_values():
    fn = rd.integrations.tunix.reward_fn(RLCR)
    params = inspect.signature(fn).parameters
    assert list(params)[:2] == ["prompts", "completions"]
    assert params["kwargs"].kind is inspect.Parameter.VAR_KEYWORD
    completions = [_completion("4", 0.9), _completion("3", 0.9), "junk"]
    # tunix passes the batch's other columns and `mode` as keyword arguments.
    got = fn(
        prompts=["q"] * 3,
        completions=completions,
        answer=["4"] * 3,
        question=["q"] * 3,
        mode="train",
    )
    expected, _ = _objective_on_arrays(RLCR, [1.0, 0.0], [0.9, 0.9])
    np.testing.assert_allclose(got, [*expected, -1.0], rtol=1e-6)
    parts = rd.integrations.tunix.component_reward_fns(RLCR)
    summed = np.nansum(
        [p(prompts=["q"] * 3, completions=completions, answer=["4"] * 3) for p in parts], axis=0
    )
    np.testing.assert_allclose(summed, got, rtol=1e-6)


def test_reward_functions_pickle_round_trip():
    # tunix ships reward functions to worker processes with pickle.
    fn = rd.integrations.tunix.reward_fn(RLCR)
    kwargs = {
        "prompts": ["q"] * 2,
        "completions": [_completion("4", 0.2), "x"],
        "answer": ["4"] * 2,
    }
    expected = fn(**kwargs)
    clone = pickle.loads(pickle.dumps(fn))
    assert clone.__name__ == fn.__name__
    assert clone(**kwargs) == expected


# --------------------------------------------------------------------- verl
def test_verl_compute_score_dict():
    out = rd.integrations.verl.compute_score(
        data_source="gsm8k",
        solution_str=_completion("4", 0.25),
        ground_truth="4",
        extra_info={"split": "train", "index": 3},
    )
    assert set(out) == {
        "score",
        "valid",
        "correct_match",
        "confidence",
        "in_update",
        "correct",
        "brier",
    }
    assert out["score"] == pytest.approx(1.0 - 0.75**2, abs=1e-7)
    assert out["correct"] == 1.0 and out["brier"] == pytest.approx(-(0.75**2), abs=1e-7)
    assert out["valid"] == 1.0 and out["confidence"] == 0.25
    bad = rd.integrations.verl.compute_score("gsm8k", "no answer", "4")
    assert set(bad) == set(out)  # verl collects every key into reward_extra_info lists
    assert bad["score"] == -1.0 and bad["valid"] == 0.0 and bad["confidence"] == -1.0
    assert bad["correct"] == 0.0 and bad["brier"] == 0.0
    assert rd.integrations.verl.compute_score("d", None, "4")["score"] == -1.0


def test_verl_batch_form_matches_single_calls():
    sols = [_completion("4", 0.9), _completion("2", 0.1), "x", _completion("4", 0.0)]
    truths = ["4", "4", "4", ["four", "4"]]
    batch = rd.integrations.verl.compute_score_batch(
        data_sources=["d"] * 4,
        solution_strs=sols,
        ground_truths=truths,
        extra_infos=[None] * 4,
        some_reward_kwarg=1,
    )
    single = [
        rd.integrations.verl.compute_score("d", s, t) for s, t in zip(sols, truths, strict=True)
    ]
    assert batch == single
    with pytest.raises(ValueError, match="solution_strs"):
        rd.integrations.verl.compute_score_batch(data_sources=["d"])


def test_verl_make_compute_score_custom_objective():
    objective = rd.compose(correct=rd.terms.Correctness(weight=2.0), brier=rd.terms.Brier(0.5))
    fn = rd.integrations.verl.make_compute_score(objective, match=numeric_match, invalid_reward=0.0)
    out = fn(data_source="math", solution_str=_completion("0.5", 0.6), ground_truth="1/2")
    expected, comps = _objective_on_arrays(objective, [1.0], [0.6])
    assert out["score"] == pytest.approx(float(expected[0]), rel=1e-6)
    assert out["brier"] == pytest.approx(float(comps["brier"][0]), rel=1e-6)
    assert fn("math", "nothing", "1")["score"] == 0.0
    with pytest.raises(ValueError, match="clash"):
        rd.integrations.verl.make_compute_score(rd.compose(score=rd.terms.Correctness()))


def test_verl_file_loads_standalone_like_verl_does():
    # verl imports custom_reward_function.path with spec_from_file_location
    # under its own module name and looks up custom_reward_function.name.
    path = rd.integrations.verl.__file__
    spec = importlib.util.spec_from_file_location("custom_module", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fn = module.compute_score
    assert fn("d", _completion("4", 1.0), "4")["score"] == 1.0


# ------------------------------------------------------------------ imports
def test_no_framework_imported_by_adapters():
    code = (
        "import sys, reward_design as rd\n"
        "for m in ('trl', 'verl', 'tunix', 'flat'):\n"
        "    getattr(rd.integrations, m)\n"
        "rd.integrations.trl.reward_func(None)(completions=['x'], solution=['4'])\n"
        "bad = [m for m in ('torch', 'trl', 'verl', 'tunix', 'transformers') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    with warnings.catch_warnings():
        subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_verl_compute_score_is_thread_safe():
    # verl's reward loop runs compute_score in a thread pool.
    from concurrent.futures import ThreadPoolExecutor

    fn = rd.integrations.verl.make_compute_score()
    cases = [(_completion(str(i % 3), (i % 11) / 10), str(i % 2)) for i in range(200)]
    sequential = [fn("d", s, t) for s, t in cases]
    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(pool.map(lambda c: fn("d", *c), cases))
    assert threaded == sequential


def test_verl_loads_our_file_with_its_own_loader():
    """verl's ``load_extern_object`` (stdlib-only module) loads compute_score by path.

    Skipped unless verl is installed; verl's package ``__init__`` needs ray,
    so a light parent package stands in for it.
    """
    import pathlib
    import types

    spec = importlib.util.find_spec("verl")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("verl is not installed")
    root = pathlib.Path(list(spec.submodule_search_locations)[0])
    saved = {k: v for k, v in sys.modules.items() if k == "verl" or k.startswith("verl.")}
    try:
        for name, path in (("verl", root), ("verl.utils", root / "utils")):
            module = types.ModuleType(name)
            module.__path__ = [str(path)]
            sys.modules[name] = module
        import_utils = importlib.import_module("verl.utils.import_utils")
        fn = import_utils.load_extern_object(
            module_path=rd.integrations.verl.__file__, object_name="compute_score"
        )
        batch_fn = import_utils.load_extern_object(
            module_path=rd.integrations.verl.__file__, object_name="compute_score_batch"
        )
    finally:
        for k in [k for k in sys.modules if k == "verl" or k.startswith("verl.")]:
            del sys.modules[k]
        sys.modules.update(saved)
    out = fn(data_source="d", solution_str=_completion("4", 0.5), ground_truth="4", extra_info={})
    assert out["score"] == pytest.approx(0.75, abs=1e-7)
    assert batch_fn(data_sources=["d"], solution_strs=["x"], ground_truths=["4"])[0]["score"] == -1


def test_gated_objectives_floor_and_drop():
    from reward_design import gates

    confident = gates.gate_from_fn(lambda r: r.confidence >= 0.5)
    completions = [_completion("4", 0.9), _completion("4", 0.2), _completion("5", 0.7), "x"]
    correct = np.array([1.0, 1.0, 0.0], np.float32)[:, None]
    conf = np.array([0.9, 0.2, 0.7], np.float32)[:, None]
    arrays = rd.Rollouts(correct=correct, confidence=conf)

    floor = gates.Gated(gate=confident, inner=RLCR, on_reject="floor", floor=-0.5)
    expected = np.asarray(floor(arrays).total)[:, 0]
    assert expected[1] == -0.5  # the rejected one is floored
    fn = rd.integrations.trl.reward_func(floor)
    got = fn(completions=completions, solution=["4"] * 4)
    np.testing.assert_allclose(got, [*expected, -1.0], rtol=1e-6)
    parts = rd.integrations.trl.component_reward_funcs(floor)
    summed = np.sum([p(completions=completions, solution=["4"] * 4) for p in parts], axis=0)
    np.testing.assert_allclose(summed, got, rtol=1e-6)  # "rest" carries the floor

    drop = gates.Gated(gate=confident, inner=RLCR, on_reject="drop")
    out, in_update = drop.evaluate(arrays)
    assert not bool(in_update[1, 0])
    got = rd.integrations.trl.reward_func(drop)(completions=completions, solution=["4"] * 4)
    assert got[1] is None and got[3] == -1.0  # dropped -> None (TRL: unscorable, advantage 0)
    np.testing.assert_allclose([got[0], got[2]], np.asarray(out.total)[[0, 2], 0], rtol=1e-6)
    parts = rd.integrations.trl.component_reward_funcs(drop)
    assert all(p(completions=completions, solution=["4"] * 4)[1] is None for p in parts)
    # tunix and verl have no per-sample exclusion: the total, flagged for verl.
    tunix_got = rd.integrations.tunix.reward_fn(drop)(
        prompts=["q"] * 4, completions=completions, answer=["4"] * 4
    )
    assert tunix_got[1] == pytest.approx(float(out.total[1, 0]))
    verl_out = rd.integrations.verl.make_compute_score(drop)("d", completions[1], "4")
    assert verl_out["in_update"] == 0.0 and verl_out["score"] == pytest.approx(tunix_got[1])


def test_verl_refuses_component_names_that_are_verl_batch_columns():
    # verl stores reward_extra_info keys as non_tensor_batch columns next to its own
    # (uid groups GRPO samples; its agent loop writes `extras` after our keys).
    for name in ("uid", "index", "data_source", "extras", "__num_turns__"):
        objective = rd.compose(**{name: rd.terms.Correctness(), "brier": rd.terms.Brier()})
        with pytest.raises(ValueError, match=name):
            rd.integrations.verl.make_compute_score(objective)
        with pytest.raises(ValueError, match=name):
            rd.integrations.verl.make_compute_score(objective, batched=True)
