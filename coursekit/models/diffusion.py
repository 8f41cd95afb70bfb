"""Diffusion models, lecture eqs. (15)–(19): forward process, closed form, posterior, samplers.

Indexing follows the lecture: step t of the forward process goes from x^(t) to x^(t+1),

    eq. (16):  x^(t+1) = sqrt(alpha_t) x^(t) + sqrt(beta_t) z^(t),   t = 0, …, T-1,

so ``betas[t]``, ``alphas[t]`` (0-based tensors of length T) belong to that step, and
``alpha_bar[t] = alpha_0 ⋯ alpha_{t-1}`` (length T+1, ``alpha_bar[0] = 1``) is the signal
kept in x^(t):  q(x^(t) | x^(0)) = N(sqrt(alpha_bar_t) x^(0), (1 - alpha_bar_t) I).

Note the slip in the lecture: eq. (15) writes the mean of q(x^(t+1) | x^(t)) as alpha_t x^(t);
eq. (16) — and everything here — uses sqrt(alpha_t) x^(t), the only choice that keeps
Var(x^(t)) = I under alpha_t + beta_t = 1 (eq. 17). `forward_variance` shows both.

Reading order:

* schedules: `linear_betas`, `cosine_betas`, `alpha_bar_of`, `forward_variance`;
* networks: `timestep_embedding`, `ToyDenoiser` (MLP for 2-D points / latent codes),
  `ResBlock` and `UNet` (small, GroupNorm, no attention);
* `Diffusion`: forward `q_step` (eq. 16) and `q_sample` (closed form), the posterior
  `q_posterior` of q(x^(t) | x^(t+1), x^(0)), the training `loss`, the reverse step
  `p_sample` (eq. 18), `ddpm_sample` (all T steps) and `ddim_sample` (few steps);
* the models of the registered recipes: `ImageDiffusion` ("ddpm"), `LatentDiffusion` and
  `LatentImageDiffusion` ("ldm" = an autoencoder + a diffusion over its codes).

Training recipes are in `coursekit.recipes.diffusion`, the notebook's experiments in
`coursekit.labs.diffusion_toys`.
"""
from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..core.data import from_pm1
from ..core.nn import IMAGE_SHAPE, eval_mode


# ============================================================================ schedules
def linear_betas(T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """β_t rising linearly (Ho et al. 2020); the end points are rescaled by 1000/T so that
    the total amount of noise is about the same for any T. Returns (T,) float64."""
    if T < 1:
        raise ValueError(f"T must be a positive number of steps, got {T}")
    scale = 1000.0 / T
    return torch.linspace(scale * beta_start, min(scale * beta_end, 0.999), T,
                          dtype=torch.float64)


def cosine_betas(T: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """β_t such that ᾱ_t = cos²((t/T + s)/(1 + s) · π/2) / cos²(s/(1+s) · π/2)
    (Nichol & Dhariwal 2021): the signal decays gently at both ends. Returns (T,) float64."""
    if T < 1:
        raise ValueError(f"T must be a positive number of steps, got {T}")
    t = torch.arange(T + 1, dtype=torch.float64) / T
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    alpha_bar = f / f[0]
    # ᾱ_{t+1} = ᾱ_t α_t  ⇒  β_t = 1 - ᾱ_{t+1} / ᾱ_t
    return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(0, max_beta)


SCHEDULES = {"linear": linear_betas, "cosine": cosine_betas}


def make_betas(T: int, schedule: str = "linear") -> torch.Tensor:
    """β_0 … β_{T-1} of a named schedule ("linear" or "cosine"), (T,) float64."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown noise schedule {schedule!r}; choose one of {sorted(SCHEDULES)}")
    return SCHEDULES[schedule](T)


def alpha_bar_of(betas: torch.Tensor) -> torch.Tensor:
    """ᾱ_t = ∏_{s<t} α_s with α_s = 1 - β_s; (T+1,), ᾱ_0 = 1 (x^(0) is the data)."""
    alphas = 1 - betas
    # ᾱ_t = α_0 α_1 ⋯ α_{t-1}
    return torch.cat([torch.ones(1, dtype=alphas.dtype), torch.cumprod(alphas, 0)])


#: The mean of one forward step: "sqrt" is eq. (16), sqrt(α_t) x^(t); "alpha" is eq. (15) as
#: printed, α_t x^(t).
MEAN_COEFS = ("sqrt", "alpha")


def check_mean_coef(mean_coef: str) -> str:
    """`mean_coef` if it names a forward-step mean ("sqrt", eq. 16, or "alpha", eq. 15)."""
    if mean_coef not in MEAN_COEFS:
        raise ValueError(f"mean_coef must be 'sqrt' (eq. 16) or 'alpha' (eq. 15), "
                         f"got {mean_coef!r}")
    return mean_coef


def forward_variance(var_0: float, betas: torch.Tensor, mean_coef: str = "sqrt") -> torch.Tensor:
    """Var(x^(t)) for t = 0 … T of the forward process started with Var(x^(0)) = var_0, (T+1,).

    mean_coef="sqrt" is eq. (16): Var(x^(t+1)) = α_t Var(x^(t)) + β_t, with fixed point 1
    when α_t + β_t = 1 (eq. 17). mean_coef="alpha" is eq. (15) read literally (mean α_t x^(t)):
    Var(x^(t+1)) = α_t² Var(x^(t)) + β_t, which drifts below 1.
    """
    check_mean_coef(mean_coef)
    alphas = 1 - betas.double()
    var = [torch.tensor(float(var_0), dtype=torch.float64)]
    for alpha_t, beta_t in zip(alphas, betas.double(), strict=True):
        if mean_coef == "sqrt":
            # eq. (17): Var(x^(t+1)) = alpha_t Var(x^(t)) + beta_t
            var.append(alpha_t * var[-1] + beta_t)
        else:
            # eq. (15) as printed: Var(x^(t+1)) = alpha_t^2 Var(x^(t)) + beta_t
            var.append(alpha_t ** 2 * var[-1] + beta_t)
    return torch.stack(var)


# ============================================================================ networks
def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding of (integer or real) timesteps: (B,) → (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]  # (B, half)
    emb = torch.cat([args.cos(), args.sin()], dim=1)  # (B, 2 half)
    return F.pad(emb, (0, dim % 2))  # (B, dim)


class ToyDenoiser(nn.Module):
    """MLP ε_θ(x^(t), t) for low-dimensional data (2-D toys, autoencoder codes).

    Inputs: x, sin/cos features of x at `n_freqs` octaves (they let a small MLP draw sharp
    shapes), and a sinusoidal embedding of t rescaled by 1000 / T (so the embedding's
    frequencies fit a chain of any length T)."""

    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3, t_dim: int = 32,
                 n_freqs: int = 0, T: int = 1000):
        super().__init__()
        self.dim, self.t_dim, self.t_scale, self.n_freqs = dim, t_dim, 1000.0 / T, n_freqs
        self.register_buffer("freqs", 2.0 ** torch.arange(n_freqs, dtype=torch.float32))
        layers, width = [], dim * (1 + 2 * n_freqs) + t_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        self.mlp = nn.Sequential(*layers, nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        emb = timestep_embedding(t * self.t_scale, self.t_dim)  # (B, t_dim)
        feats = [x]  # (B, dim)
        if self.n_freqs:
            xf = (x[:, :, None] * self.freqs).flatten(1)  # (B, dim * n_freqs)
            feats += [xf.sin(), xf.cos()]
        return self.mlp(torch.cat(feats + [emb], dim=1))  # (B, dim)


def _groups(channels: int) -> int:
    return math.gcd(channels, 8)


class ResBlock(nn.Module):
    """GroupNorm → SiLU → conv, plus the time embedding added in the middle, plus a skip."""

    def __init__(self, c_in: int, c_out: int, t_dim: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.t_proj = nn.Linear(t_dim, c_out)
        self.norm2 = nn.GroupNorm(_groups(c_out), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)  # each block starts as the identity
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (B, c_out, H, W)
        h = h + self.t_proj(emb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h  # (B, c_out, H, W)


class UNet(nn.Module):
    """A small U-Net ε_θ(x^(t), t) for 28×28 images: levels 28 → 14 → 7, one residual block
    per level on the way down and up (plus one in the middle), GroupNorm, no attention.

    One network for every t (conditioned on a sinusoidal embedding of t · 1000 / T) instead of
    the separate θ_t of eq. (19).
    """

    def __init__(self, channels: tuple[int, ...] = (32, 64, 64), in_channels: int = 1,
                 T: int = 1000):
        super().__init__()
        c0 = channels[0]
        self.channels, self.t_dim, self.t_scale = tuple(channels), 4 * c0, 1000.0 / T
        self.time_mlp = nn.Sequential(nn.Linear(c0, self.t_dim), nn.SiLU(),
                                      nn.Linear(self.t_dim, self.t_dim))
        self.stem = nn.Conv2d(in_channels, c0, 3, padding=1)
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        c_prev = c0
        for i, c in enumerate(channels):
            self.down.append(ResBlock(c_prev, c, self.t_dim))
            c_prev = c
            if i < len(channels) - 1:
                self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
        self.mid = ResBlock(c_prev, c_prev, self.t_dim)
        self.up = nn.ModuleList()
        for c in reversed(channels):
            self.up.append(ResBlock(c_prev + c, c, self.t_dim))
            c_prev = c
        self.out_norm = nn.GroupNorm(_groups(c0), c0)
        self.out = nn.Conv2d(c0, in_channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        emb = self.time_mlp(timestep_embedding(t * self.t_scale, self.channels[0]))  # (B, 4c0)
        h = self.stem(x)  # (B, c0, 28, 28)
        skips = []
        for i, block in enumerate(self.down):
            h = block(h, emb)
            skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)  # (B, c, H/2, W/2), 28 → 14 → 7
        h = self.mid(h, emb)
        for block in self.up:
            skip = skips.pop()
            if h.shape[-1] != skip.shape[-1]:
                h = F.interpolate(h, size=skip.shape[-2:], mode="nearest")
            h = block(torch.cat([h, skip], dim=1), emb)
        return self.out(F.silu(self.out_norm(h)))  # (B, 1, 28, 28)


# ============================================================================ the process
def _bcast(values: torch.Tensor, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """values[t] reshaped to broadcast against x: (B,) → (B, 1, …, 1)."""
    return values[t].reshape(-1, *([1] * (x.dim() - 1))).to(x.dtype)


class PerSampleNoise:
    """Noise for a batch of samples where sample i draws from its own generator, so its numbers
    do not depend on which batch it is in: a sampling seed names the same images whatever the
    batch size (`per_sample_noise`). Pass it wherever a sampler takes a `generator`."""

    def __init__(self, generators: list[torch.Generator]):
        self.generators = list(generators)

    def randn(self, shape) -> torch.Tensor:
        """(B, *rest) standard normal noise, row i from generator i (B = number of generators)."""
        if shape[0] != len(self.generators):
            raise ValueError(f"noise for a batch of {shape[0]} samples asked from "
                             f"{len(self.generators)} per-sample generators")
        return torch.stack([torch.randn(tuple(shape[1:]), generator=g) for g in self.generators])

    def __getitem__(self, rows: slice) -> PerSampleNoise:
        return PerSampleNoise(self.generators[rows])


def per_sample_noise(n: int, generator: torch.Generator | None) -> PerSampleNoise:
    """n per-sample generators seeded from one draw of `generator`: sample i's seed is the i-th
    number drawn, so the first k samples of n are the k samples of a call with n = k."""
    seeds = torch.randint(0, 2**62, (n,), generator=generator)  # (n,)
    return PerSampleNoise([torch.Generator().manual_seed(int(s)) for s in seeds])


def _randn(shape, generator: torch.Generator | PerSampleNoise | None, device) -> torch.Tensor:
    """Standard normal noise drawn on the CPU from `generator` (same numbers on any device)."""
    if isinstance(generator, PerSampleNoise):
        return generator.randn(shape).to(device)
    return torch.randn(shape, generator=generator).to(device)


class Diffusion(nn.Module):
    """A Gaussian diffusion over data of shape `data_shape` with denoiser ``net(x^(t), t)``,
    which predicts the noise ε that made x^(t) from x^(0).

    The schedule lives in buffers (saved with the weights): ``betas`` (T,), ``alphas`` (T,),
    ``alpha_bar`` (T+1,). ``loss_weight``: "none" or "min_snr" (weights min(SNR_t, γ)/SNR_t).
    ``clip``: x̂^(0) is clipped to ±clip when sampling (None: no clipping). ``t_sampling``:
    how training draws the layer t, "uniform" on {1, …, T} or "logit_normal" (t/T = sigmoid
    of a standard normal: most draws in the middle of the chain, few at its two ends).
    """

    def __init__(self, net: nn.Module, data_shape: tuple[int, ...], T: int = 1000,
                 schedule: str = "linear", loss_weight: str = "none",
                 min_snr_gamma: float = 5.0, clip: float | None = None,
                 t_sampling: str = "uniform"):
        super().__init__()
        if t_sampling not in ("uniform", "logit_normal"):
            raise ValueError(f"t_sampling must be 'uniform' or 'logit_normal', got {t_sampling!r}")
        if loss_weight not in ("none", "min_snr"):
            raise ValueError(f"loss_weight must be 'none' or 'min_snr', got {loss_weight!r}")
        self.net, self.data_shape, self.T = net, tuple(data_shape), T
        self.schedule, self.loss_weight, self.min_snr_gamma = schedule, loss_weight, min_snr_gamma
        self.clip, self.t_sampling = clip, t_sampling
        betas = make_betas(T, schedule)  # (T,) float64
        self.register_buffer("betas", betas.float())  # (T,)
        self.register_buffer("alphas", (1 - betas).float())  # (T,)
        self.register_buffer("alpha_bar", alpha_bar_of(betas).float())  # (T+1,)

    @property
    def device(self) -> torch.device:
        return self.betas.device

    def _check(self, x: torch.Tensor, name: str = "x") -> None:
        if tuple(x.shape[1:]) != self.data_shape:
            raise ValueError(f"{name} has shape {tuple(x.shape)}; this diffusion expects "
                             f"(batch, {', '.join(map(str, self.data_shape))}). Reshape the "
                             f"input (images: (N, 1, 28, 28) in [-1, 1]).")

    def _check_t(self, t, batch: int, high: int | None = None) -> torch.Tensor:
        """t (an int or a (B,) tensor) as a (batch,) long tensor in 0 … high (default T)."""
        high = self.T if high is None else high
        t = torch.as_tensor(t, device=self.device).long()
        if t.numel() and (t.min() < 0 or t.max() > high):
            raise ValueError(f"timesteps must lie in 0…{high} (T={self.T}); got "
                             f"{int(t.min())}…{int(t.max())}")
        return t.expand(batch) if t.dim() == 0 else t

    # ------------------------------------------------------------------ forward process
    def q_step(self, x_t: torch.Tensor, t, generator: torch.Generator | None = None
               ) -> torch.Tensor:
        """One forward step, eq. (16): x^(t+1) = sqrt(α_t) x^(t) + sqrt(β_t) z, z ~ N(0, I).

        t is the index of the step (0 … T-1), an int or a (B,) tensor."""
        self._check(x_t, "x_t")
        t = self._check_t(t, len(x_t), high=self.T - 1)
        z = _randn(x_t.shape, generator, x_t.device)  # (B, *data_shape)
        # eq. (16): x^(t+1) = sqrt(alpha_t) x^(t) + sqrt(beta_t) z^(t)
        return _bcast(self.alphas, t, x_t).sqrt() * x_t + _bcast(self.betas, t, x_t).sqrt() * z

    def q_sample(self, x_0: torch.Tensor, t, noise: torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Closed form of eq. (16) iterated t times: x^(t) ~ q(x^(t) | x^(0)),

        x^(t) = sqrt(ᾱ_t) x^(0) + sqrt(1 − ᾱ_t) ε,   ε ~ N(0, I);   t ∈ {0, …, T}."""
        self._check(x_0, "x_0")
        t = self._check_t(t, len(x_0))
        eps = noise if noise is not None else _randn(x_0.shape, generator, x_0.device)
        ab = _bcast(self.alpha_bar, t, x_0)  # (B, 1, …, 1)
        # q(x^(t) | x^(0)) = N(sqrt(alpha_bar_t) x^(0), (1 - alpha_bar_t) I)
        return ab.sqrt() * x_0 + (1 - ab).sqrt() * eps

    def q_posterior(self, x_0: torch.Tensor, x_next: torch.Tensor, t
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance of q(x^(t) | x^(t+1), x^(0)), the target of eq. (18), by Bayes:
        q(x^(t) | x^(t+1), x^(0)) ∝ q(x^(t) | x^(0)) q(x^(t+1) | x^(t)), a Gaussian with

        mean = sqrt(ᾱ_t) β_t / (1 − ᾱ_{t+1}) · x^(0) + sqrt(α_t) (1 − ᾱ_t) / (1 − ᾱ_{t+1}) · x^(t+1)
        var  = β̃_t = β_t (1 − ᾱ_t) / (1 − ᾱ_{t+1});   t ∈ {0, …, T-1}.
        Returns (mean like x_0, variance broadcastable (B, 1, …))."""
        t = self._check_t(t, len(x_0), high=self.T - 1)
        ab_t, ab_next = _bcast(self.alpha_bar, t, x_0), _bcast(self.alpha_bar, t + 1, x_0)
        beta_t, alpha_t = _bcast(self.betas, t, x_0), _bcast(self.alphas, t, x_0)
        # posterior mean: a weighted average of the clean x^(0) and the noisier x^(t+1)
        mean = (ab_t.sqrt() * beta_t / (1 - ab_next)) * x_0 \
            + (alpha_t.sqrt() * (1 - ab_t) / (1 - ab_next)) * x_next
        # posterior variance: beta~_t = beta_t (1 - alpha_bar_t) / (1 - alpha_bar_{t+1})
        var = beta_t * (1 - ab_t) / (1 - ab_next)
        return mean, var

    # ------------------------------------------------------------------ the network's view
    def predict_x0_eps(self, x_t: torch.Tensor, t: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """(x̂^(0), ε̂) from one network call at x^(t); x̂^(0) clipped to ±clip if set."""
        eps = self.net(x_t, t)  # (B, *data_shape)
        ab = _bcast(self.alpha_bar, t, x_t)
        # invert the closed form: x^(0) = (x^(t) - sqrt(1 - alpha_bar) eps) / sqrt(alpha_bar)
        x0 = (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()
        if self.clip is not None:
            x0 = x0.clamp(-self.clip, self.clip)
            # the noise consistent with the clipped x^(0)
            eps = (x_t - ab.sqrt() * x0) / (1 - ab).sqrt()
        return x0, eps

    def sample_t(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Training layers t ∈ {1, …, T}, (batch,): stratified (one draw per 1/batch slice of
        [0, 1), lower variance than i.i.d.), uniform or logit-normal (``t_sampling``)."""
        u = (torch.arange(batch) + torch.rand(batch, generator=generator)) / batch
        u = u[torch.randperm(batch, generator=generator)]
        if self.t_sampling == "logit_normal":
            # t/T = sigmoid(n), n ~ N(0, 1) through the normal quantile of the stratified u:
            # fewer draws at the two ends (x^(t) ≈ x^(0) and x^(t) ≈ noise), where the
            # noise is either trivial to predict or down-weighted (Esser et al. 2024)
            u = torch.sigmoid(torch.special.ndtri(u.clamp(1e-6, 1 - 1e-6)))
        return 1 + (u * self.T).long().clamp(max=self.T - 1)

    def loss(self, x_0: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Simplified DDPM loss: E_{t, ε} w(t) ‖ε − ε_θ(x^(t), t)‖², t from `sample_t`;
        w(t) = 1, or min(SNR_t, γ)/SNR_t ("min_snr"), SNR_t = ᾱ_t / (1 − ᾱ_t)."""
        self._check(x_0, "x_0")
        t = self.sample_t(len(x_0), generator).to(x_0.device)  # (B,)
        eps = _randn(x_0.shape, generator, x_0.device)  # (B, *data_shape)
        x_t = self.q_sample(x_0, t, noise=eps)
        per_example = ((self.net(x_t, t) - eps) ** 2).flatten(1).mean(1)  # (B,)
        if self.loss_weight == "min_snr":
            ab = self.alpha_bar[t]
            snr = ab / (1 - ab)
            # min-SNR-γ weighting (Hang et al. 2023): w(t) = min(SNR_t, gamma) / SNR_t
            per_example = per_example * (snr.clamp(max=self.min_snr_gamma) / snr)
        return per_example.mean()

    # ------------------------------------------------------------------ backward process
    @torch.no_grad()
    def p_sample(self, x_next: torch.Tensor, t: int, generator: torch.Generator | None = None
                 ) -> torch.Tensor:
        """One ancestral step of eq. (18): x^(t) ~ p_θ(x^(t) | x^(t+1)) = N(μ_θ, σ_t² I),

        μ_θ = posterior mean with x^(0) replaced by the network's x̂^(0);  σ_t² = β̃_t
        (the posterior variance). No noise is added on the last step (t = 0)."""
        t_next = torch.full((len(x_next),), t + 1, device=x_next.device, dtype=torch.long)
        x0_hat, _ = self.predict_x0_eps(x_next, t_next)
        # eq. (18): mu_theta(x^(t+1)) = mean of q(x^(t) | x^(t+1), x^(0) = x0_hat)
        mean, var = self.q_posterior(x0_hat, x_next, t_next - 1)
        if t == 0:
            return mean
        # x^(t) = mu_theta + sigma_t z
        return mean + var.sqrt() * _randn(x_next.shape, generator, x_next.device)

    @torch.no_grad()
    def ddpm_sample(self, n: int, generator: torch.Generator | None = None,
                    trajectory_every: int | None = None, progress: bool = False):
        """Ancestral sampling with all T steps: x^(T) ~ N(0, I), then eq. (18) T times.

        Returns x^(0) (n, *data_shape), or (x^(0), [(t, x^(t)), …]) with a trajectory."""
        x = _randn((n, *self.data_shape), generator, self.device)  # x^(T) ~ N(0, I)
        traj = [(self.T, x.clone())] if trajectory_every else None
        steps = range(self.T - 1, -1, -1)
        for t in tqdm(steps, desc="DDPM sampling", disable=not progress):
            x = self.p_sample(x, t, generator)  # x^(t+1) → x^(t)
            if traj is not None and (t % trajectory_every == 0):
                traj.append((t, x.clone()))
        return (x, traj) if traj is not None else x

    def ddim_timesteps(self, steps: int) -> list[int]:
        """`steps` + 1 timesteps T = τ_S > … > τ_1 > τ_0 = 0, evenly spaced."""
        if not 1 <= steps <= self.T:
            raise ValueError(f"DDIM needs 1 ≤ steps ≤ T = {self.T}, got {steps}")
        return torch.linspace(self.T, 0, steps + 1).round().long().tolist()

    @torch.no_grad()
    def ddim_sample(self, n: int, steps: int = 50, generator: torch.Generator | None = None,
                    eta: float = 0.0, x_T: torch.Tensor | None = None,
                    return_trajectory: bool = False):
        """DDIM (Song et al. 2021): jump from x^(τ) to x^(τ') (τ' < τ) with one network call,

        x^(τ') = sqrt(ᾱ_τ') x̂^(0) + sqrt(1 − ᾱ_τ' − σ²) ε̂ + σ z,
        σ = η sqrt((1 − ᾱ_τ')/(1 − ᾱ_τ) · (1 − ᾱ_τ/ᾱ_τ')); η = 0 is deterministic given x^(T).
        Returns x^(0) (n, *data_shape), or (x^(0), [(τ, x^(τ)), …])."""
        x = x_T.to(self.device) if x_T is not None else _randn(
            (n, *self.data_shape), generator, self.device)  # x^(T) ~ N(0, I)
        taus = self.ddim_timesteps(steps)
        traj = [(self.T, x.clone())]
        for tau, tau_next in itertools.pairwise(taus):
            t = torch.full((len(x),), tau, device=x.device, dtype=torch.long)
            x0_hat, eps_hat = self.predict_x0_eps(x, t)
            ab, ab_next = self.alpha_bar[tau], self.alpha_bar[tau_next]
            sigma = eta * ((1 - ab_next) / (1 - ab) * (1 - ab / ab_next)).clamp(min=0).sqrt()
            # x^(tau') = sqrt(alpha_bar') x0_hat + sqrt(1 - alpha_bar' - sigma^2) eps_hat + sigma z
            x = ab_next.sqrt() * x0_hat + (1 - ab_next - sigma ** 2).clamp(min=0).sqrt() * eps_hat
            if eta > 0 and tau_next > 0:
                x = x + sigma * _randn(x.shape, generator, x.device)
            if return_trajectory:
                traj.append((tau_next, x.clone()))
        return (x, traj) if return_trajectory else x


def toy_diffusion(T: int = 100, schedule: str = "linear", hidden: int = 128, depth: int = 3,
                  dim: int = 2, n_freqs: int = 0) -> Diffusion:
    """A diffusion over `dim`-D points with an MLP denoiser (2-D toys: trains in seconds)."""
    return Diffusion(ToyDenoiser(dim, hidden, depth, n_freqs=n_freqs, T=T), (dim,), T=T,
                     schedule=schedule)


# ============================================================================ image models
class ImageDiffusion(Diffusion):
    """The registered "ddpm" model: a `UNet` on MNIST scaled to [-1, 1], x̂^(0) clipped to ±1.

    ``sample(n, generator, steps=50, ddim=True)`` → (n, 1, 28, 28) in [0, 1] (contract).
    """

    def __init__(self, channels: tuple[int, ...] = (32, 64, 64), T: int = 1000,
                 schedule: str = "cosine", loss_weight: str = "min_snr",
                 t_sampling: str = "uniform"):
        super().__init__(UNet(channels, T=T), IMAGE_SHAPE, T=T, schedule=schedule,
                         loss_weight=loss_weight, clip=1.0, t_sampling=t_sampling)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, steps: int | None = None,
               ddim: bool = True, eta: float = 1.0, batch_size: int = 500) -> torch.Tensor:
        """n images (n, 1, 28, 28) in [0, 1]: DDIM with `steps` steps (default 50), or
        ancestral DDPM with all T steps (``ddim=False``; `steps` must then be T or None).

        eta: DDIM's noise level. The default η = 1 (fresh noise at every step, like DDPM)
        gave a clearly lower Fréchet distance than the deterministic η = 0 for the small
        pretrained model (see its card); pass eta=0.0 for deterministic sampling.
        Sample i draws its noise from its own generator (`per_sample_noise`), so `batch_size`
        changes memory and speed, never the images."""
        if ddim and steps is None:
            steps = 50
        if not ddim and steps not in (None, self.T):
            raise ValueError(f"ancestral DDPM sampling uses all T = {self.T} steps; got "
                             f"steps={steps}. Use ddim=True for fewer steps.")
        out = []
        noise = per_sample_noise(n, generator)  # sample i's noise: the same in any batch size
        with eval_mode(self):
            for start in range(0, n, batch_size):
                k = min(batch_size, n - start)
                rows = noise[start:start + k]
                x = (self.ddim_sample(k, steps, rows, eta=eta) if ddim
                     else self.ddpm_sample(k, rows))  # (k, 1, 28, 28) in [-1, 1]
                out.append(from_pm1(x))
        return torch.cat(out) if out else torch.empty(0, *IMAGE_SHAPE)


class LatentDiffusion(Diffusion):
    """Diffusion in the code space of an autoencoder: codes h = encode(x) (N, m) are
    standardized per coordinate and diffused with a `ToyDenoiser` (cosine schedule).

    The autoencoder is not part of this module (see `LatentImageDiffusion`)."""

    def __init__(self, codes: torch.Tensor, T: int = 200, hidden: int = 256, depth: int = 4,
                 schedule: str = "cosine"):
        m = codes.shape[1]
        super().__init__(ToyDenoiser(m, hidden, depth, t_dim=64, T=T), (m,), T=T,
                         schedule=schedule)
        self.register_buffer("code_mean", codes.mean(0))  # (m,)
        self.register_buffer("code_std", codes.std(0).clamp(min=1e-6))  # (m,)
        # clip x̂^(0) to the range of the standardized training codes, as images are clipped to
        # [-1, 1]: with the cosine schedule ᾱ_T ≈ 1e-7, so the first DDIM jump divides by
        # sqrt(ᾱ_T) and would otherwise blow the network's error up by a factor of ~4000
        self.register_buffer("code_clip", self.standardize(codes).abs().max())  # ()
        self.clip = float(self.code_clip)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self.clip = float(self.code_clip)  # loaded weights bring their own code range

    def standardize(self, h: torch.Tensor) -> torch.Tensor:
        """Codes (N, m) in the autoencoder's units → standardized codes (N, m)."""
        return (h - self.code_mean) / self.code_std

    @torch.no_grad()
    def sample_codes(self, n: int, generator: torch.Generator | None = None,
                     steps: int | None = None) -> torch.Tensor:
        """n codes (n, m) in the autoencoder's units: DDIM with `steps`, or DDPM if None."""
        z = self.ddpm_sample(n, generator) if steps is None else self.ddim_sample(
            n, steps, generator)  # (n, m) standardized
        return z * self.code_std + self.code_mean


class LatentImageDiffusion(nn.Module):
    """The registered "ldm" model: a `LatentDiffusion` in the code space of an autoencoder
    `ae` (anything with ``m`` and ``decode(h) -> (N, 1, 28, 28)``), saved together with it so
    that ``sample`` returns images.

    ``sample(n, generator, steps=50)`` → (n, 1, 28, 28) in [0, 1]: DDIM with `steps` steps
    (η = 0) in code space, then the decoder; ``steps=None`` runs all T ancestral steps.
    Without `codes` (an untrained model, or one about to load weights) the code statistics are
    placeholders.
    """

    def __init__(self, ae: nn.Module, codes: torch.Tensor | None = None, T: int = 200,
                 hidden: int = 256, depth: int = 4):
        super().__init__()
        self.ae = ae
        m = ae.m
        codes = codes if codes is not None else torch.stack([torch.ones(m), -torch.ones(m)])
        self.latent = LatentDiffusion(codes, T=T, hidden=hidden, depth=depth)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, steps: int | None = 50,
               batch_size: int = 500) -> torch.Tensor:
        """n images (n, 1, 28, 28) in [0, 1]: latent DDIM-`steps` (DDPM if None), decoded."""
        with eval_mode(self):
            codes = self.latent.sample_codes(n, generator, steps)  # (n, m)
            out = [self.ae.decode(h) for h in codes.split(batch_size)]
        return torch.cat(out) if out else torch.empty(0, *IMAGE_SHAPE)


__all__ = ["PerSampleNoise", "per_sample_noise", "linear_betas", "cosine_betas", "make_betas",
           "SCHEDULES", "alpha_bar_of",
           "MEAN_COEFS", "check_mean_coef", "forward_variance", "timestep_embedding",
           "ToyDenoiser", "ResBlock", "UNet", "Diffusion", "toy_diffusion", "ImageDiffusion",
           "LatentDiffusion", "LatentImageDiffusion"]
