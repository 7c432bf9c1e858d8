#!/usr/bin/env bash
# GRPO on the RLCR objective with verl (0.7.1 or later; checked against 0.9.1's config).
#
#   python examples/verl/prepare_data.py --out ~/data/rlcr_addition
#   MODEL=Qwen/Qwen2.5-0.5B-Instruct bash examples/verl/run_grpo_rlcr.sh
#
# What matters here (docs/integrations.md, "Estimator conventions"):
# * algorithm.norm_adv_by_std_in_grpo=False: no per-group std division (Dr. GRPO's
#   advantage). With std scaling, correctness + Brier no longer rewards an honest
#   confidence (docs/scoring-rules.md) and cost about 20 points of accuracy in the
#   calibration study (docs/studies/calibration.md).
# * actor loss_agg_mode=seq-mean-token-sum-norm: Dr. GRPO's length-unbiased loss
#   (verl's default token-mean is DAPO's).
# * reward.custom_reward_function.*: verl 0.9.x reads only these keys; the old
#   top-level custom_reward_function.* keys are ignored there.
# * reward_extra_info logs "valid" per sample: the fraction that parsed should be
#   well above 0.5 from the start with an instruction-tuned model.
# Sizes are for one 8-GPU node; scale them to yours.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
DATA="${DATA:-$HOME/data/rlcr_addition}"
MODEL="${MODEL:-Qwen/Qwen2.5-0.5B-Instruct}"

python -m verl.trainer.main_ppo \
  algorithm.adv_estimator=grpo \
  algorithm.norm_adv_by_std_in_grpo=False \
  data.train_files="$DATA/train.parquet" \
  data.val_files="$DATA/test.parquet" \
  data.train_batch_size=256 \
  data.max_prompt_length=512 \
  data.max_response_length=1024 \
  actor_rollout_ref.model.path="$MODEL" \
  actor_rollout_ref.actor.optim.lr=1e-6 \
  actor_rollout_ref.actor.ppo_mini_batch_size=64 \
  actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=8 \
  actor_rollout_ref.actor.loss_agg_mode=seq-mean-token-sum-norm \
  actor_rollout_ref.actor.use_kl_loss=False \
  actor_rollout_ref.rollout.name=vllm \
  actor_rollout_ref.rollout.n=8 \
  actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=8 \
  actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=8 \
  reward.custom_reward_function.path="$HERE/rlcr_reward.py" \
  reward.custom_reward_function.name=compute_score \
  trainer.n_gpus_per_node=8 \
  trainer.nnodes=1 \
  trainer.total_epochs=1 \
  trainer.logger='["console"]' \
  "$@"
