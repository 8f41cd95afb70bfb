"""coursekit.models.autoencoders: eqs. (1)–(3) — networks, linear AE ≡ PCA, corruptions,
sparsity penalties, losses."""
import math

import pytest
import torch

import coursekit as ck
from coursekit.core.checkpoints import CHECKPOINT_DIR
from coursekit.models import autoencoders as A


def _images(n=64, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------- eq. (1) models
def test_undercomplete_ae_maps_images_to_m_dim_codes_and_back():
    model = A.Autoencoder(m=8, hidden=(32,))
    x = _images(5)
    h = model.encode(x)
    assert h.shape == (5, 8)
    x_hat = model.decode(h).detach()
    assert x_hat.shape == (5, 1, 28, 28)
    assert 0 <= float(x_hat.min()) and float(x_hat.max()) <= 1
    assert model.reconstruct(x).shape == (5, 1, 28, 28)
    assert model.encode(x.reshape(5, 784)).shape == (5, 8)  # flat images work too


def test_sample_decodes_the_fitted_code_gaussian():
    torch.manual_seed(0)
    model = A.Autoencoder(m=3, hidden=(16,))
    x = _images(500)
    model.fit_code_gaussian(x)
    h = model.codes(x)
    assert torch.allclose(model.code_mean, h.mean(0), atol=1e-5)
    L = model.code_chol
    assert torch.allclose(L @ L.T, torch.cov(h.T), rtol=1e-3, atol=1e-5)
    g = torch.Generator().manual_seed(1)
    s = model.sample(6, generator=g)
    assert s.shape == (6, 1, 28, 28) and 0 <= float(s.min()) and float(s.max()) <= 1
    assert torch.equal(s, model.sample(6, generator=torch.Generator().manual_seed(1)))
    assert model.training  # sample and codes run in eval mode and restore the caller's mode


def test_evaluation_helpers_restore_the_train_eval_mode():
    model = A.Autoencoder(m=3, hidden=(16,))
    x = _images(10)
    for mode in (True, False):
        model.train(mode)
        model.codes(x)
        model.sample(2)
        A.reconstruction_error(model, x)
        assert model.training is mode


def test_code_gaussian_survives_a_state_dict_round_trip():
    a = A.Autoencoder(m=2, hidden=(8,))
    a.fit_code_gaussian(_images(50))
    b = A.Autoencoder(m=2, hidden=(8,))
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.code_chol, b.code_chol) and torch.equal(a.code_mean, b.code_mean)


def test_state_dict_keys_and_shapes_match_the_committed_checkpoint():
    committed = torch.load(CHECKPOINT_DIR / "ae.pt", weights_only=True)["state_dict"]
    fresh = A.Autoencoder(16, (512, 128)).state_dict()
    assert list(fresh) == list(committed)  # encoder.0 … decoder.4 (Linear, ReLU, …), buffers
    assert all(fresh[k].shape == v.shape for k, v in committed.items())


def test_as_matrix_keeps_any_data_matrix_and_flattens_images():
    x = torch.randn(5, 3, requires_grad=True)  # values outside [0, 1], d = 3
    assert A.as_matrix(x) is x
    assert A.as_matrix(_images(2)).shape == (2, 784)
    assert A.as_matrix(torch.zeros(2, 28, 28)).shape == (2, 784)
    with pytest.raises(ValueError, match=r"\(2, 3, 4\); expected a data matrix"):
        A.as_matrix(torch.zeros(2, 3, 4))


def test_bad_inputs_are_clear_errors():
    model = A.Autoencoder(m=4, hidden=(8,))
    with pytest.raises(ValueError, match=r"shape \(1, 28\); expected .*\(N, 1, 28, 28\)"):
        model.encode(torch.rand(1, 28))
    with pytest.raises(ValueError, match=r"\[0, 1\].*from_pm1"):
        model.encode(torch.rand(2, 1, 28, 28) * 2 - 1)
    with pytest.raises(ValueError, match=r"\(N, 4\) tensor, found \(3, 5\)"):
        model.decode(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="positive int"):
        A.Autoencoder(m=0)
    with pytest.raises(ValueError, match="NaN"):
        model.encode(torch.full((1, 1, 28, 28), float("nan")))


def test_training_reduces_reconstruction_error(cfg):
    x = ck.load_mnist("train").x[:512]
    model = A.Autoencoder(m=8, hidden=(64,))
    before = A.reconstruction_error(model, x)
    ck.train(model, A.reconstruction_loss, x, epochs=3, batch_size=64, lr=3e-3, progress=False)
    assert A.reconstruction_error(model, x) < 0.7 * before


# ----------------------------------------------------------------------------- linear AE ≡ PCA
def test_principal_angles_of_known_subspaces():
    e = torch.eye(4, dtype=torch.float64)
    # same subspace, different (mixed, non-orthogonal) basis → all angles 0
    B = e[:, :2] @ torch.tensor([[2.0, 1.0], [0.5, 3.0]], dtype=torch.float64)
    assert torch.allclose(A.principal_angles(e[:, :2], B), torch.zeros(2, dtype=torch.float64),
                          atol=1e-12)
    # orthogonal planes → both angles π/2
    assert torch.allclose(A.principal_angles(e[:, :2], e[:, 2:]), torch.full((2,), math.pi / 2,
                                                                       dtype=torch.float64))
    # a line at 30° from e1 inside span(e1, e3), against span(e1, e2): one angle of 30°
    t = math.radians(30)
    line = torch.tensor([[math.cos(t)], [0.0], [math.sin(t)], [0.0]])
    assert A.principal_angles(e[:, :2], line, degrees=True).item() == pytest.approx(30.0)
    # span(e1, cos t e2 + sin t e3) vs span(e1, e2): angles (0, t), ascending
    C = torch.stack([e[:, 0], math.cos(t) * e[:, 1] + math.sin(t) * e[:, 2]], 1)
    assert torch.allclose(A.principal_angles(e[:, :2], C), torch.tensor([0.0, t],
                                                                        dtype=torch.float64))


def test_principal_angles_resolve_tiny_angles():
    t = 1e-7  # arccos alone loses such angles to rounding; the sine branch keeps them
    e = torch.eye(3, dtype=torch.float64)
    v = (math.cos(t) * e[:, 0] + math.sin(t) * e[:, 1])[:, None]
    assert A.principal_angles(e[:, :1], v).item() == pytest.approx(t, rel=1e-6)


def test_principal_angles_reject_bad_input():
    with pytest.raises(ValueError, match="linearly dependent"):
        A.principal_angles(torch.eye(3)[:, :2], torch.ones(3, 2))
    with pytest.raises(ValueError, match="same number of rows"):
        A.principal_angles(torch.eye(3)[:, :2], torch.eye(4)[:, :2])
    with pytest.raises(ValueError, match="transpose"):
        A.principal_angles(torch.randn(2, 5), torch.randn(5, 2))


def test_pca_components_are_orthonormal_and_match_the_covariance_eigenvectors():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 6, generator=g) * torch.tensor([5.0, 3, 2, 1, 0.5, 0.1])
    Q = torch.linalg.qr(torch.randn(60, 6, generator=g))[0]  # (60, 6) orthonormal
    x = x @ Q.T  # (2000, 60): a 6-dim ellipsoid placed in a 60-dim space
    p = A.pca(x, 3)
    assert torch.allclose(p.components.T @ p.components, torch.eye(3), atol=1e-5)
    evals, evecs = torch.linalg.eigh(A.covariance(x).double())
    assert torch.allclose(p.variances.double(), evals.flip(0)[:3], rtol=1e-4)
    assert A.principal_angles(p.components, evecs[:, -3:], degrees=True).max() < 0.01
    assert A.principal_angles(p.components, Q[:, :3], degrees=True).max() < 2
    assert torch.equal(p.top(2).components, A.pca(x, 2).components)


def test_covariance_loss_equals_the_mean_squared_error_on_centred_data():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(300, 784, generator=g)
    model = A.LinearAutoencoder(m=5)
    model.set_mean(x)
    direct = A.squared_error(model(x), x).mean()
    via_sigma = A.linear_ae_covariance_loss(model, A.covariance(x))
    assert via_sigma.item() == pytest.approx(direct.item(), rel=1e-4)


def test_linear_ae_optimum_spans_the_pca_subspace():
    g = torch.Generator().manual_seed(0)
    d, m = 20, 3
    scales = torch.tensor([6.0, 5, 4] + [1.0] * (d - 3))
    x = torch.randn(4000, d, generator=g) * scales + 3.0
    torch.manual_seed(0)
    model = A.LinearAutoencoder(m, d=d)
    model.set_mean(x)
    sigma = A.covariance(x)
    ck.train(model, A.linear_ae_covariance_loss, lambda bs, gen: sigma, steps=300, lr=3e-2,
             progress=False)
    p = A.pca(x, m)
    assert A.principal_angles(model.W_d, p.components, degrees=True).max() < 0.5
    err_ae = A.squared_error(model(x), x).mean()
    err_pca = A.squared_error(p.mean + (x - p.mean) @ p.components @ p.components.T, x).mean()
    assert err_ae.item() == pytest.approx(err_pca.item(), rel=1e-3)
    # the weights are a mixing of the PCA basis, not the basis itself: W_d = V_m M
    mixing = p.components.T @ model.W_d.detach()
    assert not torch.allclose(mixing, torch.eye(m), atol=0.1)


# ----------------------------------------------------------------------------- eq. (2) corruption
def test_masking_noise_zeroes_the_requested_fraction_of_pixels():
    x = torch.full((200, 1, 28, 28), 0.7)
    x_tilde = A.masking_noise(x, 0.3, generator=torch.Generator().manual_seed(0))
    rate = float((x_tilde == 0).float().mean())
    assert rate == pytest.approx(0.3, abs=0.005)
    assert torch.all((x_tilde == 0) | (x_tilde == x))


def test_salt_and_pepper_sets_half_of_the_hit_pixels_to_one():
    x = torch.full((200, 1, 28, 28), 0.5)
    x_tilde = A.salt_and_pepper(x, 0.2, generator=torch.Generator().manual_seed(0))
    assert float((x_tilde != 0.5).float().mean()) == pytest.approx(0.2, abs=0.005)
    assert float((x_tilde == 1).float().mean()) == pytest.approx(0.1, abs=0.005)
    assert float((x_tilde == 0).float().mean()) == pytest.approx(0.1, abs=0.005)


def test_gaussian_noise_has_the_requested_standard_deviation():
    x = torch.full((100, 1, 28, 28), 0.5)
    g = torch.Generator().manual_seed(0)
    x_tilde = A.gaussian_noise(x, 0.1, generator=g)  # 5σ from the clip bounds
    assert float((x_tilde - x).std()) == pytest.approx(0.1, rel=0.02)
    assert float((x_tilde - x).mean()) == pytest.approx(0.0, abs=0.002)
    clipped = A.gaussian_noise(x, 2.0, generator=g)
    assert 0 <= float(clipped.min()) and float(clipped.max()) <= 1
    assert float(A.gaussian_noise(x, 2.0, generator=g, clip=False).max()) > 1


@pytest.mark.parametrize("kind", sorted(A.CORRUPTIONS))
def test_corruption_at_level_zero_is_the_identity_and_is_reproducible(kind):
    x = _images(4)
    assert torch.equal(A.corrupt(x, kind, 0.0), x)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(A.corrupt(x, kind, 0.4, g1), A.corrupt(x, kind, 0.4, g2))


def test_corruption_bad_levels_are_clear_errors():
    x = _images(2)
    with pytest.raises(ValueError, match=r"probability per pixel.*\[0, 1\].*1.5"):
        A.masking_noise(x, 1.5)
    with pytest.raises(ValueError, match="sigma must be ≥ 0"):
        A.gaussian_noise(x, -0.1)
    with pytest.raises(ValueError, match="unknown corruption 'blur'"):
        A.corrupt(x, "blur", 0.1)


def test_make_denoising_loss_checks_its_settings_without_drawing_from_the_global_rng():
    state = torch.get_rng_state()
    A.make_denoising_loss("gaussian", 0.5)
    assert torch.equal(torch.get_rng_state(), state)
    with pytest.raises(ValueError, match="unknown corruption"):
        A.make_denoising_loss("blur", 0.5)


def test_denoising_loss_compares_with_the_clean_target():
    class Identity(torch.nn.Module):
        def forward(self, x):
            return x
    x = _images(16)
    # identity "AE": loss is exactly the corruption's squared error, not 0
    torch.manual_seed(0)
    loss = A.denoising_loss(Identity(), x, "masking", 0.5)
    assert loss.item() > 0
    assert A.denoising_loss(Identity(), x, "masking", 0.0).item() == 0.0


# ----------------------------------------------------------------------------- eq. (3) sparsity
def test_l1_penalty_is_lambda_times_the_l1_norm_averaged_over_the_batch():
    h = torch.tensor([[1.0, -2.0, 0.0], [0.0, 0.0, 3.0]])
    assert A.l1_penalty(h, 0.5).item() == pytest.approx(0.5 * (3 + 3) / 2)
    assert A.l1_penalty(torch.zeros(4, 3), 1.0).item() == 0.0
    with pytest.raises(ValueError, match="≥ 0"):
        A.l1_penalty(h, -1.0)


def test_l1_prefers_sparse_codes_at_equal_l2_norm():
    sparse = torch.tensor([[1.0, 0, 0, 0]])
    dense = torch.full((1, 4), 0.5)  # same L2 norm 1
    assert A.l1_penalty(sparse, 1.0) < A.l1_penalty(dense, 1.0)


def test_kl_sparsity_penalty_is_zero_at_the_target_and_positive_elsewhere():
    h = torch.full((10, 5), 0.05)
    assert A.kl_sparsity_penalty(h, rho=0.05).item() == pytest.approx(0.0, abs=1e-7)
    assert A.kl_sparsity_penalty(torch.full((10, 5), 0.5), rho=0.05).item() > 0
    with pytest.raises(ValueError, match=r"codes in \[0, 1\]"):
        A.kl_sparsity_penalty(torch.full((2, 2), 2.0))


def test_fraction_active_and_dead_units():
    h = torch.tensor([[0.0, 1.0, 0.0, 0.0], [0.0, 0.5, 2.0, 0.0]])
    assert A.fraction_active(h) == pytest.approx(3 / 8)
    assert A.fraction_dead(h) == pytest.approx(2 / 4)
    with pytest.raises(ValueError, match=r"\(N, m\)"):
        A.fraction_active(torch.zeros(3))


def test_sparse_loss_adds_omega_to_the_reconstruction_error():
    torch.manual_seed(0)
    model = A.sparse_autoencoder(m=900)  # overcomplete: m ≥ d = 784
    x = _images(8)
    out = A.sparse_loss(model, x, lam=0.1)
    assert out["loss"].item() == pytest.approx(out["reconstruction"].item()
                                               + out["omega"].item(), rel=1e-6)
    assert 0 < out["active"] <= 1
    assert model.decoder_features().shape == (900, 1, 28, 28)
