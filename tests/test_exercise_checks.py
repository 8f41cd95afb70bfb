"""Every exercise check of the course: the reference solution passes, and plausible wrong
answers (sign errors, missing terms, sum vs mean, wrong normalisation, library shortcuts, ...)
are rejected, each with a message that names the slip. One section per notebook; each wrong
answer is one parametrized case (its id names the slip), at least three per check.
"""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import coursekit as ck
from coursekit.labs import ae_exercises as E
from coursekit.labs import compare_exercises as CE
from coursekit.labs import diffusion_exercises as DE
from coursekit.labs import exercises as ex
from coursekit.labs import gan_exercises as GE
from coursekit.labs.vae_exercises import (
    check_decoder_gradient,
    check_encoder_gradient,
    check_networks,
    gradient_problem,
)
from coursekit.models import autoencoders as A
from coursekit.models import gan
from coursekit.models.vae import VAE

# =============================================================================
# 01 · autoencoders
# =============================================================================
AE_M = 3


@pytest.fixture(scope="module")
def x_toy():
    return E.linear_ae_toy_data()  # (3000, 10)


def _train_full_batch(model, x, steps=500, lr=3e-2):
    sigma = A.covariance(x)
    ck.train(model, A.linear_ae_covariance_loss, lambda batch_size, generator: sigma,
             steps=steps, lr=lr, progress=False)
    return model


def reference_linear_ae(x, m):
    """The notebook's solution: centre, then full-batch training through the covariance."""
    model = A.LinearAutoencoder(m, d=x.shape[1])
    model.set_mean(x)
    return _train_full_batch(model, x)


def minibatch_linear_ae(x, m):
    """The other allowed route: mini-batch Adam on the squared loss."""
    model = A.LinearAutoencoder(m, d=x.shape[1])
    model.set_mean(x)
    ck.train(model, A.reconstruction_loss, x, epochs=20, lr=1e-2, progress=False)
    return model


# ------------------------------------------------------------------ exercise (a): wrong answers
def pca_shortcut(x, m):
    return A.pca(x, m).components  # (d, m): the library's PCA, no autoencoder


def untrained_random_weights(x, m):
    model = A.LinearAutoencoder(m, d=x.shape[1])
    model.set_mean(x)
    return model


def no_centring(x, m):
    model = A.LinearAutoencoder(m, d=x.shape[1])  # set_mean forgotten: x̄ = 0
    ck.train(model, A.reconstruction_loss, x, epochs=20, lr=1e-2, progress=False)
    return model


def smallest_variance_directions(x, m):
    """eigh sorts ascending: taking the first m columns picks the wrong end of the spectrum."""
    model = A.LinearAutoencoder(m, d=x.shape[1])
    model.set_mean(x)
    _, vecs = torch.linalg.eigh(A.covariance(x))
    mix = torch.randn(m, m, generator=torch.Generator().manual_seed(3)) + 2 * torch.eye(m)
    with torch.no_grad():
        model.decoder.weight.copy_(vecs[:, :m] @ mix)
        model.encoder.weight.copy_(torch.linalg.solve(mix, vecs[:, :m].T))
    return model


def tied_encoder_transposed(x, m):
    """Trained, then W_e replaced by W_dᵀ (tied weights): only right if W_d is orthonormal."""
    model = reference_linear_ae(x, m)
    with torch.no_grad():
        model.encoder.weight.copy_(model.decoder.weight.T)
    return model


def too_few_steps(x, m):
    model = A.LinearAutoencoder(m, d=x.shape[1])
    model.set_mean(x)
    return _train_full_batch(model, x, steps=5, lr=3e-3)


def wrong_code_size(x, m):
    return reference_linear_ae(x, m + 1)


WRONG_LINEAR_AE = {
    "pca_shortcut": (pca_shortcut, "tensor"),
    "untrained_random_weights": (untrained_random_weights, "PCA's"),
    "no_centring": (no_centring, "set_mean"),
    "smallest_variance_directions": (smallest_variance_directions, "smallest-variance"),
    "tied_encoder_transposed": (tied_encoder_transposed, "tied"),
    "too_few_steps": (too_few_steps, "not converged"),
    "wrong_code_size": (wrong_code_size, "m = 3"),
}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_linear_ae_trained_full_batch_spans_the_pca_subspace(x_toy, seed):
    torch.manual_seed(seed)
    ok, msg = E.check_linear_ae(reference_linear_ae(x_toy, AE_M), x_toy, AE_M)
    assert ok, msg
    assert "principal subspace" in msg and "°" in msg


def test_linear_ae_trained_on_minibatches_passes_too(x_toy):
    torch.manual_seed(0)
    ok, msg = E.check_linear_ae(minibatch_linear_ae(x_toy, AE_M), x_toy, AE_M)
    assert ok, msg


@pytest.mark.parametrize("wrong", list(WRONG_LINEAR_AE), ids=list(WRONG_LINEAR_AE))
def test_linear_ae_check_rejects_wrong_answers(x_toy, wrong):
    fit, says = WRONG_LINEAR_AE[wrong]
    torch.manual_seed(0)
    ok, msg = E.check_linear_ae(fit(x_toy, AE_M), x_toy, AE_M)
    assert not ok
    assert says in msg, msg


def test_toy_data_is_the_same_for_every_notebook_seed():
    torch.manual_seed(123)
    a = E.linear_ae_toy_data()
    torch.manual_seed(7)
    assert torch.equal(a, E.linear_ae_toy_data())
    top = A.pca(a, 3).components
    assert top.abs().max(0).values.max() < 0.99  # not the coordinate axes


# ------------------------------------------------------------------ exercise (b), part 1: Ω(h)
def l1_reference(h, lam):
    return lam * h.abs().sum(dim=1).mean()  # eq. (3): Ω(h) = λ‖h‖₁


WRONG_OMEGA = {
    "l0_count_no_gradient": (lambda h, lam: lam * (h != 0).float().sum(1).mean(), "no gradient"),
    "summed_over_the_batch": (lambda h, lam: lam * h.abs().sum(), "do not sum"),
    "squared_l2": (lambda h, lam: lam * (h ** 2).sum(1).mean(), "same ℓ2 norm"),
    "l2_norm": (lambda h, lam: lam * h.norm(dim=1).mean(), "same ℓ2 norm"),
    "missing_lambda": (lambda h, lam: h.abs().sum(1).mean(), "lam"),
    "negative_sign": (lambda h, lam: -lam * h.abs().sum(1).mean(), "sign"),
    "one_value_per_code": (lambda h, lam: lam * h.abs().sum(1), "one number"),
    "l_infinity": (lambda h, lam: lam * h.abs().max(1).values.mean(), "prefer zeros"),
    "fourth_power": (lambda h, lam: lam * (h ** 4).sum(1).mean(), "prefer zeros"),
    "l0_count": (lambda h, lam: lam * (h > 0).float().sum(1).mean(), "no gradient"),
    "kl_times_batch_size": (lambda h, lam: len(h) * A.kl_sparsity_penalty(h, beta=lam),
                            "do not sum"),
    "reward_not_penalty": (lambda h, lam: -lam * h.sum(1).mean(), "sign"),
    "lambda_squared": (lambda h, lam: lam ** 2 * h.abs().sum(1).mean(), "proportional"),
    "lambda_square_root": (lambda h, lam: lam ** 0.5 * h.abs().sum(1).mean(), "proportional"),
}


def test_l1_penalty_is_sparsity_promoting():
    ok, msg = E.check_sparsity_penalty(l1_reference)
    assert ok, msg
    ok, msg = E.check_sparsity_penalty(A.l1_penalty)  # the library's Ω, same answer
    assert ok, msg


def test_l1_penalty_averaged_over_units_too_passes():
    """λ · mean_j |h_j| is ℓ1 with λ rescaled by 1/m: still a sparsity penalty."""
    ok, msg = E.check_sparsity_penalty(lambda h, lam: lam * h.abs().mean())
    assert ok, msg


@pytest.mark.parametrize("wrong", list(WRONG_OMEGA), ids=list(WRONG_OMEGA))
def test_sparsity_check_rejects_wrong_penalties(wrong):
    omega, says = WRONG_OMEGA[wrong]
    ok, msg = E.check_sparsity_penalty(omega)
    assert not ok
    assert says in msg, msg


def test_squared_l2_is_rejected_because_it_does_not_prefer_zeros():
    _, msg = E.check_sparsity_penalty(lambda h, lam: lam * (h ** 2).sum(1).mean())
    assert "prefer zeros" in msg and "λ‖h‖₂²" in msg


def test_sparsity_check_in_the_notebook_wrapper_reports_not_attempted(capsys):
    def todo(h, lam):
        return ck.exercises.todo()

    assert ck.exercises.check("Ω", lambda: (todo(torch.ones(2, 4), 0.1), todo)[1],
                              E.check_sparsity_penalty) is None
    assert ck.exercises.NOT_ATTEMPTED in capsys.readouterr().out


# ------------------------------------------------------------------ exercise (b), part 2: trend
ACTIVE = [0.85, 0.45, 0.27, 0.15, 0.03]
ERROR = [6.2, 8.2, 12.7, 22.4, 50.6]
RIGHT = {"active_fraction": "down", "reconstruction_error": "up"}
WRONG_TREND = {
    "active_up": ({"active_fraction": "up", "reconstruction_error": "up"}, "cost more"),
    "error_down": ({"active_fraction": "down", "reconstruction_error": "down"},
                   "carry about x"),
    "both_reversed": ({"active_fraction": "up", "reconstruction_error": "down"},
                      "active_fraction and reconstruction_error"),
    "misspelt_value": ({"active_fraction": "lower", "reconstruction_error": "up"}, "'up' or 'down'"),
    "missing_key": ({"active_fraction": "down"}, "keys"),
}


def test_prediction_larger_lambda_fewer_active_units_higher_error():
    ok, msg = E.check_trend(RIGHT, ACTIVE, ERROR)
    assert ok, msg


@pytest.mark.parametrize("wrong", list(WRONG_TREND), ids=list(WRONG_TREND))
def test_prediction_check_rejects_wrong_predictions(wrong):
    answer, says = WRONG_TREND[wrong]
    ok, msg = E.check_trend(answer, ACTIVE, ERROR)
    assert not ok
    assert says in msg, msg


def test_measured_trend_compares_smallest_positive_lambda_with_the_largest():
    # λ = 0 under-trained (higher error than λ = 0.03) does not flip the verdict
    assert E.measured_trend(ACTIVE, [13.7, 12.2, 16.8, 26.8, 57.4]) == RIGHT


# =============================================================================
# 02 · VAE
# =============================================================================
VAE_M = 5


# ----------------------------------------------------------------------------- section 6
def mlp_pair(hidden=nn.ELU, enc_out=2 * VAE_M, dec_out=784, enc_last=None, dec_last=None,
             dec_in=VAE_M, width=32):
    encoder = nn.Sequential(nn.Linear(784, width), hidden(), nn.Linear(width, enc_out),
                            *([enc_last] if enc_last else []))
    decoder = nn.Sequential(nn.Linear(dec_in, width), hidden(), nn.Linear(width, dec_out),
                            *([dec_last] if dec_last else []))
    return encoder, decoder


def vae_pair(**kw):
    model = VAE(m=VAE_M, hidden=(16,), **kw)
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
                               nn.Linear(32, 2 * VAE_M)), mlp_pair()[1]),
}


@pytest.mark.parametrize("make", REASONABLE.values(), ids=REASONABLE.keys())
def test_any_nonlinear_encoder_with_a_linear_output_and_logit_decoder_passes(make):
    ok, msg = check_networks(make(), VAE_M)
    assert ok, msg
    assert msg == ""          # a plain "✓ correct": the saved output does not describe the answer


def test_the_lectures_sigmoid_decoder_passes_with_the_loss_it_needs():
    """Dec_θ(z) = p_θ(z) ∈ [0, 1]^d is the lecture's design: valid with BCE on probabilities."""
    ok, msg = check_networks(mlp_pair(dec_last=nn.Sigmoid()), VAE_M)
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
    ok, msg = check_networks((mlp_pair()[0], SigmoidInForward()), VAE_M)
    assert ok and "Bernoulli means" in msg, msg


WRONG_NETWORKS = {
    "encoder outputs m instead of 2m": (lambda: mlp_pair(enc_out=VAE_M), "only one of μ and ln σ"),
    "encoder outputs 2m + 1": (lambda: mlp_pair(enc_out=2 * VAE_M + 1), "expected (64, 10)"),
    "ReLU on μ and ln σ": (lambda: mlp_pair(enc_last=nn.ReLU()), "ln σ must be negative"),
    "softplus on μ and ln σ": (lambda: mlp_pair(enc_last=nn.Softplus()), "Softplus"),
    "tanh on μ and ln σ": (lambda: mlp_pair(enc_last=nn.Tanh()), "(−1, 1)"),
    "ELU on μ and ln σ": (lambda: mlp_pair(enc_last=nn.ELU()), "(−1, ∞)"),
    "encoder without a nonlinearity":
        (lambda: (nn.Sequential(nn.Linear(784, 32), nn.Linear(32, 2 * VAE_M)), mlp_pair()[1]),
         "encoder has no nonlinearity"),
    "decoder without a nonlinearity":
        (lambda: (mlp_pair()[0], nn.Sequential(nn.Linear(VAE_M, 32), nn.Linear(32, 784))),
         "decoder has no nonlinearity"),
    "decoder outputs 2m values": (lambda: mlp_pair(dec_out=2 * VAE_M), "expected (64, 784)"),
    "decoder outputs a 28-pixel row": (lambda: mlp_pair(dec_out=28), "one value per pixel"),
    "decoder takes (μ, ln σ) instead of z": (lambda: mlp_pair(dec_in=2 * VAE_M), "one code z ∈ R^m"),
    "ReLU decoder output": (lambda: mlp_pair(dec_last=nn.ReLU()), "[0, ∞)"),
    "tanh decoder output": (lambda: mlp_pair(dec_last=nn.Tanh()), "as probabilities they leave [0, 1]"),
    "softmax over the pixels": (lambda: mlp_pair(dec_last=nn.Softmax(dim=-1)), "its own Bernoulli"),
    "hard-sigmoid decoder output": (lambda: mlp_pair(dec_last=nn.Hardsigmoid()), "exactly 0 or 1"),
    "encoder that wants (N, 1, 28, 28)":
        (lambda: (nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(),
                                nn.Linear(4 * 26 * 26, 2 * VAE_M)), mlp_pair()[1]), "nn.Unflatten"),
    "one network instead of a pair": (lambda: VAE(m=VAE_M, hidden=(16,)), "pair (encoder, decoder)"),
}


@pytest.mark.parametrize("make, says", WRONG_NETWORKS.values(), ids=WRONG_NETWORKS.keys())
def test_plausible_wrong_networks_are_rejected_with_the_reason(make, says):
    ok, msg = check_networks(make(), VAE_M)
    assert not ok
    assert says in msg, msg


def test_the_networks_check_leaves_the_rng_and_the_train_flags_alone():
    encoder, decoder = mlp_pair()
    decoder.eval()
    state = torch.get_rng_state()
    check_networks((encoder, decoder), VAE_M)
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
        True, "∇_μ and ∇_ln σ match autograd")
    ok, msg = check_decoder_gradient(decoder_solution(problem.x, problem.logits), problem)
    assert ok and "matches autograd" in msg and f"{problem.n_theta:,} decoder parameters" in msg


def test_autograd_reference_is_the_lectures_gradient(problem):
    """The reference itself: the KL of eq. (13) adds −μ and −(σ² − 1); θ sees only eq. (14)."""
    from coursekit.labs.vae_exercises import _reference

    ref, sigma = _reference(problem), problem.log_sigma.exp()
    torch.testing.assert_close(ref.grad_mu, problem.g.mean(0) - problem.mu, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ref.grad_log_sigma,
                               (problem.g * sigma * problem.eps).mean(0) - (sigma**2 - 1),
                               rtol=1e-4, atol=1e-5)
    theta = problem.theta_gradient(decoder_solution(problem.x, problem.logits))
    for got, want in zip(theta, ref.grad_theta):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


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
    "KL term missing": "KL part of ∇_μ is missing",
    "KL term added": "KL term has the wrong sign",
    "chain factor σ ε missing": "chain-rule factor ∂z/∂ln σ is missing",
    "factor σ missing (∂z/∂σ)": "uses ∂z/∂σ",
    "sum over samples, not mean": "samples are summed",
    "KL derivative w.r.t. σ": "w.r.t. σ, not ln σ",
    "the −1 of eq. (13) missing": "−Σ_j ln σ_j term",
    "∂KL/∂μ = 2μ": "factor 2 too many",
    "one tensor, not a pair": "return a pair",
    "per-sample gradients (n_ε, m)": "expected (3,)",
}


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
    "−p missing": "both depend on l",
    "one gradient for all samples (784,)": "one gradient per sample",
    "an unrelated guess": "differs from autograd",
}


#: Both halves of the gradient exercise: (half, slip, what the message must say).
WRONG_GRADIENTS = ([("encoder", kind, says) for kind, says in WRONG_ENCODER.items()]
                   + [("decoder", kind, says) for kind, says in WRONG_DECODER.items()])


def _wrong_gradient(half, kind, problem):
    """The wrong answer `kind` for ∇ w.r.t. (μ, ln σ) ("encoder") or w.r.t. the logits ("decoder",
    which the check pushes through the decoder to ∇_θ), and the check that must reject it."""
    if half == "encoder":
        return (_encoder_wrong(kind)(problem.g, problem.eps, problem.mu, problem.log_sigma),
                check_encoder_gradient)
    return _decoder_wrong(kind, problem.x, problem.logits), check_decoder_gradient


@pytest.mark.parametrize("half, kind, says", WRONG_GRADIENTS,
                         ids=[f"{half}: {kind}" for half, kind, _ in WRONG_GRADIENTS])
def test_wrong_gradients_of_either_half_are_rejected_with_the_slip(problem, half, kind, says):
    got, check = _wrong_gradient(half, kind, problem)
    ok, msg = check(got, problem)
    assert not ok
    assert says in msg, msg


def test_the_check_cells_report_not_attempted_for_the_placeholder(problem, capsys):
    assert ck.exercises.check("θ", lambda: ck.exercises.todo(),
                              lambda got: check_decoder_gradient(got, problem)) is None
    assert ck.exercises.check("θ", lambda: decoder_solution(problem.x, problem.logits),
                              lambda got: check_decoder_gradient(got, problem)) is True
    out = capsys.readouterr().out
    assert "not attempted yet" in out and "✓ θ: correct" in out


# =============================================================================
# 03 · GAN
# =============================================================================
def gan_reference(p_data, p_g):  # the notebook's solution cell
    return p_data / (p_data + p_g)


# (id, wrong D*(p_data, p_g), a phrase the message must contain)
GAN_WRONG = [
    ("probability_of_fake_swapped", lambda a, b: b / (a + b), "probability that x is FAKE"),
    ("likelihood_ratio", lambda a, b: a / b, "likelihood ratio"),
    ("log_ratio_logit_not_probability", lambda a, b: torch.log(a / b), "optimal logit"),
    ("constant_one_half", lambda a, b: torch.full_like(a, 0.5), "only where p_g = p_data"),
    ("p_data_alone", lambda a, b: a, "a density is not a probability"),
    ("one_minus_p_g", lambda a, b: 1 - b, "1 − p_g ignores p_data"),
    ("extra_factor_one_half", lambda a, b: 0.5 * a / (a + b), "factor 1/2"),
    ("extra_factor_two", lambda a, b: 2 * a / (a + b), "factor 2"),
    ("sigmoid_of_difference", lambda a, b: torch.sigmoid(a - b), "σ of the difference"),
    ("normalised_over_all_points", lambda a, b: a / (a + b).sum(), "point by point"),
    ("mean_not_elementwise", lambda a, b: (a / (a + b)).mean(), "element-wise"),
    ("nan_where_a_density_is_zero", lambda a, b: torch.exp(torch.log(a) - torch.log(a + b))
     * torch.where(b == 0, torch.nan, 1.0), "not finite"),
    ("negative_values", lambda a, b: a / (a + b) - 0.3, "outside [0, 1]"),
    ("unknown_slip", lambda a, b: a ** 2 / (a ** 2 + b ** 2), "does not minimise"),
    # correct where both densities are positive, NaN where p_g = 0 (∞/∞): the exercise asks for
    # disjoint supports too
    ("ratio_form_nan_on_disjoint_support", lambda a, b: (a / b) / (1 + a / b), "not finite"),
    ("large_epsilon", lambda a, b: a / (a + b + 1e-3), "small constant"),
]


def test_optimal_discriminator_reference_passes():
    ok, msg = GE.check_optimal_discriminator(GE.optimal_discriminator_values(gan_reference))
    assert ok, msg
    assert msg == "at every probe point"


def test_library_d_star_agrees_with_the_reference():
    assert GE.check_optimal_discriminator(
        GE.optimal_discriminator_values(gan.optimal_discriminator))[0]


def test_probes_include_a_perfect_gen_disjoint_supports_and_densities_above_one():
    p_data, p_g = GE.probe_densities()
    assert (p_data == p_g).any()                                  # Gen perfect at some x
    assert ((p_g == 0) & (p_data > 0)).any() and ((p_data == 0) & (p_g > 0)).any()
    assert (p_data > 1).any() and (p_g > 1).any()                 # a density can exceed 1
    assert not ((p_data == 0) & (p_g == 0)).any()                 # D* is defined everywhere


@pytest.mark.parametrize("wrong, phrase", [w[1:] for w in GAN_WRONG], ids=[w[0] for w in GAN_WRONG])
def test_optimal_discriminator_rejects_a_plausible_wrong_answer(wrong, phrase):
    """… with a hint that names the slip and never prints the answer."""
    ok, msg = GE.check_optimal_discriminator(GE.optimal_discriminator_values(wrong))
    assert not ok
    assert phrase in msg, msg
    squeezed = msg.replace(" ", "")
    for answer in ("p_data/(p_data+p_g)", "p_data/(p_g+p_data)", "a/(a+b)",
                   "σ(log(p_data/p_g))", "1−D*", "1-D*"):
        assert answer not in squeezed, msg


def test_in_place_edits_of_the_inputs_do_not_fool_the_check():
    def sneaky(p_data, p_g):
        p_g.zero_()                                               # "Gen is irrelevant"
        return p_data / (p_data + p_g)

    assert not GE.check_optimal_discriminator(GE.optimal_discriminator_values(sneaky))[0]


def test_optimal_discriminator_check_reports_todo_as_not_attempted(capsys):
    def optimal_discriminator(p_data, p_g):
        return ex.todo()

    assert ex.check("optimal discriminator D*(x)",
                    lambda: GE.optimal_discriminator_values(optimal_discriminator),
                    GE.check_optimal_discriminator) is None
    assert ex.NOT_ATTEMPTED in capsys.readouterr().out


# =============================================================================
# 04 · diffusion
# =============================================================================
def diff_reference(var_t, alpha_t, beta_t):  # the notebook's solution cell
    return alpha_t * var_t + beta_t


# (id, wrong var_next, a word the message must contain)
DIFF_WRONG = [
    ("one_minus_alpha_for_beta", lambda v, a, b: a * v + (1 - a), "α_t + β_t ≠ 1"),
    ("eq15_alpha_squared", lambda v, a, b: a ** 2 * v + b, "eq. (15)"),
    ("sqrt_alpha_not_squared", lambda v, a, b: a.sqrt() * v + b, "c² Var(x)"),
    ("beta_squared", lambda v, a, b: a * v + b ** 2, "not β_t²"),
    ("sqrt_beta", lambda v, a, b: a * v + b.sqrt(), "not √β_t"),
    ("noise_term_missing", lambda v, a, b: a * v, "independent"),
    ("noise_scaled_by_var", lambda v, a, b: a * v + b * v, "variance 1"),
    ("cross_term", lambda v, a, b: a * v + b + 2 * (a * b).sqrt() * v, "no cross term"),
    ("returns_standard_deviation", lambda v, a, b: (a * v + b).sqrt(), "standard deviation"),
    ("alpha_beta_swapped", lambda v, a, b: b * v + a, "which term"),
    ("unknown_slip", lambda v, a, b: 0.5 * v + b, "Var(aX + bZ)"),
    ("scalar_not_elementwise", lambda v, a, b: (a * v + b).mean(), "element-wise"),
]


def test_eq17_recursion_reference_passes_and_probes_alpha_plus_beta_not_one():
    ok, msg = DE.check_var_next(DE.var_next_values(diff_reference))
    assert ok, msg
    assert "α + β ≠ 1" in msg
    assert any(abs(a + b - 1) > 1e-6 for _, a, b in DE.VAR_NEXT_CASES)
    assert DE.check_var_next(DE.var_next_values(DE.var_next_reference))[0]


@pytest.mark.parametrize("wrong, word", [w[1:] for w in DIFF_WRONG], ids=[w[0] for w in DIFF_WRONG])
def test_eq17_recursion_rejects_a_plausible_wrong_answer(wrong, word):
    ok, msg = DE.check_var_next(DE.var_next_values(wrong))
    assert not ok
    assert word in msg, msg


def test_one_minus_alpha_agrees_on_the_lectures_schedules_but_is_rejected():
    """The old check (α = 1 − β only) could not tell this answer from the right one."""
    wrong = DIFF_WRONG[0][1]
    for var_t, a, b in DE.VAR_NEXT_CASES[:2]:  # the α + β = 1 probe points
        args = [torch.tensor(x, dtype=torch.float64) for x in (var_t, a, b)]
        assert torch.allclose(wrong(*args), diff_reference(*args))
    assert not DE.check_var_next(DE.var_next_values(wrong))[0]


def test_eq17_check_reports_todo_as_not_attempted(capsys):
    def var_next(var_t, alpha_t, beta_t):
        return ex.todo()

    assert ex.check("eq. (17)", lambda: DE.var_next_values(var_next), DE.check_var_next) is None
    assert ex.NOT_ATTEMPTED in capsys.readouterr().out


# part 3, eq. (15) as printed: (id, wrong var_next_15, a word the message must contain)
DIFF15_WRONG = [
    ("eq16_recursion", lambda v, a, b: a * v + b, "eq. (16)"),
    ("one_minus_alpha_sq_for_beta", lambda v, a, b: a ** 2 * v + (1 - a ** 2), "α_t + β_t ≠ 1"),
    ("alpha_fourth", lambda v, a, b: a ** 4 * v + b, "squared once"),
    ("beta_squared", lambda v, a, b: a ** 2 * v + b ** 2, "already a variance"),
    ("noise_term_missing", lambda v, a, b: a ** 2 * v, "independent"),
    ("returns_standard_deviation", lambda v, a, b: (a ** 2 * v + b).sqrt(), "standard deviation"),
]


@pytest.mark.parametrize("wrong, word", [w[1:] for w in DIFF15_WRONG], ids=[w[0] for w in DIFF15_WRONG])
def test_eq15_recursion_rejects_a_plausible_wrong_answer(wrong, word):
    assert DE.check_var_next_15(DE.var_next_values(DE.var_next_15_reference))[0]
    ok, msg = DE.check_var_next_15(DE.var_next_values(wrong))
    assert not ok
    assert word in msg, msg


# part 3's number, where eq. (15)'s variance settles at β = 0.01: (id, wrong value, a word)
SETTLE_WRONG = [
    ("eq16_unit_variance", 1.0, "eq. (16)"),
    ("beta_alone", 0.01, "one step"),
    ("zero", 0.0, "cannot sink"),
    ("standard_deviation", (1 / 1.99) ** 0.5, "standard deviation"),
    ("alpha_fourth", 0.01 / (1 - 0.99 ** 4), "squared once"),
]


@pytest.mark.parametrize("wrong, word", [w[1:] for w in SETTLE_WRONG], ids=[w[0] for w in SETTLE_WRONG])
def test_settle_15_rejects_a_plausible_wrong_answer(wrong, word):
    assert DE.check_settle_15(0.01 / (1 - 0.99 ** 2))[0]
    ok, msg = DE.check_settle_15(wrong)
    assert not ok
    assert word in msg, msg


def test_clumps_prediction_rejects_the_wrong_guess():
    assert DE.check_clumps_prediction(False)[0]
    assert not DE.check_clumps_prediction(True)[0]


# =============================================================================
# 05 · comparing models
# =============================================================================
def fd_reference(m1, s1, m2, s2):
    return (m1 - m2) ** 2 + (s1 - s2) ** 2


FD_WRONG = {  # name: (student's d², a word the message must contain)
    "no cross term": (lambda m1, s1, m2, s2: (m1 - m2) ** 2 + s1 ** 2 + s2 ** 2, "cross term"),
    "plus sign": (lambda m1, s1, m2, s2: (m1 - m2) ** 2 + (s1 + s2) ** 2, "minus sign"),
    "variances for stds": (lambda m1, s1, m2, s2: (m1 - m2) ** 2 + (s1 ** 2 - s2 ** 2) ** 2,
                           "standard deviations"),
    "d, not d²": (lambda m1, s1, m2, s2: math.sqrt(fd_reference(m1, s1, m2, s2)), "squared"),
    "mean term not squared": (lambda m1, s1, m2, s2: abs(m1 - m2) + (s1 - s2) ** 2,
                              "‖μ1 − μ2‖²"),
    "sigma read as variance": (lambda m1, s1, m2, s2: (m1 - m2) ** 2 + s1 + s2
                               - 2 * math.sqrt(s1 * s2), "standard deviations"),
    "means only": (lambda m1, s1, m2, s2: (m1 - m2) ** 2, "you return"),
    "half of it": (lambda m1, s1, m2, s2: 0.5 * fd_reference(m1, s1, m2, s2), "you return"),
}


def answers(fn):
    return [fn(*c) for c in CE.CASES]


def test_reference_closed_form_of_the_1d_frechet_distance_passes():
    ok, detail = CE.verify_frechet_1d(answers(fd_reference))
    assert ok and detail.startswith("matches")


@pytest.mark.parametrize("name", list(FD_WRONG))
def test_slips_in_the_1d_frechet_distance_are_rejected_with_a_hint(name):
    fn, word = FD_WRONG[name]
    ok, detail = CE.verify_frechet_1d(answers(fn))
    assert not ok and word in detail, detail


def test_wrong_number_of_values_is_rejected():
    ok, detail = CE.verify_frechet_1d([0.0])
    assert not ok and "cases" in detail


HALF_RIGHT = {"kl_uniform": math.log(2), "precision": "high", "recall": "low"}
HALF_WRONG = {  # name: (student's prediction for real digits of 0–4 only, a word of the hint)
    "entropy instead of KL": ({**HALF_RIGHT, "kl_uniform": math.log(5)}, "entropy"),
    "KL in bits": ({**HALF_RIGHT, "kl_uniform": 1.0}, "bits"),
    "total collapse": ({**HALF_RIGHT, "kl_uniform": math.log(10)}, "single digit"),
    "precision drops": ({**HALF_RIGHT, "precision": "low"}, "precision asks"),
    "recall stays": ({**HALF_RIGHT, "recall": "high"}, "recall asks"),
}


def test_reference_prediction_for_half_of_the_classes_passes():
    assert CE.check_half_classes(HALF_RIGHT)[0]


@pytest.mark.parametrize("name", list(HALF_WRONG))
def test_wrong_predictions_for_half_of_the_classes_are_rejected_with_a_hint(name):
    answer, word = HALF_WRONG[name]
    ok, detail = CE.check_half_classes(answer)
    assert not ok and word in detail, detail
