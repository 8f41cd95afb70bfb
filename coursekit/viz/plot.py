"""Figures used by every notebook. Each function titles and labels what it draws and returns
the matplotlib `Figure` (or `Axes` when you pass one in) so notebooks can add to it.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import torch
from IPython.display import HTML
from torchvision.utils import make_grid

from ..core.style import COLORS, SEQUENTIAL_CMAP, digit_style
from ..core.train import History


def _ax(ax=None, figsize=(6.4, 4.0)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    return ax.figure, ax


def to_image_grid(images: torch.Tensor, nrow: int = 10, pad: int = 2):
    """(N, C, H, W) images in [0, 1] → one (H', W') or (H', W', 3) numpy array for imshow."""
    if images.dim() == 3:
        images = images.unsqueeze(1)
    if images.dim() != 4:
        raise ValueError(f"expected images of shape (N, C, H, W) or (N, H, W), got "
                         f"{tuple(images.shape)}")
    grid = make_grid(images.detach().float().cpu().clamp(0, 1), nrow=nrow, padding=pad,
                     pad_value=1.0)
    return (grid[0] if images.shape[1] == 1 else grid.permute(1, 2, 0)).numpy()


def image_grid(images: torch.Tensor, title: str, nrow: int = 10, ax=None, scale: float = 0.6):
    """Show a grid of images in [0, 1] (use `data.from_pm1` first for [-1, 1] images)."""
    n = len(images)
    rows = -(-n // nrow)
    fig, ax = _ax(ax, figsize=(max(2.0, scale * min(n, nrow)), max(1.2, scale * rows + 0.4)))
    ax.imshow(to_image_grid(images, nrow), cmap="gray", vmin=0, vmax=1)
    ax.set_title(title)
    ax.axis("off")
    return fig


def compare_grids(rows: dict[str, torch.Tensor], title: str, n: int = 10, scale: float = 0.6):
    """Rows of images, one per entry, labelled on the left (e.g. original / noisy / denoised)."""
    fig, axes = plt.subplots(len(rows), 1, figsize=(scale * n + 1.2, scale * len(rows) + 0.8),
                             squeeze=False)
    for ax, (label, images) in zip(axes[:, 0], rows.items()):
        ax.imshow(to_image_grid(images[:n], nrow=n), cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=10)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def curves(history: History, keys: Sequence[str] = ("loss",), title: str = "Training curves",
           phases: Sequence[str] = ("train", "eval"), ylabel: str | None = None, logy: bool = False,
           x: str = "step", ax=None):
    """Plot metrics from a `History` against steps (or epochs with x="epoch")."""
    fig, ax = _ax(ax)
    for phase in phases:
        for key in keys:
            rows = [r for r in history.records if r["phase"] == phase and key in r]
            if rows:
                ax.plot([r[x] for r in rows], [r[key] for r in rows],
                        label=f"{key} ({phase})", marker="o" if phase == "eval" else None,
                        ms=3)
    ax.set_xlabel(x)
    ax.set_ylabel(ylabel or ", ".join(keys))
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.legend()
    return fig


def scatter2d(points: torch.Tensor, title: str, labels: torch.Tensor | None = None, ax=None,
              s: float = 3, alpha: float = 0.6, xlabel: str = "$x_1$", ylabel: str = "$x_2$",
              label: str | None = None, color=None, lim: float | None = None):
    """Scatter of 2-D points; with `labels`, coloured by class with a legend (e.g. digits)."""
    fig, ax = _ax(ax, figsize=(5, 5))
    pts = points.detach().cpu()
    if labels is not None:
        scatter_digits(ax, pts, labels, s=s, alpha=alpha)
    else:
        ax.scatter(pts[:, 0], pts[:, 1], s=s, alpha=alpha, label=label, color=color)
    if lim is not None:
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return fig


def scatter_digits(ax, points: torch.Tensor, labels: torch.Tensor, s: float = 3,
                   alpha: float = 0.6, legend: bool = True, legend_loc: str = "best"):
    """Scatter 2-D points (N, 2) on `ax`, one style (colour + marker) per digit class 0–9
    (`style.digit_style`, the same in every notebook), with a legend titled "digit"."""
    pts, labels = points.detach().cpu(), labels.detach().cpu()
    if pts.dim() != 2 or pts.shape[1] != 2 or len(labels) != len(pts):
        raise ValueError(f"expected points (N, 2) and labels (N,), got {tuple(pts.shape)} and "
                         f"{tuple(labels.shape)}")
    for c in labels.unique().tolist():
        m = labels == c
        ax.scatter(pts[m, 0], pts[m, 1], s=s, alpha=alpha, label=str(c), linewidths=0,
                   **digit_style(c))
    if legend:
        leg = ax.legend(markerscale=max(1.0, 24 / max(s, 1.0)) ** 0.5, fontsize=8, loc=legend_loc,
                        ncol=2, title="digit", title_fontsize=8)
        for handle in leg.legend_handles:
            handle.set_alpha(1.0)
    return ax


def density2d(points: torch.Tensor, title: str, bins: int = 100, lim: float = 3.0, ax=None,
              xlabel: str = "$x_1$", ylabel: str = "$x_2$"):
    """2-D histogram (log-scaled counts) of points in [-lim, lim]²."""
    fig, ax = _ax(ax, figsize=(5, 5))
    pts = points.detach().cpu()
    ax.hist2d(pts[:, 0].numpy(), pts[:, 1].numpy(), bins=bins, range=[[-lim, lim], [-lim, lim]],
              norm=mcolors.LogNorm(), cmap=SEQUENTIAL_CMAP)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(False)
    return fig


def bars(values: dict[str, float] | Sequence[float], title: str, xlabel: str, ylabel: str,
         ax=None, reference: float | None = None, reference_label: str = "reference"):
    """Bar chart (e.g. class histogram of generated digits), optional horizontal reference."""
    fig, ax = _ax(ax)
    if isinstance(values, dict):
        names, heights = list(values), list(values.values())
    else:
        names, heights = [str(i) for i in range(len(values))], list(values)
    ax.bar(names, heights, color=COLORS["blue"])
    if reference is not None:
        ax.axhline(reference, color=COLORS["vermillion"], ls="--", label=reference_label)
        ax.legend()
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return fig


def small_multiples(panels: Sequence[tuple[str, torch.Tensor]], title: str, lim: float = 3.0,
                    s: float = 2, color: str = COLORS["blue"]):
    """A row of 2-D scatter panels (e.g. a reverse diffusion trajectory over t)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(2.3 * len(panels), 2.6), squeeze=False)
    for ax, (label, pts) in zip(axes[0], panels):
        pts = pts.detach().cpu()
        ax.scatter(pts[:, 0], pts[:, 1], s=s, alpha=0.5, color=color)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_title(label, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel("$x_2$")
    fig.supxlabel("$x_1$", fontsize=10)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


#: matplotlib's JavaScript player draws its buttons with Font Awesome icons fetched from a CDN;
#: offline (students, the slide decks) they would be blank, so they become plain characters.
_PLAYER_ICONS = {"fa fa-fast-backward": "⏮", "fa fa-step-backward": "⏴", "fa fa-minus": "−",
                 "fa fa-play fa-flip-horizontal": "◀", "fa fa-pause": "⏸", "fa fa-play": "▶",
                 "fa fa-plus": "+", "fa fa-step-forward": "⏵", "fa fa-fast-forward": "⏭"}


def animation_html(anim, **jshtml_kw):
    """A matplotlib animation as a self-contained HTML player (``anim.to_jshtml``) that works
    without a kernel *and* without a network: the Font Awesome stylesheet link is removed and
    the button icons are replaced by Unicode characters. Returns an ``IPython.display.HTML``."""
    html = anim.to_jshtml(**jshtml_kw)
    html = re.sub(r'<link[^>]*font-awesome[^>]*>', "", html)
    for css, char in _PLAYER_ICONS.items():
        html = html.replace(f'<i class="{css}"></i>', char)
    if "font-awesome" in html or 'class="fa ' in html:
        raise RuntimeError("matplotlib's animation player changed: coursekit.plot.animation_html "
                           "could not remove every Font Awesome reference; please report this")
    return HTML(html)
