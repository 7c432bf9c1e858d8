"""The calibration study's environment: Gaussian-mixture questions with known answers' odds.

Each question is a point ``x in R^d`` drawn from one of ``K`` classes,
``x = mu_y + noise * eps`` with ``eps ~ N(0, I)`` and ``y`` uniform. The
answer is the class. Because the class means are known to the task (not to
the policy), the probability that answer ``a`` is right,

    q(a | x) = P(y = a | x) = softmax_k(-||x - mu_k||^2 / (2 noise^2))[a],

is known exactly for every question: this is the *genuine* uncertainty a
perfectly calibrated policy should state. Questions near a class mean are easy
(``q`` near 1); questions between means are truly hard (the best answer is
right with probability well below 1/2), and no policy can do better than the
Bayes accuracy ``E_x max_a q(a | x)``.

Fresh questions are drawn at every training step (no memorisation is
possible); evaluation uses a fixed held-out set.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["GaussianMixtureTask", "Questions"]


@dataclasses.dataclass(frozen=True)
class Questions:
    """A batch of questions.

    Attributes:
      x: ``[N, d]`` float32, what the policy sees.
      label: ``[N]`` int32, the right answer.
      posterior: ``[N, K]`` float32, ``q(a | x)`` for every answer ``a``.
    """

    x: jax.Array
    label: jax.Array
    posterior: jax.Array


jax.tree_util.register_dataclass(Questions, data_fields=["x", "label", "posterior"], meta_fields=[])


@dataclasses.dataclass(frozen=True)
class GaussianMixtureTask:
    """K-class Gaussian mixture questions with exact per-answer success probabilities.

    Hashable and immutable, so a jitted training step can close over it.

    Args:
      num_classes: number of answers K.
      dim: input dimension d.
      separation: class means are ``separation * N(0, I_d)`` (drawn once from
        ``task_seed``); smaller is harder.
      noise: standard deviation of the within-class noise.
      task_seed: seed of the class means (the task is the same for every
        training seed).
    """

    num_classes: int = 10
    dim: int = 4
    separation: float = 1.0
    noise: float = 1.0
    task_seed: int = 0

    def __post_init__(self):
        if int(self.num_classes) < 2:
            raise ValueError(f"num_classes must be >= 2; got {self.num_classes}.")
        if int(self.dim) < 1:
            raise ValueError(f"dim must be >= 1; got {self.dim}.")
        if not (np.isfinite(self.separation) and self.separation > 0):
            raise ValueError(f"separation must be a finite number > 0; got {self.separation}.")
        if not (np.isfinite(self.noise) and self.noise > 0):
            raise ValueError(f"noise must be a finite number > 0; got {self.noise}.")

    @property
    def means(self) -> np.ndarray:
        """``[K, d]`` class means (fixed by ``task_seed``)."""
        rng = np.random.RandomState(self.task_seed)
        return (rng.randn(self.num_classes, self.dim) * self.separation).astype(np.float32)

    def posterior(self, x: jax.Array) -> jax.Array:
        """``[N, K]`` exact ``P(y = k | x)`` under the uniform class prior."""
        mu = jnp.asarray(self.means)
        sq = jnp.sum(jnp.square(x[:, None, :] - mu[None, :, :]), axis=-1)
        return jax.nn.softmax(-sq / (2.0 * self.noise**2), axis=-1)

    def sample(self, key: jax.Array, n: int) -> Questions:
        """Draws ``n`` questions (traceable; ``n`` static)."""
        k_y, k_eps = jax.random.split(key)
        label = jax.random.randint(k_y, (n,), 0, self.num_classes, dtype=jnp.int32)
        eps = jax.random.normal(k_eps, (n, self.dim), dtype=jnp.float32)
        x = jnp.asarray(self.means)[label] + self.noise * eps
        return Questions(x=x, label=label, posterior=self.posterior(x))

    def bayes_accuracy(self, questions: Questions) -> float:
        """Expected accuracy of the Bayes-optimal answer on ``questions``."""
        return float(jnp.mean(jnp.max(questions.posterior, axis=-1)))
