"""Notebook 03's optimal-discriminator exercise: train Disc alone against a fixed fake
distribution and compare it with D* = p_data / (p_data + p_g)
(`coursekit.models.gan.optimal_discriminator`)."""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..core.train import train
from ..models.gan import discriminator_accuracy, discriminator_loss


def train_discriminator(D: nn.Module, real_sampler: Callable, fake_sampler: Callable,
                        steps: int = 500, batch_size: int = 256, lr: float = 1e-3,
                        n_eval: int = 10_000, seed: int = 0) -> dict:
    """Train Disc (in place) alone, real vs a fixed fake distribution, with ``ck.train``.

    Samplers are ``sampler(n, generator) -> (n, d)``. Returns {"accuracy": balanced accuracy
    on fresh held-out points, "d_real", "d_fake": mean D = σ(Disc) on them, "history"}.
    """
    def both(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return real_sampler(n, generator), fake_sampler(n, generator)

    def disc_loss(D_: nn.Module, x_real: torch.Tensor, x_fake: torch.Tensor) -> torch.Tensor:
        return discriminator_loss(D_(x_real), D_(x_fake))

    history = train(D, disc_loss, both, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                    progress=False)
    g = torch.Generator().manual_seed(seed + 7_777)
    with torch.no_grad():
        d_real, d_fake = D(real_sampler(n_eval, g)), D(fake_sampler(n_eval, g))
    return {"accuracy": discriminator_accuracy(d_real, d_fake),
            "d_real": torch.sigmoid(d_real).mean().item(),
            "d_fake": torch.sigmoid(d_fake).mean().item(), "history": history}
