"""Notebook 03's optimal-discriminator exercise and its demonstrations: train Disc alone against
a fixed fake distribution (`train_discriminator`), measure it on fresh points
(`evaluate_discriminator`), and the samplers of the demonstrations: identical distributions
(the ring against itself), disjoint supports (`circle_sampler`: two circles, 1-D manifolds in
the plane) and a finite training set (`finite_sampler`: Disc can memorise it).
The verifier of the exercise is in `coursekit.labs.gan_exercises`."""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from ..core.train import train
from ..models.gan import discriminator_accuracy, discriminator_loss
from .gan_ring import small_net_cpu, toy_adam


def circle_sampler(radius: float) -> Callable[[int, torch.Generator | None], torch.Tensor]:
    """A sampler of points spread uniformly on the circle of `radius` (no noise: a 1-D
    manifold in the plane, so two circles of different radii have disjoint supports)."""
    def sample(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        angle = 2 * math.pi * torch.rand(n, generator=generator)          # (n,)
        return radius * torch.stack([angle.cos(), angle.sin()], dim=1)    # (n, 2)
    return sample


def finite_sampler(points: torch.Tensor) -> Callable[[int, torch.Generator | None], torch.Tensor]:
    """A sampler that draws (with replacement) from a fixed, finite set of `points` (N, d):
    the empirical distribution of a training set."""
    def sample(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return points[torch.randint(0, len(points), (n,), generator=generator)]  # (n, d)
    return sample


@torch.no_grad()
def evaluate_discriminator(D: nn.Module, real_sampler: Callable, fake_sampler: Callable,
                           n_eval: int = 10_000, seed: int = 7_777) -> dict:
    """Disc on `n_eval` fresh points of each kind: {"accuracy" (balanced), "accuracy_se" (its
    binomial standard error), "loss" (Disc's loss ½ E[−log D(x)] + ½ E[−log(1 − D(x̃))], nats),
    "d_real", "d_fake" (mean D = σ(Disc)), "d_min", "d_max" (range of D over all points)}."""
    g = torch.Generator().manual_seed(seed)
    s_real, s_fake = D(real_sampler(n_eval, g)), D(fake_sampler(n_eval, g))   # logits (n_eval,)
    acc = discriminator_accuracy(s_real, s_fake)
    d = torch.sigmoid(torch.cat([s_real, s_fake]))
    return {"accuracy": acc,
            # each half is n_eval Bernoulli trials: SE of their mean ≈ √(a(1 − a) / (2 n_eval))
            "accuracy_se": math.sqrt(max(acc * (1 - acc), 1e-12) / (2 * n_eval)),
            "loss": discriminator_loss(s_real, s_fake).item(),
            "d_real": torch.sigmoid(s_real).mean().item(),
            "d_fake": torch.sigmoid(s_fake).mean().item(),
            "d_min": d.min().item(), "d_max": d.max().item()}


def train_discriminator(D: nn.Module, real_sampler: Callable, fake_sampler: Callable,
                        steps: int = 500, batch_size: int = 256, lr: float = 1e-3,
                        n_eval: int = 10_000, seed: int = 0) -> dict:
    """Train Disc (in place) alone, real vs a fixed fake distribution, with ``ck.train``
    (`coursekit.labs.gan_ring.small_net_cpu`: one thread, no denormals).

    Samplers are ``sampler(n, generator) -> (n, d)``. Returns `evaluate_discriminator` on
    fresh points of both samplers plus "history".
    """
    def both(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return real_sampler(n, generator), fake_sampler(n, generator)

    def disc_loss(D_: nn.Module, x_real: torch.Tensor, x_fake: torch.Tensor) -> torch.Tensor:
        return discriminator_loss(D_(x_real), D_(x_fake))

    with small_net_cpu():
        history = train(D, disc_loss, both, steps=steps, batch_size=batch_size,
                        optimizer=toy_adam(D.parameters(), lr), seed=seed, progress=False)
        out = evaluate_discriminator(D, real_sampler, fake_sampler, n_eval, seed + 7_777)
    return {**out, "history": history}
