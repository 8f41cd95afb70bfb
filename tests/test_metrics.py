"""coursekit.metrics: Fréchet distance, class coverage / KL, k-NN precision/recall, input checks."""
import math

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


# ----------------------------------------------------------------------------- Fréchet distance
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


def test_features_are_the_penultimate_layer(digits):
    f = M.features(digits[:10])
    assert f.shape == (10, M.N_FEATURES)
    logits = M.classifier().head(f)
    assert torch.allclose(logits, M.classifier()(digits[:10]), atol=1e-5)


# ----------------------------------------------------------------------------- classes
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


def test_class_histogram_of_real_digits_covers_every_class(digits):
    hist = M.class_histogram(digits)
    assert hist.shape == (10,) and float(hist.sum()) == pytest.approx(1.0)
    assert M.class_coverage(hist) == 10


def test_bad_histograms_are_refused():
    with pytest.raises(ValueError, match="sum to 1"):
        M.class_coverage(torch.tensor([3.0, 5.0, 2.0]))
    with pytest.raises(ValueError, match="1-D"):
        M.kl_to_uniform(torch.full((2, 5), 0.1))


# ----------------------------------------------------------------------------- precision/recall
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


def test_precision_recall_on_images(digits):
    assert M.precision_recall(digits[:100], digits[:100], k=3) == (1.0, 1.0)
    p, r = M.precision_recall(digits[:100], digits[100:200], k=5)
    assert 0.5 < p <= 1 and 0.5 < r <= 1


# ----------------------------------------------------------------------------- reference & eval
def test_evaluate_samples_of_real_images_is_close_to_the_reference():
    real_train = M.train_subset(200)
    scores = M.evaluate_samples(real_train)
    assert set(scores) == {"fd", "fd_ratio", "coverage", "kl_uniform", "precision", "recall"}
    assert scores["fd_ratio"] == pytest.approx(1.0)  # same sets as the reference at n = 200
    assert scores["coverage"] == 10
    ref = M.reference(200)
    assert ref["fd"] == pytest.approx(scores["fd"]) and ref["kl"] == ref["kl_uniform"]


def test_noise_samples_score_badly():
    noise = torch.rand(200, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    scores = M.evaluate_samples(noise)
    assert scores["fd_ratio"] > 3 and scores["precision"] < 0.2


def test_format_table_marks_undefined_metrics():
    table = M.format_table([{"model": "gan", "fd": 1.0, "fd_ratio": 2.0, "coverage": 9}])
    assert "| gan |" in table and "—" in table and "9/10" in table


# ----------------------------------------------------------------------------- input checks
@pytest.mark.parametrize("bad, match", [
    (torch.rand(5, 28, 28), r"\(N, 1, 28, 28\).*unsqueeze\(1\)"),
    (torch.rand(5, 784), r"view\(-1, 1, 28, 28\)"),
    (torch.rand(5, 3, 28, 28), r"found \(5, 3, 28, 28\)"),
    (torch.rand(5, 1, 28, 28) * 2 - 1, r"\[0, 1\].*from_pm1"),
    (torch.rand(5, 1, 28, 28) * 255, r"\[0, 1\].*255"),
    (torch.full((5, 1, 28, 28), float("nan")), "NaN"),
])
def test_wrong_shape_or_range_is_a_clear_error(bad, match):
    with pytest.raises(ValueError, match=match):
        M.features(bad)


def test_classifier_recipe_is_registered():
    from coursekit import checkpoints as C

    assert "classifier" in C.recipes()
    assert C.get_recipe("classifier").build().num_features == M.N_FEATURES


@pytest.mark.skipif(not (M.CHECKPOINT_DIR / "classifier.pt").exists(),
                    reason="no committed classifier checkpoint")
def test_pretrained_classifier_reaches_98_5_percent_on_heldout():
    held = ck.load_mnist("heldout")
    assert M.accuracy(M.classifier(), held.x, held.y) >= 0.985


def test_comparison_leaves_out_missing_checkpoints_with_a_message(tmp_path, monkeypatch, capsys):
    from coursekit import checkpoints as C

    assert set(M.load_for_comparison(["classifier"])) == {"classifier"}
    monkeypatch.setattr(C, "CHECKPOINT_DIR", tmp_path)
    assert M.load_for_comparison(["classifier", "no_such_model"]) == {}
    out = capsys.readouterr().out
    assert "python -m coursekit pretrain classifier" in out and "no_such_model" in out


def test_training_cpu_minutes_prefers_the_loop_over_the_whole_recipe():
    card = {"train_cpu_seconds": 1200.0, "metrics": {}}
    assert M.training_cpu_minutes(card) == 20.0  # no loop figure: the whole recipe
    card["metrics"] = {"train_cpu_minutes": 4.5}
    assert M.training_cpu_minutes(card) == 4.5
    card["metrics"] = {"train_loop_cpu_seconds": 600.0, "train_cpu_minutes": 4.5}
    assert M.training_cpu_minutes(card) == 10.0
    assert math.isnan(M.training_cpu_minutes({}))
