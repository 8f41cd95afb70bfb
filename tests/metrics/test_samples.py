"""coursekit.metrics.samples: class coverage / KL, the real-vs-real reference, evaluate_samples."""
import math

import pytest
import torch

import coursekit as ck
from coursekit import metrics as M


def test_coverage_and_kl_on_hand_made_histograms():
    uniform = torch.full((10,), 0.1, dtype=torch.float64)
    assert M.class_coverage(uniform) == 10
    assert M.kl_to_uniform(uniform) == pytest.approx(0.0, abs=1e-12)
    one_digit = torch.zeros(10)
    one_digit[3] = 1.0
    assert M.class_coverage(one_digit) == 1
    assert M.kl_to_uniform(one_digit) == pytest.approx(math.log(10))
    half = torch.tensor([0.5, 0.5] + [0.0] * 8)
    assert M.class_coverage(half) == 2
    assert M.kl_to_uniform(half) == pytest.approx(math.log(10) - math.log(2))
    # The 1% threshold: 0.5% of the samples does not count as covering a class.
    rare = torch.tensor([0.995, 0.005] + [0.0] * 8)
    assert M.class_coverage(rare) == 1
    assert M.class_coverage(rare, threshold=0.001) == 2


def test_kl_to_uniform_matches_torch_distributions():
    p = torch.tensor([0.3, 0.2, 0.1, 0.1, 0.1, 0.05, 0.05, 0.04, 0.03, 0.03], dtype=torch.float64)
    expected = torch.distributions.kl_divergence(
        torch.distributions.Categorical(probs=p),
        torch.distributions.Categorical(probs=torch.full((10,), 0.1, dtype=torch.float64)))
    assert M.kl_to_uniform(p) == pytest.approx(float(expected), rel=1e-9)


def test_class_histogram_of_real_digits_covers_every_class():
    hist = M.class_histogram(ck.load_mnist("heldout").x[:200])
    assert hist.shape == (10,) and float(hist.sum()) == pytest.approx(1.0)
    assert M.class_coverage(hist) == 10


def test_bad_histograms_are_refused():
    with pytest.raises(ValueError, match="sum to 1"):
        M.class_coverage(torch.tensor([3.0, 5.0, 2.0]))
    with pytest.raises(ValueError, match="1-D"):
        M.kl_to_uniform(torch.full((2, 5), 0.1))


def test_reference_sets_are_fixed():
    assert torch.equal(M.heldout_images(50), ck.load_mnist("heldout").x[:50])
    assert torch.equal(M.train_subset(50), M.train_subset(100)[:50])
    with pytest.raises(ValueError, match="held-out images"):
        M.heldout_images(10**6)


def test_reference_at_1000_comes_from_the_checkpoint_and_is_a_copy():
    saved = M.yardstick().extras["reference"]
    ref = M.reference()
    assert ref["fd"] == saved["fd"] and ref["kl"] == ref["kl_uniform"]
    ref["fd"] = -1.0  # the caller's copy: the cached numbers stay
    assert M.reference()["fd"] == saved["fd"]


def test_evaluate_samples_of_real_images_is_close_to_the_reference():
    real_train = M.train_subset(200)
    scores = M.evaluate_samples(real_train)
    assert set(scores) == {"fd", "fd_ratio", "coverage", "kl_uniform", "precision", "recall"}
    assert scores["fd_ratio"] == pytest.approx(1.0)  # same sets as the reference at n = 200
    assert scores["coverage"] == 10
    ref = M.reference(200)
    assert ref["fd"] == pytest.approx(scores["fd"]) and ref["kl"] == ref["kl_uniform"]


def test_evaluate_samples_accepts_rounding_overshoot():
    # Overshoot of ≤ 1e-4 (sampler rounding) is clamped, not refused: same scores as clamped.
    x = M.train_subset(100)
    over = x * (1 + 5e-5)
    assert M.evaluate_samples(over) == M.evaluate_samples(over.clamp(0, 1))


def test_noise_samples_score_badly():
    noise = torch.rand(200, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    scores = M.evaluate_samples(noise)
    assert scores["fd_ratio"] > 3 and scores["precision"] < 0.2
