"""Notebook 01's measurements with their spread: per-image errors, mean ± standard error, and
the verdict a takeaway words ("lower" / "higher" / "not distinguishable").

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


def mean_se(values: torch.Tensor) -> tuple[float, float]:
    """(mean, standard error of the mean) of a 1-D tensor of per-image values."""
    v = values.double().flatten()
    if len(v) < 2:
        raise ValueError(f"need at least 2 values for a standard error, found {len(v)}")
    return float(v.mean()), float(v.std() / len(v) ** 0.5)


def paired_verdict(a: torch.Tensor, b: torch.Tensor, k: float = 2.0) -> str:
    """How a per-image quantity `a` compares with `b` on the same images: "lower" / "higher"
    when the mean difference a − b is more than k standard errors from 0, else
    "not distinguishable (difference within ± k s.e.)"."""
    diff, se = mean_se(a - b)
    if diff + k * se < 0:
        return "lower"
    if diff - k * se > 0:
        return "higher"
    return f"not distinguishable (difference within ± {k:g} s.e.)"


def fmt(mean: float, se: float, digits: int = 1) -> str:
    """"12.3 ± 0.4": a mean and its standard error."""
    return f"{mean:.{digits}f} ± {se:.{digits}f}"


__all__ = ["per_image_errors", "mean_se", "paired_verdict", "fmt"]
