"""Fréchet distance between Gaussians fitted to classifier features ("MNIST FID").

`frechet_distance` and `frechet_distance_features` use torchmetrics' ``FrechetInceptionDistance``
(the field's implementation) with our classifier as its feature extractor;
`gaussian_frechet_distance` is our own float64 formula, which validates it in the tests.
"""
from __future__ import annotations

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance

from ..core.nn import IMAGE_SHAPE, check_images
from .classifier import MNISTClassifier, classifier


class FeatureExtractor(nn.Module):
    """Wraps the classifier for torchmetrics: images in [0, 1] → (B, 128) features."""

    def __init__(self, net: MNISTClassifier):
        super().__init__()
        self.net = net
        self.num_features = net.num_features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 1, 28, 28) → (B, 128)."""
        return self.net.features(images.to(next(self.net.parameters()).device).float())


class _Identity(nn.Module):
    """Feature 'extractor' for precomputed features (torchmetrics FID on feature vectors)."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return f


def _fid(feature_module: nn.Module, input_size: tuple) -> FrechetInceptionDistance:
    return FrechetInceptionDistance(feature=feature_module, normalize=True,
                                    input_img_size=input_size)


def gaussian_frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor,
                              sigma2: torch.Tensor) -> float:
    """Fréchet (2-Wasserstein²) distance between N(mu1, sigma1) and N(mu2, sigma2), in float64.

    Our own implementation, used to validate torchmetrics' in the tests.
    """
    mu1, mu2 = mu1.double(), mu2.double()
    sigma1, sigma2 = sigma1.double(), sigma2.double()
    # sigma1^½: symmetric PSD square root by eigendecomposition
    w, v = torch.linalg.eigh((sigma1 + sigma1.T) / 2)
    root1 = (v * w.clamp(min=0).sqrt()) @ v.T
    # Tr((sigma1^½ sigma2 sigma1^½)^½) = Σ sqrt(eigenvalues) of a symmetric PSD matrix
    cross = torch.linalg.eigvalsh(root1 @ sigma2 @ root1).clamp(min=0).sqrt().sum()
    # d² = ‖mu1 − mu2‖² + Tr(sigma1) + Tr(sigma2) − 2 Tr((sigma1^½ sigma2 sigma1^½)^½)
    d2 = (mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * cross
    return max(float(d2), 0.0)


@torch.no_grad()
def frechet_distance_features(feats_a: torch.Tensor, feats_b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N, F) and (M, F).

    Computed by torchmetrics' FID code (float64 moments) fed with the features directly.
    """
    if feats_a.dim() != 2 or feats_b.dim() != 2 or feats_a.shape[1] != feats_b.shape[1]:
        raise ValueError(f"features must be (N, F) and (M, F) with the same F, found "
                         f"{tuple(feats_a.shape)} and {tuple(feats_b.shape)}")
    if min(len(feats_a), len(feats_b)) < 2:
        raise ValueError("the Fréchet distance needs at least 2 vectors in each set")
    fid = _fid(_Identity(feats_a.shape[1]), (feats_a.shape[1],))
    fid.update(feats_a.double(), real=True)
    fid.update(feats_b.double(), real=False)
    return max(float(fid.compute()), 0.0)


@torch.no_grad()
def frechet_distance(images_a: torch.Tensor, images_b: torch.Tensor,
                     batch_size: int = 500) -> float:
    """Fréchet distance between two image sets in the classifier's feature space ("MNIST FID").

    torchmetrics ``FrechetInceptionDistance(feature=FeatureExtractor(classifier()),
    normalize=True, input_img_size=(1, 28, 28))``: it fits a Gaussian to each set's features and
    returns ‖mu_a − mu_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½). 0 for identical sets, symmetric,
    biased upwards for small sets: compare numbers only at equal set sizes.
    """
    images_a = check_images(images_a, "images_a", min_n=2)
    images_b = check_images(images_b, "images_b", min_n=2)
    fid = _fid(FeatureExtractor(classifier()), IMAGE_SHAPE)
    for batch in images_a.split(batch_size):
        fid.update(batch, real=True)
    for batch in images_b.split(batch_size):
        fid.update(batch, real=False)
    return max(float(fid.compute()), 0.0)


__all__ = ["FeatureExtractor", "gaussian_frechet_distance", "frechet_distance_features",
           "frechet_distance"]
