"""Notebook 01's helpers: full-batch training of the linear AE from Σ, and measurements with
their spread: per-image errors, mean ± standard error, and the verdict a takeaway words
("lower" / "higher" / "not distinguishable"; the last three come from `coursekit.core.stats`
and are re-exported here for the notebook's ``S.`` calls).

The errors of notebook 01 are means over held-out images; their standard error over those
images is the spread shown next to them. It covers the choice of test images, not the
training seed (each model is trained once).
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
from torch import nn

from ..core.nn import eval_mode
from ..core.stats import fmt, mean_se, paired_verdict
from ..models.autoencoders import squared_error


@torch.no_grad()
def per_image_errors(model: nn.Module | Callable, x: torch.Tensor,
                     x_input: torch.Tensor | None = None, batch_size: int = 2000
                     ) -> torch.Tensor:
    """‖x − f(h(x̃))‖² per image (N,): `model` has `.reconstruct` or is a callable (a PCA, or
    ``lambda z: z`` for "no model"); `x_input` (e.g. corrupted images) is fed instead of x."""
    fn = model.reconstruct if hasattr(model, "reconstruct") else model
    x_input = x if x_input is None else x_input
    with eval_mode(model) if isinstance(model, nn.Module) else contextlib.nullcontext():
        return torch.cat([squared_error(fn(x_input[i:i + batch_size]), x[i:i + batch_size])
                          for i in range(0, len(x), batch_size)])


def train_on_covariance(model: nn.Module, sigma: torch.Tensor, steps: int, lr: float,
                        desc: str = "linear AE, full batch") -> None:
    """Full-batch Adam on `linear_ae_covariance_loss`: every step's "batch" is Σ (d, d) itself,
    so each step uses all the training images (through their covariance)."""
    from ..core.train import train
    from ..models.autoencoders import linear_ae_covariance_loss
    train(model, linear_ae_covariance_loss, lambda batch_size, generator: sigma, steps=steps,
          lr=lr, desc=desc)


__all__ = ["train_on_covariance", "per_image_errors", "mean_se", "paired_verdict", "fmt"]
