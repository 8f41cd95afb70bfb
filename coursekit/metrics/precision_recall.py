"""k-NN manifold precision (fidelity) and recall (diversity), Kynkäänniemi et al. (2019)."""
from __future__ import annotations

import torch

from ..core.nn import check_images
from .classifier import features


def _knn_radii(feats: torch.Tensor, k: int) -> torch.Tensor:
    """Distance of each point to its k-th nearest neighbour in the same set (itself excluded)."""
    d = torch.cdist(feats, feats)  # (N, N)
    return d.topk(k + 1, dim=1, largest=False).values[:, -1]  # (N,)


def _inside_manifold(points: torch.Tensor, support: torch.Tensor, radii: torch.Tensor
                     ) -> torch.Tensor:
    """For each point: is it inside at least one ball B(support_i, radii_i)?  (P,) bool."""
    d = torch.cdist(points, support)  # (P, S)
    return (d <= radii[None, :]).any(dim=1)


@torch.no_grad()
def precision_recall_features(real: torch.Tensor, fake: torch.Tensor, k: int = 5
                              ) -> tuple[float, float]:
    """k-NN precision and recall (Kynkäänniemi et al. 2019) of feature sets (N, F), (M, F).

    The real manifold is the union of balls around each real point, of radius its distance to
    its k-th nearest real neighbour; likewise for the fake one.
    precision = share of fake points inside the real manifold (are samples realistic?);
    recall    = share of real points inside the fake manifold (is the data covered?).
    """
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"features must be (N, F) and (M, F) with the same F, found "
                         f"{tuple(real.shape)} and {tuple(fake.shape)}")
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} points per set, "
                         f"found {len(real)} real and {len(fake)} fake")
    real, fake = real.double(), fake.double()
    precision = _inside_manifold(fake, real, _knn_radii(real, k)).double().mean()
    recall = _inside_manifold(real, fake, _knn_radii(fake, k)).double().mean()
    return float(precision), float(recall)


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 5) -> tuple[float, float]:
    """k-NN precision/recall of generated images `fake` against `real` images, in feature space.

    Use sets of equal size (the k-NN radii shrink as a set grows).
    """
    return precision_recall_features(features(check_images(real, "real", min_n=2)),
                                     features(check_images(fake, "fake", min_n=2)), k)


__all__ = ["precision_recall_features", "precision_recall"]
