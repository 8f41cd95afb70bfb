"""coursekit.labs.vae_*: notebook 02's estimator studies and plain-AE loss (its exercise checks:
test_exercise_checks_vae.py)."""
import math

import pytest
import torch

import coursekit as ck
from coursekit.labs.vae_codes import autoencoder_loss
from coursekit.labs.vae_estimators import gradient_estimates, iwae_curve
from coursekit.models.vae import VAE


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
