"""Notebook 01's exercise checks (coursekit.labs.ae_exercises): the reference solution passes,
plausible wrong answers are rejected with a message that says what is wrong."""
import pytest
import torch

import coursekit as ck
from coursekit.labs import ae_exercises as E
from coursekit.models import autoencoders as A

M = 3


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


def pca_copied_into_model(x, m):
    model = A.LinearAutoencoder(m, d=x.shape[1])
    model.set_mean(x)
    V = A.pca(x, m).components
    with torch.no_grad():
        model.decoder.weight.copy_(V)
        model.encoder.weight.copy_(V.T)
    return model


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
    "pca_copied_into_model": (pca_copied_into_model, "PCA copied"),
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
    ok, msg = E.check_linear_ae(reference_linear_ae(x_toy, M), x_toy, M)
    assert ok, msg
    assert "principal subspace" in msg and "°" in msg


def test_linear_ae_trained_on_minibatches_passes_too(x_toy):
    torch.manual_seed(0)
    ok, msg = E.check_linear_ae(minibatch_linear_ae(x_toy, M), x_toy, M)
    assert ok, msg


@pytest.mark.parametrize("wrong", list(WRONG_LINEAR_AE), ids=list(WRONG_LINEAR_AE))
def test_linear_ae_check_rejects_wrong_answers(x_toy, wrong):
    fit, says = WRONG_LINEAR_AE[wrong]
    torch.manual_seed(0)
    ok, msg = E.check_linear_ae(fit(x_toy, M), x_toy, M)
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


def test_squared_l2_is_rejected_also_for_its_vanishing_gradient_near_zero():
    _, msg = E.check_sparsity_penalty(lambda h, lam: lam * (h ** 2).sum(1).mean())
    assert "vanishes" in msg


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
    "active_up": ({"active_fraction": "up", "reconstruction_error": "up"}, "active_fraction down"),
    "error_down": ({"active_fraction": "down", "reconstruction_error": "down"},
                   "reconstruction_error up"),
    "both_reversed": ({"active_fraction": "up", "reconstruction_error": "down"}, "measured"),
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
