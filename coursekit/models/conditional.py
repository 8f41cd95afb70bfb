"""Control and flows (notebook 06): class-conditional generation, classifier-free guidance and
flow matching, in the code space of an autoencoder like the latent diffusion of
`coursekit.models.diffusion`.

* Conditional VAE (`CVAE`): the VAE of eqs. (4)–(14) with the one-hot label y fed to the encoder
  q_φ(z|x, y) and to the decoder p_θ(x|z, y); the ELBO is that of eq. (12) given y.
* Classifier-free guidance (Ho & Salimans 2022): one denoiser ε_θ(x^(t), t, c) trained with the
  label replaced by a "null" label ∅ with probability p (`drop_labels`), so the same network
  predicts the conditional and the unconditional noise; sampling combines them,
  ε̂ = (1 + w) ε_θ(x, t, c) − w ε_θ(x, t, ∅) (`cfg_combine`).
* Flow matching / rectified flow (Lipman et al. 2023, Liu et al. 2023): the straight path
  x_t = (1 − t) x_0 + t ε between data x_0 and noise ε, a network v_θ(x_t, t) regressed on its
  velocity v = ε − x_0 (`fm_target`), sampled by integrating dx/dt = v_θ from t = 1 to 0 with
  Euler steps (`euler_step`). DDIM with η = 0 is also a deterministic ODE sampler: of the
  diffusion's probability-flow ODE.

How the registered "cvae", "cldm" and "flow" are trained is in `coursekit.recipes.conditional`.
"""
from __future__ import annotations

import torch
from torch import nn

from ..core.data import binarize_dynamic
from ..core.nn import IMAGE_SHAPE, D, eval_mode, mlp
from .diffusion import LatentDiffusion, timestep_embedding
from .vae import bernoulli_log_likelihood, conv_decoder, kl_closed_form, q_sample

#: Digits 0–9; the label N_CLASSES = 10 is the "null" label ∅ of classifier-free guidance.
N_CLASSES = 10
NULL_LABEL = N_CLASSES


def check_labels(y, n: int | None = None, name: str = "labels", allow_null: bool = False
                 ) -> torch.Tensor:
    """Validate class labels: a (n,) integer tensor (or list) of digits 0–9 (and 10 = ∅ if
    `allow_null`). Returns it as a long tensor."""
    y = torch.as_tensor(y)
    if y.dim() != 1 or y.is_floating_point() or y.is_complex():
        raise ValueError(f"{name} must be a 1-D tensor of integer digits, got dtype {y.dtype} "
                         f"and shape {tuple(y.shape)}; e.g. torch.tensor([3, 7])")
    high = NULL_LABEL if allow_null else N_CLASSES - 1
    if y.numel() and (int(y.min()) < 0 or int(y.max()) > high):
        raise ValueError(f"{name} must lie in 0…{high}, got {int(y.min())}…{int(y.max())}"
                         + ("" if allow_null else "; pass digits 0–9"))
    if n is not None and len(y) != n:
        raise ValueError(f"{len(y)} {name} for {n} samples: give one label per sample")
    return y.long()


def balanced_labels(n: int) -> torch.Tensor:
    """n labels 0, 1, …, 9, 0, 1, … (n,): every digit equally often when 10 divides n."""
    return torch.arange(n) % N_CLASSES


# ============================================================================ guidance
def cfg_combine(eps_cond: torch.Tensor, eps_uncond: torch.Tensor, w: float) -> torch.Tensor:
    """Classifier-free guidance: ε̂ = (1 + w) ε_θ(x, c) − w ε_θ(x, ∅).

    w = 0 is the conditional model; w > 0 pushes away from the unconditional prediction."""
    # eps_hat = (1 + w) eps(x, c) - w eps(x, null)
    return (1 + w) * eps_cond - w * eps_uncond


def drop_labels(y: torch.Tensor, p: float, generator: torch.Generator | None = None
                ) -> torch.Tensor:
    """Label dropout: each label replaced by the null label ∅ with probability p (n,)."""
    if not 0 <= p <= 1:
        raise ValueError(f"the label-dropout probability must lie in [0, 1], got {p}")
    drop = torch.rand(len(y), generator=generator).to(y.device) < p  # (n,) Bernoulli(p)
    return torch.where(drop, torch.full_like(y, NULL_LABEL), y)


class ConditionalDenoiser(nn.Module):
    """MLP ε_θ(x^(t), t, c) for codes (B, m): the input is x, a sinusoidal embedding of t
    (rescaled by 1000 / T) and a learned embedding of the label c ∈ {0, …, 9, ∅}."""

    def __init__(self, dim: int, hidden: int = 256, depth: int = 4, t_dim: int = 64,
                 label_dim: int = 32, T: int = 1000):
        super().__init__()
        self.dim, self.t_dim, self.t_scale = dim, t_dim, 1000.0 / T
        self.label_emb = nn.Embedding(N_CLASSES + 1, label_dim)  # 10 digits + the null label
        self.mlp = mlp([dim + t_dim + label_dim, *[hidden] * depth, dim], "silu")

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        emb = timestep_embedding(t * self.t_scale, self.t_dim)  # (B, t_dim)
        return self.mlp(torch.cat([x, emb, self.label_emb(y)], dim=1))  # (B, dim)


class ConditionalLatentDiffusion(LatentDiffusion):
    """A `LatentDiffusion` whose denoiser also sees the label: trained with label dropout
    (probability ``p_uncond``), sampled with classifier-free guidance of weight ``w``.

    The labels and w of a sampling run are set by `sample_codes`; `predict_x0_eps` (the
    network's view that every sampler of `Diffusion` calls) then returns the guided ε̂."""

    def __init__(self, codes: torch.Tensor, T: int = 200, hidden: int = 256, depth: int = 4,
                 p_uncond: float = 0.1, schedule: str = "cosine"):
        super().__init__(codes, T=T, hidden=hidden, depth=depth, schedule=schedule)
        self.net = ConditionalDenoiser(codes.shape[1], hidden, depth, t_dim=64, T=T)
        self.p_uncond = p_uncond
        self._labels: torch.Tensor | None = None
        self._w = 0.0

    def eps_guided(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor, w: float
                   ) -> torch.Tensor:
        """ε̂ = (1 + w) ε_θ(x^(t), t, y) − w ε_θ(x^(t), t, ∅): one batched call of 2B rows
        (or B rows when w = 0, the conditional model alone)."""
        if w == 0:
            return self.net(x_t, t, y)
        null = torch.full_like(y, NULL_LABEL)
        eps = self.net(torch.cat([x_t, x_t]), torch.cat([t, t]), torch.cat([y, null]))  # (2B, m)
        eps_cond, eps_uncond = eps.chunk(2)
        return cfg_combine(eps_cond, eps_uncond, w)

    def predict_x0_eps(self, x_t: torch.Tensor, t: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """(x̂^(0), ε̂) with the guided ε̂ of the labels set by `sample_codes`."""
        if self._labels is None:
            raise RuntimeError("sample through sample_codes(n, labels=…, w=…): the conditional "
                               "model needs the labels to draw")
        eps = self.eps_guided(x_t, t, self._labels, self._w)  # (B, m)
        ab = self.alpha_bar[t].reshape(-1, 1)
        # invert the closed form: x^(0) = (x^(t) - sqrt(1 - alpha_bar) eps) / sqrt(alpha_bar)
        x0 = ((x_t - (1 - ab).sqrt() * eps) / ab.sqrt()).clamp(-self.clip, self.clip)
        # the noise consistent with the clipped x^(0)
        eps = (x_t - ab.sqrt() * x0) / (1 - ab).sqrt()
        return x0, eps

    def loss(self, x_0: torch.Tensor, y: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """E_{t, ε} ‖ε − ε_θ(x^(t), t, c)‖² with c = y, or ∅ with probability p_uncond."""
        self._check(x_0, "x_0")
        c = drop_labels(y, self.p_uncond, generator)  # (B,) labels, some replaced by ∅
        t = self.sample_t(len(x_0), generator).to(x_0.device)  # (B,)
        eps = torch.randn(x_0.shape, generator=generator).to(x_0.device)  # (B, m)
        x_t = self.q_sample(x_0, t, noise=eps)
        return ((self.net(x_t, t, c) - eps) ** 2).mean()

    @torch.no_grad()
    def sample_codes(self, n: int, generator: torch.Generator | None = None,
                     steps: int | None = 50, labels=None, w: float = 0.0) -> torch.Tensor:
        """n codes (n, m) in the autoencoder's units for `labels` (default `balanced_labels`),
        guided with weight w: DDIM with `steps` (η = 0), or all T ancestral steps if None."""
        self._labels = (check_labels(labels, n) if labels is not None
                        else balanced_labels(n)).to(self.device)
        self._w = float(w)
        try:
            return super().sample_codes(n, generator, steps)
        finally:
            self._labels = None


class ConditionalImageDiffusion(nn.Module):
    """The registered "cldm": an autoencoder `ae` + a `ConditionalLatentDiffusion` over its
    codes. ``sample(n, generator, labels=None, w=…, steps=50)`` → (n, 1, 28, 28) in [0, 1]."""

    def __init__(self, ae: nn.Module, codes: torch.Tensor | None = None, T: int = 200,
                 hidden: int = 256, depth: int = 4, p_uncond: float = 0.1, w: float = 0.5):
        super().__init__()
        self.ae, self.w = ae, w
        codes = codes if codes is not None else torch.stack([torch.ones(ae.m), -torch.ones(ae.m)])
        self.latent = ConditionalLatentDiffusion(codes, T=T, hidden=hidden, depth=depth,
                                                 p_uncond=p_uncond)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, labels=None,
               w: float | None = None, steps: int | None = 50) -> torch.Tensor:
        """n images of the digits `labels` (default 0–9 in turn) with guidance w (default the
        model's chosen ``self.w``): latent DDIM-`steps` (η = 0), decoded."""
        with eval_mode(self):
            codes = self.latent.sample_codes(n, generator, steps, labels,
                                             self.w if w is None else w)  # (n, m)
            return self.ae.decode(codes) if n else torch.empty(0, *IMAGE_SHAPE)


# ============================================================================ flow matching
def fm_interpolate(x_0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The straight path from data to noise: x_t = (1 − t) x_0 + t ε; t (B,) in [0, 1]."""
    t = t.reshape(-1, *([1] * (x_0.dim() - 1)))  # (B, 1, …)
    # x_t = (1 - t) x_0 + t eps
    return (1 - t) * x_0 + t * eps


def fm_target(x_0: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """The velocity of the path, d x_t / dt = v = ε − x_0 (what v_θ regresses on)."""
    # v = d/dt [(1 - t) x_0 + t eps] = eps - x_0
    return eps - x_0


def euler_step(x_t: torch.Tensor, v: torch.Tensor, t: float, t_next: float) -> torch.Tensor:
    """One Euler step of dx/dt = v from t to t_next (t_next < t when sampling towards data)."""
    # x_{t'} = x_t + (t' - t) v
    return x_t + (t_next - t) * v


class FlowMatching(nn.Module):
    """Flow matching with straight paths (rectified flow) over data of shape (dim,).

    ``net(x_t, t)`` (a `ToyDenoiser`-like MLP, t ∈ [0, 1]) predicts the velocity; `loss`
    regresses it on ε − x_0 at x_t = (1 − t) x_0 + t ε with t uniform (stratified) in (0, 1);
    `sample` integrates from t = 1 (noise) to t = 0 with `steps` Euler steps."""

    def __init__(self, net: nn.Module, dim: int):
        super().__init__()
        self.net, self.dim = net, dim

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def sample_t(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Training times t ∈ (0, 1), (batch,): one uniform draw per 1/batch slice, shuffled."""
        u = (torch.arange(batch) + torch.rand(batch, generator=generator)) / batch
        return u[torch.randperm(batch, generator=generator)]

    def loss(self, x_0: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """E_{t, ε} ‖v_θ(x_t, t) − (ε − x_0)‖², x_t = (1 − t) x_0 + t ε."""
        if x_0.dim() != 2 or x_0.shape[1] != self.dim:
            raise ValueError(f"x_0 has shape {tuple(x_0.shape)}; this flow expects "
                             f"(batch, {self.dim})")
        t = self.sample_t(len(x_0), generator).to(x_0.device)  # (B,)
        eps = torch.randn(x_0.shape, generator=generator).to(x_0.device)  # (B, dim)
        x_t = fm_interpolate(x_0, eps, t)
        return ((self.net(x_t, t) - fm_target(x_0, eps)) ** 2).mean()

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, steps: int = 50,
               x_1: torch.Tensor | None = None, return_trajectory: bool = False):
        """n points (n, dim): x_1 ~ N(0, I), then `steps` Euler steps of equal size to t = 0
        (one network call each). Returns x_0, or (x_0, [(t, x_t), …])."""
        if steps < 1:
            raise ValueError(f"the Euler sampler needs steps ≥ 1, got {steps}")
        x = x_1.to(self.device) if x_1 is not None else torch.randn(
            n, self.dim, generator=generator).to(self.device)  # x_1 ~ N(0, I), (n, dim)
        times = torch.linspace(1, 0, steps + 1).tolist()
        traj = [(1.0, x.clone())]
        with eval_mode(self):
            for t, t_next in zip(times[:-1], times[1:]):
                v = self.net(x, torch.full((len(x),), t, device=x.device))  # (n, dim)
                x = euler_step(x, v, t, t_next)
                if return_trajectory:
                    traj.append((t_next, x.clone()))
        return (x, traj) if return_trajectory else x


class LatentFlow(FlowMatching):
    """Flow matching over an autoencoder's codes, standardized per coordinate like
    `LatentDiffusion` (buffers ``code_mean``, ``code_std``)."""

    def __init__(self, net: nn.Module, codes: torch.Tensor):
        super().__init__(net, codes.shape[1])
        self.register_buffer("code_mean", codes.mean(0))  # (m,)
        self.register_buffer("code_std", codes.std(0).clamp(min=1e-6))  # (m,)

    def standardize(self, h: torch.Tensor) -> torch.Tensor:
        """Codes (N, m) in the autoencoder's units → standardized codes (N, m)."""
        return (h - self.code_mean) / self.code_std

    @torch.no_grad()
    def sample_codes(self, n: int, generator: torch.Generator | None = None, steps: int = 50
                     ) -> torch.Tensor:
        """n codes (n, m) in the autoencoder's units from `steps` Euler steps."""
        return self.sample(n, generator, steps) * self.code_std + self.code_mean


class FlowImageModel(nn.Module):
    """The registered "flow": an autoencoder `ae` + a `LatentFlow` over its codes.
    ``sample(n, generator, steps=50)`` → (n, 1, 28, 28) in [0, 1]."""

    def __init__(self, ae: nn.Module, net: nn.Module, codes: torch.Tensor | None = None):
        super().__init__()
        self.ae = ae
        codes = codes if codes is not None else torch.stack([torch.ones(ae.m), -torch.ones(ae.m)])
        self.latent = LatentFlow(net, codes)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, steps: int = 50
               ) -> torch.Tensor:
        """n images (n, 1, 28, 28) in [0, 1]: `steps` Euler steps in code space, decoded."""
        with eval_mode(self):
            return self.ae.decode(self.latent.sample_codes(n, generator, steps))


# ============================================================================ conditional VAE
class CVAE(nn.Module):
    """Conditional VAE: q_φ(z|x, y) = N(μ_φ(x, y), diag σ_φ²(x, y)), prior N(0, I),
    Bernoulli decoder p_θ(x|z, y); the one-hot label y is concatenated to the encoder's
    input and to z. Encoder an MLP (784 + 10) → hidden → 2m; decoder the convolutional
    decoder of the "vae" (`conv_decoder`) on (m + 10) inputs."""

    def __init__(self, m: int = 16, hidden: tuple[int, ...] = (500, 500),
                 activation: str = "elu", channels: int = 16):
        super().__init__()
        self.m = m
        self.encoder = mlp([D + N_CLASSES, *hidden, 2 * m], activation)  # φ: (N, 794) → (N, 2m)
        self.decoder = conv_decoder(m + N_CLASSES, hidden[0], channels, activation)  # θ

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @staticmethod
    def one_hot(y: torch.Tensor) -> torch.Tensor:
        """(N,) digits → (N, 10) one-hot floats."""
        return nn.functional.one_hot(y, N_CLASSES).float()

    def encode(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(μ_φ(x, y), ln σ_φ(x, y)), each (N, m), for images (N, 784) and labels (N,)."""
        mu, log_sigma = self.encoder(torch.cat([x, self.one_hot(y)], 1)).chunk(2, dim=-1)
        return mu, log_sigma

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Decoder logits (…, 784) for z (…, N, m) and labels (N,)."""
        y1 = self.one_hot(y).expand(*z.shape[:-1], N_CLASSES)  # (…, N, 10)
        zy = torch.cat([z, y1], -1)  # (…, N, m + 10)
        return self.decoder(zy.reshape(-1, self.m + N_CLASSES)).reshape(*z.shape[:-1], D)

    def elbo_terms(self, x_binary: torch.Tensor, y: torch.Tensor,
                   generator: torch.Generator | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """(E_q[ln p_θ(x|z, y)] with one reparameterized z, KL(q_φ(z|x, y) ‖ N(0, I))), each
        (N,) in nats, for binary images (N, 784) and labels (N,)."""
        mu, log_sigma = self.encode(x_binary, y)  # (N, m)
        z = q_sample(mu, log_sigma, 1, generator)  # (1, N, m)
        recon = bernoulli_log_likelihood(self.decode_logits(z, y), x_binary).mean(0)  # (N,)
        return recon, kl_closed_form(mu, log_sigma)

    def elbo(self, x_binary: torch.Tensor, y: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """ELBO(x | y) = E_q[ln p_θ(x|z, y)] − KL(q_φ(z|x, y) ‖ N(0, I)), (N,) in nats."""
        recon, kl = self.elbo_terms(x_binary, y, generator)
        # eq. (12) given y: ELBO = E_q[ln p(x|z, y)] - KL(q(z|x, y) || N(0, I))
        return recon - kl

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, labels=None,
               temperature: float = 1.0) -> torch.Tensor:
        """n images of the digits `labels` (default 0–9 in turn): Bernoulli means
        p_θ(z, y) at z ~ N(0, τ² I_m), τ = `temperature` → (n, 1, 28, 28) in [0, 1].

        τ = 1 samples the prior; τ < 1 keeps to the codes near its centre, where the decoder
        saw most training codes: more typical digits, less variety."""
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0 (1 = the prior N(0, I)), got {temperature}")
        y = (check_labels(labels, n) if labels is not None else balanced_labels(n))
        with eval_mode(self):
            # z = tau * e, e ~ N(0, I): a draw from N(0, tau^2 I)
            z = temperature * torch.randn(n, self.m, generator=generator).to(self.device)
            logits = self.decode_logits(z, y.to(self.device))  # (n, 784)
            return torch.sigmoid(logits).reshape(n, *IMAGE_SHAPE)


def cvae_loss(generator: torch.Generator | None = None, beta: float = 1.0):
    """Training loss for `ck.train` on (images, labels) batches: −mean of
    E_q[ln p(x|z, y)] − β KL on a fresh dynamic binarization of the batch (β = 1: the ELBO;
    β > 1 pulls the codes closer to the prior N(0, I) that sampling draws from)."""
    def loss(model: CVAE, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        x_binary = binarize_dynamic(x.reshape(len(x), D), generator)  # (B, 784) in {0, 1}
        recon, kl = model.elbo_terms(x_binary, y, generator)  # (B,), (B,)
        # eq. (12) given y, the KL weighted by beta
        objective = recon - beta * kl
        return {"loss": -objective.mean(), "elbo": (recon - kl).mean().detach()}
    return loss


__all__ = ["N_CLASSES", "NULL_LABEL", "check_labels", "balanced_labels", "cfg_combine",
           "drop_labels", "ConditionalDenoiser", "ConditionalLatentDiffusion",
           "ConditionalImageDiffusion", "fm_interpolate", "fm_target", "euler_step",
           "FlowMatching", "LatentFlow", "FlowImageModel", "CVAE", "cvae_loss"]

