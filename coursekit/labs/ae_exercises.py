"""Notebook 01's exercise checks (autoencoders, eqs. (1)–(3)).

* Exercise (a), "a linear AE's optimum spans the PCA subspace": `linear_ae_toy_data` makes the
  data, `check_linear_ae` accepts any `LinearAutoencoder` that minimises the squared error
  (trained, exact PCA, or PCA mixed by an invertible matrix) and names the slip otherwise.
* Exercise (b), "choose Ω(h)": `check_sparsity_penalty` verifies the student's penalty
  ``omega(h, lam)``; `check_trend` checks the student's prediction of what a larger λ does —
  before the notebook's λ sweep runs (against the trend solution (2) argues; given a sweep's
  numbers, against those instead).

Every verifier returns ``(passed, message)`` for `ck.exercises.check`; a passing message holds
for any seed and machine (the check cells carry the tag ``nbval-check-output``). A failing
message names the slip as a hint and does not print the answer.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import torch

from ..models.autoencoders import (
    LinearAutoencoder,
    covariance,
    pca,
    principal_angles,
    reconstruction_error,
)

# ============================================================================ exercise (a)
#: Standard deviations of the toy data along its principal directions (3 large, 7 small).
TOY_STDS = (4.0, 3.0, 2.5, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5)
#: Tolerances of exercise (a): a converged linear AE (full-batch or mini-batch) is well inside.
MAX_ANGLE_DEG = 3.0
MAX_ERROR_RATIO = 1.02


def linear_ae_toy_data(n: int = 3000, seed: int = 1) -> torch.Tensor:
    """Gaussian toy data (n, 10) with a non-zero mean and three directions of large variance.

    The principal directions are a random rotation of the coordinate axes (so neither the
    axes nor any other guess is the answer); the eigen-gap λ₃ − λ₄ = 2.5² − 1 is large, so
    mini-batch training converges too. Fixed `seed`: the same data for every notebook seed.
    """
    g = torch.Generator().manual_seed(seed)
    d = len(TOY_STDS)
    rotation, _ = torch.linalg.qr(torch.randn(d, d, generator=g))  # (10, 10) orthogonal
    z = torch.randn(n, d, generator=g) * torch.tensor(TOY_STDS)   # (n, 10), axis-aligned
    return z @ rotation.T + torch.linspace(-1.0, 2.0, d)           # (n, 10), rotated, shifted


def check_linear_ae(model, x: torch.Tensor, m: int) -> tuple[bool, str]:
    """Verifier of exercise (a): `model` is a `LinearAutoencoder` on `x` (N, d) that minimises
    the squared reconstruction error.

    Passes every minimiser, however it was obtained: trained from a random start (full batch
    or mini-batches), exact PCA loaded into the model (W_d = V_m, W_e = V_mᵀ), or PCA mixed by
    any invertible M (W_d = V_m M, W_e = M⁻¹ V_mᵀ). The tests are what a minimiser must satisfy:
    code size m and input size d; reconstruction error on x within 2 % of PCA's with m
    components; column space of W_d within 3° of the top-m principal subspace. When the fit
    is off, the most likely slip is named (data not centred, tied W_e = W_dᵀ, smallest-
    variance directions, not converged).
    """
    if torch.is_tensor(model):
        return False, (f"you returned a tensor of shape {tuple(model.shape)}; return the "
                       f"A.LinearAutoencoder itself (the check looks at its weights, its mean and "
                       f"its reconstructions — a matrix is not an autoencoder)")
    if not isinstance(model, LinearAutoencoder):
        return False, (f"expected an A.LinearAutoencoder, got {type(model).__name__}")
    d = x.shape[1]
    if (model.m, model.d) != (m, d):
        return False, (f"the model has m = {model.m}, d = {model.d}; the exercise needs m = {m} "
                       f"and d = {d}")
    W_d = model.W_d.detach()  # (d, m)
    if not torch.isfinite(W_d).all() or not torch.isfinite(model.W_e.detach()).all():
        return False, "the weights contain NaN or inf: lower the learning rate"
    reference = pca(x, m)
    ratio = reconstruction_error(model, x) / reconstruction_error(reference, x)
    try:
        largest = float(principal_angles(W_d, reference.components, degrees=True).max())
    except ValueError as e:  # rank-deficient W_d
        return False, f"W_d does not span an m-dimensional subspace ({e})"
    if ratio <= MAX_ERROR_RATIO and largest <= MAX_ANGLE_DEG:
        return True, (f"W_d within {MAX_ANGLE_DEG:g}° of the top-{m} principal subspace, error "
                      f"within {MAX_ERROR_RATIO - 1:.0%} of PCA's")
    x_bar = x.mean(0)
    if not torch.allclose(model.mean, x_bar, atol=1e-4 * float(x_bar.abs().max()) + 1e-6):
        return False, ("the model's mean x̄ is not the mean of x: without centring, a linear map "
                       "without biases fits the second moments of x, not its covariance, and "
                       "misses the PCA subspace (model.set_mean)")
    W_e = model.W_e.detach()  # (m, d)
    Q, _ = torch.linalg.qr(W_d.double())  # (d, m): orthonormal basis of col(W_d)
    sigma = covariance(x).double()
    residual = sigma @ Q - Q @ (Q.T @ sigma @ Q)  # 0 iff col(W_d) is spanned by eigenvectors
    eigen_subspace = float(residual.norm()) <= 1e-3 * float((sigma @ Q).norm())
    tied = torch.allclose(W_e, W_d.T, atol=1e-5, rtol=1e-4)
    orthonormal = torch.allclose(W_d.T @ W_d, torch.eye(m), atol=1e-3)
    error = f"its error on x is {ratio:.2f}× PCA's (should be within {MAX_ERROR_RATIO - 1:.0%})"
    angle = (f"largest principal angle to the PCA subspace {largest:.1f}° (should be < "
             f"{MAX_ANGLE_DEG:g}°)")
    if tied and not orthonormal:
        return False, (f"{error}: W_e = W_dᵀ (tied weights) reconstructs correctly only when the "
                       f"columns of W_d are orthonormal; train or set W_e separately")
    if eigen_subspace and largest > MAX_ANGLE_DEG:
        bottom = torch.linalg.eigh(sigma).eigenvectors[:, :m].float()  # smallest variances
        if float(principal_angles(W_d, bottom, degrees=True).max()) <= MAX_ANGLE_DEG:
            return False, (f"{angle}: W_d spans the smallest-variance directions (which end of "
                           f"the spectrum did you take?)")
        return False, (f"{angle}: W_d spans eigenvectors of the covariance, but not the top {m} "
                       f"(a stationary point of the loss, not its minimum): check which "
                       f"eigenvectors you took")
    if largest <= MAX_ANGLE_DEG:
        return False, (f"{error}, although W_d already spans the PCA subspace: W_e does not yet "
                       f"give the matching coordinates (W_d W_e should project onto the subspace)"
                       f" — not converged yet: train longer, or use the closed form")
    return False, (f"{error}; {angle} — not converged yet: train longer (more steps, or a larger "
                   f"learning rate), or use the closed form")


# ============================================================================ exercise (b)
#: Number of code units in the probes of exercise (b).
PROBE_M = 16
#: Relative margin by which a sparse probe must be cheaper than the dense one.
SPARSE_MARGIN = 1e-3


def _probe_codes() -> dict[str, torch.Tensor]:
    """Probe batches of codes in [0, 1] (the notebook's codes are ReLU outputs, h ≥ 0, and the
    KL target needs h ≤ 1). "sparse" and "dense" have the same ℓ2 norm per code (0.8): in
    "sparse" each code has one unit on, a different one per code, so every unit's average
    activation is 0.8 / 16 = 0.05; in "dense" all 16 units are at 0.2."""
    g = torch.Generator().manual_seed(0)
    return {"sparse": 0.8 * torch.eye(PROBE_M),                               # (16, 16)
            "dense": torch.full((PROBE_M, PROBE_M), 0.8 / PROBE_M ** 0.5),    # (16, 16)
            "batch": 0.1 + 0.8 * torch.rand(5, PROBE_M, generator=g)}         # (5, 16)


def check_sparsity_penalty(omega_fn: Callable[[torch.Tensor, float], torch.Tensor]
                           ) -> tuple[bool, str]:
    """Verifier of exercise (b), part 1: `omega_fn(h, lam)` is a sparsity-promoting penalty
    for a batch of non-negative codes h (N, m) (ReLU units).

    Accepts λ‖h‖₁ in its forms (``h.abs().sum(1).mean()``, ``h.sum(1).mean()`` on h ≥ 0, the
    mean over units, `A.l1_penalty`), the KL target on the average activations
    (`A.kl_sparsity_penalty(h, beta=lam)`, targets ρ ≤ 0.1) and other penalties that prefer
    zeros (e.g. Σ log(1 + h²)). Properties tested, each with its own message: a scalar; Ω ≥ 0;
    Ω(h, 0) = 0 and Ω proportional to λ (Ω(h, 0.3) = 3 Ω(h, 0.1); rejects λ²‖h‖₁);
    differentiable, with a gradient that pushes active codes towards 0 (an ℓ0 count has none);
    averaged over the batch (duplicating the batch leaves Ω unchanged); and a batch of sparse
    codes costs less than a batch of dense codes with the
    same ℓ2 norm per code (λ‖h‖₂² and λ‖h‖₂ cost the same for both).
    """
    with warnings.catch_warnings():  # e.g. A.kl_sparsity_penalty reads float(h) of a graph
        warnings.simplefilter("ignore", UserWarning)
        return _sparsity_verdict(omega_fn)


def _sparsity_verdict(omega_fn: Callable[[torch.Tensor, float], torch.Tensor]
                      ) -> tuple[bool, str]:
    codes = _probe_codes()
    lam = 0.1

    def value(h: torch.Tensor, lam_: float) -> torch.Tensor:
        out = omega_fn(h, lam_)
        if not torch.is_tensor(out):
            out = torch.as_tensor(out, dtype=torch.float32)
        return out

    first = value(codes["batch"], lam)
    if first.numel() != 1:
        return False, (f"Ω should be one number for the whole batch (averaged over the N codes), "
                       f"found a tensor of shape {tuple(first.shape)}")
    v = {name: float(value(h, lam)) for name, h in codes.items()}
    failures = []
    negative = min(v.values()) < 0
    if negative:
        failures.append("Ω is negative for some codes: a penalty adds a cost (check the sign; a "
                        "negative Ω would reward large codes)")
    if abs(float(value(codes["batch"], 0.0))) > 1e-8:
        failures.append("Ω(h, λ = 0) is not 0: λ must weigh the whole penalty (λ = 0 is the "
                        "plain AE)")
    tripled = float(value(codes["batch"], 3 * lam))  # λ = 0.3: expected 3 × Ω(h, 0.1)
    if not negative and not tripled > v["batch"] + 1e-8:
        failures.append("Ω does not grow with λ: multiply the penalty by lam")
    elif not negative and abs(tripled - 3 * v["batch"]) > 1e-4 * abs(3 * v["batch"]):
        failures.append(f"Ω(h, 3λ) is {tripled / v['batch']:.3g} × Ω(h, λ), not 3 ×: λ is the "
                        f"weight of the penalty in eq. (3), so Ω must be proportional to lam")
    h = codes["batch"].clone().requires_grad_(True)
    out = value(h, lam)
    grad = (torch.autograd.grad(out.sum(), h, allow_unused=True)[0]
            if out.requires_grad else None)
    if grad is None or not torch.isfinite(grad).all() or float(grad.abs().max()) == 0:
        failures.append("Ω has no gradient with respect to h, so training cannot push codes to "
                        "0 (an ℓ0 count of non-zero units is piecewise constant): use a "
                        "differentiable penalty")
    elif float(grad.min()) <= 0 and not negative:
        failures.append("the gradient of Ω does not push active codes towards 0 (dΩ/dh_j "
                        "should be > 0 for codes well above 0)")
    doubled = float(value(torch.cat([codes["batch"], codes["batch"]]), lam))
    if abs(doubled - v["batch"]) > 1e-5 * max(abs(v["batch"]), 1e-8):
        failures.append(f"duplicating the batch changes Ω from {v['batch']:.3g} to {doubled:.3g}: "
                        f"average over the N codes of the batch, do not sum (otherwise the "
                        f"effect of λ depends on the batch size)")
    if not v["sparse"] < v["dense"] - SPARSE_MARGIN * abs(v["dense"]):
        failures.append(f"a batch of sparse codes (one unit on per code) costs {v['sparse']:.3g}, "
                        f"a batch of dense codes with the same ℓ2 norm per code {v['dense']:.3g}: "
                        f"Ω must prefer zeros (a function of ‖h‖₂ alone, such as λ‖h‖₂², costs the same "
                        f"for both)")
    if failures:
        return False, "; ".join(failures)
    return True, "non-negative, weighted by λ, differentiable, batch-averaged, prefers zeros"


#: The two answers of exercise (b), part 2, and their allowed values.
TREND_KEYS = ("active_fraction", "reconstruction_error")


def measured_trend(active: Sequence[float], error: Sequence[float]) -> dict[str, str]:
    """What the λ sweep measured, from the smallest λ > 0 (index 1) to the largest (last):
    {"active_fraction": "up"|"down", "reconstruction_error": "up"|"down"}."""
    if len(active) < 3 or len(error) != len(active):
        raise ValueError(f"need the sweep's values for λ = 0 and at least two λ > 0, found "
                         f"{len(active)} active fractions and {len(error)} errors")
    return {"active_fraction": "down" if active[-1] < active[1] else "up",
            "reconstruction_error": "up" if error[-1] > error[1] else "down"}


#: The expected trend (exercise (b), part 2), what the λ sweep measures and solution (2) argues:
#: for exact minimisers θ₁, θ₂ of eq. (3) at λ₁ < λ₂, adding the two optimality inequalities
#: gives (λ₂ − λ₁)(Ω₂ − Ω₁) ≤ 0, so the penalty Ω cannot rise and the reconstruction error cannot
#: fall. That bounds Ω (the ℓ1 size of the code), not the count of active units; with ℓ1 and ReLU
#: codes a smaller Ω comes with units set exactly to 0, which is the trend the sweep measures.
EXPECTED_TREND = {"active_fraction": "down", "reconstruction_error": "up"}
_TREND_HINTS = {
    "active_fraction": "a larger λ makes every unit that is on cost more — what does the "
                       "optimiser do with units that cost more?",
    "reconstruction_error": "with fewer units on, how much can the code still carry about x? "
                            "(compare the best model for a small λ with the one for a large λ)",
}


def check_trend(predicted, active: Sequence[float] | None = None,
                error: Sequence[float] | None = None) -> tuple[bool, str]:
    """Verifier of exercise (b), part 2: the student's prediction of what a larger λ does.

    Without measurements (the notebook asks before its sweep runs), against the trend solution
    (2) argues (`EXPECTED_TREND`); given a sweep's active fractions and
    errors, against that sweep (`measured_trend`). The message names the key that is off and
    gives a hint, not the answer.
    """
    if not isinstance(predicted, dict) or set(predicted) != set(TREND_KEYS):
        return False, (f"answer a dict with the keys {list(TREND_KEYS)}, each 'up' or 'down'; "
                       f"found {predicted!r}")
    bad = {k: v for k, v in predicted.items() if v not in ("up", "down")}
    if bad:
        return False, f"each value must be 'up' or 'down', found {bad}"
    measured = active is not None or error is not None
    target = measured_trend(active, error) if measured else EXPECTED_TREND
    wrong = [k for k in TREND_KEYS if predicted[k] != target[k]]
    if wrong:
        against = "the sweep" if measured else "the expected trend"
        return False, (f"{' and '.join(wrong)} {'do' if len(wrong) > 1 else 'does'} not match "
                       f"{against}: " + " ".join(_TREND_HINTS[k] for k in wrong))
    return True, "matches the sweep" if measured else "the sweep below measures it"


__all__ = ["linear_ae_toy_data", "check_linear_ae", "check_sparsity_penalty", "measured_trend",
           "check_trend", "TOY_STDS", "TREND_KEYS", "EXPECTED_TREND"]
