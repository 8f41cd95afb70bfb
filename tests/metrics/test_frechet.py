"""coursekit.metrics.frechet: torchmetrics' Fréchet distance, our float64 formula, image FD."""
import pytest
import torch

import coursekit as ck
from coursekit import metrics as M


def _gaussian_features(n, dim, seed, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(dim, dim, generator=g) / dim**0.5
    return torch.randn(n, dim, generator=g, dtype=torch.float64) @ a.double() + shift


@pytest.fixture(scope="module")
def digits():
    return ck.load_mnist("heldout").x[:200]


def test_frechet_distance_is_zero_for_identical_feature_sets():
    f = _gaussian_features(500, 8, seed=0)
    assert M.frechet_distance_features(f, f) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_of_a_mean_shift_is_the_squared_shift():
    # Same covariance, means differ by delta: d² = ‖delta‖² + Tr(Σ + Σ − 2Σ) = ‖delta‖².
    f = _gaussian_features(2000, 6, seed=1)
    for delta in (0.1, 0.5, 2.0):
        shift = torch.full((6,), delta, dtype=torch.float64)
        expected = float(shift.square().sum())
        assert M.frechet_distance_features(f, f + shift) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_grows_with_the_shift_and_matches_the_gaussian_closed_form():
    # Independent samples from N(0, I) and N(delta·1, I): d² → d·delta² as n grows.
    dim, n = 4, 20000
    g = torch.Generator().manual_seed(2)
    values = []
    for delta in (0.0, 0.5, 1.0, 2.0):
        a = torch.randn(n, dim, generator=g, dtype=torch.float64)
        b = torch.randn(n, dim, generator=g, dtype=torch.float64) + delta
        values.append(M.frechet_distance_features(a, b))
        assert values[-1] == pytest.approx(dim * delta**2, abs=0.02 + 0.02 * dim * delta**2)
    assert values == sorted(values)


def test_frechet_distance_closed_form_for_scaled_covariances():
    # N(0, s1² I) vs N(0, s2² I) in d dims: d² = d (s1 − s2)².
    eye = torch.eye(3, dtype=torch.float64)
    zero = torch.zeros(3, dtype=torch.float64)
    assert M.gaussian_frechet_distance(zero, 4 * eye, zero, 9 * eye) == pytest.approx(3.0)


def test_torchmetrics_agrees_with_our_float64_formula():
    a, b = _gaussian_features(800, 10, seed=3), _gaussian_features(600, 10, seed=4, shift=0.3)
    mine = M.gaussian_frechet_distance(a.mean(0), torch.cov(a.T), b.mean(0), torch.cov(b.T))
    assert M.frechet_distance_features(a, b) == pytest.approx(mine, rel=1e-6)


def test_frechet_distance_is_symmetric():
    a, b = _gaussian_features(500, 8, seed=5), _gaussian_features(400, 8, seed=6, shift=0.2)
    assert M.frechet_distance_features(a, b) == pytest.approx(
        M.frechet_distance_features(b, a), rel=1e-9)


def test_frechet_distance_leaves_the_thread_count_alone():
    # Threads are set by ck.setup only; the old code switched to 1 thread around the sqrtm.
    threads = torch.get_num_threads()
    a, b = _gaussian_features(100, 8, seed=7), _gaussian_features(100, 8, seed=8)
    M.frechet_distance_features(a, b)
    M.gaussian_frechet_distance(a.mean(0), torch.cov(a.T), b.mean(0), torch.cov(b.T))
    assert torch.get_num_threads() == threads


def test_bad_feature_sets_are_refused():
    with pytest.raises(ValueError, match="same F"):
        M.frechet_distance_features(torch.zeros(5, 3), torch.zeros(5, 4))
    with pytest.raises(ValueError, match="at least 2"):
        M.frechet_distance_features(torch.zeros(1, 3), torch.zeros(5, 3))


def test_image_frechet_distance_zero_for_same_images_and_symmetric(digits):
    a, b = digits[:100], digits[100:200]
    assert M.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-3)
    assert M.frechet_distance(a, b) == pytest.approx(M.frechet_distance(b, a), rel=1e-6)
    assert M.frechet_distance(a, b) > 0.0


def test_image_frechet_distance_uses_the_classifier_features(digits):
    a, b = digits[:100], digits[100:200]
    direct = M.frechet_distance_features(M.features(a), M.features(b))
    assert M.frechet_distance(a, b) == pytest.approx(direct, rel=1e-4)


def test_noise_is_much_further_from_digits_than_other_digits(digits):
    noise = torch.rand(100, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert M.frechet_distance(digits[:100], noise) > 3 * M.frechet_distance(digits[:100],
                                                                            digits[100:200])
