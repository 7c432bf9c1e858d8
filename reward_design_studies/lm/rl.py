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

import functools
from typing import Any

import jax
import jax.numpy as jnp
import optax

import reward_design as rd

from .arms import ESTIMATORS, LOSSES, Arm, RLConfig
from .judges import judge_outputs
from .policy import Policy, gather_tokens
from .task import Completions, PromptBatch
from .tokenizer import EOS
from .warmstart import FAST_COMPILE

__all__ = ["aggregate_loss", "clip_by_global_norm", "evaluate_objective", "Programs", "programs"]


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


def clip_by_global_norm(grads: Any, max_norm: jax.Array) -> tuple[Any, jax.Array]:
    """``(grads scaled to global norm <= max_norm, the norm before)`` (max_norm traced)."""
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
        grads, grad_norm = clip_by_global_norm(grads, arm.max_grad_norm)
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
        ended = jnp.any((comps.tokens == EOS) & comps.mask, axis=-1)
        vals["truncated"] = (~ended).astype(jnp.float32)  # cut at T without EOS
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
