"""Notebook 02's two estimator studies: the variance of pathwise vs score-function gradient
estimates (`gradient_estimates`, "Going further" A) and the IWAE_k bound as k grows from one set of
importance weights (`iwae_curve`, "Going further" B). The maths they use is `coursekit.models.vae`."""
from __future__ import annotations

from collections.abc import Callable

import torch

from ..models.vae import log_mean_exp, reparameterize


def gradient_estimates(log_lik: Callable[[torch.Tensor], torch.Tensor], mu: torch.Tensor,
                       log_sigma: torch.Tensor, n_eps: int, n_repeats: int,
                       generator: torch.Generator | None = None,
                       max_samples: int = 8192) -> dict[str, torch.Tensor]:
    """Repeated estimates of ∇_μ E_q[f(z)], f = `log_lik`, z ~ N(μ, diag σ²), for one x.

    Returns {"pathwise", "score", "score_baseline"}, each (n_repeats, m), every row averaging
    n_eps samples:
    pathwise (reparameterization): ∇_μ f(μ + σ ε) = ∇_z f(z);
    score function (REINFORCE):     f(z) ∇_μ ln q(z) = f(z) (z − μ) / σ²;
    score function, leave-one-out baseline: (f(z_s) − mean_{r≠s} f(z_r)) (z_s − μ) / σ²
    (the baseline needs n_eps ≥ 2; NaN rows otherwise).
    `log_lik` maps z (…, m) to f(z) (…,); mu, log_sigma are (m,).
    """
    eps = torch.randn(n_repeats, n_eps, mu.shape[-1], generator=generator,
                      dtype=mu.dtype).to(mu.device)  # (R, S, m)
    out: dict[str, list] = {"pathwise": [], "score": [], "score_baseline": []}
    inv_sigma = torch.exp(-log_sigma.detach())  # (m,)
    for eps_chunk in eps.split(max(1, max_samples // n_eps)):  # bounded memory
        # eq. (14): z = μ + σ ε, (R', S, m)
        z = reparameterize(mu.detach(), log_sigma.detach(), eps_chunk).requires_grad_(True)
        f = log_lik(z)  # (R', S)
        (grad_z,) = torch.autograd.grad(f.sum(), z)  # (R', S, m)
        f = f.detach()
        # ∇_μ ln q(z) = (z − μ) / σ² = ε / σ
        score_q = eps_chunk * inv_sigma  # (R', S, m)
        if n_eps >= 2:
            baseline = (f.sum(1, keepdim=True) - f) / (n_eps - 1)  # mean of the others, (R', S)
        else:
            baseline = torch.full_like(f, float("nan"))
        out["pathwise"].append(grad_z.mean(1))
        out["score"].append((f[..., None] * score_q).mean(1))
        out["score_baseline"].append(((f - baseline)[..., None] * score_q).mean(1))
    return {name: torch.cat(rows) for name, rows in out.items()}


def iwae_curve(log_w: torch.Tensor, ks: list[int]) -> torch.Tensor:
    """IWAE_k estimates for several k from one set of log weights (K, N) → (len(ks), N).

    For each k, the K samples are cut into ⌊K/k⌋ disjoint blocks of k; the IWAE_k estimate of
    each block is averaged (lower variance than one block, same expectation).
    """
    K = log_w.shape[0]
    rows = []
    for k in ks:
        if not 1 <= k <= K:
            raise ValueError(f"k = {k} needs 1 ≤ k ≤ {K} (the number of log weights)")
        blocks = log_w[: (K // k) * k].reshape(K // k, k, -1)  # (B, k, N)
        # IWAE_k = ln (1/k) Σ_i w_i per block, averaged over the blocks
        rows.append(log_mean_exp(blocks, dim=1).mean(0))
    return torch.stack(rows)
