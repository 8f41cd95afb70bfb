"""Notebook 02's "where the codes live" experiment: a plain auto-encoder trained with the
VAE's own networks (`autoencoder_loss`), to contrast its codes with the VAE's."""
from __future__ import annotations

import torch

from ..core.data import binarize_dynamic
from ..models.vae import VAE


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
