"""Small building blocks every model module shares: an MLP builder, one image validator,
an eval-mode context manager, seeded initialisation and a parameter count."""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import nn

#: Pixels of one MNIST image (d in the lecture) and its tensor shape.
D = 784
IMAGE_SHAPE = (1, 28, 28)
#: Activations by name, for configs that are plain data.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh, "relu": nn.ReLU, "softplus": nn.Softplus, "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU, "silu": nn.SiLU, "gelu": nn.GELU}


def mlp(sizes: Sequence[int], activation: str | Callable[[], nn.Module] = "relu",
        last_activation: nn.Module | None = None) -> nn.Sequential:
    """Linear layers sizes[0] → sizes[1] → … with `activation` between them.

    The output layer is linear unless `last_activation` is given (e.g. ``nn.Sigmoid()``).
    Layer indices are fixed (Linear, act, Linear, …), so state dicts stay loadable.
    """
    if len(sizes) < 2:
        raise ValueError(f"an MLP needs at least an input and an output size, got {list(sizes)}")
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of "
                             f"{sorted(ACTIVATIONS)}")
        activation = ACTIVATIONS[activation]
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    if last_activation is not None:
        layers.append(last_activation)
    return nn.Sequential(*layers)


def check_images(x, name: str = "x", *, flat: bool = False, binary: bool = False,
                 min_n: int = 1, tol: float = 1e-4) -> torch.Tensor:
    """Validate MNIST-like images and return them as float32 in [0, 1].

    Accepts (N, 1, 28, 28), (N, 28, 28) or (N, 784). Returns (N, 784) when `flat`, else
    (N, 1, 28, 28). Values may overshoot [0, 1] by `tol` (rounding) and are clamped; with
    ``binary=True`` every pixel must be 0 or 1 (the Bernoulli likelihood of the VAE). Every
    error says what was expected, what was found and how to fix it.
    """
    if not torch.is_tensor(x):
        raise TypeError(f"{name} must be a torch.Tensor of images, got {type(x).__name__}")
    if x.dim() == 4 and tuple(x.shape[1:]) == IMAGE_SHAPE or (
            x.dim() == 3 and tuple(x.shape[1:]) == (28, 28)) or (
            x.dim() == 2 and x.shape[1] == D):
        x = x.reshape(len(x), D) if flat else x.reshape(len(x), *IMAGE_SHAPE)
    else:
        raise ValueError(f"{name} has shape {tuple(x.shape)}; expected MNIST images of shape "
                         f"(N, 1, 28, 28), (N, 28, 28) or (N, 784). A single image needs a "
                         f"batch axis: x[None] or x.unsqueeze(0).")
    if len(x) < min_n:
        raise ValueError(f"{name}: need at least {min_n} images, found {len(x)}")
    x = x.detach().float()
    if x.numel() == 0:
        return x
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf values; expected intensities in [0, 1]. "
                         f"Check the model or computation that made them.")
    lo, hi = x.min().item(), x.max().item()
    if lo < -tol or hi > 1 + tol:
        hint = (" They look like [-1, 1] images: map them with ck.data.from_pm1(x)."
                if lo >= -1 - tol and hi <= 1 + tol else
                " They look like 0-255 pixel values: divide by 255." if hi > 1.5 and lo >= 0
                else " Apply a sigmoid to logits, or clamp(0, 1).")
        raise ValueError(f"{name} has values in [{lo:.3g}, {hi:.3g}]; expected pixel "
                         f"intensities in [0, 1].{hint}")
    if binary and not bool(((x == 0) | (x == 1)).all()):
        bad = x[(x != 0) & (x != 1)][0].item()
        raise ValueError(f"{name} must be binarized (every pixel 0 or 1) for the Bernoulli "
                         f"likelihood, found e.g. {bad:.3g}. Use ck.data.binarize_dynamic(x) "
                         f"(training) or a fixed binarization (evaluation).")
    return x.clamp(0, 1) if (lo < 0 or hi > 1) else x


@contextlib.contextmanager
def eval_mode(*models: nn.Module) -> Iterator[None]:
    """``with eval_mode(model):`` — models in eval mode inside, their old modes restored after."""
    modes = [m.training for m in models]
    try:
        for m in models:
            m.eval()
        yield
    finally:
        for m, mode in zip(models, modes):
            m.train(mode)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """``with seeded(0): net = Net()`` — torch's global RNG seeded inside (e.g. for the initial
    weights, which `nn.Module` constructors draw from it) and restored afterwards, so a library
    call never changes the caller's random stream."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (trainable or not) of `model`."""
    return sum(p.numel() for p in model.parameters())
