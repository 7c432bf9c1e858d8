"""The LM lab's tokenizer, answer format, prompt split, demo task and judges."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import reward_design as rd
from reward_design_studies.lm.demo import MixtureTask
from reward_design_studies.lm.judges import AnswerJudge, TextJudge, TokenJudge
from reward_design_studies.lm.parsing import AnswerFormat
from reward_design_studies.lm.policy import completion_mask
from reward_design_studies.lm.task import Completions, PromptBatch, PromptSplit, check_task
from reward_design_studies.lm.tokenizer import BOS, EOS, PAD, Tokenizer
from reward_design_studies.lm.warmstart import FAST_COMPILE

TOK = Tokenizer(("ANSWER", "CONF", "x", "y", "A0", "A1", "A2", "C0", "C1", "C2"))
FMT = AnswerFormat(TOK, ("A0", "A1", "A2"), ("C0", "C1", "C2"))


def _fast_jit(fn):
    """jit with XLA's cheap CPU options: these inputs are tiny, compiling is the cost."""
    return jax.jit(fn, compiler_options=FAST_COMPILE)


PARSE = _fast_jit(FMT.parse)


# ----------------------------------------------------------------- tokenizer
def test_tokenizer_round_trip_and_padding():
    assert TOK.vocab[:3] == ("<pad>", "<bos>", "<eos>") and (PAD, BOS, EOS) == (0, 1, 2)
    ids = TOK.encode("x y ANSWER A1")
    assert ids == [5, 6, 3, 8]
    assert TOK.decode(ids) == "x y ANSWER A1"
    np.testing.assert_array_equal(TOK.encode_prompt("x y", 5), [PAD, PAD, BOS, 5, 6])
    np.testing.assert_array_equal(TOK.encode_completion("x", 4), [5, EOS, PAD, PAD])
    assert TOK.decode([5, EOS, 6, PAD]) == "x <eos>"
    assert TOK.decode([5, EOS, 6], stop_at_eos=False) == "x <eos> y"
    texts = TOK.decode_batch(np.array([[[5, EOS]], [[6, 6]]]))
    assert texts.shape == (2, 1) and texts[1, 0] == "y y"


def test_tokenizer_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown token 'z'"):
        TOK.encode("x z")
    with pytest.raises(ValueError, match="distinct"):
        Tokenizer(("a", "a"))
    with pytest.raises(ValueError, match="special"):
        Tokenizer(("<eos>",))
    with pytest.raises(ValueError, match="needs 4 tokens; length is 3"):
        TOK.encode_prompt("x y x", 3)


# ------------------------------------------------------------------- format
def _random_completions(rng, n, length=8):
    """Mostly near-format completions with random corruptions, EOS-terminated."""
    rows = []
    for _ in range(n):
        reasoning = list(rng.choice([5, 6], size=rng.integers(0, 3)))
        tail = [3, int(rng.integers(7, 10)), 4, int(rng.integers(10, 13)), EOS]
        row = reasoning + tail
        for _ in range(rng.integers(0, 3)):  # corruptions
            i = int(rng.integers(0, len(row)))
            row[i] = int(rng.integers(2, TOK.size))
        row = row[:length] + [PAD] * (length - len(row))
        e = [i for i, t in enumerate(row) if t == EOS]
        if e:
            row = row[: e[0] + 1] + [PAD] * (length - e[0] - 1)
        rows.append(row)
    return np.asarray(rows, np.int32)


def test_token_parse_agrees_with_text_parse():
    tokens = _random_completions(np.random.default_rng(0), 400)
    parsed = PARSE(tokens)
    valid = np.asarray(parsed.valid)
    assert 0.2 < valid.mean() < 0.8  # both kinds are exercised
    for i, row in enumerate(tokens):
        text = FMT.parse_text(TOK.decode(row))
        assert text.valid == valid[i], TOK.decode(row)
        if text.valid:
            assert FMT.answers[int(parsed.answer[i])] == text.answer
            assert float(parsed.confidence[i]) == pytest.approx(text.confidence)
            assert int(parsed.reasoning_length[i]) == len(text.reasoning)
        else:
            assert int(parsed.answer[i]) == -1 and float(parsed.confidence[i]) == 0.0


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("ANSWER A1 CONF C2 <eos>", True),
        ("x y ANSWER A0 CONF C0 <eos>", True),
        ("ANSWER A1 CONF C2", False),  # cut before EOS
        ("ANSWER A1 CONF C2 x <eos>", False),  # extra token
        ("ANSWER A1 ANSWER A1 CONF C2 <eos>", False),
        ("CONF ANSWER A1 CONF C2 <eos>", False),  # marker in the reasoning
        ("ANSWER C1 CONF C2 <eos>", False),  # not an answer word
        ("ANSWER A1 CONF A2 <eos>", False),  # not a confidence word
        ("<eos>", False),
    ],
)
def test_format_cases(text, valid):
    tokens = np.asarray(
        [t for t in TOK.encode(text.replace("<eos>", "").strip())]
        + ([EOS] if "<eos>" in text else []),
        np.int32,
    )
    tokens = np.pad(tokens, (0, 8 - len(tokens)))
    assert bool(PARSE(tokens[None]).valid[0]) is valid
    assert FMT.parse_text(text).valid is valid


def test_render_parses_back_and_format_without_confidence():
    answer, level = np.array([0, 2, 1]), np.array([2, 0, 1])
    reasoning = np.array([[5, 6], [PAD, PAD], [6, PAD]], np.int32)
    plain = AnswerFormat(TOK, ("A0", "A1"))

    @_fast_jit
    def run(answer, level, reasoning):
        tokens = FMT.render(answer, level, 8, reasoning)
        t = plain.render(answer[1:] - 1, None, 4)
        return tokens, FMT.parse(tokens), t, plain.parse(t)

    tokens, p, t, q = run(answer, level, reasoning)
    assert np.asarray(p.valid).all()
    np.testing.assert_array_equal(p.answer, answer)
    np.testing.assert_allclose(p.confidence, level / 2)
    np.testing.assert_array_equal(p.reasoning_length, [2, 0, 1])
    assert TOK.decode(tokens[2]) == "y ANSWER A1 CONF C1 <eos>"
    assert TOK.decode(t[0]) == "ANSWER A1 <eos>" and np.asarray(q.valid).all()
    with pytest.raises(ValueError, match="exceed"):
        FMT.render(answer, level, 6, reasoning)


# -------------------------------------------------------------------- split
def test_prompt_split_is_a_partition_and_sampling_stays_inside():
    split = PromptSplit(50, heldout_fraction=0.2, seed=3)
    train, held = split.ids("train"), split.ids("heldout")
    assert len(held) == 10 and not set(train) & set(held)
    assert sorted([*train, *held]) == list(range(50))
    w = np.full(50, -np.inf)
    w[held[0]] = 0.0

    @_fast_jit
    def draw(key):
        return split.sample(key, 500, "train"), split.sample(key, 20, "heldout", w)

    drawn, weighted = draw(jax.random.key(0))
    assert set(np.asarray(drawn)) <= set(train)
    assert set(np.asarray(weighted)) == {held[0]}
    with pytest.raises(ValueError, match="split must be"):
        split.ids("test")


# --------------------------------------------------------------- demo task
TASK = MixtureTask(num_classes=3, dim=2, levels=5, noise=1.2)


def test_mixture_posterior_equals_direct_computation():
    means = TASK.means
    for qid in (0, 7, 24):
        x = TASK.coordinates[qid]
        joint = []
        for y in range(3):
            p = 1.0 / 3
            for i in range(2):
                dens = [np.exp(-((lv - means[y, i]) ** 2) / (2 * 1.2**2)) for lv in range(5)]
                p *= dens[x[i]] / sum(dens)
            joint.append(p)
        np.testing.assert_allclose(TASK.posterior_table[qid], np.array(joint) / sum(joint), 1e-5)
        np.testing.assert_allclose(np.exp(TASK.log_marginal[qid]), sum(joint), rtol=1e-6)


def test_mixture_prompts_references_and_judge():
    check_task(TASK)

    @_fast_jit
    def run(key):
        batch = TASK.sample_prompts(key, 200, "train")
        ref = TASK.reference(jax.random.fold_in(key, 1), batch)
        comps = ref[:, None, :]  # G = 1
        completions = Completions(comps, completion_mask(comps), jnp.zeros(comps.shape))
        judged = TASK.judge()(batch, completions, key)
        return batch, ref, TASK.format.parse(ref), judged

    batch, ref, p, (rollouts, metrics) = run(jax.random.key(1))
    assert set(np.asarray(batch.info["id"])) <= set(TASK.split.ids("train"))
    assert ref.shape == (200, TASK.completion_len)
    assert np.asarray(p.valid).all()
    np.testing.assert_array_equal(p.answer, batch.info["label"])
    np.testing.assert_array_equal(ref[:, :2], batch.tokens[:, 1:])  # echoed coordinates
    np.testing.assert_array_equal(rollouts.correct, 1.0)
    np.testing.assert_allclose(rollouts.confidence[:, 0], p.confidence)
    q = np.take_along_axis(np.asarray(batch.info["posterior"]), np.asarray(p.answer)[:, None], 1)
    np.testing.assert_allclose(metrics["success_probability"], q)


def _judge_text(prompts, texts, info):
    label = info["label"]
    correct = np.zeros(texts.shape, np.float32)
    conf = np.zeros(texts.shape, np.float32)
    for i, j in np.ndindex(texts.shape):
        parsed = FMT.parse_text(texts[i, j])
        if parsed.valid:
            correct[i, j] = float(FMT.answers.index(parsed.answer) == label[i])
            conf[i, j] = parsed.confidence
    fmt = np.array([[FMT.parse_text(t).valid for t in row] for row in texts])
    return {"correct": correct, "confidence": conf, "format": fmt}


def test_text_judge_inside_jit_and_vmap_equals_token_judge():
    tokens = _random_completions(np.random.default_rng(1), 24).reshape(2, 4, 3, 8)  # R, P, G, T
    label = np.array([[0, 1, 2, 1], [2, 2, 0, 1]], np.int32)
    batch = PromptBatch(tokens=np.ones((2, 4, 2), np.int32), info={"label": label})
    comps = Completions(tokens, completion_mask(tokens), np.zeros(tokens.shape, np.float32))
    text = TextJudge(
        _judge_text,
        TOK,
        (("correct", (), "float32"), ("confidence", (), "float32"), ("format", (), "bool")),
        info_keys=("label",),
    )
    exact = AnswerJudge(FMT)

    def both(b, c):
        (r1, m1), (r2, m2) = text(b, c, None), exact(b, c, None)
        return r1.correct, r2.correct, r1.confidence, r2.confidence, m1["format"], m2["format"]

    c1, c2, f1, f2, v1, v2 = _fast_jit(jax.vmap(both))(batch, comps)
    np.testing.assert_array_equal(c1, c2)
    np.testing.assert_allclose(f1, f2)
    np.testing.assert_array_equal(v1, v2 > 0)
    r, m = TokenJudge(EOS)(batch, jax.tree_util.tree_map(lambda x: x[0], comps), None)
    np.testing.assert_array_equal(r.correct, (tokens[0] == EOS).any(-1))
    assert isinstance(r, rd.Rollouts) and m["count"].shape == (4, 3)
