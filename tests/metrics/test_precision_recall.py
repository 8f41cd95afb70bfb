"""coursekit.metrics.precision_recall: k-NN manifold precision and recall."""
import pytest
import torch

import coursekit as ck
from coursekit import metrics as M


def _gaussian_features(n, dim, seed):
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_precision_recall_identical_sets_are_one():
    f = _gaussian_features(300, 5, seed=7)
    assert M.precision_recall_features(f, f, k=3) == (1.0, 1.0)


def test_precision_recall_of_disjoint_sets_are_zero():
    f = _gaussian_features(300, 5, seed=8)
    assert M.precision_recall_features(f, f + 100.0, k=5) == (0.0, 0.0)


def test_mode_collapse_keeps_precision_but_loses_recall():
    real = torch.randn(1000, 2, generator=torch.Generator().manual_seed(9))
    collapsed = real[real[:, 0] > 0.5]  # samples only from one region of the data (~30%)
    precision, recall = M.precision_recall_features(real, collapsed, k=5)
    assert precision > 0.95 and recall < 0.5


def test_too_few_points_for_k_are_refused():
    f = _gaussian_features(5, 3, seed=10)
    with pytest.raises(ValueError, match="more than 5 points"):
        M.precision_recall_features(f, f, k=5)


def test_precision_recall_on_images():
    digits = ck.load_mnist("heldout").x[:200]
    assert M.precision_recall(digits[:100], digits[:100], k=3) == (1.0, 1.0)
    p, r = M.precision_recall(digits[:100], digits[100:200], k=5)
    assert 0.5 < p <= 1 and 0.5 < r <= 1
