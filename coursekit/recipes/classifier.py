"""The ``classifier`` recipe: how the yardstick of `coursekit.metrics` is trained.

Adam on the 9k train split with random shifts, rotations and scalings of the digits, in phases of
decreasing learning rate (the optimizer's state carries over); then the held-out accuracy and
the real-vs-real reference numbers, saved with the weights (``extras["reference"]``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from ..core.checkpoints import Recipe, register
from ..core.config import Config
from ..core.data import load_mnist
from ..core.train import train
from ..metrics import N_FEATURES, MNISTClassifier, accuracy, compute_reference


@dataclass(frozen=True)
class ClassifierConfig:
    """Settings of the classifier recipe (default: 8 epochs at lr 2e-3, then 2 at 3e-4)."""

    width: int = 16  # channels of the first conv block (then 2×, 4×)
    n_features: int = N_FEATURES  # size of the penultimate layer (the features)
    n_train: int | None = None  # train on the first n_train images (None: the whole split)
    #: (learning rate, epochs) of each phase, one optimizer throughout.
    phases: tuple[tuple[float, int], ...] = ((2e-3, 8), (3e-4, 2))
    steps: int | None = None  # if set, every phase lasts this many steps instead
    batch_size: int = 128

    def tiny(self) -> ClassifierConfig:
        """Seconds-long variant: 40 steps on 1,024 images."""
        return replace(self, n_train=1024, phases=((2e-3, 1),), steps=40)


def random_shift(x: torch.Tensor, generator: torch.Generator | None = None,
                 max_shift: float = 2.0, max_degrees: float = 10.0, max_scale: float = 0.1
                 ) -> torch.Tensor:
    """Augmentation: each image (B, 1, 28, 28) shifted by up to `max_shift` pixels, rotated by
    up to `max_degrees` and scaled by up to ±`max_scale`."""
    b = len(x)
    u = torch.rand(b, 4, generator=generator) * 2 - 1  # (B, 4) in [-1, 1]
    angle = u[:, 0] * math.radians(max_degrees)
    scale = 1 + u[:, 1] * max_scale
    shift = u[:, 2:] * (2 * max_shift / 28)  # affine_grid works in [-1, 1] coordinates
    cos, sin = angle.cos() / scale, angle.sin() / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1).to(x)  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (B, 28, 28, 2)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


def build(config: ClassifierConfig) -> MNISTClassifier:
    """A fresh, untrained classifier."""
    return MNISTClassifier(config.width, config.n_features)


def fit(model: MNISTClassifier, cfg: Config, config: ClassifierConfig) -> tuple[dict, dict]:
    """Train `model` in place; return (card metrics, {"reference": real-vs-real numbers})."""
    data, held = load_mnist("train"), load_mnist("heldout")
    x, y = data.x[:config.n_train], data.y[:config.n_train]  # (N, 1, 28, 28), (N,)
    g = cfg.generator(offset=1)

    def loss_fn(model: MNISTClassifier, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        logits = model(random_shift(xb, g))  # (B, 10)
        return F.cross_entropy(logits, yb)

    optimizer = torch.optim.Adam(model.parameters(), lr=config.phases[0][0])
    for i, (lr, epochs) in enumerate(config.phases):
        for group in optimizer.param_groups:
            group["lr"] = lr
        train(model, loss_fn, (x, y), steps=config.steps, epochs=epochs,
              batch_size=config.batch_size, optimizer=optimizer, seed=cfg.seed + i,
              desc=f"classifier (lr {lr:g})")
    model.eval()
    metrics = {"heldout_accuracy": accuracy(model, held.x, held.y),
               "train_accuracy": accuracy(model, x, y)}
    ref = compute_reference(model.cpu())
    metrics.update({f"real_vs_real_{k}": v for k, v in ref.items() if k != "source"})
    return metrics, {"reference": ref}


RECIPE = register(Recipe(
    "classifier", ClassifierConfig(), build=build, fit=fit,
    description="Small MNIST CNN (penultimate layer = 128 features) for Fréchet distance, "
                "class coverage and precision/recall of generated digits."))

__all__ = ["ClassifierConfig", "random_shift", "build", "fit", "RECIPE"]
