"""A rubric as a gate instead of a dense reward, step by step (docs/gates.md).

    python examples/gates_walkthrough.py

Two prompts, four samples each, a three-item rubric and one token-level reward
per sample. The dense objective pays partial credit for each rubric item; the
gated one lets the rubric decide *whether* a sample counts and the token reward
*how well* it did. Then a group filter, a weighted gate, a sweep of the gate's
threshold under one compiled program, and the opt-in CPU kernel.
"""

from __future__ import annotations

import jax
import numpy as np

import reward_design as rd

# rubric[p, g, k]: item k passed; tokens[p, g]: the dense (token-level) reward
RUBRIC = np.array(
    [
        [[1, 1, 1], [1, 1, 0], [0, 1, 1], [1, 1, 1]],  # prompt 1: samples 1 and 4 pass all
        [[0, 1, 1], [1, 0, 1], [0, 0, 1], [1, 1, 0]],  # prompt 2: nothing passes all
    ],
    bool,
)
TOKENS = np.array([[0.6, 0.9, 0.8, 0.2], [0.7, 0.3, 0.9, 0.5]], np.float32)


def show(title: str, out: rd.RewardOutput, adv: jax.Array) -> None:
    print(f"\n{title}")
    for p in range(out.total.shape[0]):
        total = " ".join(f"{float(x):+.3f}" for x in out.total[p])
        advs = " ".join(f"{float(x):+.3f}" for x in adv[p])
        print(f"  prompt {p + 1}: total [{total}]  advantage [{advs}]")
    if out.stats:
        print("  stats: " + ", ".join(f"{k}={float(v):.2f}" for k, v in sorted(out.stats.items())))


def main() -> int:
    rollouts = rd.Rollouts(
        correct=np.zeros((2, 4)), rubric=RUBRIC, token_rewards=TOKENS[..., None]
    ).validate()
    inner = rd.compose(tokens=rd.terms.TokenReward())

    # 1. Dense: the rubric fraction is part of the reward. Samples 2 and 3 fail an item
    #    yet get positive advantages (partial credit + a high token reward).
    dense = rd.compose(rubric=rd.terms.RubricScore(), tokens=rd.terms.TokenReward())
    out = dense(rollouts)
    show("dense: rubric fraction + token reward", out, rd.advantages.grpo(out.total))

    # 2. Gate, "floor": a rejected sample gets the floor (0) and stays in the group
    #    statistics, so it is pushed down. 3. Gate, "drop": it is left out (advantage 0).
    for mode in ("floor", "drop"):
        gated = rd.gates.Gated(rd.gates.AllOf(), inner, on_reject=mode)
        out, adv = gated.advantages(rollouts, "grpo")  # = evaluate, then the estimator
        show(f"gated, on_reject={mode!r}", out, adv)

    # 4. A group filter drops groups with no signal (prompt 2: nobody accepted), as
    #    DAPO's dynamic sampling does; a training loop can resample those prompts.
    filtered = rd.gates.Gated(
        rd.gates.AllOf(), inner, on_reject="drop", group_filter=rd.gates.GroupFilter()
    )
    out, adv = filtered.advantages(rollouts, "grpo")
    show("gated + GroupFilter (drop)", out, adv)

    # 5. Not every item weighs the same: a weighted threshold, and "item 0 is essential".
    weighted = rd.gates.WeightedThreshold(weights=[1.0, 2.0, 1.0], threshold=3.0)
    essential = rd.gates.Essential([0])  # item 0 must pass, the others are free
    for name, gate in (("WeightedThreshold(1,2,1 >= 3)", weighted), ("Essential([0])", essential)):
        print(f"\n{name} accepts:\n{np.asarray(gate(rollouts)).astype(int)}")

    # 6. Hyperparameters are traced: one compiled program for every threshold, and
    #    jax.vmap sweeps them.
    @jax.jit
    def pass_rate(threshold):
        gate = rd.gates.WeightedThreshold(weights=[1.0, 2.0, 1.0], threshold=threshold)
        return gate(rollouts).mean()

    thresholds = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    rates = jax.vmap(pass_rate)(thresholds)
    print(
        "\npass rate by threshold:",
        {float(t): round(float(r), 3) for t, r in zip(thresholds, rates, strict=True)},
    )

    # 7. On a CPU, an opt-in hand-written kernel computes AllOf/AtLeast + GRPO in one
    #    pass (docs/performance.md); same values as gated.advantages up to rounding.
    drop = rd.gates.Gated(rd.gates.AllOf(), inner, on_reject="drop")
    if rd.kernels.supports(drop, "grpo"):
        _, adv_kernel = rd.kernels.gated_advantages(drop, rollouts, "grpo")
        _, adv_xla = drop.advantages(rollouts, "grpo")
        print(
            f"\nkernel ({rd.kernels.kernel_status()['reason']}) vs XLA: max |diff| = "
            f"{float(np.max(np.abs(np.asarray(adv_kernel) - np.asarray(adv_xla)))):.1e}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
