"""Notebook 04's 2-D experiments and figures: the forward chain simulated layer by layer (the
eq. (15) slip: α_t x^(t) instead of sqrt(α_t) x^(t)), a toy diffusion trained on a 2-D data set,
the reverse process as an animation, and `image_table` (images in rows, one label per column)."""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from matplotlib.animation import FuncAnimation

from ..models.diffusion import check_mean_coef


def simulate_forward(x_0: torch.Tensor, betas: torch.Tensor, mean_coef: str = "sqrt",
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Run the forward chain step by step from x^(0) (N, d): returns (T+1, N, d).

    mean_coef="sqrt": eq. (16), x^(t+1) = sqrt(α_t) x^(t) + sqrt(β_t) z^(t);
    mean_coef="alpha": eq. (15) read literally, x^(t+1) = α_t x^(t) + sqrt(β_t) z^(t).
    Compare its variance with `coursekit.models.diffusion.forward_variance`.
    """
    check_mean_coef(mean_coef)
    xs = [x_0]
    for beta_t in betas.tolist():
        alpha_t = 1 - beta_t
        coef = math.sqrt(alpha_t) if mean_coef == "sqrt" else alpha_t
        z = torch.randn(x_0.shape, generator=generator).to(x_0)  # (N, d)
        # eq. (16): x^(t+1) = sqrt(alpha_t) x^(t) + sqrt(beta_t) z^(t)   (or alpha_t x^(t), eq. 15)
        xs.append(coef * xs[-1] + math.sqrt(beta_t) * z)
    return torch.stack(xs)  # (T+1, N, d)


def train_toy(model, name: str, steps: int, lr: float = 1e-2, seed: int = 0,
              progress: bool = True):
    """Train a toy diffusion `model` (``coursekit.models.diffusion.toy_diffusion``) with the
    simple noise-prediction loss on fresh batches of the 2-D data set `name` ("moons",
    "swiss_roll", "ring"), through the shared training loop with its progress bar. Returns the
    training `History`.

    lr: the peak learning rate; 1e-2 suits runs of about 1,000 steps (the loop's default,
    3e-3, is meant for ≥ 3,000)."""
    from ..recipes.diffusion import fit_toy  # the shared loop (imported here: it loads more)

    return fit_toy(model, name, steps=steps, lr=lr, seed=seed, progress=progress)


def reverse_animation(trajectory: list[tuple[int, torch.Tensor]], title: str, lim: float = 3.0,
                      size: float = 3.2, interval: int = 200, color: str = "tab:blue",
                      dpi: int = 60) -> FuncAnimation:
    """A matplotlib animation of 2-D points along a sampling trajectory [(t, x^(t)), …].

    Show it without a kernel (and offline) with ``ck.plot.animation_html(anim)``."""
    fig, ax = plt.subplots(figsize=(size, size), dpi=dpi)  # low dpi: every frame is a PNG
    first = trajectory[0][1].detach().cpu()  # (N, 2)
    scat = ax.scatter(first[:, 0], first[:, 1], s=2, alpha=0.5, color=color)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xlabel="$x_1$", ylabel="$x_2$")
    label = ax.set_title("")
    fig.tight_layout()

    def frame(i: int):
        t, x = trajectory[i]
        scat.set_offsets(x.detach().cpu().numpy())
        label.set_text(f"{title}: $x^{{({t})}}$")
        return scat, label

    anim = FuncAnimation(fig, frame, frames=len(trajectory), interval=interval, blit=False)
    plt.close(fig)
    return anim


def image_table(images: torch.Tensor, col_labels, title: str, row_labels=None,
                scale: float = 0.66):
    """Images (R, C, 1, H, W) in [0, 1] as an R × C table with a label over each column (e.g.
    the layer t) and, if given, one at the left of each row. Returns the figure."""
    n_rows, n_cols = images.shape[:2]
    if len(col_labels) != n_cols or (row_labels is not None and len(row_labels) != n_rows):
        raise ValueError(f"{n_cols} column labels and {n_rows} row labels needed, got "
                         f"{len(col_labels)} and {None if row_labels is None else len(row_labels)}")
    left = 0.9 if row_labels is not None else 0.1
    fig, axes = plt.subplots(n_rows, n_cols, squeeze=False,
                             figsize=(scale * n_cols + left, scale * n_rows + 0.75))
    for r in range(n_rows):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.imshow(images[r, c, 0].detach().cpu().numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set(xticks=[], yticks=[])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
        if row_labels is not None:
            axes[r, 0].set_ylabel(row_labels[r], rotation=0, ha="right", va="center")
    for ax, label in zip(axes[0], col_labels):
        ax.set_title(label, fontsize=9)
    fig.suptitle(title)
    fig.tight_layout(pad=0.3, w_pad=0.1, h_pad=0.1)
    return fig


__all__ = ["simulate_forward", "train_toy", "reverse_animation", "image_table"]
