"""Notebook 02 as a lab: its exercise checks accept every correct answer (the reference and the
named alternatives), still reject the plausible wrong ones without printing the formula, hand
the student no answer, and the notebook keeps its lab-path bars (words, code cells, no
maintainer vocabulary, no answer before its check, digit scatters with one style per digit).

The ≈ 40 wrong answers of both exercises live in tests/test_exercise_checks.py ("02 · VAE");
here: the correct alternatives, the hint-only feedback and the notebook itself.
"""
from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import coursekit as ck
from coursekit.labs import vae_exercises as VE
from coursekit.labs.vae_codes import autoencoder_loss, heldout_digits, plain_autoencoder
from coursekit.labs.vae_exercises import (
    check_decoder_gradient,
    check_encoder_gradient,
    check_networks,
    gradient_problem,
)
from coursekit.models.vae import VAE, kl_closed_form

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import nbtools  # noqa: E402, I001
NOTEBOOK = ROOT / "notebooks" / "02_vae.ipynb"
M = 5


# ============================================================================ networks exercise
def mlp(sizes, act=nn.ELU, last=None):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers, *([last] if last else []))


def reference_networks(m):
    """The notebook's solution cell."""
    encoder = nn.Sequential(nn.Linear(784, 500), nn.ELU(), nn.Linear(500, 500), nn.ELU(),
                            nn.Linear(500, 2 * m))
    decoder = nn.Sequential(nn.Linear(m, 500), nn.ELU(), nn.Linear(500, 500), nn.ELU(),
                            nn.Linear(500, 784))
    return encoder, decoder


class TwoHeads(nn.Module):
    """An encoder with a shared body and two linear heads, returning the pair (μ, ln σ)."""

    def __init__(self, m, width=32, sigma_head_last=None):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(784, width), nn.ReLU())
        self.mu = nn.Linear(width, m)
        self.log_sigma = nn.Sequential(nn.Linear(width, m),
                                       *([sigma_head_last] if sigma_head_last else []))

    def forward(self, x):
        h = self.body(x)
        return self.mu(h), self.log_sigma(h)


class SigmoidDecoder(nn.Module):
    """The lecture's Dec_θ(z) ∈ [0, 1]^784 with torch.sigmoid in forward, shaped (N, 28, 28)."""

    def __init__(self, m):
        super().__init__()
        self.net = mlp([m, 32, 784])

    def forward(self, z):
        return torch.sigmoid(self.net(z)).reshape(-1, 28, 28)


CORRECT_NETWORKS = {
    "the notebook's solution": lambda: reference_networks(M),
    "one hidden layer of tanh (Kingma & Welling)": lambda: (mlp([784, 64, 2 * M], nn.Tanh),
                                                            mlp([M, 64, 784], nn.Tanh)),
    "the lecture's sigmoid decoder": lambda: (mlp([784, 32, 2 * M]),
                                              mlp([M, 32, 784], last=nn.Sigmoid())),
    "an encoder returning the pair (μ, ln σ)": lambda: (TwoHeads(M), mlp([M, 32, 784])),
    "a decoder shaped (N, 28, 28)": lambda: (mlp([784, 32, 2 * M]),
                                             nn.Sequential(mlp([M, 32, 784]), nn.Unflatten(1, (28, 28)))),
    "a sigmoid inside forward, (N, 28, 28)": lambda: (mlp([784, 32, 2 * M]), SigmoidDecoder(M)),
    "a convolutional encoder that unflattens first": lambda: (
        nn.Sequential(nn.Unflatten(1, (1, 28, 28)), nn.Conv2d(1, 4, 3, stride=2), nn.ReLU(),
                      nn.Flatten(), nn.Linear(4 * 13 * 13, 2 * M)), mlp([M, 32, 784])),
    "the VAE class's own networks": lambda: (lambda v: (v.encoder, v.decoder))(VAE(m=M, hidden=(16,))),
}


@pytest.mark.parametrize("make", CORRECT_NETWORKS.values(), ids=CORRECT_NETWORKS.keys())
def test_every_correct_design_passes_the_networks_check(make):
    ok, msg = check_networks(make(), M)
    assert ok, msg
    # a plain "✓ correct" for logits; a sigmoid decoder is told which loss it then needs
    assert msg == "" or msg.startswith("your decoder outputs Bernoulli means")


WRONG_NETWORKS = {
    "two heads, softplus on ln σ": (lambda: (TwoHeads(M, sigma_head_last=nn.Softplus()),
                                             mlp([M, 32, 784])), "Softplus"),
    "two heads of m and m + 1": (lambda: (type("Odd", (TwoHeads,), {"forward": lambda self, x: (
        self.mu(self.body(x)), torch.cat([self.log_sigma(self.body(x)), self.mu(self.body(x))[:, :1]], 1))})(M),
        mlp([M, 32, 784])), "expected"),
    "an encoder returning a dict": (lambda: (type("D", (TwoHeads,), {"forward": lambda self, x: {
        "mu": self.mu(self.body(x))}})(M), mlp([M, 32, 784])), "returns dict"),
    "a decoder shaped (N, 28)": (lambda: (mlp([784, 32, 2 * M]), mlp([M, 32, 28])), "one value per pixel"),
}


@pytest.mark.parametrize("make, says", WRONG_NETWORKS.values(), ids=WRONG_NETWORKS.keys())
def test_wrong_designs_in_the_new_shapes_are_still_rejected(make, says):
    ok, msg = check_networks(make(), M)
    assert not ok
    assert says in msg, msg


# ============================================================================ gradient exercise
@pytest.fixture(scope="module")
def problem():
    torch.manual_seed(0)
    model = VAE(m=3, hidden=(16,))
    x = (torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    eps = torch.randn(8, 3, generator=torch.Generator().manual_seed(2))
    return gradient_problem(model, x, eps)


def encoder_reference(g, eps, mu, log_sigma):
    """The notebook's solution cell."""
    sigma = log_sigma.exp()
    return g.mean(0) - mu, (g * sigma * eps).mean(0) - (sigma**2 - 1)


def encoder_by_autograd(g, eps, mu, log_sigma):
    """A student who lets autograd differentiate a surrogate whose z-gradient is g_s."""
    mu, log_sigma = mu.detach().clone().requires_grad_(), log_sigma.detach().clone().requires_grad_()
    z = mu + log_sigma.exp() * eps  # (n_ε, m)
    surrogate = (g * z).sum(1).mean() - kl_closed_form(mu, log_sigma)
    return torch.autograd.grad(surrogate, [mu, log_sigma])


CORRECT_ENCODER = {
    "the notebook's solution": encoder_reference,
    "autograd on a surrogate": encoder_by_autograd,
    "exp(2 ln σ) − 1 and einsum": lambda g, eps, mu, ls: (
        torch.einsum("sm->m", g) / len(g) - mu,
        torch.einsum("sm,m,sm->m", g, ls.exp(), eps) / len(g) - (torch.exp(2 * ls) - 1)),
    "in float64": lambda g, eps, mu, ls: tuple(t.double() for t in encoder_reference(
        g.double(), eps.double(), mu.double(), ls.double())),
    "numpy arrays in a list": lambda *a: [t.detach().numpy() for t in encoder_reference(*a)],
    "shapes (1, m)": lambda *a: tuple(t[None] for t in encoder_reference(*a)),
}


@pytest.mark.parametrize("answer", CORRECT_ENCODER.values(), ids=CORRECT_ENCODER.keys())
def test_every_correct_encoder_gradient_passes(problem, answer):
    got = answer(problem.g, problem.eps, problem.mu, problem.log_sigma)
    ok, msg = check_encoder_gradient(got, problem)
    assert ok, msg


def decoder_reference(x, logits):
    """The notebook's solution cell."""
    return (x - torch.sigmoid(logits)) / len(logits)


def decoder_by_autograd(x, logits):
    lg = logits.detach().clone().requires_grad_()
    elbo = -F.binary_cross_entropy_with_logits(lg, x.expand_as(lg), reduction="sum") / len(lg)
    return torch.autograd.grad(elbo, lg)[0]


CORRECT_DECODER = {
    "the notebook's solution": decoder_reference,
    "autograd on −BCEWithLogits": decoder_by_autograd,
    "−(p − x)/n with 1/(1 + e^−l)": lambda x, lg: -(1 / (1 + torch.exp(-lg)) - x[None]) / lg.shape[0],
    "in float64": lambda x, lg: decoder_reference(x.double(), lg.double()),
    "numpy": lambda x, lg: decoder_reference(x, lg).numpy(),
    "shaped (n_ε, 1, 28, 28)": lambda x, lg: decoder_reference(x, lg).reshape(-1, 1, 28, 28),
    "shaped (n_ε, 28, 28)": lambda x, lg: decoder_reference(x, lg).reshape(-1, 28, 28),
}


@pytest.mark.parametrize("answer", CORRECT_DECODER.values(), ids=CORRECT_DECODER.keys())
def test_every_correct_logit_gradient_passes(problem, answer):
    ok, msg = check_decoder_gradient(answer(problem.x, problem.logits), problem)
    assert ok, msg


def test_the_problem_handed_to_the_student_holds_no_answer(problem):
    """`gradient_problem` used to carry autograd's gradients; now the checks compute them."""
    names = {f.name for f in dataclasses.fields(problem)}
    assert not {n for n in names if n.startswith("grad")}, names
    ref = VE._reference(problem)
    answers = [ref.grad_mu, ref.grad_log_sigma, decoder_reference(problem.x, problem.logits)]
    for name in names:
        value = getattr(problem, name)
        if not isinstance(value, torch.Tensor):
            continue
        for answer in answers:
            same = value.shape == answer.shape and torch.allclose(value.double(), answer.double(),
                                                                  rtol=1e-3, atol=1e-5)
            assert not same, f"problem.{name} is an answer"


#: Pieces of the right answers that no feedback may print (the formula, not just the slip).
FORMULA = ["σ² − 1", "σ^2 − 1", "x − p", "x − sigmoid", "σ ε", "σ⊙ε", "= μ", "− μ"]


def _all_slips(problem):
    slips = VE._encoder_slips(problem)
    ref = VE._reference(problem)
    for wrong, why in slips["mu"]:
        yield (wrong, ref.grad_log_sigma), check_encoder_gradient, why
    for wrong, why in slips["log_sigma"]:
        yield (ref.grad_mu, wrong), check_encoder_gradient, why
    for wrong, why in VE._decoder_slips(problem):
        yield wrong, check_decoder_gradient, why


def test_feedback_names_the_slip_and_never_prints_the_formula(problem):
    seen = 0
    for got, check, why in _all_slips(problem):
        ok, msg = check(got, problem)
        assert not ok and why in msg, (why, msg)
        leaked = [f for f in FORMULA if f in msg]
        assert not leaked, f"{msg!r} prints {leaked}"
        seen += 1
    assert seen >= 20


def test_the_notebooks_situation_passes_with_the_pretrained_model():
    """Where the notebook runs it: the pretrained m = 20 VAE, the first held-out image."""
    cfg = ck.setup(seed=0, verbose=False, profile="fast")
    model = ck.pretrained("vae", cfg, verbose=False).model
    x, _ = heldout_digits(1)
    p = gradient_problem(model, x, torch.randn(8, model.m, generator=cfg.generator(5)))
    assert check_encoder_gradient(encoder_reference(p.g, p.eps, p.mu, p.log_sigma), p)[0]
    assert check_decoder_gradient(decoder_reference(p.x, p.logits), p)[0]
    ok, msg = check_encoder_gradient((p.g.mean(0), torch.zeros(model.m)), p)
    assert not ok and "KL part of ∇_μ is missing" in msg


# ============================================================================ the plain AE helpers
def test_heldout_digits_and_the_plain_autoencoder():
    x, y = heldout_digits(10)
    assert x.shape == (10, 1, 28, 28) and set(x.unique().tolist()) <= {0.0, 1.0} and y.shape == (10,)
    torch.manual_seed(0)
    ae = plain_autoencoder()
    assert ae.m == 2
    out = autoencoder_loss(ae, x)
    assert out["loss"].requires_grad and out["loss"] > 0


# ============================================================================ the notebook
def _nb():
    return nbformat.read(str(NOTEBOOK), as_version=4)


def _tags(cell):
    return set(cell.metadata.get("tags", []))


def _hidden(cell):
    return nbtools.hidden_input(cell)


#: What a student reads of a non-solution cell (markdown, visible code, outputs).
_visible_text = nbtools.student_visible_text


def test_the_lab_path_keeps_its_own_code_cell_bar():
    """At most 22 visible code cells (the shared bar is 25; words, vocabulary, markers and the
    optional part: tests/scripts/test_lab_path.py)."""
    assert nbtools.visible_counts(_nb())["lab_code_cells"] <= 22


# No solution line before its check: tests/scripts/test_lab_path.py (every notebook).


def test_the_networks_exercise_comes_before_any_network_is_printed_or_loaded():
    cells = _nb().cells
    check = next(i for i, c in enumerate(cells) if "check_networks(" in c.source and "exercises.check" in c.source)
    before = "\n".join(_visible_text(c) + c.source for c in cells[:check] if "solution" not in _tags(c))
    for leak in ("Sequential(", "Linear(in_features", "pretrained(", "logit"):
        assert leak not in before, leak


def test_digit_scatters_use_one_style_per_digit():
    sources = "\n".join(c.source for c in _nb().cells)
    assert "tab10" not in sources
    scatters = [c for c in _nb().cells if "held_y" in c.source and "scatter" in c.source]
    assert scatters and all("scatter_digits" in c.source or "scatter2d" in c.source for c in scatters)


def test_the_vae_elbo_is_shown_once():
    """One held-out ELBO of the m = 20 VAE on screen, read from its model card."""
    nb = _nb()
    text = "\n".join(_visible_text(c) for c in nb.cells if "solution" not in _tags(c))
    card = ck.pretrained("vae", ck.setup(seed=0, verbose=False, profile="fast"),
                         verbose=False).card["metrics"]
    elbo = f"{card['heldout_elbo']:.2f}".replace("-", "−")   # shown with a typographic minus
    assert text.count(elbo) == 1, elbo
    assert not re.search(r"ELBO[^.\n]{0,40}[-−]9[0-9]\.[0-9]", text.replace(elbo, "")), "a second ELBO value"


def test_the_solution_networks_get_a_plain_correct_that_describes_nothing(capsys):
    """A saved "✓ … correct" under the networks check must not spell out the output layers."""
    encoder = nn.Sequential(nn.Linear(784, 32), nn.ELU(), nn.Linear(32, 2 * M))
    decoder = nn.Sequential(nn.Linear(M, 32), nn.ELU(), nn.Linear(32, 784))
    assert ck.exercises.check("networks", (encoder, decoder), lambda n: check_networks(n, M)) is True
    out = capsys.readouterr().out
    assert out.strip() == "✓ networks: correct"


def test_no_time_or_file_path_talk_in_markdown_and_visible_code():
    """No CPU-minutes, per-epoch times or result-file paths for the student to read."""
    for c in _nb().cells:
        if "solution" in _tags(c) or (c.cell_type == "code" and _hidden(c)):
            continue
        assert not re.search(r"CPU-(minute|second|min\b|s\b)|per epoch|data/results", c.source), c.source[:120]
        if "ck.pretrained(" in c.source:
            assert "verbose=False" in c.source


def test_the_proof_exercise_is_optional_and_promises_no_visible_solution():
    cells = _nb().cells
    proof = next(c for c in cells if "a proof for step 4.2" in c.source and c.cell_type == "markdown"
                 and "solution" not in _tags(c))
    assert "optional" in _tags(proof) and "solution follows" not in proof.source


def test_the_two_d_grid_is_evenly_spaced_and_drawn_on_the_scatter():
    src = next(c.source for c in _nb().cells if "grid_images" in c.source)
    assert "icdf" not in src and "torch.linspace(-lim, lim, n_grid)" in src
    assert "dotted: the left grid" in src
