"""Notebook 02's exercise "what networks, what output layer": `check_architecture` verifies a
student's encoder and decoder for the VAE of `coursekit.models.vae`."""
from __future__ import annotations

import torch
from torch import nn

from ..core.nn import ACTIVATIONS, D
from ..models.vae import ImageBias, ToFeatureMap

#: Layers that only move values around (no weights, no nonlinearity).
RESHAPES = (nn.Flatten, nn.Unflatten, nn.PixelShuffle, ToFeatureMap)
#: Output layers that are affine maps (unbounded outputs).
AFFINE_OUTPUTS = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def _output_layer(net: nn.Module) -> nn.Module:
    """The last layer with weights, looking past reshapes and a per-pixel bias."""
    return [mod for mod in net.modules()
            if not isinstance(mod, (nn.Sequential, *RESHAPES, ImageBias))][-1]


def check_architecture(encoder: nn.Module, decoder: nn.Module, m: int) -> tuple[bool, str]:
    """Verifier of the exercise "what networks, what output layer" (used by the notebook).

    Wants: encoder (N, 784) → (N, 2m) [μ and ln σ], decoder (N, m) → (N, 784) logits, both
    with a linear (unbounded) output: ln σ and logits take any real value. The output layer is
    the last Linear / Conv2d / ConvTranspose2d; reshapes (Flatten, PixelShuffle, …) and an
    `ImageBias` after it keep the output affine. Returns (passed, message).
    """
    g = torch.Generator().manual_seed(0)  # probe inputs; the caller's RNG is left alone
    x = torch.rand(8, D, generator=g)  # (8, 784)
    with torch.no_grad():
        h = encoder(x)
        if tuple(h.shape) != (8, 2 * m):
            return False, (f"encoder maps (8, 784) to {tuple(h.shape)}, expected (8, {2 * m}): "
                           f"μ and ln σ, m = {m} each")
        out = decoder(torch.randn(8, m, generator=g))  # (8, 784)
        if tuple(out.shape) != (8, D):
            return False, f"decoder maps (8, {m}) to {tuple(out.shape)}, expected (8, 784)"
    for name, net in (("encoder", encoder), ("decoder", decoder)):
        last = _output_layer(net)
        if not isinstance(last, AFFINE_OUTPUTS):
            return False, (f"the {name}'s last layer is {type(last).__name__}: μ, ln σ and the "
                           f"logits are unconstrained reals, so the output layer must be linear "
                           f"(the sigmoid lives inside BCEWithLogits)")
        if not any(isinstance(mod, tuple(ACTIVATIONS.values())) for mod in net.modules()):
            return False, f"the {name} has no nonlinearity: it would be a linear map"
    return True, "linear output layers; encoder → (μ, ln σ), decoder → 784 logits"
