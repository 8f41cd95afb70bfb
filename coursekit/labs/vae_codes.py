"""Notebook 02's data and "plain auto-encoder" helpers: the held-out digits every VAE number is
reported on (`heldout_digits`), and a plain auto-encoder trained with the VAE's own networks
(`plain_autoencoder`, `autoencoder_loss`), to contrast its codes with the VAE's."""
from __future__ import annotations

import torch

from ..core.data import binarize_dynamic
from ..models.vae import VAE
from ..recipes import vae as _vae


def heldout_digits(n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(images, labels) of the held-out split, binarized once with a fixed seed — the images
    the pretrained VAEs' held-out numbers are computed on. Images (N, 1, 28, 28) in {0, 1},
    labels (N,); `n` keeps the first n."""
    return _vae.binarized_heldout(n)


def plain_autoencoder() -> VAE:
    """A fresh, untrained model with the networks of the pretrained m = 2 VAE ("vae2d"), to be
    trained with `autoencoder_loss` (its code is μ_φ(x); ln σ goes unused)."""
    return _vae.build(_vae.VAE2D_CONFIG)


def autoencoder_loss(model: VAE, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """A plain (deterministic) auto-encoder with the same networks: −ln p_θ(x | z = μ_φ(x)).

    A training loss for ``ck.train`` on a fresh dynamic binarization of the batch. No
    sampling and no KL term: the code μ_φ(x) is free to sit anywhere in R^m, which is why
    sampling z ~ N(0, I) through such a decoder is not a generative model.
    """
    x_binary = binarize_dynamic(x)  # (B, 1, 28, 28) in {0, 1}
    mu, _ = model.encode(x_binary)  # (B, m): the code h(x), used without noise
    recon = model.log_likelihood(x_binary, mu)  # (B,)
    return {"loss": -recon.mean(), "recon": recon.mean().detach()}


__all__ = ["heldout_digits", "plain_autoencoder", "autoencoder_loss"]
