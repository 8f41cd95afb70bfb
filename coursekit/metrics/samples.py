"""Scores of a set of generated digits: does the model produce every class, and how far are its
samples from real held-out digits — as a multiple of "real vs real" (the reference)."""
from __future__ import annotations

from functools import cache

import torch
from torch import nn

from ..core.data import load_mnist, mnist_source
from ..core.nn import check_images
from .classifier import N_CLASSES, features, predict, yardstick
from .frechet import frechet_distance_features
from .precision_recall import precision_recall_features

#: Size of the real reference set: the held-out 1,000 (and 1,000 train images to compare with).
N_REFERENCE = 1000
#: Fixed seed of the train subset used for the real-vs-real reference (independent of cfg.seed).
REFERENCE_SEED = 1234


# ----------------------------------------------------------------------------- classes
def _check_histogram(hist) -> torch.Tensor:
    """`hist` as a float64 probability vector, or a ValueError saying what is wrong."""
    hist = torch.as_tensor(hist, dtype=torch.float64)
    if hist.dim() != 1 or len(hist) < 2:
        raise ValueError(f"a class histogram is a 1-D vector of probabilities (10 for MNIST), "
                         f"found shape {tuple(hist.shape)}")
    if (hist < 0).any() or abs(hist.sum().item() - 1.0) > 1e-4:
        raise ValueError(f"a class histogram must be non-negative and sum to 1, found sum "
                         f"{hist.sum().item():.4g}, min {hist.min().item():.3g}. Normalise counts "
                         f"with counts / counts.sum().")
    return hist


@torch.no_grad()
def class_histogram(images: torch.Tensor, net: nn.Module | None = None) -> torch.Tensor:
    """Share of images the classifier (or `net`) assigns to each digit, (10,) float64."""
    counts = torch.bincount(predict(images, net=net), minlength=N_CLASSES).double()  # (10,)
    return counts / counts.sum()


def class_coverage(hist, threshold: float = 0.01) -> int:
    """Number of classes with at least `threshold` of the samples (10 = every digit appears)."""
    hist = _check_histogram(hist)
    return int((hist >= threshold).sum())


def kl_to_uniform(hist) -> float:
    """KL(hist ‖ uniform) in nats = log K − H(hist); 0 when every class is equally frequent.

    Its maximum, log 10 ≈ 2.30, means a single digit (total mode collapse).
    """
    hist = _check_histogram(hist)
    k = len(hist)
    p = hist[hist > 0]  # 0 log 0 = 0
    # KL(p ‖ u) = Σ p log(p / (1/K))
    return float((p * (p * k).log()).sum())


# ----------------------------------------------------------------------------- real images
def heldout_images(n: int = N_REFERENCE) -> torch.Tensor:
    """The real held-out images every model is compared with, (n, 1, 28, 28)."""
    held = load_mnist("heldout")
    if n > len(held):
        raise ValueError(f"asked for {n} held-out images, the split has {len(held)}")
    return held.x[:n]


def train_subset(n: int = N_REFERENCE) -> torch.Tensor:
    """A fixed random subset of n real train images (seed REFERENCE_SEED), (n, 1, 28, 28)."""
    train = load_mnist("train")
    idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(REFERENCE_SEED))
    return train.x[idx[:n]]


# ----------------------------------------------------------------------------- reference
@torch.no_grad()
def compute_reference(net: nn.Module | None = None, n: int = N_REFERENCE, k: int = 5) -> dict:
    """Every metric for n real train images vs the first n real held-out images, measured with
    the classifier `net` (default: the pretrained one)."""
    real, other = heldout_images(n), train_subset(n)
    f_real, f_other = features(real, net=net), features(other, net=net)  # (n, 128) each
    hist = class_histogram(other, net=net)
    precision, recall = precision_recall_features(f_real, f_other, k)
    return {"n": n, "fd": frechet_distance_features(f_real, f_other),
            "coverage": class_coverage(hist), "kl_uniform": kl_to_uniform(hist),
            "precision": precision, "recall": recall, "source": mnist_source()}


@cache
def _reference(n: int) -> dict:
    saved = yardstick().extras.get("reference")
    ok = saved is not None and saved.get("n") == n and saved.get("source") == mnist_source()
    ref = dict(saved) if ok else compute_reference(None, n)
    ref["kl"] = ref["kl_uniform"]
    return ref


def reference(n: int = N_REFERENCE) -> dict:
    """Real train vs real held-out: fd, coverage, kl_uniform (alias kl), precision, recall.

    For n = 1,000 the numbers come from the classifier checkpoint (computed when it was made);
    other sizes are computed once per session (the Fréchet distance depends on the set size).
    """
    return dict(_reference(n))


@torch.no_grad()
def evaluate_samples(samples: torch.Tensor, k: int = 5) -> dict:
    """fd, fd_ratio, coverage, kl_uniform, precision, recall of generated images.

    The real set is the first len(samples) held-out images (at most 1,000); fd_ratio divides by
    the real-vs-real Fréchet distance at the same set size.
    """
    samples = check_images(samples, "samples", min_n=2)
    n = min(len(samples), N_REFERENCE)
    real = heldout_images(n)
    f_real, f_fake = features(real), features(samples[:n])  # (n, 128) each
    hist = class_histogram(samples)
    precision, recall = precision_recall_features(f_real, f_fake, k)
    fd = frechet_distance_features(f_real, f_fake)
    return {"fd": fd, "fd_ratio": fd / reference(n)["fd"], "coverage": class_coverage(hist),
            "kl_uniform": kl_to_uniform(hist), "precision": precision, "recall": recall}


__all__ = ["N_REFERENCE", "REFERENCE_SEED", "class_histogram", "class_coverage",
           "kl_to_uniform", "heldout_images", "train_subset", "compute_reference", "reference",
           "evaluate_samples"]
