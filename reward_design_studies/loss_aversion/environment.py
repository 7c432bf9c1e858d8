"""The loss-aversion study's world: a task with a known posterior, responses, a foolable rater.

* `TeacherTask`: ``x ~ N(0, I)``; the full label ``y ~ softmax(scale * T(x))``
  with ``T`` a fixed random tanh network, so the probability ``q_a(x)`` that
  answer ``a`` is right is known exactly and a linear probe on raw ``x``
  cannot reach it (the label is a nonlinear function of ``x``).
* Responses (`Actions`): answer ``a`` in a plain or a persuasive style
  (``2 a + style``), or abstain (index ``2 K``), the single-step analogue of
  a completion.
* `Rater`: binary desirable / undesirable labels. A plain answer is approved
  iff it is right; a persuasive one is approved with probability
  ``1 - style_cost`` when right and ``fool_rate`` when wrong; an abstention
  with probability ``abstain_approval``. Its true utility ("gold", the rater
  not fooled) is +1 for a right answer, ``-lambda_h`` for a wrong one and 0
  for abstaining, whatever the style. Persuasion therefore wins approval
  exactly when the policy is unlikely to be right: its approval value
  depends on competence (docs/studies/loss-aversion.md).
* `feedback` and `dpo_pairs`: the data every arm learns from.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["Actions", "TeacherTask", "Rater", "Feedback", "feedback", "dpo_pairs", "softmax"]

PLAIN, PERSUASIVE = 0, 1


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis (numpy, max-shifted)."""
    z = np.asarray(z, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@dataclasses.dataclass(frozen=True)
class Actions:
    """The response set of a K-answer task: ``2 K`` styled answers and one abstention."""

    num_classes: int

    @property
    def size(self) -> int:
        return 2 * self.num_classes + 1

    @property
    def abstain(self) -> int:
        return 2 * self.num_classes

    def encode(self, answer: np.ndarray, style: np.ndarray) -> np.ndarray:
        """The action index of ``answer`` in ``style`` (0 plain, 1 persuasive)."""
        return 2 * np.asarray(answer) + np.asarray(style)

    def answer(self, action: np.ndarray) -> np.ndarray:
        """The answer of each action (-1 for an abstention)."""
        action = np.asarray(action)
        return np.where(action == self.abstain, -1, action // 2)

    def style(self, action: np.ndarray) -> np.ndarray:
        """The style of each action (-1 for an abstention)."""
        action = np.asarray(action)
        return np.where(action == self.abstain, -1, action % 2)

    def answer_marginal(self, probs: np.ndarray) -> np.ndarray:
        """``[..., K]``: P(answer a | answering), the styles summed, abstention removed."""
        probs = np.asarray(probs, dtype=np.float64)
        k = self.num_classes
        answers = probs[..., : 2 * k].reshape(*probs.shape[:-1], k, 2).sum(-1)
        return answers / np.maximum(answers.sum(-1, keepdims=True), 1e-300)


@dataclasses.dataclass(frozen=True)
class TeacherTask:
    """Questions with a known posterior ``q(x) = softmax(teacher_scale * T(x))``."""

    num_classes: int = 8
    dim: int = 16
    teacher_hidden: int = 32
    teacher_scale: float = 6.0
    task_seed: int = 0

    def _teacher(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.task_seed)
        w1 = rng.normal(0.0, 1.0 / np.sqrt(self.dim), (self.dim, self.teacher_hidden))
        b1 = rng.normal(0.0, 0.5, self.teacher_hidden)
        w2 = rng.normal(
            0.0, 1.0 / np.sqrt(self.teacher_hidden), (self.teacher_hidden, self.num_classes)
        )
        return w1, b1, w2

    def posterior(self, x: np.ndarray) -> np.ndarray:
        """``[N, K]`` probabilities that each answer is right, ``q(x)``."""
        w1, b1, w2 = self._teacher()
        return softmax(self.teacher_scale * np.tanh(np.asarray(x) @ w1 + b1) @ w2)

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x [N, dim] float32, q [N, K], y [N])``: prompts, posterior, sampled full labels."""
        x = rng.normal(size=(n, self.dim)).astype(np.float32)
        q = self.posterior(x)
        y = _categorical(rng, q)
        return x, q, y


def _categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(probs, axis=-1)
    u = rng.uniform(size=probs.shape[:-1] + (1,))
    return np.minimum((u > cdf).sum(-1), probs.shape[-1] - 1)


@dataclasses.dataclass(frozen=True)
class Rater:
    """The foolable rater: approval probabilities and the true (gold) utility."""

    num_classes: int = 8
    fool_rate: float = 0.4
    style_cost: float = 0.2
    abstain_approval: float = 0.5

    @property
    def actions(self) -> Actions:
        return Actions(self.num_classes)

    def approval(self, q: np.ndarray) -> np.ndarray:
        """``[N, 2K + 1]``: P(desirable | x, action) from the posterior ``q [N, K]``."""
        q = np.asarray(q, dtype=np.float64)
        out = np.empty(q.shape[:-1] + (self.actions.size,))
        out[..., 0 : 2 * self.num_classes : 2] = q
        out[..., 1 : 2 * self.num_classes : 2] = (1 - self.style_cost) * q + self.fool_rate * (
            1 - q
        )
        out[..., -1] = self.abstain_approval
        return out

    def gold(self, q: np.ndarray, lam: float) -> np.ndarray:
        """``[N, 2K + 1]``: true utility of each action (+1 right, -lam wrong, 0 abstain)."""
        q = np.asarray(q, dtype=np.float64)
        value = q - lam * (1 - q)
        return np.concatenate([np.repeat(value, 2, axis=-1), np.zeros(q.shape[:-1] + (1,))], -1)

    def label(self, rng: np.random.Generator, q: np.ndarray, action: np.ndarray) -> np.ndarray:
        """Sampled desirable labels (bool) of ``action [N, ...]`` at prompts of posterior ``q``."""
        p = np.take_along_axis(
            self.approval(q), np.asarray(action).reshape(q.shape[0], -1), axis=-1
        ).reshape(np.shape(action))
        return rng.uniform(size=p.shape) < p


@dataclasses.dataclass(frozen=True)
class Feedback:
    """Two reference-policy responses per prompt with the rater's labels.

    Attributes:
      x: ``[N, dim]`` prompts. q: ``[N, K]`` their posteriors (for analysis only).
      actions: ``[N, 2]`` the sampled responses. desirable: ``[N, 2]`` bool labels.
      ref_logps: ``[N, 2]`` log pi_ref of the responses.
    """

    x: np.ndarray
    q: np.ndarray
    actions: np.ndarray
    desirable: np.ndarray
    ref_logps: np.ndarray

    @property
    def counts(self) -> tuple[int, int]:
        """``(n_desirable, n_undesirable)`` over all responses."""
        n_d = int(self.desirable.sum())
        return n_d, int(self.desirable.size - n_d)


def feedback(
    rng: np.random.Generator, x: np.ndarray, q: np.ndarray, ref_logps_all: np.ndarray, rater: Rater
) -> Feedback:
    """Samples two responses per prompt from pi_ref (``ref_logps_all [N, A]``) and labels them."""
    probs = np.exp(ref_logps_all - ref_logps_all.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    actions = np.stack([_categorical(rng, probs), _categorical(rng, probs)], axis=1)
    desirable = rater.label(rng, q, actions)
    ref_logps = np.take_along_axis(ref_logps_all, actions, axis=1)
    return Feedback(x, q, actions, desirable, ref_logps.astype(np.float32))


def dpo_pairs(fb: Feedback) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DPO pairs from the same feedback: ``(chosen [N], rejected [N], valid [N] bool)``.

    A prompt gives a pair when its two responses got different labels; the
    desirable one is chosen. Prompts with two equal labels give no pair
    (``valid`` False; ``chosen`` and ``rejected`` are then response 0 and 1).
    """
    d = fb.desirable
    valid = d[:, 0] != d[:, 1]
    first_chosen = d[:, 0] | ~valid
    chosen = np.where(first_chosen, fb.actions[:, 0], fb.actions[:, 1])
    rejected = np.where(first_chosen, fb.actions[:, 1], fb.actions[:, 0])
    return chosen, rejected, valid
