"""Notebook 01's exercise checks (autoencoders, eqs. (1)–(3)).

* Exercise (a), "a linear AE's optimum spans the PCA subspace": `linear_ae_toy_data` makes the
  data, `check_linear_ae` verifies the student's *trained* `LinearAutoencoder`.
* Exercise (b), "choose Ω(h)": `check_sparsity_penalty` verifies the student's penalty
  ``omega(h, lam)``; `check_trend` compares the student's prediction of what λ does with the
  sweep measured in the notebook.

Every verifier returns ``(passed, message)`` for `ck.exercises.check`; a passing message holds
for any seed and machine (the check cells are ``# NBVAL_CHECK_OUTPUT``).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ..models.autoencoders import LinearAutoencoder, pca, principal_angles, reconstruction_error

# ============================================================================ exercise (a)
#: Standard deviations of the toy data along its principal directions (3 large, 7 small).
TOY_STDS = (4.0, 3.0, 2.5, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5)
#: Tolerances of exercise (a): a converged linear AE (full-batch or mini-batch) is well inside.
MAX_ANGLE_DEG = 3.0
MAX_ERROR_RATIO = 1.02
#: |cos| above which a decoder column counts as "a principal direction itself" (≈ 0.8°).
ALIGNED_COS = 0.9999


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
    """Verifier of exercise (a): `model` is a `LinearAutoencoder` trained on `x` (N, d).

    Passes when: it has code size m and input size d; its mean x̄ is the data mean (centred
    data); its reconstruction error on x is within 2 % of PCA's with m components; the column
    space of W_d is within 3° of the top-m principal subspace; and W_d is a *mixing* of the
    principal directions, not the directions themselves (PCA copied into the model is not a
    trained AE: gradient training from a random start ends at W_d = V_m M with a generic M).
    """
    if torch.is_tensor(model):
        return False, (f"you returned a tensor of shape {tuple(model.shape)}; return the trained "
                       f"LinearAutoencoder itself (the check looks at its weights, its mean and "
                       f"its reconstructions — a matrix from A.pca is not an autoencoder)")
    if not isinstance(model, LinearAutoencoder):
        return False, (f"expected the trained A.LinearAutoencoder, got {type(model).__name__}")
    d = x.shape[1]
    if (model.m, model.d) != (m, d):
        return False, (f"the model has m = {model.m}, d = {model.d}; the exercise needs m = {m} "
                       f"and d = {d}: A.LinearAutoencoder(m, d=x.shape[1])")
    x_bar = x.mean(0)
    if not torch.allclose(model.mean, x_bar, atol=1e-4 * float(x_bar.abs().max()) + 1e-6):
        return False, ("the model's mean x̄ is not the mean of x: call model.set_mean(x) before "
                       "training (without centring, a linear AE without biases fits the second "
                       "moments E[xxᵀ], not the covariance Σ, and misses the PCA subspace)")
    W_d = model.W_d.detach()  # (d, m)
    if not torch.isfinite(W_d).all() or not torch.isfinite(model.W_e.detach()).all():
        return False, "the weights contain NaN or inf: lower the learning rate"
    reference = pca(x, m)
    ratio = reconstruction_error(model, x) / reconstruction_error(reference, x)
    try:
        largest = float(principal_angles(W_d, reference.components, degrees=True).max())
    except ValueError as e:  # rank-deficient W_d
        return False, f"W_d does not span an m-dimensional subspace ({e})"
    problems = []
    if ratio > MAX_ERROR_RATIO:
        problems.append(f"its error on x is {ratio:.2f}× PCA's (should be within "
                        f"{MAX_ERROR_RATIO - 1:.0%}): train longer, or check that W_e is trained "
                        f"too (not tied to W_dᵀ)")
    if largest > MAX_ANGLE_DEG:
        hint = (" — 90° means a direction of W_d is orthogonal to the top-m subspace (did you "
                "take the smallest-variance directions?)" if largest > 85 else
                " — not converged yet: more steps, or the full-batch covariance loss")
        problems.append(f"largest principal angle to the PCA subspace {largest:.1f}° (should "
                        f"be < {MAX_ANGLE_DEG:g}°){hint}")
    if problems:
        return False, "; ".join(problems)
    columns = W_d / W_d.norm(dim=0, keepdim=True)                   # (d, m), unit columns
    cos = (reference.components.T.to(columns) @ columns).abs()      # (m, m)
    if float(cos.max(0).values.min()) > ALIGNED_COS:
        return False, ("every column of W_d is a principal direction itself (up to sign and "
                       "scale): that is PCA copied into the model, not a trained AE — gradient "
                       "training finds a mixing W_d = V_m M (see the Mixing figure); train it "
                       "with ck.train")
    return True, (f"spans the top-{m} principal subspace (largest angle < {MAX_ANGLE_DEG:g}°), "
                  f"error within {MAX_ERROR_RATIO - 1:.0%} of PCA's, W_d a mixing of the "
                  f"principal directions")


# ============================================================================ exercise (b)
def _probe_codes() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"sparse": torch.tensor([[1.0, 0.0, 0.0, 0.0]]),            # (1, 4)
            "dense": torch.full((1, 4), 0.5),                            # (1, 4), same ℓ2 norm
            "batch": torch.rand(5, 4, generator=g) + 0.1}                # (5, 4), all > 0


def check_sparsity_penalty(omega_fn: Callable[[torch.Tensor, float], torch.Tensor]
                           ) -> tuple[bool, str]:
    """Verifier of exercise (b), part 1: `omega_fn(h, lam)` is a sparsity-promoting penalty.

    Properties (each failure gets its own message): a scalar tensor; Ω ≥ 0 for codes of either
    sign (a penalty, not a reward); Ω(h, 0) = 0 and Ω grows with λ (λ weighs the penalty);
    differentiable in h with a gradient that pushes positive codes towards 0 (an ℓ0 count has
    no gradient); averaged over the batch (duplicating the batch leaves Ω unchanged, so λ does
    not depend on the batch size); a sparse code costs less than a dense one of equal ℓ2 norm;
    and the gradient on a tiny code unit does not vanish (what makes exact zeros worth it —
    λ‖h‖₂² fails here).
    """
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
    if min(v.values()) < 0 or float(value(-codes["dense"], lam)) < 0:
        failures.append("Ω is negative for some codes: a penalty adds a cost (check the sign; a "
                        "negative Ω would reward large codes)")
    negative = bool(failures)
    if abs(float(value(codes["batch"], 0.0))) > 1e-8:
        failures.append("Ω(h, λ = 0) is not 0: λ must weigh the whole penalty (λ = 0 is the "
                        "plain AE)")
    if not negative and not float(value(codes["batch"], 2 * lam)) > v["batch"] + 1e-8:
        failures.append("Ω does not grow with λ: multiply the penalty by lam")
    h = codes["batch"].clone().requires_grad_(True)
    out = value(h, lam)
    grad = (torch.autograd.grad(out.sum(), h, allow_unused=True)[0]
            if out.requires_grad else None)
    if grad is None or not torch.isfinite(grad).all() or float(grad.abs().max()) == 0:
        failures.append("Ω has no gradient with respect to h, so training cannot push codes to "
                        "0 (an ℓ0 count of non-zero units is piecewise constant): use a "
                        "differentiable penalty")
    elif float(grad.min()) <= 0 and not negative:
        failures.append("the gradient of Ω does not push positive codes towards 0 (dΩ/dh_j "
                        "should be > 0 for h_j > 0)")
    doubled = float(value(torch.cat([codes["batch"], codes["batch"]]), lam))
    if abs(doubled - v["batch"]) > 1e-5 * max(abs(v["batch"]), 1e-8):
        failures.append(f"duplicating the batch changes Ω from {v['batch']:.3g} to {doubled:.3g}: "
                        f"average over the N codes of the batch, do not sum (otherwise the "
                        f"effect of λ depends on the batch size)")
    if not v["sparse"] < v["dense"] - 1e-8:
        failures.append(f"a sparse code (1, 0, 0, 0) costs {v['sparse']:.3g}, a dense one "
                        f"(½, ½, ½, ½) of the same ℓ2 norm {v['dense']:.3g}: Ω must prefer "
                        f"zeros (a function of ‖h‖₂ cannot)")
    if (not negative and grad is not None and torch.isfinite(grad).all()
            and float(grad.abs().max()) > 0):
        small = torch.tensor([[1.0, 1e-3, 0.0, 0.0]], requires_grad=True)
        g_small = torch.autograd.grad(value(small, lam).sum(), small, allow_unused=True)[0]
        if g_small is None or float(g_small[0, 1]) < 0.1 * float(g_small[0, 0]):
            failures.append("the gradient of Ω on a tiny unit (h_j = 0.001) is much smaller than "
                            "on a large one: near 0 the push towards exactly 0 vanishes, as "
                            "for λ‖h‖₂² — it shrinks codes but does not make them sparse")
    if failures:
        return False, "; ".join(failures)
    return True, ("non-negative, weighted by λ, differentiable, averaged over the batch, "
                  "cheaper for sparse codes, with a push to 0 that does not vanish near 0")


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


def check_trend(predicted, active: Sequence[float], error: Sequence[float]) -> tuple[bool, str]:
    """Verifier of exercise (b), part 2: the student's prediction of what a larger λ does,
    against the sweep of the notebook (`measured_trend`)."""
    if not isinstance(predicted, dict) or set(predicted) != set(TREND_KEYS):
        return False, (f"answer a dict with the keys {list(TREND_KEYS)}, each 'up' or 'down'; "
                       f"found {predicted!r}")
    bad = {k: v for k, v in predicted.items() if v not in ("up", "down")}
    if bad:
        return False, f"each value must be 'up' or 'down', found {bad}"
    measured = measured_trend(active, error)
    wrong = [k for k in TREND_KEYS if predicted[k] != measured[k]]
    if wrong:
        return False, (f"the sweep above measured {', '.join(f'{k} {measured[k]}' for k in wrong)}"
                       f" from the smallest λ > 0 to the largest; think about what a larger "
                       f"price per active unit does")
    return True, "matches the sweep measured in this notebook"


__all__ = ["linear_ae_toy_data", "check_linear_ae", "check_sparsity_penalty", "measured_trend",
           "check_trend", "TOY_STDS", "TREND_KEYS"]
