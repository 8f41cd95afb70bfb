"""Notebook 01 (autoencoders) as a lab: its exercise checks accept every correct answer and
reject wrong ones, and the notebook asks before it shows.

- exercise (a), `check_linear_ae`: the notebook's solution, full-batch training, exact PCA loaded
  into the model and PCA mixed by any invertible matrix all pass (they are all minimisers);
  non-minimisers fail with a hint;
- exercise (b), `check_sparsity_penalty`: every penalty the solution names passes (λ‖h‖₁ in its
  forms, ``lam * h.sum(1).mean()`` on the notebook's ReLU codes, the KL target on average
  activations, Σ log(1 + h²)); λ‖h‖₂² and other non-sparsifying or malformed penalties fail;
- exercise (b), `check_trend`: checked before the sweep, against what the minimisers of eq. (3)
  do; a wrong prediction gets a hint, not the answer;
- the notebook: the prediction is checked before the λ sweep runs, no answer is shown before its
  check, digit scatters use the shared digit styles, the lab path fits a 50-minute lab.

The wrong answers of every notebook's checks are in tests/test_exercise_checks.py.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest
import torch

import coursekit as ck
from coursekit.labs import ae_exercises as E
from coursekit.models import autoencoders as A

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "01_autoencoders.ipynb"
M = 3


def _tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


@pytest.fixture(scope="module")
def nb():
    return nbformat.read(str(NOTEBOOK), as_version=4)


@pytest.fixture(scope="module")
def solutions(nb):
    """The notebook's solution cells, run: fit_linear_ae, omega, predicted_trend."""
    namespace = {"A": A, "ck": ck, "torch": torch}
    for cell in nb.cells:
        if cell.cell_type == "code" and "solution" in _tags(cell):
            exec(cell.source, namespace)  # noqa: S102 - the notebook's own reference code
    return namespace


@pytest.fixture(scope="module")
def x_toy():
    return E.linear_ae_toy_data()  # (3000, 10)


# ============================================================================ exercise (a)
def _loaded(x, W_d, W_e, mean=None):
    """A LinearAutoencoder with the given weights (no training)."""
    model = A.LinearAutoencoder(W_d.shape[1], d=x.shape[1])
    model.set_mean(x)
    with torch.no_grad():
        if mean is not None:
            model.mean.copy_(mean)
        model.decoder.weight.copy_(W_d)
        model.encoder.weight.copy_(W_e)
    return model


def _mixing(seed: int) -> torch.Tensor:
    return torch.randn(M, M, generator=torch.Generator().manual_seed(seed)) + 2 * torch.eye(M)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_notebooks_solution_passes(solutions, x_toy, seed):
    torch.manual_seed(seed)
    ok, msg = E.check_linear_ae(solutions["fit_linear_ae"](x_toy, M), x_toy, M)
    assert ok, msg


def test_full_batch_training_through_the_covariance_passes(x_toy):
    torch.manual_seed(0)
    model = A.LinearAutoencoder(M, d=x_toy.shape[1])
    model.set_mean(x_toy)
    sigma = A.covariance(x_toy)
    ck.train(model, A.linear_ae_covariance_loss, lambda batch_size, generator: sigma,
             steps=500, lr=3e-2, progress=False)
    ok, msg = E.check_linear_ae(model, x_toy, M)
    assert ok, msg


def _pca_alternatives(x):
    V = A.pca(x, M).components  # (d, M)
    alternatives = {"exact PCA": (V, V.T), "PCA, signs flipped": (-V, -V.T),
                    "PCA, scaled": (3 * V, V.T / 3)}
    for seed in (1, 2, 3):
        G = _mixing(seed)
        alternatives[f"PCA mixed by G (seed {seed})"] = (V @ G, torch.linalg.solve(G, V.T))
    return alternatives


def test_every_minimiser_passes_exact_pca_and_any_invertible_mixing(x_toy):
    for name, (W_d, W_e) in _pca_alternatives(x_toy).items():
        ok, msg = E.check_linear_ae(_loaded(x_toy, W_d, W_e), x_toy, M)
        assert ok, f"{name}: {msg}"


def test_a_mean_shifted_inside_the_pca_subspace_is_a_minimiser_too(x_toy):
    """(I − A)(x̄ − x̄') = 0 when x̄ − x̄' lies in col(A): the same reconstructions."""
    V = A.pca(x_toy, M).components
    shifted = x_toy.mean(0) + V @ torch.tensor([1.0, -2.0, 0.5])
    ok, msg = E.check_linear_ae(_loaded(x_toy, V, V.T, mean=shifted), x_toy, M)
    assert ok, msg


def _second_moment_directions(x):
    """Top-m eigenvectors of E[xxᵀ] (the data not centred), loaded with the mean left at 0."""
    _, vecs = torch.linalg.eigh(x.T @ x / len(x))
    V = vecs[:, -M:]
    model = _loaded(x, V, V.T)
    with torch.no_grad():
        model.mean.zero_()
    return model


def _singular_mixing(x):
    V = A.pca(x, M).components
    G = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # rank 2
    return _loaded(x, V @ G, G.T @ V.T)


def _encoder_not_the_inverse(x):
    V = A.pca(x, M).components
    return _loaded(x, V @ _mixing(4), V.T)  # W_e ≠ M⁻¹ V_mᵀ: A ≠ V_m V_mᵀ


def _second_to_fourth_directions(x):
    V = A.pca(x, M + 1).components[:, 1:]  # skips v₁
    return _loaded(x, V, V.T)


WRONG_MODELS = {
    "second_moments_not_centred": (_second_moment_directions, "mean"),
    "rank_deficient_mixing": (_singular_mixing, "span"),
    "encoder_not_the_inverse_mixing": (_encoder_not_the_inverse, "PCA's"),
    "wrong_principal_directions": (_second_to_fourth_directions, "angle"),
}


def _first_second_fourth_directions(x):
    V = A.pca(x, M + 1).components[:, [0, 1, 3]]  # v₄ instead of v₃
    return _loaded(x, V, V.T)


def _smallest_directions(x):
    V = torch.linalg.eigh(A.covariance(x)).eigenvectors[:, :M]
    return _loaded(x, V @ _mixing(5), torch.linalg.solve(_mixing(5), V.T))


def _adam(x, epochs, lr):
    torch.manual_seed(0)
    model = A.LinearAutoencoder(M, d=x.shape[1])
    model.set_mean(x)
    ck.train(model, A.reconstruction_loss, x, epochs=epochs, lr=lr, progress=False)
    return model


WRONG_MODELS.update({
    "v1_v2_v4": (_first_second_fourth_directions, "not the top"),
    "smallest_variance": (_smallest_directions, "smallest-variance"),
    "train_defaults": (lambda x: _adam(x, 1, 1e-3), "not converged yet"),
    "twenty_epochs_small_lr": (lambda x: _adam(x, 20, 1e-3), "not converged yet"),
})


@pytest.mark.parametrize("wrong", ["v1_v2_v4", "train_defaults", "twenty_epochs_small_lr"])
def test_hints_do_not_mislead(x_toy, wrong):
    """Under-trained models are not told about tied weights; {v₁, v₂, v₄} is not told it took
    the smallest-variance directions."""
    ok, msg = E.check_linear_ae(WRONG_MODELS[wrong][0](x_toy), x_toy, M)
    assert not ok
    assert "tied" not in msg and "smallest" not in msg, msg


@pytest.mark.parametrize("steps, lr, epochs", [(None, 1e-2, 10), (200, 3e-2, None)])
def test_the_scale_the_exercise_suggests_is_enough(x_toy, steps, lr, epochs):
    """"With learning rate 0.01, a few hundred steps": 10 passes of 23 mini-batches pass, and
    so do 200 full-batch steps on the covariance loss."""
    if steps is None:
        model = _adam(x_toy, epochs, lr)
    else:
        torch.manual_seed(0)
        model = A.LinearAutoencoder(M, d=x_toy.shape[1])
        model.set_mean(x_toy)
        sigma = A.covariance(x_toy)
        ck.train(model, A.linear_ae_covariance_loss, lambda batch_size, generator: sigma,
                 steps=steps, lr=lr, progress=False)
    ok, msg = E.check_linear_ae(model, x_toy, M)
    assert ok, msg


@pytest.mark.parametrize("wrong", list(WRONG_MODELS), ids=list(WRONG_MODELS))
def test_non_minimisers_are_rejected_with_a_hint(x_toy, wrong):
    make, says = WRONG_MODELS[wrong]
    ok, msg = E.check_linear_ae(make(x_toy), x_toy, M)
    assert not ok
    assert says in msg, msg


# ============================================================================ exercise (b), Ω
def _kl_by_hand(h, lam, rho=0.05):
    rho_hat = h.mean(0)  # (m,): average activation of each unit over the batch
    kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
    return lam * kl.sum()


CORRECT_OMEGA = {
    "l1": lambda h, lam: lam * h.abs().sum(1).mean(),
    "l1_library": A.l1_penalty,
    "l1_mean_over_units": lambda h, lam: lam * h.abs().mean(),
    "l1_vector_norm": lambda h, lam: lam * torch.linalg.vector_norm(h, 1, dim=1).mean(),
    "sum_of_relu_codes": lambda h, lam: lam * h.sum(1).mean(),  # = λ‖h‖₁ for h ≥ 0
    "relu_then_sum": lambda h, lam: lam * torch.relu(h).sum(1).mean(),
    "smoothed_l1": lambda h, lam: lam * torch.sqrt(h ** 2 + 1e-8).sum(1).mean(),
    "kl_target_library": lambda h, lam: A.kl_sparsity_penalty(h, beta=lam),
    "kl_target_rho_0.1": lambda h, lam: A.kl_sparsity_penalty(h, rho=0.1, beta=lam),
    "kl_target_rho_0.01": lambda h, lam: A.kl_sparsity_penalty(h, rho=0.01, beta=lam),
    "kl_target_by_hand": _kl_by_hand,
    "student_t_log1p": lambda h, lam: lam * torch.log1p(h ** 2).sum(1).mean(),
    "elastic_net": lambda h, lam: lam * (h.abs().sum(1) + 0.1 * (h ** 2).sum(1)).mean(),
}


def test_the_notebooks_omega_passes(solutions):
    ok, msg = E.check_sparsity_penalty(solutions["omega"])
    assert ok, msg


@pytest.mark.parametrize("name", list(CORRECT_OMEGA), ids=list(CORRECT_OMEGA))
def test_every_sparsity_penalty_the_solution_names_passes(name):
    ok, msg = E.check_sparsity_penalty(CORRECT_OMEGA[name])
    assert ok, f"{name}: {msg}"


# The wrong penalties, each with its hint: WRONG_OMEGA in tests/test_exercise_checks.py.


def test_omega_is_proportional_to_lambda_for_every_accepted_penalty():
    """Ω(h, 0.3) = 3 Ω(h, 0.1) holds for every accepted form (λ is a weight, eq. (3))."""
    h = E._probe_codes()["batch"]
    for name, omega in CORRECT_OMEGA.items():
        ratio = float(omega(h, 0.3)) / float(omega(h, 0.1))
        assert abs(ratio - 3) < 1e-4, name


def test_a_penalty_on_squared_batch_averages_behaves_like_the_kl_target():
    """Why λ Σ_j (mean_n h_nj)² is not rejected: like the accepted KL target it is a convex
    function of each unit's batch average, and on batches where it fails to prefer sparse codes
    (all codes on one unit) the KL target fails too."""
    one_unit = torch.zeros(E.PROBE_M, E.PROBE_M)
    one_unit[:, 0] = 0.8  # every code uses unit 0
    dense = E._probe_codes()["dense"]
    square = lambda h, lam: lam * (h.mean(0) ** 2).sum()  # noqa: E731
    assert float(square(one_unit, 1.0)) >= float(square(dense, 1.0)) - 1e-6
    kl = CORRECT_OMEGA["kl_target_library"]
    assert float(kl(one_unit, 1.0)) > float(kl(dense, 1.0))


def test_the_kl_target_does_not_warn_the_student():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert E.check_sparsity_penalty(CORRECT_OMEGA["kl_target_library"])[0]


# ============================================================================ exercise (b), trend
RIGHT = {"active_fraction": "down", "reconstruction_error": "up"}


def test_the_notebooks_prediction_passes_without_any_sweep(solutions):
    assert solutions["predicted_trend"]() == RIGHT
    ok, msg = E.check_trend(solutions["predicted_trend"]())
    assert ok, msg


@pytest.mark.parametrize("answer", [
    {"active_fraction": "up", "reconstruction_error": "up"},
    {"active_fraction": "down", "reconstruction_error": "down"},
    {"active_fraction": "up", "reconstruction_error": "down"},
], ids=["active_up", "error_down", "both_reversed"])
def test_a_wrong_prediction_gets_a_hint_not_the_answer(answer):
    ok, msg = E.check_trend(answer)
    assert not ok
    assert not re.search(r"\b(up|down)\b", msg), msg
    for key, value in answer.items():
        assert (key in msg) == (value != RIGHT[key]), msg


def test_the_passing_trend_message_does_not_state_the_answer():
    ok, msg = E.check_trend(RIGHT)
    assert ok and not re.search(r"\b(up|down|fewer|more|higher|lower)\b", msg), msg


def test_malformed_predictions_are_rejected():
    assert not E.check_trend({"active_fraction": "lower", "reconstruction_error": "up"})[0]
    assert not E.check_trend({"active_fraction": "down"})[0]
    assert not E.check_trend("down, up")[0]


def test_the_expected_trend_is_what_exact_minimisers_do():
    """Lasso min ½‖y − Xw‖²/n + λ‖w‖₁, solved to convergence for growing λ: the loss term
    never falls and the number of non-zero weights never rises (the argument of solution (2))."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(200, 50, generator=g, dtype=torch.float64)
    y = X[:, :5] @ torch.ones(5, dtype=torch.float64) + 0.5 * torch.randn(200, generator=g,
                                                                            dtype=torch.float64)
    step = 1 / float(torch.linalg.matrix_norm(X, 2) ** 2 / len(X))
    losses, active = [], []
    for lam in (0.0, 0.01, 0.1, 0.5, 1.0):
        w = torch.zeros(50, dtype=torch.float64)
        for _ in range(5000):  # proximal gradient (ISTA)
            z = w - step * X.T @ (X @ w - y) / len(X)
            w = z.sign() * (z.abs() - step * lam).clamp_min(0)
        losses.append(float(((y - X @ w) ** 2).mean() / 2))
        active.append(int((w != 0).sum()))
    assert all(b >= a - 1e-9 for a, b in zip(losses, losses[1:])), losses
    assert all(b <= a for a, b in zip(active, active[1:])), active
    assert E.EXPECTED_TREND == {"active_fraction": "down" if active[-1] < active[0] else "up",
                                "reconstruction_error": "up" if losses[-1] > losses[0] else "down"}


# ============================================================================ the notebook
def _index(nb, pattern: str, solution: bool = False) -> int:
    for i, cell in enumerate(nb.cells):
        if ("solution" in _tags(cell)) == solution and re.search(pattern, cell.source, re.S):
            return i
    raise AssertionError(f"no cell matches {pattern!r}")


def test_the_prediction_is_checked_before_the_sweep_runs(nb):
    check = _index(nb, r"exercises\.check\(.*check_trend")
    sweep = _index(nb, r"for lam in LAMBDAS")
    assert check < sweep
    before = " ".join(c.source for c in nb.cells[:check] if "solution" not in _tags(c))
    assert "sparse_loss" not in before and "fraction_active" not in before


def test_no_linear_ae_training_is_shown_before_exercise_a_is_checked(nb):
    check = _index(nb, r"exercises\.check\(.*check_linear_ae")
    for cell in nb.cells[:check]:
        if cell.cell_type == "code" and "solution" not in _tags(cell):
            assert "ck.train" not in cell.source and "covariance" not in cell.source, cell.source


def test_exercise_blocks_are_stub_solution_check(nb):
    for stub_pattern, check_pattern in (("def fit_linear_ae", "check_linear_ae"),
                                        ("def omega", "check_sparsity_penalty")):
        stub = _index(nb, stub_pattern)
        check = _index(nb, check_pattern)
        between = nb.cells[stub + 1:check]
        assert between and all("solution" in _tags(c) for c in between)
        assert "todo()" in nb.cells[stub].source
        assert "nbval-check-output" in _tags(nb.cells[check])


def test_exercise_and_check_cells_show_no_answer(nb):
    """Saved outputs of the stubs and checks reveal nothing; exercise (a) does not list the
    solution's calls."""
    for pattern in (r"def fit_linear_ae", r"def omega", r"check_linear_ae", r"check_trend"):
        cell = nb.cells[_index(nb, pattern)]
        text = " ".join(str(o.get("text", "")) for o in cell.get("outputs", []))
        assert not re.search(r"fewer active|higher error|\b(up|down)\b", text), text
    exercise = nb.cells[_index(nb, r"### Exercise \(a\)")].source
    assert "set_mean" not in exercise and "epochs=" not in exercise


def test_digit_scatters_use_the_shared_digit_styles(nb):
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "tab10" not in code
    assert "scatter_digits" in code
    assert ".scatter(" not in code.replace("plot.scatter", "")  # no hand-made scatter


def test_the_lab_path_fits_a_50_minute_lab(nb):
    sys.path.insert(0, str(ROOT / "scripts"))
    import nbtools

    counts = nbtools.visible_counts(nb)
    assert counts["lab_code_cells"] <= 22, counts
    assert counts["lab_words"] <= 2000 and counts["all_words"] <= 3000, counts
    text = " ".join(c.source for c in nb.cells)
    assert "What we measured" not in text and "principal angles of mini-batch" not in text
