"""The yardstick's network: a small MNIST CNN whose penultimate layer gives the features.

Inception-based FID means little on MNIST (and its weights cannot be downloaded offline), so the
bundle brings its own feature network, trained on the 9k train split by the ``classifier``
recipe (`coursekit.recipes.classifier`, ``python -m coursekit pretrain classifier``) and loaded
from ``data/checkpoints/classifier.pt``.

Every image argument is a float tensor (N, 1, 28, 28) with values in [0, 1].
"""
from __future__ import annotations

from functools import lru_cache

import torch
from torch import nn

from ..core.checkpoints import Pretrained, pretrained
from ..core.nn import check_images, eval_mode

N_CLASSES = 10
N_FEATURES = 128
#: MNIST pixel mean, subtracted from the inputs.
PIXEL_MEAN = 0.1307


class MNISTClassifier(nn.Module):
    """A small CNN: three conv blocks, a 128-unit layer (the features), 10 logits.

    (B, 1, 28, 28) → conv 16 → pool → (B, 16, 14, 14) → conv 32 → pool → (B, 32, 7, 7) →
    conv 64 → pool → (B, 64, 3, 3) → fc 128 (features) → dropout → fc 10 (logits).
    About 0.15 CPU-seconds per batch of 128 on one laptop core.
    """

    num_features = N_FEATURES

    def __init__(self, width: int = 16, n_features: int = N_FEATURES):
        super().__init__()

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                    nn.ReLU(), nn.MaxPool2d(2)]

        self.body = nn.Sequential(*block(1, width), *block(width, 2 * width),
                                  *block(2 * width, 4 * width), nn.Flatten(),
                                  nn.Linear(4 * width * 3 * 3, n_features), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(n_features, N_CLASSES))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer activations, (B, 1, 28, 28) → (B, 128)."""
        return self.body(x - PIXEL_MEAN)  # centre the inputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits, (B, 1, 28, 28) → (B, 10)."""
        return self.head(self.features(x))


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Fraction of images `x` (N, 1, 28, 28) whose argmax logit is the label `y` (N,).

    Runs `model` in eval mode and restores its mode afterwards.
    """
    device = next(model.parameters()).device
    with eval_mode(model):
        correct = sum((model(xb.to(device)).argmax(1).cpu() == yb).sum().item()
                      for xb, yb in zip(x.split(batch_size), y.split(batch_size)))
    return correct / len(y)


@lru_cache(maxsize=1)
def yardstick() -> Pretrained:
    """The pretrained classifier with its card and extras (the saved reference numbers),
    loaded once per session; the model is in eval mode on the CPU with gradients off."""
    with torch.enable_grad():  # a missing checkpoint means training, even inside no_grad code
        loaded = pretrained("classifier", verbose=False)
    loaded.model.eval().requires_grad_(False)
    return loaded


def classifier() -> MNISTClassifier:
    """The pretrained MNIST classifier (eval mode, CPU), loaded once per session."""
    return yardstick().model


def _batched(fn, images: torch.Tensor, batch_size: int, net: nn.Module | None) -> torch.Tensor:
    """fn(net, batch) over validated `images` in batches on net's device, gathered on the CPU."""
    images = check_images(images, "images", min_n=2)
    net = net or classifier()
    device = next(net.parameters()).device
    return torch.cat([fn(net, b.to(device)).cpu() for b in images.split(batch_size)])


@torch.no_grad()
def features(images: torch.Tensor, batch_size: int = 500, net: nn.Module | None = None
             ) -> torch.Tensor:
    """Penultimate-layer features of the classifier (or of `net`), (N, 128) float32 on the CPU."""
    return _batched(lambda n, b: n.features(b), images, batch_size, net)


@torch.no_grad()
def predict(images: torch.Tensor, batch_size: int = 500, net: nn.Module | None = None
            ) -> torch.Tensor:
    """Predicted digit of each image, (N,) int64 (the classifier's, or `net`'s)."""
    return _batched(lambda n, b: n(b).argmax(1), images, batch_size, net)


__all__ = ["N_CLASSES", "N_FEATURES", "MNISTClassifier", "accuracy", "yardstick", "classifier",
           "features", "predict"]
