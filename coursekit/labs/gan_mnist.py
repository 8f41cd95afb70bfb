"""Notebook 03's MNIST DCGAN figures: the fixed-z snapshot grids that the ``"gan"`` recipe
saves in its extras (`coursekit.recipes.gan`)."""
from __future__ import annotations

import torch

from ..viz.plot import compare_grids


def plot_snapshot_grids(steps: list[int], grids: torch.Tensor, n: int = 12, scale: float = 0.55):
    """Fixed-z samples (rows) at several training steps: the same z in every row.

    grids: (K, N, 1, 28, 28) uint8, as in ``ck.pretrained("gan").extras["snapshots"]``.
    """
    rows = {f"step {s}": grids[i][:n].float() / 255 for i, s in enumerate(steps)}
    return compare_grids(rows, "The same fixed z during training (one row per step)", n=n,
                         scale=scale)
