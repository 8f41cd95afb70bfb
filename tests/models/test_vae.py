"""coursekit.models.vae: the VAE of the lecture, eqs. (4)–(14), and the importance-weighted
bound."""
import math

import pytest
import torch
from torch.nn import functional as F

import coursekit as ck
from coursekit.labs.vae_estimators import iwae_curve
from coursekit.models import vae as V


def _gaussian(shape=(64, 7), seed=0):
    g = torch.Generator().manual_seed(seed)
    mu = 2 * torch.randn(shape, generator=g, dtype=torch.float64)
    log_sigma = torch.randn(shape, generator=g, dtype=torch.float64)
    return mu, log_sigma


def _tiny_vae(m=3, seed=0):
    torch.manual_seed(seed)
    return V.VAE(m=m, hidden=(32,), activation="tanh")


def _binary_images(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.bernoulli(torch.full((n, 1, 28, 28), 0.3), generator=g)


# ----------------------------------------------------------------------------- eq. (13)
def test_kl_closed_form_eq13_matches_torch_distributions():
    for shape in [(64, 7), (5, 3, 20), (1, 1)]:
        mu, log_sigma = _gaussian(shape)
        torch.testing.assert_close(V.kl_closed_form(mu, log_sigma), V.kl_torch(mu, log_sigma))


def test_kl_monte_carlo_agrees_with_closed_form_within_its_standard_error():
    mu, log_sigma = _gaussian((8, 5))
    g = torch.Generator().manual_seed(1)
    z = V.q_sample(mu, log_sigma, 20000, g)
    terms = V.log_normal_diag(z, mu, log_sigma) - V.log_prior(z)  # (S, 8)
    stderr = terms.std(0) / math.sqrt(len(terms))
    err = (terms.mean(0) - V.kl_closed_form(mu, log_sigma)).abs()
    assert (err < 5 * stderr).all()


def test_kl_is_zero_at_the_prior_and_positive_elsewhere():
    zeros = torch.zeros(4, 6)
    assert torch.allclose(V.kl_closed_form(zeros, zeros), torch.zeros(4))
    mu, log_sigma = _gaussian((100, 6))
    assert (V.kl_closed_form(mu, log_sigma) > 0).all()


# ----------------------------------------------------------------------------- eq. (14)
def test_reparameterized_samples_have_mean_mu_and_covariance_diag_sigma2():
    mu = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    log_sigma = torch.tensor([0.0, -1.0, 0.7], dtype=torch.float64)
    z = V.q_sample(mu, log_sigma, 200_000, torch.Generator().manual_seed(0))  # (S, 3)
    torch.testing.assert_close(z.mean(0), mu, atol=0.02, rtol=0)
    cov = torch.cov(z.T)
    torch.testing.assert_close(cov, torch.diag(torch.exp(2 * log_sigma)), atol=0.02, rtol=0.02)


def test_reparameterization_is_differentiable_in_mu_and_sigma():
    mu = torch.zeros(3, requires_grad=True)
    log_sigma = torch.zeros(3, requires_grad=True)
    eps = torch.tensor([0.5, -1.0, 2.0])
    V.reparameterize(mu, log_sigma, eps).sum().backward()
    assert torch.equal(mu.grad, torch.ones(3))
    assert torch.allclose(log_sigma.grad, eps)  # dz/d ln σ = σ ε with σ = 1


# ----------------------------------------------------------------------------- Bernoulli
def test_bernoulli_log_likelihood_equals_minus_bce():
    g = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(10, 784, generator=g, dtype=torch.float64)
    x = torch.bernoulli(torch.full((10, 784), 0.4, dtype=torch.float64), generator=g)
    p = torch.sigmoid(logits)
    expected = (x * p.log() + (1 - x) * (1 - p).log()).sum(-1)
    torch.testing.assert_close(V.bernoulli_log_likelihood(logits, x), expected)
    bce = F.binary_cross_entropy(p, x, reduction="none").sum(-1)
    torch.testing.assert_close(V.bernoulli_log_likelihood(logits, x), -bce)


def test_bernoulli_log_likelihood_stays_finite_where_log_sigmoid_fails():
    logits = torch.tensor([[30.0, -120.0]])
    x = torch.tensor([[0.0, 1.0]])
    naive = (x * torch.sigmoid(logits).log() + (1 - x) * (1 - torch.sigmoid(logits)).log())
    assert torch.isinf(naive.sum())
    torch.testing.assert_close(V.bernoulli_log_likelihood(logits, x), torch.tensor([-150.0]))


# ----------------------------------------------------------------------------- ELBO and IWAE
def test_iwae_is_at_least_the_elbo_and_increases_with_k():
    model = _tiny_vae().eval()
    x = _binary_images(32)
    with torch.no_grad():
        elbo = model.elbo(x, n_eps=500, generator=torch.Generator().manual_seed(0)).mean()
        log_w = model.log_weights(x, 1024, torch.Generator().manual_seed(1))
    curve = iwae_curve(log_w, [1, 4, 16, 64, 256, 1024]).mean(1)
    assert abs(curve[0] - elbo) < 0.2          # IWAE with k = 1 is the ELBO (in expectation)
    assert (curve[1:] > curve[:-1]).all()       # the bound rises with k
    assert curve[-1] > elbo + 1.0


def test_iwae_converges_to_log_p_x_computed_by_quadrature_for_m_1():
    model = _tiny_vae(m=1).eval()
    x = _binary_images(4)
    with torch.no_grad():
        z = torch.linspace(-10, 10, 4001)[:, None, None]  # (G, 1, 1) grid over R
        log_joint = model.log_likelihood(x, z) + V.log_prior(z)  # (G, 4)
        log_p_x = torch.logsumexp(log_joint, 0) + math.log(20 / 4000)  # ∫ p(x|z) p(z) dz
        iwae = model.iwae(x, 4000, torch.Generator().manual_seed(0))
        elbo = model.elbo(x, n_eps=1000, generator=torch.Generator().manual_seed(0))
    assert (elbo < log_p_x).all()
    torch.testing.assert_close(iwae, log_p_x, atol=0.05, rtol=0)


def test_elbo_terms_add_up_and_kl_is_eq13_of_the_encoder_output():
    model = _tiny_vae()
    x = _binary_images(8)
    g = torch.Generator().manual_seed(0)
    recon, kl = model.elbo_terms(x, n_eps=3, generator=g)
    g = torch.Generator().manual_seed(0)
    torch.testing.assert_close(model.elbo(x, n_eps=3, generator=g), recon - kl)
    mu, log_sigma = model.encode(x)
    torch.testing.assert_close(kl, V.kl_closed_form(mu, log_sigma))
    assert recon.shape == kl.shape == (8,)


def test_training_the_elbo_improves_it():
    torch.manual_seed(0)
    model = V.VAE(m=4, hidden=(64,))
    x = ck.load_mnist("train").x[:512]
    held = torch.bernoulli(ck.load_mnist("heldout").x[:100],
                           generator=torch.Generator().manual_seed(0))
    before = V.evaluate(model, held)["elbo"]
    hist = ck.train(model, V.elbo_loss(n_eps=1), x, epochs=3, batch_size=64, lr=3e-3,
                    progress=False)
    after = V.evaluate(model, held)["elbo"]
    assert after > before + 150
    assert {"elbo", "recon", "kl"} <= hist.keys()


# ----------------------------------------------------------------------------- contract
def test_sample_and_reconstruct_follow_the_contract():
    model = _tiny_vae().train()
    s = model.sample(5, generator=torch.Generator().manual_seed(0))
    assert s.shape == (5, 1, 28, 28) and 0 <= s.min() and s.max() <= 1 and not s.requires_grad
    assert model.training  # sample() restores the mode it found
    s2 = model.sample(5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(s, s2)
    r = model.reconstruct(_binary_images(3))
    assert r.shape == (3, 1, 28, 28) and 0 <= r.min() and r.max() <= 1
    mu, log_sigma = model.encode(torch.rand(3, 784))
    assert mu.shape == log_sigma.shape == (3, 3)
    assert model.decode_logits(mu).shape == (3, 1, 28, 28)


def test_wrong_shapes_and_values_raise_clear_errors():
    model = _tiny_vae()
    with pytest.raises(ValueError, match=r"shape \(3, 1, 32, 32\).*\(N, 1, 28, 28\)"):
        model.encode(torch.rand(3, 1, 32, 32))
    with pytest.raises(ValueError, match=r"values in \[-1, 1\].*from_pm1"):
        model.encode(torch.rand(3, 784) * 2 - 1)
    with pytest.raises(ValueError, match="binarize"):
        model.elbo(torch.full((2, 784), 0.5))
    with pytest.raises(ValueError, match="latent dimension m = 3"):
        model.decode_logits(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="must match"):
        V.kl_closed_form(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="k must be"):
        model.iwae(_binary_images(2), 0)


# ----------------------------------------------------------------------------- conv decoder
def _tiny_conv_vae(m=3, seed=0):
    torch.manual_seed(seed)
    return V.VAE(m=m, hidden=(32,), activation="elu", decoder="conv", channels=4)


def test_conv_decoder_maps_any_leading_axes_of_z_to_784_logits():
    model = _tiny_conv_vae()
    z = torch.randn(5, 2, 3)                                  # (S, N, m)
    logits = model.decode_logits(z)
    assert logits.shape == (5, 2, 1, 28, 28)
    # the same z decoded one at a time gives the same logits (no mixing across the batch)
    torch.testing.assert_close(model.decode_logits(z[1, 0]), logits[1, 0])
    torch.testing.assert_close(model.decode(z), torch.sigmoid(logits))
    assert model.log_weights(_binary_images(2), 7).shape == (7, 2)


def test_conv_decoder_output_is_unbounded_logits():
    model = _tiny_conv_vae()
    with torch.no_grad():
        model.decoder[-1].bias.fill_(30.0)                    # a per-pixel bias far above 1
        logits = model.decode_logits(torch.zeros(1, 3))
    assert logits.min() > 20                                  # not squashed into [0, 1]
    x = torch.ones(1, 784)
    torch.testing.assert_close(model.log_likelihood(x, torch.zeros(1, 3)),
                               V.bernoulli_log_likelihood(logits.reshape(1, 784), x))


def test_init_output_bias_sets_logit_of_the_mean_training_image():
    x = ck.load_mnist("train").x[:200]
    expected = torch.logit(x.reshape(200, 784).mean(0).clamp(1e-3, 1 - 1e-3))
    for model in (_tiny_vae(), _tiny_conv_vae()):
        model.init_output_bias(x)
        torch.testing.assert_close(model.decoder[-1].bias.detach(), expected)
    with pytest.raises(ValueError, match="values in"):
        _tiny_conv_vae().init_output_bias(x * 2 - 1)


def test_conv_vae_bounds_and_checkpoint_round_trip(tmp_path):
    model = _tiny_conv_vae().eval()
    x = _binary_images(8)
    with torch.no_grad():
        elbo = model.elbo(x, n_eps=200, generator=torch.Generator().manual_seed(0)).mean()
        iwae = model.iwae(x, 200, torch.Generator().manual_seed(1)).mean()
    assert torch.isfinite(elbo) and iwae > elbo
    torch.save(model.state_dict(), tmp_path / "w.pt")
    again = _tiny_conv_vae(seed=1)
    again.load_state_dict(torch.load(tmp_path / "w.pt", weights_only=True))
    z = torch.randn(4, 3)
    torch.testing.assert_close(again.decode_logits(z), model.decode_logits(z))


def test_wrong_decoder_options_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown decoder 'deconv'.*'mlp', 'conv'"):
        V.VAE(decoder="deconv")
    with pytest.raises(ValueError, match="channels must be"):
        V.VAE(decoder="conv", channels=0)
    with pytest.raises(ValueError, match="at least one layer"):
        V.VAE(hidden=())
    with pytest.raises(ValueError, match="latent dimension m = 3"):
        _tiny_conv_vae().decode_logits(torch.zeros(2, 5))


# ----------------------------------------------------------------------------- hot path, losses
def test_training_losses_do_not_scan_the_batch_on_the_host(monkeypatch):
    """The losses of the training loop skip `check_images` (a min/max scan = a device sync)."""
    model = _tiny_vae()
    x = torch.rand(8, 1, 28, 28)

    def fail(*args, **kwargs):
        raise AssertionError("check_images called in the training hot path")

    monkeypatch.setattr(V, "check_images", fail)
    for loss_fn in (V.elbo_loss(2), V.iwae_loss(3)):
        out = loss_fn(model, x)
        out["loss"].backward()
        assert torch.isfinite(out["loss"])
    with pytest.raises(AssertionError, match="hot path"):
        model.elbo(_binary_images(2))  # the public methods do validate


def test_losses_reject_a_batch_of_the_wrong_shape_and_draw_from_their_generator():
    model = _tiny_vae()
    with pytest.raises(ValueError, match=r"training batch has shape \(4, 1, 32, 32\)"):
        V.elbo_loss()(model, torch.rand(4, 1, 32, 32))
    x = torch.rand(8, 784)
    a = V.elbo_loss(1, torch.Generator().manual_seed(3))(model, x)["elbo"]
    b = V.elbo_loss(1, torch.Generator().manual_seed(3))(model, x)["elbo"]
    assert torch.equal(a, b)


def test_iwae_loss_is_minus_the_mean_iwae_bound_of_a_fresh_binarization():
    model = _tiny_vae().eval()
    x = torch.rand(6, 1, 28, 28)
    g = torch.Generator().manual_seed(0)
    out = V.iwae_loss(4, g)(model, x)
    g = torch.Generator().manual_seed(0)
    x_binary = torch.bernoulli(x.reshape(6, 784), generator=g)
    expected = V.log_mean_exp(model.log_weights(x_binary, 4, g), dim=0).mean()
    torch.testing.assert_close(out["loss"], -expected)
    assert set(out) == {"loss", "iwae4"}


def test_evaluate_validates_once_restores_the_mode_and_is_seeded():
    model = _tiny_vae().train()
    x = _binary_images(12)
    a, b = V.evaluate(model, x, k=5, batch_size=5), V.evaluate(model, x, k=5, batch_size=5)
    assert a == b and set(a) == {"elbo", "recon", "kl", "iwae5"}
    assert model.training
    assert a["elbo"] == pytest.approx(a["recon"] - a["kl"], abs=1e-3)
    with pytest.raises(ValueError, match="binarize"):
        V.evaluate(model, torch.full((2, 784), 0.5))


def test_networks_keep_the_state_dict_layout_of_the_committed_checkpoints():
    keys = set(V.VAE(m=2, hidden=(8, 8)).state_dict())
    assert keys == {f"{net}.{i}.{p}" for net in ("encoder", "decoder") for i in (0, 2, 4)
                    for p in ("weight", "bias")}
    conv = set(V.VAE(m=2, hidden=(8,), decoder="conv", channels=2).state_dict())
    assert {"decoder.0.weight", "decoder.2.weight", "decoder.5.weight", "decoder.7.weight",
            "decoder.10.bias"} <= conv
