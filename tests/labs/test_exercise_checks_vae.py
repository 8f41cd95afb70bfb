"""Notebook 02's exercise checks: the reference solution passes, plausible wrong answers fail
with a message that names the slip.

* section 5, the gradient of the ELBO estimate of eqs. (13)–(14) w.r.t. φ (through μ, ln σ)
  and θ (through the decoder's logits): `check_encoder_gradient`, `check_decoder_gradient`;
* section 6, which networks and which output layers: `check_networks`.
"""
import pytest
import torch
from torch import nn

import coursekit as ck
from coursekit.labs.vae_exercises import (
    check_decoder_gradient,
    check_encoder_gradient,
    check_networks,
    gradient_problem,
)
from coursekit.models.vae import VAE

M = 5


# ----------------------------------------------------------------------------- section 6
def mlp_pair(hidden=nn.ELU, enc_out=2 * M, dec_out=784, enc_last=None, dec_last=None,
             dec_in=M, width=32):
    encoder = nn.Sequential(nn.Linear(784, width), hidden(), nn.Linear(width, enc_out),
                            *([enc_last] if enc_last else []))
    decoder = nn.Sequential(nn.Linear(dec_in, width), hidden(), nn.Linear(width, dec_out),
                            *([dec_last] if dec_last else []))
    return encoder, decoder


def vae_pair(**kw):
    model = VAE(m=M, hidden=(16,), **kw)
    return model.encoder, model.decoder


REASONABLE = {
    "ELU MLPs (the notebook's solution)": lambda: mlp_pair(nn.ELU),
    "ReLU hidden layers": lambda: mlp_pair(nn.ReLU),
    "LeakyReLU hidden layers": lambda: mlp_pair(nn.LeakyReLU),
    "SELU hidden layers": lambda: mlp_pair(nn.SELU),
    "sigmoid hidden layers": lambda: mlp_pair(nn.Sigmoid),
    "tanh hidden layers (Kingma & Welling)": lambda: mlp_pair(nn.Tanh),
    "GELU hidden layers": lambda: mlp_pair(nn.GELU),
    "the VAE class's MLP networks": lambda: vae_pair(),
    "the convolutional decoder of the recipe": lambda: vae_pair(decoder="conv", channels=2),
    "a decoder reshaped to (N, 1, 28, 28)":
        lambda: (mlp_pair()[0], nn.Sequential(*mlp_pair()[1], nn.Unflatten(1, (1, 28, 28)))),
    "dropout and layer norm inside":
        lambda: (nn.Sequential(nn.Linear(784, 32), nn.LayerNorm(32), nn.ReLU(), nn.Dropout(0.2),
                               nn.Linear(32, 2 * M)), mlp_pair()[1]),
}


@pytest.mark.parametrize("make", REASONABLE.values(), ids=REASONABLE.keys())
def test_any_nonlinear_encoder_with_a_linear_output_and_logit_decoder_passes(make):
    ok, msg = check_networks(make(), M)
    assert ok, msg
    assert "unbounded outputs (μ, ln σ)" in msg


def test_the_lectures_sigmoid_decoder_passes_with_the_loss_it_needs():
    """Dec_θ(z) = p_θ(z) ∈ [0, 1]^d is the lecture's design: valid with BCE on probabilities."""
    ok, msg = check_networks(mlp_pair(dec_last=nn.Sigmoid()), M)
    assert ok, msg
    assert "Bernoulli means" in msg and "binary_cross_entropy" in msg and "not bernoulli_log_likelihood" in msg


class SigmoidInForward(nn.Module):
    """A decoder that applies torch.sigmoid in its forward, with no nn.Sigmoid layer to see."""

    def __init__(self):
        super().__init__()
        self.net = mlp_pair()[1]

    def forward(self, z):
        return torch.sigmoid(self.net(z))


def test_probabilities_are_recognised_by_their_values_not_only_by_an_nn_sigmoid():
    ok, msg = check_networks((mlp_pair()[0], SigmoidInForward()), M)
    assert ok and "Bernoulli means" in msg, msg


WRONG_NETWORKS = {
    "encoder outputs m instead of 2m": (lambda: mlp_pair(enc_out=M), "only one of μ and ln σ"),
    "encoder outputs 2m + 1": (lambda: mlp_pair(enc_out=2 * M + 1), "expected (64, 10)"),
    "ReLU on μ and ln σ": (lambda: mlp_pair(enc_last=nn.ReLU()), "ln σ must be negative"),
    "softplus on μ and ln σ": (lambda: mlp_pair(enc_last=nn.Softplus()), "Softplus"),
    "tanh on μ and ln σ": (lambda: mlp_pair(enc_last=nn.Tanh()), "(−1, 1)"),
    "ELU on μ and ln σ": (lambda: mlp_pair(enc_last=nn.ELU()), "(−1, ∞)"),
    "encoder without a nonlinearity":
        (lambda: (nn.Sequential(nn.Linear(784, 32), nn.Linear(32, 2 * M)), mlp_pair()[1]),
         "encoder has no nonlinearity"),
    "decoder without a nonlinearity":
        (lambda: (mlp_pair()[0], nn.Sequential(nn.Linear(M, 32), nn.Linear(32, 784))),
         "decoder has no nonlinearity"),
    "decoder outputs 2m values": (lambda: mlp_pair(dec_out=2 * M), "expected (64, 784)"),
    "decoder outputs a 28-pixel row": (lambda: mlp_pair(dec_out=28), "one value per pixel"),
    "decoder takes (μ, ln σ) instead of z": (lambda: mlp_pair(dec_in=2 * M), "one code z ∈ R^m"),
    "ReLU decoder output": (lambda: mlp_pair(dec_last=nn.ReLU()), "[0, ∞)"),
    "tanh decoder output": (lambda: mlp_pair(dec_last=nn.Tanh()), "as probabilities they leave [0, 1]"),
    "softmax over the pixels": (lambda: mlp_pair(dec_last=nn.Softmax(dim=-1)), "its own Bernoulli"),
    "hard-sigmoid decoder output": (lambda: mlp_pair(dec_last=nn.Hardsigmoid()), "exactly 0 or 1"),
    "encoder that wants (N, 1, 28, 28)":
        (lambda: (nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(),
                                nn.Linear(4 * 26 * 26, 2 * M)), mlp_pair()[1]), "nn.Unflatten"),
    "one network instead of a pair": (lambda: VAE(m=M, hidden=(16,)), "pair (encoder, decoder)"),
}


@pytest.mark.parametrize("make, says", WRONG_NETWORKS.values(), ids=WRONG_NETWORKS.keys())
def test_plausible_wrong_networks_are_rejected_with_the_reason(make, says):
    ok, msg = check_networks(make(), M)
    assert not ok
    assert says in msg, msg


def test_the_networks_check_leaves_the_rng_and_the_train_flags_alone():
    encoder, decoder = mlp_pair()
    decoder.eval()
    state = torch.get_rng_state()
    check_networks((encoder, decoder), M)
    assert torch.equal(torch.get_rng_state(), state)
    assert encoder.training and not decoder.training


# ----------------------------------------------------------------------------- section 5
@pytest.fixture(scope="module")
def problem():
    torch.manual_seed(0)
    model = VAE(m=3, hidden=(16,))
    x = (torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    eps = torch.randn(8, 3, generator=torch.Generator().manual_seed(2))  # n_ε = 8
    return gradient_problem(model, x, eps)


def encoder_solution(g, eps, mu, log_sigma):
    sigma = log_sigma.exp()
    return g.mean(0) - mu, (g * sigma * eps).mean(0) - (sigma**2 - 1)


def decoder_solution(x, logits):
    return (x - torch.sigmoid(logits)) / len(logits)


def test_the_reference_gradients_match_autograd(problem):
    got = encoder_solution(problem.g, problem.eps, problem.mu, problem.log_sigma)
    assert check_encoder_gradient(got, problem) == (
        True, "∇_μ and ∇_ln σ match autograd within rtol 0.0001, atol 0.0001")
    ok, msg = check_decoder_gradient(decoder_solution(problem.x, problem.logits), problem)
    assert ok and "matches autograd" in msg and f"{problem.n_theta:,} decoder parameters" in msg


def test_autograd_reference_is_the_lectures_gradient(problem):
    """The reference itself: the KL of eq. (13) adds −μ and −(σ² − 1); θ sees only eq. (14)."""
    sigma = problem.log_sigma.exp()
    torch.testing.assert_close(problem.grad_mu, problem.g.mean(0) - problem.mu, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(problem.grad_log_sigma,
                               (problem.g * sigma * problem.eps).mean(0) - (sigma**2 - 1),
                               rtol=1e-4, atol=1e-5)
    theta = problem.theta_gradient(decoder_solution(problem.x, problem.logits))
    for got, ref in zip(theta, problem.grad_theta):
        torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-6)


def _encoder_wrong(kind):
    def answer(g, eps, mu, log_sigma):
        sigma = log_sigma.exp()
        rec_mu, rec_ls = g.mean(0), (g * sigma * eps).mean(0)
        return {"sign flipped": (mu - rec_mu, (sigma**2 - 1) - rec_ls),
                "KL term missing": (rec_mu, rec_ls),
                "KL term added": (rec_mu + mu, rec_ls + sigma**2 - 1),
                "chain factor σ ε missing": (rec_mu - mu, g.mean(0) - (sigma**2 - 1)),
                "factor σ missing (∂z/∂σ)": (rec_mu - mu, (g * eps).mean(0) - (sigma**2 - 1)),
                "sum over samples, not mean": (g.sum(0) - mu, (g * sigma * eps).sum(0) - (sigma**2 - 1)),
                "KL derivative w.r.t. σ": (rec_mu - mu, rec_ls - (sigma - 1 / sigma)),
                "the −1 of eq. (13) missing": (rec_mu - mu, rec_ls - sigma**2),
                "∂KL/∂μ = 2μ": (rec_mu - 2 * mu, rec_ls - (sigma**2 - 1)),
                "one tensor, not a pair": torch.cat([rec_mu - mu, rec_ls]),
                "per-sample gradients (n_ε, m)": (g - mu, g * sigma * eps - (sigma**2 - 1))}[kind]
    return answer


WRONG_ENCODER = {
    "sign flipped": "sign is flipped",
    "KL term missing": "KL term is missing",
    "KL term added": "KL term has the wrong sign",
    "chain factor σ ε missing": "chain factor is missing",
    "factor σ missing (∂z/∂σ)": "one factor σ is missing",
    "sum over samples, not mean": "samples are summed",
    "KL derivative w.r.t. σ": "σ² − 1",
    "the −1 of eq. (13) missing": "the −1",
    "∂KL/∂μ = 2μ": "not 2μ",
    "one tensor, not a pair": "return a pair",
    "per-sample gradients (n_ε, m)": "expected (3,)",
}


@pytest.mark.parametrize("kind, says", WRONG_ENCODER.items(), ids=WRONG_ENCODER.keys())
def test_wrong_encoder_output_gradients_are_rejected_with_the_slip(problem, kind, says):
    got = _encoder_wrong(kind)(problem.g, problem.eps, problem.mu, problem.log_sigma)
    ok, msg = check_encoder_gradient(got, problem)
    assert not ok
    assert says in msg, msg


def test_the_encoder_message_says_which_half_is_right(problem):
    got = _encoder_wrong("chain factor σ ε missing")(problem.g, problem.eps, problem.mu, problem.log_sigma)
    _, msg = check_encoder_gradient(got, problem)
    assert msg.startswith("∇_μ right; ∇_ln σ wrong")


def _decoder_wrong(kind, x, logits):
    p, n = torch.sigmoid(logits), len(logits)
    return {"sign flipped": (p - x) / n,
            "sum over samples, not mean": x - p,
            "∂/∂p instead of ∂/∂l": (x / p - (1 - x) / (1 - p)) / n,
            "extra sigmoid derivative": (x - p) * p * (1 - p) / n,
            "sigmoid missing": (x - logits) / n,
            "−p missing": x.expand_as(p) / n,
            "one gradient for all samples (784,)": (x - p).mean(0),
            "an unrelated guess": torch.ones_like(logits)}[kind]


WRONG_DECODER = {
    "sign flipped": "sign is flipped",
    "sum over samples, not mean": "samples are summed",
    "∂/∂p instead of ∂/∂l": "that is ∂/∂p",
    "extra sigmoid derivative": "one factor p(1 − p) too many",
    "sigmoid missing": "sigmoid is missing",
    "−p missing": "the −p part is missing",
    "one gradient for all samples (784,)": "one gradient per sample",
    "an unrelated guess": "differs from autograd",
}


@pytest.mark.parametrize("kind, says", WRONG_DECODER.items(), ids=WRONG_DECODER.keys())
def test_wrong_logit_gradients_give_a_wrong_theta_gradient_and_the_slip(problem, kind, says):
    got = _decoder_wrong(kind, problem.x, problem.logits)
    ok, msg = check_decoder_gradient(got, problem)
    assert not ok
    assert says in msg, msg


def test_the_check_cells_report_not_attempted_for_the_placeholder(problem, capsys):
    assert ck.exercises.check("θ", lambda: ck.exercises.todo(),
                              lambda got: check_decoder_gradient(got, problem)) is None
    assert ck.exercises.check("θ", lambda: decoder_solution(problem.x, problem.logits),
                              lambda got: check_decoder_gradient(got, problem)) is True
    out = capsys.readouterr().out
    assert "not attempted yet" in out and "✓ θ: correct" in out
