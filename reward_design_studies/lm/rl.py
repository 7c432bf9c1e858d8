"""The GRPO-family step over sampled token sequences, compiled once per arm structure.

One step of one run (a run is one arm x one seed):

1. draw P training prompts; sample G completions of each (`Policy.sample`);
2. ``rollouts = judge(prompts, completions, key)``; the P x G block in use
   is ``rollouts.mask``;
3. ``out, mask = objective.evaluate(rollouts)`` for gated objectives, else
   ``out = objective(rollouts)``, ``mask = out.accepted``;
4. advantages ``A = estimator(out.total, mask)`` (`rd.advantages.grpo`,
   ``dr_grpo`` or ``rloo``), constant;
5. per-token loss ``-A_i log pi(y_it | x, y_<t) + kl_coef * KL_t`` with
   ``KL_t`` the exact KL of the next-token distributions to the reference
   (warm-start) policy, aggregated over the valid tokens as

   * ``"token_mean"``: sum over all tokens of the batch / their number (DAPO);
   * ``"seq_mean"``: per-sequence token mean, then mean over sequences (GRPO);
   * ``"seq_sum"``: sum over all tokens / (sequences x T) (Dr. GRPO);

6. one on-policy update (so the PPO ratio is 1 and its clipping inactive):
   global-norm clipping, Adam, step ``learning_rate``.

Everything that distinguishes arms is a traced input (`Arm`): the objective
and the judge (pytrees: their numeric fields are leaves), the one-hot choice
of estimator and loss aggregation, learning rate, KL coefficient,
temperature, clip norm, and the P x G block in use. Arms whose objective and
judge share a pytree structure therefore share one compiled program, which
runs them side by side under ``jax.vmap``.

References:
  Shao et al., "DeepSeekMath" (GRPO), arXiv 2402.03300.
  Liu et al., "Understanding R1-Zero-Like Training" (Dr. GRPO), arXiv 2503.20783.
  Yu et al., "DAPO" (token-level loss), arXiv 2503.14476.
  Ahmadian et al., "Back to Basics" (RLOO), arXiv 2402.14740.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

import reward_design as rd

from .judges import judge_outputs
from .policy import Policy, gather_tokens
from .task import Completions, PromptBatch
from .warmstart import FAST_COMPILE

__all__ = [
    "ESTIMATORS",
    "LOSSES",
    "RLConfig",
    "Arm",
    "make_arm",
    "aggregate_loss",
    "evaluate_objective",
    "Programs",
    "programs",
]

ESTIMATORS: dict[str, Callable[..., jax.Array]] = {
    "grpo": rd.advantages.grpo,
    "dr_grpo": rd.advantages.dr_grpo,
    "rloo": rd.advantages.rloo,
}
LOSSES = ("token_mean", "seq_mean", "seq_sum")


@dataclasses.dataclass(frozen=True)
class RLConfig:
    """The static part of training (shapes and schedule; keys compiled programs).

    Args:
      num_prompts: P, prompts per step (the slab; an arm may use fewer).
      group_size: G, samples per prompt (the slab; an arm may use fewer).
      steps: RL steps (a multiple of ``eval_every``).
      eval_every: steps per compiled chunk; held-out evaluation between chunks.
      eval_samples: completions sampled per held-out prompt.
      eval_temperature: sampling temperature at evaluation (0: greedy).
      kl: compute the KL to the reference policy in the step (an extra
        forward pass); with False the step skips it (every arm's
        ``kl_coef`` must be 0) and the training curve's ``kl`` is 0.
      fast_compile: compile with `FAST_COMPILE`.
    """

    num_prompts: int = 32
    group_size: int = 8
    steps: int = 200
    eval_every: int = 50
    eval_samples: int = 4
    eval_temperature: float = 1.0
    kl: bool = True
    fast_compile: bool = False

    def __post_init__(self):
        for name in ("num_prompts", "steps", "eval_every", "eval_samples"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"RLConfig.{name} must be an int >= 1; got {v!r}.")
        if not isinstance(self.group_size, int) or self.group_size < 2:
            raise ValueError(f"RLConfig.group_size must be an int >= 2; got {self.group_size!r}.")
        if self.steps % self.eval_every:
            raise ValueError(
                f"RLConfig.steps ({self.steps}) must be a multiple of eval_every "
                f"({self.eval_every})."
            )
        if not self.eval_temperature >= 0:
            raise ValueError(
                f"RLConfig.eval_temperature must be >= 0; got {self.eval_temperature}."
            )


@flax.struct.dataclass
class _Static:
    """A plain callable as a static pytree node (part of the program's identity)."""

    fn: Callable[..., Any] = flax.struct.field(pytree_node=False)

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


def _as_pytree_callable(obj: Any, name: str) -> Any:
    if not callable(obj):
        raise TypeError(f"{name} must be callable; got {obj!r}.")
    leaves = jax.tree_util.tree_leaves(obj)
    return _Static(obj) if len(leaves) == 1 and leaves[0] is obj else obj


@flax.struct.dataclass
class Arm:
    """Everything that may differ between arms, as traced values (make with `make_arm`).

    Attributes:
      objective: ``objective(rollouts) -> rd.RewardOutput`` (pytree).
      judge: ``judge(batch, completions, key) -> Rollouts | (Rollouts, metrics)``.
      estimator: ``{name: 0/1}`` one-hot over `ESTIMATORS`.
      loss: ``{name: 0/1}`` one-hot over `LOSSES`.
      learning_rate, kl_coef, temperature, max_grad_norm: float32 scalars.
      num_prompts, group_size: int32 scalars, the P x G block in use
        (-1: the whole slab of `RLConfig`).
    """

    objective: Any
    judge: Any
    estimator: dict[str, Any]
    loss: dict[str, Any]
    learning_rate: Any
    kl_coef: Any
    temperature: Any
    max_grad_norm: Any
    num_prompts: Any
    group_size: Any


def make_arm(
    objective: Any,
    judge: Any,
    *,
    estimator: str = "dr_grpo",
    loss: str = "seq_sum",
    learning_rate: float = 1e-3,
    kl_coef: float = 0.0,
    temperature: float = 1.0,
    max_grad_norm: float = 1.0,
    num_prompts: int | None = None,
    group_size: int | None = None,
) -> Arm:
    """An `Arm` (see the module docstring for what each choice does).

    Args:
      objective: an `rd.compose` objective, an `rd.gates.Gated`, or any pytree
        callable ``Rollouts -> RewardOutput``; a plain function is static.
      judge: see `reward_design_studies.lm.judges`.
      estimator: one of `ESTIMATORS`.
      loss: one of `LOSSES`.
      learning_rate: Adam step size (> 0).
      kl_coef: weight of the KL to the reference policy (>= 0).
      temperature: sampling temperature in training (> 0); log-probabilities
        are those of ``logits / temperature``, as TRL computes them.
      max_grad_norm: global gradient-norm clip (> 0).
      num_prompts, group_size: P x G in use (default: `RLConfig`'s).
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {sorted(ESTIMATORS)}; got {estimator!r}.")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {list(LOSSES)}; got {loss!r}.")
    for name, value, low in (
        ("learning_rate", learning_rate, 0.0),
        ("temperature", temperature, 0.0),
        ("max_grad_norm", max_grad_norm, 0.0),
    ):
        if not (np.isfinite(value) and value > low):
            raise ValueError(f"{name} must be a finite number > 0; got {value!r}.")
    if not (np.isfinite(kl_coef) and kl_coef >= 0):
        raise ValueError(f"kl_coef must be a finite number >= 0; got {kl_coef!r}.")
    sizes = {}
    for name, value, low in (("num_prompts", num_prompts, 1), ("group_size", group_size, 2)):
        if value is not None and (not isinstance(value, int) or value < low):
            raise ValueError(f"{name} must be an int >= {low} or None; got {value!r}.")
        sizes[name] = np.int32(-1 if value is None else value)
    return Arm(
        objective=_as_pytree_callable(objective, "objective"),
        judge=_as_pytree_callable(judge, "judge"),
        estimator={n: np.float32(n == estimator) for n in ESTIMATORS},
        loss={n: np.float32(n == loss) for n in LOSSES},
        learning_rate=np.float32(learning_rate),
        kl_coef=np.float32(kl_coef),
        temperature=np.float32(temperature),
        max_grad_norm=np.float32(max_grad_norm),
        **sizes,
    )


def evaluate_objective(objective: Any, rollouts: rd.Rollouts) -> tuple[Any, jax.Array]:
    """``(RewardOutput, advantage mask)``: `rd.gates.Gated.evaluate` or ``out.accepted``."""
    if hasattr(objective, "evaluate"):
        return objective.evaluate(rollouts)
    out = objective(rollouts)
    return out, out.accepted


def aggregate_loss(per_token: jax.Array, mask: jax.Array) -> dict[str, jax.Array]:
    """The loss of each aggregation in `LOSSES` from ``[B, T]`` per-token losses.

    ``mask [B, T]`` (float or bool) marks the tokens that count; a sequence
    counts when any of its tokens does. With ``S`` counted sequences and
    ``T`` the completion length: ``token_mean = sum(l m) / sum(m)``,
    ``seq_mean = (1/S) sum_i sum_t l m / sum_t m``, ``seq_sum = sum(l m) / (S T)``.
    """
    m = jnp.asarray(mask, jnp.float32)
    per_seq = jnp.sum(jnp.where(m > 0, per_token, 0.0) * m, axis=1)
    count = jnp.sum(m, axis=1)
    n_seq = jnp.maximum(jnp.sum(count > 0), 1)
    return {
        "token_mean": jnp.sum(per_seq) / jnp.maximum(jnp.sum(m), 1.0),
        "seq_mean": jnp.sum(per_seq / jnp.maximum(count, 1.0)) / n_seq,
        "seq_sum": jnp.sum(per_seq) / (n_seq * per_token.shape[1]),
    }


def _masked_mean(value: jax.Array, mask: jax.Array) -> jax.Array:
    m = mask.astype(jnp.float32)
    return jnp.sum(jnp.where(mask, value, 0.0)) / jnp.maximum(jnp.sum(m), 1.0)


def _clip(grads: Any, max_norm: jax.Array) -> tuple[Any, jax.Array]:
    norm = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in jax.tree_util.tree_leaves(grads)))
    scale = jnp.minimum(1.0, max_norm / jnp.maximum(norm, 1e-12))
    return jax.tree_util.tree_map(lambda g: g * scale, grads), norm


class Programs:
    """The compiled step chunk and evaluation of one (policy, task, `RLConfig`).

    Attributes:
      chunk_traces: times the training chunk was traced (one per compilation:
        one per pytree structure of `Arm`, per number of runs).
      eval_traces: likewise for the evaluation.
    """

    def __init__(self, policy: Policy, task: Any, config: RLConfig):
        self.policy, self.task, self.config = policy, task, config
        self.adam = optax.scale_by_adam()
        self.chunk_traces = 0
        self.eval_traces = 0
        jit = functools.partial(
            jax.jit, compiler_options=FAST_COMPILE if config.fast_compile else None
        )
        self.chunk = jit(jax.vmap(self._chunk))
        self.evaluate = jit(jax.vmap(self._evaluate, in_axes=(0, 0, 0, 0, None)))
        self.init_opt = jax.jit(jax.vmap(self.adam.init))

    # ------------------------------------------------------------- pieces
    def _sample(self, params, key, batch: PromptBatch, g: int, temperature):
        t = self.task.completion_len
        prompts = jnp.repeat(batch.tokens, g, axis=0)
        s = self.policy.sample(params, key, prompts, t, temperature)
        p = batch.tokens.shape[0]
        comps = Completions(*(x.reshape(p, g, t) for x in (s.tokens, s.mask, s.log_probs)))
        return prompts, comps

    def _judge(self, arm: Arm, batch, comps, key, valid):
        rollouts, extra = judge_outputs(arm.judge(batch, comps, key))
        mask = valid if rollouts.mask is None else valid & jnp.asarray(rollouts.mask, bool)
        rollouts = rollouts.replace(mask=mask)
        out, adv_mask = evaluate_objective(arm.objective, rollouts)
        return rollouts, extra, out, adv_mask & mask

    def _kl(self, params0, prompts, tokens, logp, temperature):
        if not self.config.kl:
            return jnp.zeros(tokens.shape, jnp.float32)
        ref = self.policy.completion_log_softmax(params0, prompts, tokens, temperature)
        ref = jax.lax.stop_gradient(ref)
        return jnp.sum(jnp.exp(logp) * (logp - ref), axis=-1)

    # --------------------------------------------------------------- step
    def _step(self, arm: Arm, params0, carry, key):
        params, opt_state = carry
        c = self.config
        p, g, t = c.num_prompts, c.group_size, self.task.completion_len
        k_prompt, k_sample, k_judge = jax.random.split(key, 3)
        batch = self.task.sample_prompts(k_prompt, p, "train")
        prompts, comps = self._sample(params, k_sample, batch, g, arm.temperature)
        p_use = jnp.where(arm.num_prompts < 0, p, arm.num_prompts)
        g_use = jnp.where(arm.group_size < 0, g, arm.group_size)
        valid = (jnp.arange(p)[:, None] < p_use) & (jnp.arange(g)[None, :] < g_use)
        rollouts, extra, out, adv_mask = self._judge(arm, batch, comps, k_judge, valid)
        adv = sum(arm.estimator[n] * fn(out.total, adv_mask) for n, fn in ESTIMATORS.items())
        adv = jax.lax.stop_gradient(jnp.where(adv_mask, adv, 0.0)).reshape(-1)
        seq_valid = rollouts.valid_mask.reshape(-1)
        tokens = comps.tokens.reshape(p * g, t)
        m = (comps.mask.reshape(p * g, t) & seq_valid[:, None]).astype(jnp.float32)

        def loss_fn(params):
            logp = self.policy.completion_log_softmax(params, prompts, tokens, arm.temperature)
            kl_t = self._kl(params0, prompts, tokens, logp, arm.temperature)
            per_tok = -adv[:, None] * gather_tokens(logp, tokens) + arm.kl_coef * kl_t
            values = aggregate_loss(per_tok, m)
            loss = sum(arm.loss[n] * values[n] for n in LOSSES)
            entropy = -jnp.sum(jnp.exp(logp) * logp, axis=-1)
            return loss, (
                jnp.sum(m * kl_t, axis=1),
                jnp.sum(m * entropy) / jnp.maximum(jnp.sum(m), 1),
            )

        (loss, (kl_seq, entropy)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        grads, grad_norm = _clip(grads, arm.max_grad_norm)
        updates, opt_state = self.adam.update(grads, opt_state, params)
        params = jax.tree_util.tree_map(lambda w, u: w - arm.learning_rate * u, params, updates)
        vm = rollouts.valid_mask
        metrics = self._rollout_metrics(rollouts, extra, out, comps, vm)
        metrics.update(
            loss=loss,
            kl=_masked_mean(kl_seq.reshape(p, g), vm),
            entropy=entropy,
            grad_norm=grad_norm,
            in_update=_masked_mean(adv_mask.astype(jnp.float32), vm),
            groups_with_signal=jnp.sum(jnp.any((adv.reshape(p, g) != 0) & vm, axis=1))
            / jnp.maximum(jnp.sum(jnp.any(vm, axis=1)), 1),
        )
        return (params, opt_state), metrics

    @staticmethod
    def _per_rollout(rollouts, extra, out, comps) -> dict[str, jax.Array]:
        """``{name: [P, G]}`` values reported per rollout (training means, evaluation)."""
        vals = {"reward": out.total, "correct": jnp.asarray(rollouts.correct, jnp.float32)}
        if rollouts.confidence is not None:
            vals["confidence"] = jnp.asarray(rollouts.confidence, jnp.float32)
        vals.update({f"reward/{k}": v for k, v in out.components.items()})
        vals.update({f"judge/{k}": jnp.asarray(v, jnp.float32) for k, v in extra.items()})
        vals["length"] = jnp.sum(comps.mask, axis=-1).astype(jnp.float32)
        vals["truncated"] = jnp.all(comps.mask, axis=-1).astype(jnp.float32)
        return vals

    def _rollout_metrics(self, rollouts, extra, out, comps, vm) -> dict[str, jax.Array]:
        metrics = {
            k: _masked_mean(v, vm)
            for k, v in self._per_rollout(rollouts, extra, out, comps).items()
        }
        metrics.update({f"stats/{k}": jnp.asarray(v, jnp.float32) for k, v in out.stats.items()})
        return metrics

    def _chunk(self, arm, params0, params, opt_state, keys):
        """``len(keys)`` steps of one run (vmapped over runs)."""
        self.chunk_traces += 1
        step = functools.partial(self._step, arm, params0)
        return jax.lax.scan(step, (params, opt_state), keys)

    # ---------------------------------------------------------- evaluation
    def _evaluate(self, arm: Arm, params0, params, key, batch: PromptBatch):
        """Per-rollout values ``{name: [P, G]}`` and tokens ``[P, G, T]`` on ``batch``."""
        self.eval_traces += 1
        c = self.config
        g = c.eval_samples
        k_sample, k_judge = jax.random.split(key)
        prompts, comps = self._sample(params, k_sample, batch, g, c.eval_temperature)
        valid = jnp.ones((batch.tokens.shape[0], g), bool)
        rollouts, extra, out, _ = self._judge(arm, batch, comps, k_judge, valid)
        vals = self._per_rollout(rollouts, extra, out, comps)
        tokens = comps.tokens.reshape(-1, comps.tokens.shape[-1])
        temp = c.eval_temperature or 1.0  # the KL of the policy itself when greedy
        logp = self.policy.completion_log_softmax(params, prompts, tokens, temp)
        ref = self.policy.completion_log_softmax(params0, prompts, tokens, temp)
        kl = jnp.sum(
            comps.mask.reshape(tokens.shape) * jnp.sum(jnp.exp(logp) * (logp - ref), -1), -1
        )
        vals["kl"] = kl.reshape(valid.shape)
        if rollouts.rubric is not None:
            vals["rubric"] = jnp.asarray(rollouts.rubric, jnp.float32)
        return vals, comps.tokens


@functools.cache
def programs(policy: Policy, task: Any, config: RLConfig) -> Programs:
    """The `Programs` of (policy, task, config), built once per process."""
    return Programs(policy, task, config)
