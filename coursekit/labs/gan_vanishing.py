"""Notebook 03's vanishing-gradient experiment: a poor Gen held fixed while Disc trains.

The lecture (GAN, issues): "if Disc becomes very good while Gen is still poor, then every x̃ is
recognized as fake … reflected in small, erratic gradients w.r.t. θ". `generator_grad_norm`
and `vanishing_gradient_sweep` measure both words (small: the norm; erratic: the cosine between
two z-batches' gradients) for the saturating and the non-saturating generator loss;
`plot_vanishing` draws them. `LinearGenerator` is the deliberately poor Gen.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import matplotlib.pyplot as plt
import torch
from matplotlib.lines import Line2D
from torch import nn

from ..core.style import COLORS
from ..core.train import train
from ..models.gan import (
    GEN_LOSSES,
    ToyGAN,
    discriminator_accuracy,
    discriminator_loss,
    generator_loss,
)
from .gan_ring import ring_sampler, small_net_cpu, toy_adam


class LinearGenerator(nn.Module):
    """A deliberately poor Gen for experiments: x̃ = A z + b, started at A = scale·I, b = 0,
    so the fakes are N(0, scale²·I) — a Gaussian blob with none of the data's structure."""

    def __init__(self, scale: float = 1.0, dim: int = 2):
        super().__init__()
        self.z_dim = dim
        self.linear = nn.Linear(dim, dim)
        with torch.no_grad():
            self.linear.weight.copy_(scale * torch.eye(dim))
            self.linear.bias.zero_()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # x̃ = A z + b
        return self.linear(z)                                   # (B, dim)


def _flat_grad(G: nn.Module, D: nn.Module, z: torch.Tensor, kind: str) -> torch.Tensor:
    """∇_θ L_Gen as one float64 vector (P,); Gen's ``.grad`` fields are left untouched."""
    params = [p for p in G.parameters() if p.requires_grad]
    if not params:
        raise ValueError("Gen has no trainable parameters: nothing to take a gradient of")
    grads = torch.autograd.grad(generator_loss(D(G(z)), kind), params)
    return torch.cat([g.flatten() for g in grads]).double()    # (P,)


def generator_grad_norm(G: nn.Module, D: nn.Module, z: torch.Tensor, kind: str) -> float:
    """‖∇_θ L_G‖₂: norm of the generator loss gradient w.r.t. all of Gen's parameters θ.

    `kind` is "saturating" (L_G = E log(1 − D(G(z)))) or "nonsaturating" (−E log D(G(z))).
    Disc's parameters get no gradient; Gen's ``.grad`` fields are left untouched.
    """
    return _flat_grad(G, D, z, kind).norm().item()


def _gradient_stats(G: nn.Module, D: nn.Module, z_batches: list[torch.Tensor],
                    kind: str) -> tuple[float, float, float, float]:
    """(mean gradient norm over the z-batches, mean cosine between consecutive batches,
    smallest and largest norm of one batch)."""
    grads = torch.stack([_flat_grad(G, D, z, kind) for z in z_batches])  # (n_batches, P)
    norms = grads.norm(dim=1)
    unit = grads / norms.clamp_min(1e-300)[:, None]
    cos = (unit[:-1] * unit[1:]).sum(1)                         # consecutive batch pairs
    return norms.mean().item(), cos.mean().item(), norms.min().item(), norms.max().item()


def vanishing_gradient_sweep(model: ToyGAN, real_sampler: Callable | None = None,
                             d_steps: int = 2000, n_points: int = 30, lr: float = 1e-3,
                             batch_size: int = 256, n_batches: int = 8, n_eval: int = 2048,
                             seed: int = 0) -> dict[str, list[float]]:
    """Hold Gen fixed, train Disc towards the optimal discriminator, watch Gen's gradients.

    At `n_points` steps (log-spaced in 0..d_steps) records Disc's balanced accuracy on fresh
    data and, for both generator losses, the gradient norm ‖∇_θ L_G‖ (mean over `n_batches`
    z-batches of `batch_size`) and the mean cosine between the gradients of two different
    z-batches (1 = the same direction every batch; near 0 = erratic). ``model.D`` trains in
    place with ``ck.train`` on `discriminator_loss` (its fakes are drawn from torch's global
    generator); Gen's parameters are never updated. Returns lists keyed "step", "d_acc",
    "d_fake" (mean D(G(z))), "grad_<kind>", "cos_<kind>", and "gradmin_<kind>" /
    "gradmax_<kind>" (the smallest / largest norm of one z-batch) for kind in GEN_LOSSES. Runs with one
    intra-op thread, no denormals (`coursekit.labs.gan_ring.small_net_cpu`).
    """
    with small_net_cpu():
        return _sweep(model, real_sampler, d_steps, n_points, lr, batch_size, n_batches, n_eval,
                      seed)


def _sweep(model, real_sampler, d_steps, n_points, lr, batch_size, n_batches, n_eval,
           seed) -> dict[str, list[float]]:
    real_sampler = real_sampler or ring_sampler
    if d_steps < 1 or n_points < 2:
        raise ValueError(f"need d_steps ≥ 1 and n_points ≥ 2, got {d_steps}, {n_points}")
    G, D = model.G, model.D
    g = torch.Generator().manual_seed(seed)
    x_eval = real_sampler(n_eval, g)                            # (n_eval, 2) real points
    z_eval = model.prior(n_eval, g)                             # (n_eval, z_dim)
    z_batches = [model.prior(batch_size, g) for _ in range(n_batches)]
    log_marks = torch.logspace(0, math.log10(d_steps), n_points - 1).round().long().tolist()
    marks = sorted({0, *log_marks})
    out: dict[str, list[float]] = {k: [] for k in ("step", "d_acc", "d_fake")}
    out.update({f"{s}_{kind}": [] for s in ("grad", "cos", "gradmin", "gradmax")
                for kind in GEN_LOSSES})

    def measure(step: int) -> None:
        with torch.no_grad():
            d_real, d_fake = D(x_eval), D(G(z_eval))
        out["step"].append(step)
        out["d_acc"].append(discriminator_accuracy(d_real, d_fake))
        out["d_fake"].append(torch.sigmoid(d_fake).mean().item())
        for kind in GEN_LOSSES:
            norm, cos, low, high = _gradient_stats(G, D, z_batches, kind)
            out[f"grad_{kind}"].append(norm)
            out[f"cos_{kind}"].append(cos)
            out[f"gradmin_{kind}"].append(low)
            out[f"gradmax_{kind}"].append(high)

    def disc_loss(D_: nn.Module, x_real: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            x_fake = G(model.prior(len(x_real)))                 # Gen held fixed
        return discriminator_loss(D_(x_real), D_(x_fake))

    opt = toy_adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    done = 0
    measure(0)
    for mark in marks[1:]:
        train(D, disc_loss, real_sampler, steps=mark - done, batch_size=batch_size,
              optimizer=opt, seed=seed + mark, progress=False)
        done = mark
        D.train()
        measure(done)
    return out


def sweep_summary(out: dict[str, list[float]]) -> dict:
    """The numbers notebook 03's takeaway is rendered from, for one sweep: Disc's final
    accuracy and mean D(G(z)); per loss the norm at step 0, at its peak and at the end; the
    non-saturating / saturating ratio at step 0 and at the end, and whether the end norms are
    apart on every z-batch (smallest non-saturating batch norm above the largest saturating
    one); the final cosines; Disc's accuracy when the saturating cosine first drops below 1/2
    (None: it never does)."""
    sat, non = out["grad_saturating"], out["grad_nonsaturating"]
    below = [i for i, c in enumerate(out["cos_saturating"]) if c < 0.5]
    return {"steps": out["step"][-1], "d_acc": out["d_acc"][-1], "d_fake": out["d_fake"][-1],
            "sat_start": sat[0], "sat_peak": max(sat), "sat_end": sat[-1],
            "non_start": non[0], "non_end": non[-1],
            "ratio_start": non[0] / sat[0], "ratio_end": non[-1] / sat[-1],
            "apart_end": out["gradmin_nonsaturating"][-1] > out["gradmax_saturating"][-1],
            "cos_sat_end": out["cos_saturating"][-1], "cos_non_end": out["cos_nonsaturating"][-1],
            "acc_when_erratic": out["d_acc"][below[0]] if below else None}


def plot_vanishing(sweeps: dict[str, dict]):
    """Disc's accuracy, Gen's gradient norm (log scale) and the batch-to-batch cosine of Gen's
    gradient for both generator losses, all against Disc's training steps (log scale, so no
    points pile up at accuracy 1). `sweeps`: label of the poor Gen → the output of
    `vanishing_gradient_sweep`. One legend for the whole figure, under the panels."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.4))
    colors = {"saturating": COLORS["vermillion"], "nonsaturating": COLORS["blue"]}
    markers = ["o", "s", "^", "D"]
    styles = ["-", "--", ":", "-."]
    for marker, ls, out in zip(markers, styles, sweeps.values()):
        steps = [max(s, 0.5) for s in out["step"]]
        axes[0].plot(steps, out["d_acc"], color="black", marker=marker, ms=6, ls=ls, lw=1,
                     mfc="white")
        for kind, color in colors.items():
            kw = dict(color=color, marker=marker, ms=6, ls=ls, lw=1.2, alpha=0.9)
            axes[1].plot(steps, out[f"grad_{kind}"], **kw)
            axes[2].plot(steps, out[f"cos_{kind}"], **kw)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("Disc's training steps (step 0 drawn at 0.5)")
    axes[0].set_ylabel("Disc's accuracy (real vs fake)")
    axes[0].set_ylim(0.45, 1.03)
    axes[1].set_yscale("log")
    axes[1].set_ylabel(r"size $\|\nabla_\theta L_\mathrm{Gen}\|$ (mean over 8 z-batches)")
    axes[2].set_ylabel("cosine between two z-batches' gradients")
    axes[2].set_ylim(-0.3, 1.05)
    axes[0].set_title("How sure Disc becomes", fontsize=10)
    axes[1].set_title("Size of Gen's gradient", fontsize=10)
    axes[2].set_title("Direction of Gen's gradient (1 = steady)", fontsize=10)
    handles = [Line2D([], [], color=c, lw=2.5, label=("saturating loss, log(1 − D(Gen(z)))" if k ==
               "saturating" else "non-saturating loss, −log D(Gen(z))")) for k, c in colors.items()]
    handles += [Line2D([], [], color="gray", marker=m, ms=7, ls=ls, label=f"Gen: {label}")
                for m, ls, label in zip(markers, styles, sweeps)]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=9,
               frameon=False)
    fig.suptitle("A poor Gen held fixed while Disc trains: Gen's gradient under the two losses")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig
