"""coursekit.labs.vae_*: notebook 02's exercise check, estimator studies and plain-AE loss."""
import math

import pytest
import torch
from torch import nn

import coursekit as ck
from coursekit.labs.vae_codes import autoencoder_loss
from coursekit.labs.vae_estimators import gradient_estimates, iwae_curve
from coursekit.labs.vae_exercises import check_architecture
from coursekit.models.vae import VAE


def test_architecture_check_accepts_linear_outputs_and_rejects_a_sigmoid_decoder():
    model = VAE(m=5, hidden=(16,))
    ok, _ = check_architecture(model.encoder, model.decoder, 5)
    assert ok
    squashed = nn.Sequential(*model.decoder, nn.Sigmoid())
    ok, msg = check_architecture(model.encoder, squashed, 5)
    assert not ok and "linear" in msg
    ok, msg = check_architecture(model.encoder, model.decoder, 4)
    assert not ok and "expected (8, 8)" in msg
    conv = VAE(m=5, hidden=(16,), decoder="conv", channels=2)
    ok, _ = check_architecture(conv.encoder, conv.decoder, 5)
    assert ok
    ok, msg = check_architecture(conv.encoder, nn.Sequential(*conv.decoder, nn.Sigmoid()), 5)
    assert not ok and "Sigmoid" in msg
    linear = nn.Sequential(nn.Linear(784, 10))
    ok, msg = check_architecture(linear, model.decoder, 5)
    assert not ok and "no nonlinearity" in msg


def test_architecture_check_leaves_the_global_rng_alone():
    model = VAE(m=5, hidden=(16,))
    state = torch.get_rng_state()
    check_architecture(model.encoder, model.decoder, 5)
    assert torch.equal(torch.get_rng_state(), state)


def test_pathwise_and_score_function_gradients_are_unbiased_and_pathwise_varies_less():
    c = torch.tensor([1.0, -1.0])
    mu, log_sigma = torch.tensor([0.3, 0.2]), torch.tensor([-0.5, 0.1])

    def f(z):  # E_q f(z) = −½ (‖μ − c‖² + ‖σ‖²), so ∇_μ E_q f = c − μ
        return -0.5 * (z - c).pow(2).sum(-1)

    estimates = gradient_estimates(f, mu, log_sigma, n_eps=10, n_repeats=4000,
                                   generator=torch.Generator().manual_seed(0))
    path, score = estimates["pathwise"], estimates["score"]
    for est in estimates.values():
        stderr = est.std(0) / math.sqrt(len(est))
        assert ((est.mean(0) - (c - mu)).abs() < 5 * stderr).all()
    assert (path.var(0) * 5 < score.var(0)).all()
    single = gradient_estimates(f, mu, log_sigma, n_eps=1, n_repeats=3)
    assert torch.isnan(single["score_baseline"]).all()


def test_iwae_curve_averages_disjoint_blocks_and_checks_k():
    log_w = torch.log(torch.tensor([[1.0], [3.0], [2.0], [6.0]]))  # (K = 4, N = 1)
    curve = iwae_curve(log_w, [1, 2, 4])
    torch.testing.assert_close(curve[:, 0], torch.stack([
        log_w.mean(), (math.log(2.0) + math.log(4.0)) / 2 * torch.ones(()),
        torch.log(torch.tensor(3.0))]))
    with pytest.raises(ValueError, match="1 ≤ k ≤ 4"):
        iwae_curve(log_w, [5])


def test_autoencoder_loss_trains_the_vae_networks_without_noise():
    torch.manual_seed(0)
    model = VAE(m=2, hidden=(32,))
    x = ck.load_mnist("train").x[:256]
    hist = ck.train(model, autoencoder_loss, x, epochs=2, batch_size=64, lr=3e-3,
                    progress=False)
    _, recon = hist.series("recon")
    assert recon[-1] > recon[0] and hist.keys() == {"loss", "recon"}
