"""Plots the prospect-theory shapes behind the HALO losses (docs/halos.md).

Four panels, all computed with `reward_design.halos`:

1. value functions of an outcome z relative to the reference point: the
   Kahneman-Tversky value (alpha = 0.88, lambda = 2.25, and lambda = 1),
   KTO's logistic value and DPO's log-sigmoid value (each shifted so that
   v(0) = 0);
2. the probability-weighting function w(p) for g = 0.61 (gains), 0.69
   (losses) and 1 (no distortion);
3. KTO's per-example loss against the implied reward r for desirable and
   undesirable examples (beta = 1, reference point z0 = 0.5);
4. the DPO-family losses against the margin delta (beta = 0.5).

Usage:
  python benchmarks/plot_value_function.py [--out docs/images/halos_value_function.png]
"""

from __future__ import annotations

import argparse
import pathlib

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from reward_design import halos  # noqa: E402

DEFAULT_OUT = pathlib.Path(__file__).resolve().parents[1] / "docs/images/halos_value_function.png"


def plot(out: pathlib.Path) -> pathlib.Path:
    z = jnp.linspace(-4.0, 4.0, 401)
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5))

    ax = axes[0, 0]
    ax.plot(z, halos.kahneman_tversky_value(z), label="Kahneman-Tversky, α=0.88, λ=2.25", lw=2)
    ax.plot(
        z, halos.kahneman_tversky_value(z, 0.88, 1.0), "--", label="Kahneman-Tversky, λ=1", lw=1.5
    )
    ax.plot(z, jax.nn.sigmoid(z) - 0.5, label="KTO: σ(z) − 1/2", lw=2)
    ax.plot(z, jax.nn.log_sigmoid(z) + jnp.log(2.0), label="DPO: log σ(z) + log 2", lw=2)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.axvline(0, color="0.6", lw=0.8)
    ax.set_ylim(-6, 4)
    ax.set_xlabel("outcome z relative to the reference point")
    ax.set_ylabel("human value v(z)")
    ax.set_title("Value functions: losses loom larger than gains")
    ax.legend(fontsize=8, loc="lower right")

    ax = axes[0, 1]
    p = jnp.linspace(0.0, 1.0, 401)
    for g, style in [(0.61, "-"), (0.69, "--"), (1.0, ":")]:
        ax.plot(p, halos.probability_weighting(p, g), style, lw=2, label=f"γ = {g}")
    ax.set_xlabel("probability p")
    ax.set_ylabel("decision weight w(p)")
    ax.set_title("Probability weighting (Tversky & Kahneman 1992)")
    ax.legend(fontsize=8)

    ax = axes[1, 0]
    r = jnp.linspace(-8.0, 8.0, 401)
    ref = jnp.zeros_like(r)
    for desirable, label in [(True, "desirable"), (False, "undesirable")]:
        lab = jnp.full(r.shape, desirable)
        for w_u, style in [(1.0, "-"), (1.33, "--")]:
            if desirable and w_u != 1.0:
                continue
            loss = halos.kto_loss(r, ref, lab, 0.5, beta=1.0, undesirable_weight=w_u)
            suffix = "" if desirable else f", λ_U = {w_u}"
            ax.plot(r, loss, style, lw=2, label=f"{label}{suffix}")
    ax.axvline(0.5, color="0.6", lw=0.8)
    ax.text(0.6, 1.25, "z0 = max(KL, 0)", fontsize=8, color="0.4")
    ax.set_xlabel("implied reward r = log π(y|x) − log π_ref(y|x)")
    ax.set_ylabel("per-example KTO loss")
    ax.set_title("KTO (β = 1, z0 = 0.5)")
    ax.legend(fontsize=8)

    ax = axes[1, 1]
    delta = jnp.linspace(-8.0, 8.0, 401)
    zeros = jnp.zeros_like(delta)
    for loss_type, ls, label in [
        ("sigmoid", 0.0, "sigmoid (DPO)"),
        ("sigmoid", 0.2, "sigmoid, label_smoothing = 0.2 (cDPO)"),
        ("hinge", 0.0, "hinge (SLiC)"),
        ("ipo", 0.0, "ipo"),
    ]:
        loss = halos.dpo_loss(delta, zeros, zeros, zeros, 0.5, loss_type, ls)
        ax.plot(delta, loss, lw=2, label=label)
    ax.set_ylim(0, 6)
    ax.set_xlabel("margin δ = (log-ratio chosen) − (log-ratio rejected)")
    ax.set_ylabel("per-pair loss")
    ax.set_title("DPO family (β = 0.5)")
    ax.legend(fontsize=8)

    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    print(plot(args.out))


if __name__ == "__main__":
    main()
