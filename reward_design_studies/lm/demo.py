"""The lab's demonstration task: Gaussian-mixture questions written as tokens.

A question is a point on a ``levels^dim`` grid, written as ``dim`` coordinate
words (``v0 .. v{levels-1}``); its answer is the class (``A0 .. A{K-1}``)
that generated it. Class ``y`` draws each coordinate independently from a
discretised Gaussian around its mean ``mu_y`` (in grid units, drawn once
from ``task_seed``):

    p(x_i = l | y) ∝ exp(-(l - mu_{y,i})^2 / (2 noise^2)),   y uniform.

So the probability that answer ``a`` is right, ``q(a | x) = P(y = a | x)``,
is known exactly for every question, and a perfectly calibrated policy
states ``q`` of the answer it gives. Completions are written as

    <reasoning> ANSWER a CONF c <eos>

(`AnswerFormat`; with ``echo=True`` the reasoning restates the question's
coordinates), the confidence word ``c`` one of ``confidence_levels`` evenly
spaced levels from 0 to 1. Training prompts are drawn from the train cells
of a `PromptSplit` in proportion to ``p(x)``, the label from ``q(. | x)``;
held-out cells are never trained on.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from .judges import AnswerJudge
from .parsing import AnswerFormat
from .task import PromptBatch, PromptSplit
from .tokenizer import BOS, Tokenizer

__all__ = ["MixtureTask"]


@dataclasses.dataclass(frozen=True)
class MixtureTask:
    """Gaussian-mixture questions with known success probabilities (a `Task`).

    Args:
      num_classes: answers K.
      dim: coordinates per question.
      levels: grid levels per coordinate (the prompt space has
        ``levels ** dim`` questions).
      noise: within-class standard deviation, in grid units (larger: harder).
      confidence_levels: confidence words ``C0 .. C{M-1}`` for ``0, 1/(M-1), ..., 1``.
      echo: the reasoning restates the coordinates (else it is empty).
      slack: extra completion positions beyond the reference's length.
      heldout_fraction: share of questions held out.
      reference_answer: ``"label"`` (the sampled class: noisy supervision) or
        ``"bayes"`` (the most probable class) in warm-start references.
      reference_confidence: ``"random"`` (a uniform level: the warm start
        teaches the format, not calibration), ``"bayes"`` (the level nearest
        ``q`` of the reference answer) or a number in [0, 1] (that level).
      task_seed: seed of the class means and of the split.
    """

    num_classes: int = 4
    dim: int = 2
    levels: int = 8
    noise: float = 1.5
    confidence_levels: int = 11
    echo: bool = True
    slack: int = 2
    heldout_fraction: float = 0.25
    reference_answer: str = "label"
    reference_confidence: str | float = "random"
    task_seed: int = 0

    def __post_init__(self):
        for name in ("num_classes", "levels", "confidence_levels"):
            if int(getattr(self, name)) < 2:
                raise ValueError(f"MixtureTask.{name} must be >= 2; got {getattr(self, name)}.")
        if int(self.dim) < 1 or int(self.slack) < 0:
            raise ValueError(
                f"MixtureTask.dim must be >= 1 and slack >= 0; got {self.dim}, {self.slack}."
            )
        if not (np.isfinite(self.noise) and self.noise > 0):
            raise ValueError(f"MixtureTask.noise must be a finite number > 0; got {self.noise}.")
        if self.reference_answer not in ("label", "bayes"):
            raise ValueError(
                f"MixtureTask.reference_answer must be 'label' or 'bayes'; "
                f"got {self.reference_answer!r}."
            )
        rc = self.reference_confidence
        if isinstance(rc, str):
            if rc not in ("random", "bayes"):
                raise ValueError(
                    "MixtureTask.reference_confidence must be 'random', 'bayes' or a number in "
                    f"[0, 1]; got {rc!r}."
                )
        elif not 0.0 <= float(rc) <= 1.0:
            raise ValueError(f"MixtureTask.reference_confidence must be in [0, 1]; got {rc}.")

    # ----------------------------------------------------------- vocabulary
    @property
    def coordinate_words(self) -> tuple[str, ...]:
        return tuple(f"v{i}" for i in range(self.levels))

    @property
    def answer_words(self) -> tuple[str, ...]:
        return tuple(f"A{i}" for i in range(self.num_classes))

    @property
    def confidence_words(self) -> tuple[str, ...]:
        return tuple(f"C{i}" for i in range(self.confidence_levels))

    @functools.cached_property
    def tokenizer(self) -> Tokenizer:
        words = ("ANSWER", "CONF", *self.coordinate_words, *self.answer_words)
        return Tokenizer(words + self.confidence_words)

    @functools.cached_property
    def format(self) -> AnswerFormat:
        return AnswerFormat(self.tokenizer, self.answer_words, self.confidence_words)

    @property
    def prompt_len(self) -> int:
        return 1 + self.dim

    @property
    def completion_len(self) -> int:
        return (self.dim if self.echo else 0) + self.format.tail_length + self.slack

    @functools.cached_property
    def split(self) -> PromptSplit:
        return PromptSplit(self.levels**self.dim, self.heldout_fraction, self.task_seed)

    def judge(self) -> AnswerJudge:
        """The task's `AnswerJudge` (correct, confidence, format; success probability)."""
        return AnswerJudge(self.format, label_key="label", probability_key="posterior")

    # ----------------------------------------------------------- the model
    @functools.cached_property
    def means(self) -> np.ndarray:
        """``[K, dim]`` class means in grid units (fixed by ``task_seed``)."""
        rng = np.random.default_rng(self.task_seed)
        return rng.uniform(0.0, self.levels - 1.0, size=(self.num_classes, self.dim))

    @functools.cached_property
    def coordinates(self) -> np.ndarray:
        """``[N, dim]`` int32 grid coordinates of every question id (mixed radix)."""
        ids = np.arange(self.levels**self.dim)
        digits = [(ids // self.levels**i) % self.levels for i in range(self.dim)]
        return np.stack(digits, axis=1).astype(np.int32)

    @functools.cached_property
    def _log_joint(self) -> np.ndarray:
        """``[N, K]`` log p(x, y) of every question and class."""
        grid = np.arange(self.levels)[None, None, :]
        logit = -np.square(grid - self.means[:, :, None]) / (2.0 * self.noise**2)  # [K, dim, L]
        log_px = logit - np.log(np.sum(np.exp(logit), axis=-1, keepdims=True))
        per_dim = [log_px[:, i, self.coordinates[:, i]].T for i in range(self.dim)]  # [N, K]
        return np.sum(per_dim, axis=0) - np.log(self.num_classes)

    @functools.cached_property
    def posterior_table(self) -> np.ndarray:
        """``[N, K]`` float32 q(a | x) for every question id."""
        lj = self._log_joint
        q = np.exp(lj - lj.max(axis=1, keepdims=True))
        return (q / q.sum(axis=1, keepdims=True)).astype(np.float32)

    @functools.cached_property
    def log_marginal(self) -> np.ndarray:
        """``[N]`` log p(x)."""
        lj = self._log_joint
        top = lj.max(axis=1)
        return top + np.log(np.sum(np.exp(lj - top[:, None]), axis=1))

    def bayes_accuracy(self, split: str = "heldout") -> float:
        """Expected accuracy of the most probable answer over ``split``'s questions."""
        ids = self.split.ids(split)
        w = np.exp(self.log_marginal[ids] - self.log_marginal[ids].max())
        return float(np.sum(w * self.posterior_table[ids].max(axis=1)) / np.sum(w))

    # --------------------------------------------------------- Task protocol
    def prompt_tokens(self, ids: jax.Array) -> jax.Array:
        """``[N, 1 + dim]`` prompts ``<bos> v.. v..`` of question ids."""
        coord = jnp.asarray(self.coordinates)[ids]
        words = jnp.asarray(self.tokenizer.ids(self.coordinate_words))[coord]
        return jnp.concatenate([jnp.full((ids.shape[0], 1), BOS, jnp.int32), words], axis=1)

    def batch(self, key: jax.Array, ids: jax.Array) -> PromptBatch:
        """The `PromptBatch` of given question ids, labels drawn from ``q(. | x)``."""
        q = jnp.asarray(self.posterior_table)[ids]
        label = jax.random.categorical(key, jnp.log(jnp.maximum(q, 1e-30)), axis=-1)
        info = {"id": ids, "label": label.astype(jnp.int32), "posterior": q}
        return PromptBatch(tokens=self.prompt_tokens(ids), info=info)

    def sample_prompts(self, key: jax.Array, n: int, split: str) -> PromptBatch:
        """``n`` questions of ``split`` drawn from p(x) restricted to it (traceable)."""
        k_id, k_label = jax.random.split(key)
        ids = self.split.sample(k_id, n, split, self.log_marginal)
        return self.batch(k_label, ids)

    def reference(self, key: jax.Array, batch: PromptBatch) -> jax.Array:
        """``[N, T]`` reference completions in format (see ``reference_answer`` and
        ``reference_confidence``)."""
        q = batch.info["posterior"]
        if self.reference_answer == "label":
            answer = batch.info["label"]
        else:
            answer = jnp.argmax(q, axis=1).astype(jnp.int32)
        m = self.confidence_levels
        rc = self.reference_confidence
        if rc == "random":
            level = jax.random.randint(key, answer.shape, 0, m)
        elif rc == "bayes":
            q_a = jnp.take_along_axis(q, answer[:, None], axis=1)[:, 0]
            level = jnp.round(q_a * (m - 1)).astype(jnp.int32)
        else:
            level = jnp.full(answer.shape, round(float(rc) * (m - 1)), jnp.int32)
        reasoning = batch.tokens[:, 1:] if self.echo else None
        return self.format.render(answer, level, self.completion_len, reasoning)
