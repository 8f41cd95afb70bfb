"""Generative adversarial networks: the lecture's ±1 game and its players.

Lecture section "Generative Adversarial Network" (it has no numbered equations; the comments
quote its bullets): z ~ N(0, I_m) → Gen → fake x̃; Disc is a classifier whose desired output is
+1 on data and −1 on fakes; it sees real and fake points with equal probability; Gen and Disc
are trained simultaneously by backpropagation.

Contents, top to bottom:

* the game: `pm1_logistic_loss` (softplus(−y·Disc(x)), y = ±1), `discriminator_loss`,
  `generator_loss` (saturating or non-saturating), `discriminator_accuracy`,
  `optimal_discriminator` D* = p_data / (p_data + p_g), `gan_step` (one update of both players,
  a ``step_fn`` for `coursekit.core.train.train`);
* 2-D players: `MLPGenerator`, `MLPDiscriminator` (optionally packed, PacGAN), `ToyGAN`;
* MNIST players: `DCGenerator`, `DCDiscriminator`, `MNISTGAN`; `slerp` between latent codes.

The ring-of-8 study, the vanishing-gradient sweep and the figures are in `coursekit.labs`
(``gan_*``); the pretrained recipe ``"gan"`` is in `coursekit.recipes.gan`.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from ..core.data import from_pm1
from ..core.nn import IMAGE_SHAPE, eval_mode, mlp
from ..core.train import gradient_step

#: The two generator losses: the minimax game's log(1 − D(G(z))) and the usual −log D(G(z)).
GEN_LOSSES = ("saturating", "nonsaturating")


# ============================================================================ the ±1 game
def _check_logits(logits: torch.Tensor, name: str = "logits") -> None:
    if not torch.is_tensor(logits) or not logits.is_floating_point():
        raise TypeError(f"{name} must be a float tensor of Disc outputs (real numbers, before "
                        f"any sigmoid), got {type(logits).__name__}"
                        + (f" of dtype {logits.dtype}" if torch.is_tensor(logits) else ""))


def pm1_logistic_loss(logits: torch.Tensor, y: torch.Tensor | float) -> torch.Tensor:
    """Logistic loss with the lecture's labels y = +1 (data) / −1 (fake): mean softplus(−y·s).

    softplus(−y·s) = log(1 + e^(−y·s)) = −log σ(y·s). It equals ``BCEWithLogitsLoss`` with
    labels (y + 1)/2 ∈ {0, 1}, because σ(−s) = 1 − σ(s).
    """
    _check_logits(logits)
    y = torch.as_tensor(y, dtype=logits.dtype, device=logits.device)
    bad = (y != 1) & (y != -1)
    if bad.any():
        raise ValueError(f"labels must be +1 (data) or -1 (fake) as in the lecture, found "
                         f"{y[bad].unique().tolist()[:5]}; for 0/1 labels use 2*y - 1")
    # lecture (GAN): "the desired y = Disc(X) is +1 for x ~ D and −1 for x̃ ~ p_θ";
    # the logistic loss of that classifier, −log σ(y·s) = softplus(−y·s), stable from the logit
    return F.softplus(-y * logits).mean()


def discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Disc's loss from its logits on real and on fake points.

    ½·E_x[softplus(−Disc(x))] + ½·E_z[softplus(+Disc(G(z)))]
    = −½ E log D(x) − ½ E log(1 − D(G(z))), with D = σ(Disc) the probability of "real".
    """
    _check_logits(d_real, "d_real")
    _check_logits(d_fake, "d_fake")
    # lecture (GAN): "the input to Disc consists of fake data points and true data points with
    # equal probability": weight ½ on each, labels +1 (real) and −1 (fake)
    return 0.5 * pm1_logistic_loss(d_real, 1.0) + 0.5 * pm1_logistic_loss(d_fake, -1.0)


def generator_loss(d_fake: torch.Tensor, kind: str = "nonsaturating") -> torch.Tensor:
    """Gen's loss from Disc's logits on fakes s = Disc(G(z)), D = σ(s).

    * ``"saturating"`` (the minimax game): minimise E log(1 − D(G(z))) = −E softplus(s).
      Its gradient w.r.t. s is −σ(s) = −D(G(z)) → 0 when Disc rejects every fake.
    * ``"nonsaturating"`` (the usual practice): minimise −E log D(G(z)) = E softplus(−s).
      Its gradient w.r.t. s is −(1 − D(G(z))) → −1 in the same situation.
    """
    _check_logits(d_fake, "d_fake")
    if kind == "saturating":
        # L_Gen = E log(1 − D(G(z))), with log(1 − σ(s)) = −softplus(s)
        return -F.softplus(d_fake).mean()
    if kind == "nonsaturating":
        # L_Gen = −E log D(G(z)), with −log σ(s) = softplus(−s)
        return F.softplus(-d_fake).mean()
    raise ValueError(f"generator loss kind must be one of {GEN_LOSSES}, got {kind!r}")


@torch.no_grad()
def discriminator_accuracy(d_real: torch.Tensor, d_fake: torch.Tensor) -> float:
    """Balanced accuracy of Disc: ½·P(Disc(x) > 0 | real) + ½·P(Disc(x̃) < 0 | fake)."""
    # real and fake with equal probability: the mean of the two per-class accuracies
    return 0.5 * (d_real > 0).float().mean().item() + 0.5 * (d_fake < 0).float().mean().item()


def optimal_discriminator(p_data: torch.Tensor, p_g: torch.Tensor) -> torch.Tensor:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)): the best Disc for a fixed Gen.

    For each x, Disc's expected loss −p_data·log D − p_g·log(1 − D) (real and fake with equal
    probability) is minimised by D = p_data / (p_data + p_g); it is 1/2 wherever p_g = p_data.
    """
    p_data, p_g = torch.as_tensor(p_data), torch.as_tensor(p_g)
    if (p_data < 0).any() or (p_g < 0).any():
        raise ValueError("densities must be ≥ 0")
    # D*(x) = p_data(x) / (p_data(x) + p_g(x))
    return p_data / (p_data + p_g)


def _updates(optimizer: torch.optim.Optimizer) -> int:
    """Updates an Adam-like optimizer has made (from its state; 0 before the first)."""
    first = optimizer.param_groups[0]["params"][0]
    return int(optimizer.state[first]["step"]) if first in optimizer.state else 0


@contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Hold `module`'s parameters fixed inside the block (requires_grad off, restored after):
    gradients still flow *through* it to its inputs, but none are computed for its weights."""
    params = list(module.parameters())       # one walk over the modules (this runs every step)
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


def gan_step(opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
             gen_loss: str = "nonsaturating", d_steps: int = 1,
             preprocess: Callable[[torch.Tensor], torch.Tensor] | None = None,
             instance_noise: Callable[[int], float] | None = None,
             generator: torch.Generator | None = None,
             reuse_fakes: bool = False) -> Callable[..., dict]:
    """A ``step_fn(model, x_real) -> dict`` for ``ck.train``: one update of both players.

    `model` has ``.G``, ``.D`` and ``.prior(n, generator)``. Disc takes `d_steps` steps on a
    half-real, half-fake batch, then Gen one step on `gen_loss`. `instance_noise(t)`, if given,
    is the std of Gaussian noise added to *every* input of Disc (real and fake) at Gen update
    t: it blurs both distributions so that Disc's gradient reaches fakes far from the data
    (anneal it to 0 to end with the true game). z and the noise are drawn from `generator`
    (torch's global generator when None). `reuse_fakes` (with d_steps = 1): Gen's step reuses the
    fakes of Disc's step instead of drawing new z — the same game at two thirds of Gen's forward
    passes per step, which buys more steps per CPU-second. Logged: loss_d, loss_g, d_acc (Disc's balanced
    accuracy), d_real / d_fake (mean D = σ(Disc) on the batch).
    """
    if gen_loss not in GEN_LOSSES:
        raise ValueError(f"gen_loss must be one of {GEN_LOSSES}, got {gen_loss!r}")

    def step(model: nn.Module, x_real: torch.Tensor, *_) -> dict:
        x_real = preprocess(x_real) if preprocess is not None else x_real
        n = len(x_real)
        sigma = instance_noise(_updates(opt_g)) if instance_noise is not None else 0.0

        def blur(x: torch.Tensor) -> torch.Tensor:
            if sigma <= 0:
                return x
            eps = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
            return x + sigma * eps                                   # x + σ·ε, ε ~ N(0, I)

        if reuse_fakes and d_steps != 1:
            raise ValueError("reuse_fakes needs d_steps = 1")
        for _ in range(d_steps):
            # lecture (GAN): "z ~ N(0, I_m)", "x̃ ~ p_θ(z) the fake data"; Gen held fixed
            x_fake_g = model.G(model.prior(n, generator))             # (n, ...)
            x_fake = x_fake_g.detach()
            d_real, d_fake = model.D(blur(x_real)), model.D(blur(x_fake))
            loss_d = discriminator_loss(d_real, d_fake)
            gradient_step(model.D, opt_d, loss_d)
        # lecture (GAN): "Gen and Disc are trained simultaneously, by backpropagation": Gen's
        # gradient flows through Disc, which is held fixed (only opt_g steps)
        x_gen = x_fake_g if reuse_fakes else model.G(model.prior(n, generator))
        with frozen(model.D):  # Disc's weights get no gradient: backward skips their matmuls
            d_fake_g = model.D(blur(x_gen))
            loss_g = generator_loss(d_fake_g, gen_loss)
            gradient_step(model.G, opt_g, loss_g)
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item(),
                "d_acc": discriminator_accuracy(d_real, d_fake),
                "d_real": torch.sigmoid(d_real).mean().item(),
                "d_fake": torch.sigmoid(d_fake).mean().item()}

    return step


# ============================================================================ 2-D players
class MLPGenerator(nn.Module):
    """Gen for 2-D toys: z (B, z_dim) ~ N(0, I) → x̃ (B, out_dim)."""

    def __init__(self, z_dim: int = 2, hidden: int = 128, depth: int = 3, out_dim: int = 2):
        super().__init__()
        self.z_dim, self.out_dim = z_dim, out_dim
        self.net = mlp([z_dim] + [hidden] * depth + [out_dim], "relu")

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"Gen expects z of shape (B, {self.z_dim}), got {tuple(z.shape)}")
        return self.net(z)                                           # (B, out_dim)


class MLPDiscriminator(nn.Module):
    """Disc for 2-D toys: x (B, in_dim) → logits (B // pack,), +1 = data, −1 = fake.

    ``pack > 1`` is PacGAN (Lin et al., 2018): Disc judges `pack` samples of the same kind
    at once (concatenated), so a batch of near-identical fakes is easy to spot — it sees the
    lack of diversity that a one-sample Disc cannot see.
    """

    def __init__(self, in_dim: int = 2, hidden: int = 128, depth: int = 3, pack: int = 1):
        super().__init__()
        if pack < 1:
            raise ValueError(f"pack must be ≥ 1, got {pack}")
        self.in_dim, self.pack = in_dim, pack
        self.net = mlp([in_dim * pack] + [hidden] * depth + [1], lambda: nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f"Disc expects x of shape (B, {self.in_dim}), got {tuple(x.shape)}")
        if x.shape[0] % self.pack:
            raise ValueError(f"a packed Disc (pack={self.pack}) needs a batch size divisible "
                             f"by {self.pack}, got {x.shape[0]}; change the batch size")
        # PacGAN: (B, d) → (B / pack, pack·d), one decision per pack
        return self.net(x.reshape(-1, self.pack * self.in_dim)).squeeze(-1)  # (B // pack,)

    def point_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Disc's logit for single points (B, d) → (B,); a packed Disc sees `pack` copies."""
        return self(x.repeat_interleave(self.pack, dim=0))


class ToyGAN(nn.Module):
    """Gen and Disc for 2-D data in one module (what `ck.train` trains and checkpoints)."""

    def __init__(self, z_dim: int = 2, hidden: int = 128, depth: int = 3, pack: int = 1,
                 d_hidden: int | None = None, d_depth: int | None = None):
        super().__init__()
        self.z_dim = z_dim
        self.G = MLPGenerator(z_dim, hidden, depth)
        self.D = MLPDiscriminator(2, d_hidden or hidden, d_depth or depth, pack)

    def prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(0, I_m): (n, z_dim), drawn on the CPU (reproducible) then moved."""
        device = next(self.parameters()).device
        # lecture (GAN): "input z ~ N(0, I_m)"
        return torch.randn(n, self.z_dim, generator=generator).to(device)  # (n, z_dim)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n fake points x̃ = Gen(z), z ~ N(0, I), in eval mode: (n, 2)."""
        with eval_mode(self):
            return self.G(self.prior(n, generator))                  # (n, 2)


# ============================================================================ MNIST players
class DCGenerator(nn.Module):
    """Gen for MNIST (DCGAN-style, small for CPUs): z (B, z_dim) → x̃ (B, 1, 28, 28) in [−1, 1]."""

    def __init__(self, z_dim: int = 32, width: int = 32):
        super().__init__()
        self.z_dim, self.width = z_dim, width
        self.project = nn.Sequential(nn.Linear(z_dim, 2 * width * 7 * 7, bias=False),
                                     nn.BatchNorm1d(2 * width * 7 * 7), nn.ReLU())
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False),  # 7 → 14
            nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, 2, 1),                      # 14 → 28
            nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"Gen expects z of shape (B, {self.z_dim}), got {tuple(z.shape)}")
        h = self.project(z).view(-1, 2 * self.width, 7, 7)             # (B, 2w, 7, 7)
        return self.up(h)                                               # (B, 1, 28, 28) in [−1, 1]


class DCDiscriminator(nn.Module):
    """Disc for MNIST: x (B, 1, 28, 28) in [−1, 1] → logits (B,), +1 = data, −1 = fake."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2),                   # 28 → 14
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2),           # 14 → 7
            nn.Flatten(), nn.Linear(2 * width * 7 * 7, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or tuple(x.shape[1:]) != IMAGE_SHAPE:
            raise ValueError(f"Disc expects images of shape (B, 1, 28, 28) scaled to [-1, 1], "
                             f"got {tuple(x.shape)}")
        return self.net(x).squeeze(-1)                                 # (B,)


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation (Radford et al. 2016): conv / linear weights ~ N(0, 0.02²), biases 0,
    BatchNorm scales ~ N(1, 0.02²). Use as ``model.apply(dcgan_init)``."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class MNISTGAN(nn.Module):
    """A small DCGAN for MNIST. ``sample(n)`` → (n, 1, 28, 28) in [0, 1] (the zoo contract).

    width: Gen's channels (2·width at 7×7, width at 14×14); d_width: Disc's (default: width).
    """

    def __init__(self, z_dim: int = 32, width: int = 32, d_width: int | None = None):
        super().__init__()
        self.z_dim = z_dim
        self.G = DCGenerator(z_dim, width)
        self.D = DCDiscriminator(d_width or width)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(0, I_m): (n, z_dim), drawn on the CPU (reproducible) then moved."""
        # lecture (GAN): "input z ~ N(0, I_m)"
        return torch.randn(n, self.z_dim, generator=generator).to(self.device)  # (n, z_dim)

    @torch.no_grad()
    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """Gen(z) mapped to [0, 1], in eval mode: (B, 1, 28, 28)."""
        with eval_mode(self):
            return from_pm1(self.G(z.to(self.device)))                 # (B, 1, 28, 28) in [0, 1]

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n digits x̃ = Gen(z), z ~ N(0, I), mapped to [0, 1]: (n, 1, 28, 28)."""
        if n < 1:
            raise ValueError(f"n must be ≥ 1, got {n}")
        return self.generate(self.prior(n, generator))


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between latent codes (stays at the typical norm of N(0, I))."""
    z0n, z1n = z0 / z0.norm(dim=-1, keepdim=True), z1 / z1.norm(dim=-1, keepdim=True)
    # ω = the angle between z0 and z1
    omega = torch.acos((z0n * z1n).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    # slerp(z0, z1; t) = (sin((1 − t)ω) z0 + sin(tω) z1) / sin ω
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


__all__ = ["GEN_LOSSES", "pm1_logistic_loss", "discriminator_loss", "generator_loss",
           "discriminator_accuracy", "optimal_discriminator", "gan_step", "MLPGenerator",
           "MLPDiscriminator", "ToyGAN", "DCGenerator", "DCDiscriminator", "MNISTGAN", "slerp"]
