"""Variational auto-encoders: eqs. (4)–(14) of the lecture, plus the importance-weighted bound.

The model of the slides, with the usual names (the slides write the encoder p_φ(Z|x) and
sometimes p_θ(Z|x); we write it q_φ(z|x) and keep p_θ(z|x) for the intractable posterior):

* encoder q_φ(z|x) = N(μ_φ(x), diag σ_φ²(x)), a network that outputs ``mu`` and ``log_sigma``;
* prior p(z) = N(0, I_m);
* decoder p_θ(x|z) = ∏_j Bernoulli(x_j; p_θ,j(z)) for binarized x ∈ {0, 1}^784. The network
  outputs *logits* l = logit p_θ(z); log-probabilities are computed from them
  (`bernoulli_log_likelihood`), never as log(sigmoid(l)).

ELBO (eq. 12) = E_q[ln p_θ(x|z)] − KL(q_φ(z|x) ‖ N(0, I)): the first term by Monte Carlo with
reparameterized samples (eq. 14), the second in closed form (eq. 13). ``iwae`` estimates
ln p_θ(x) itself with k importance samples (Burda et al., 2016): in expectation it equals the
ELBO at k = 1 and rises towards ln p_θ(x) as k grows, closing the gap ln p_θ(x) − ELBO =
KL(q_φ(z|x) ‖ p_θ(z|x)) of eq. (9).

Everything returns nats per image. All image inputs are (N, 1, 28, 28) or (N, 784) in [0, 1];
the likelihood functions want binarized images (use `ck.data.binarize_dynamic`). Public methods
validate their images (`core.nn.check_images`, one host sync); the training losses do not, so
the hot path never waits for the device. How the registered "vae" and "vae2d" are trained and
evaluated is in `coursekit.recipes.vae`.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.distributions import Independent, Normal, kl_divergence
from torch.nn import functional as F

from ..core.data import binarize_dynamic
from ..core.nn import ACTIVATIONS, D, check_images, eval_mode, mlp

LOG_2PI = math.log(2 * math.pi)
#: The decoder architectures of `VAE`.
DECODERS = ("mlp", "conv")


def _check_gaussian(mu: torch.Tensor, log_sigma: torch.Tensor) -> None:
    if mu.shape != log_sigma.shape:
        raise ValueError(f"mu has shape {tuple(mu.shape)} but log_sigma has "
                         f"{tuple(log_sigma.shape)}; they must match (…, m)")


# ----------------------------------------------------------------------------- eq. (13)
def kl_closed_form(mu: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, diag σ²) ‖ N(0, I)) in closed form, eq. (13), summed over the last axis (m)."""
    _check_gaussian(mu, log_sigma)
    m = mu.shape[-1]
    sigma2 = torch.exp(2 * log_sigma)
    # eq. (13): KL = ½ (‖μ‖² + ‖σ‖²) − Σ_j ln σ_j − ½ m
    return 0.5 * (mu.pow(2).sum(-1) + sigma2.sum(-1)) - log_sigma.sum(-1) - 0.5 * m


def kl_torch(mu: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """The same KL as eq. (13), computed by `torch.distributions.kl_divergence` (reference)."""
    _check_gaussian(mu, log_sigma)
    q = Independent(Normal(mu, log_sigma.exp()), 1)
    prior = Independent(Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)
    return kl_divergence(q, prior)


def kl_monte_carlo(mu: torch.Tensor, log_sigma: torch.Tensor, n_samples: int,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Monte-Carlo estimate of the KL of eq. (13): mean over z ~ q of ln q(z) − ln p(z)."""
    z = q_sample(mu, log_sigma, n_samples, generator)  # (S, …, m)
    # KL(q ‖ p) = E_q[ln q(z) − ln p(z)] ≈ 1/S Σ_s [ln q(z_s) − ln p(z_s)]
    return (log_normal_diag(z, mu, log_sigma) - log_prior(z)).mean(0)


# ----------------------------------------------------------------------------- densities
def log_normal_diag(z: torch.Tensor, mu: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """ln N(z; μ, diag σ²) summed over the last axis; broadcasts a leading sample axis."""
    # ln N = −½ Σ_j [((z_j − μ_j)/σ_j)² + 2 ln σ_j + ln 2π]
    return -0.5 * (((z - mu) * torch.exp(-log_sigma)).pow(2) + 2 * log_sigma + LOG_2PI).sum(-1)


def log_prior(z: torch.Tensor) -> torch.Tensor:
    """ln p(z) for the prior N(0, I_m) (eq. 14 step 4.3), summed over the last axis."""
    # eq. (14) step 4.3: ln p(z) = −½ ‖z‖² − (m/2) ln 2π
    return -0.5 * (z.pow(2) + LOG_2PI).sum(-1)


def bernoulli_log_likelihood(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """ln p_θ(x|z) = Σ_j [x_j ln p_j + (1 − x_j) ln(1 − p_j)] with p = sigmoid(logits).

    Computed as −BCEWithLogits, i.e. −[max(l, 0) − l·x + ln(1 + e^{−|l|})] per pixel: exact
    for every logit. Going through p = sigmoid(l) first rounds p to 1.0 in float32 as soon as
    l > 17, and then ln(1 − p) = −inf. Sums over the last axis; x broadcasts against logits.
    """
    logits, x = torch.broadcast_tensors(logits, x)
    # ln p_θ(x|z) = −Σ_j BCE(l_j, x_j)
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def log_mean_exp(a: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """ln (1/k) Σ exp(a) along `dim`, computed stably (log-sum-exp)."""
    return torch.logsumexp(a, dim=dim) - math.log(a.shape[dim])


# ----------------------------------------------------------------------------- eq. (14)
def reparameterize(mu: torch.Tensor, log_sigma: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """z(ε) = μ + σ ⊙ ε (eq. 14, step 4.2): differentiable in μ and σ, random only via ε."""
    # eq. (14) step 4.2: z = mu_phi(x) + sigma_phi(x) * eps
    return mu + torch.exp(log_sigma) * eps


def q_sample(mu: torch.Tensor, log_sigma: torch.Tensor, n_eps: int = 1,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """n_eps samples z ~ q_φ(z|x) = N(μ, diag σ²) by reparameterization: (n_eps, *mu.shape)."""
    _check_gaussian(mu, log_sigma)
    # eq. (14) step 4.1: eps ~ N(0, I_m), drawn on the CPU generator for reproducibility
    eps = torch.randn((n_eps, *mu.shape), generator=generator).to(mu.device)  # (S, N, m)
    return reparameterize(mu, log_sigma, eps)


# ----------------------------------------------------------------------------- the networks
class ImageBias(nn.Module):
    """A learned bias per pixel added to the decoder's 784 logits (a (784,) parameter).

    A convolution shares its bias over the whole image; this gives each pixel its own offset,
    e.g. the logit of the mean training image (`VAE.init_output_bias`).
    """

    def __init__(self, d: int = D):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(d))  # (784,)

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        """(N, 784) logits plus the per-pixel bias."""
        return logits + self.bias


class ToFeatureMap(nn.Module):
    """(N, C·7·7) → (N, C, 7, 7), stored channels-last (same values, faster CPU convolutions)."""

    def __init__(self, channels: int, side: int = 7):
        super().__init__()
        self.channels, self.side = channels, side

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """(N, C·7·7) → (N, C, 7, 7) channels-last."""
        h = h.unflatten(-1, (self.channels, self.side, self.side))  # (N, C, 7, 7)
        return h.contiguous(memory_format=torch.channels_last)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, side={self.side}"


def conv_decoder(m: int, hidden: int, channels: int, activation: str) -> nn.Sequential:
    """Convolutional decoder θ: z (N, m) → 784 logits (N, 784).

    z → Linear(m, hidden) → Linear(hidden, C·7·7) → C feature maps of 7×7
      → ConvTranspose 4×4, stride 2 → C maps of 14×14
      → Conv 3×3 to 4 maps of 14×14 → PixelShuffle(2): each 2×2 block of the 28×28 output
        takes its 4 values from the 4 maps at one 14×14 position ("sub-pixel convolution",
        Shi et al., 2016) → flatten → + a bias per pixel (`ImageBias`) = logits.
    Each output pixel is computed from a small neighbourhood of the 14×14 maps with weights
    shared across the image: a prior that nearby pixels go together and that a stroke looks
    the same wherever it is. On our 9,000 training images this generalizes better than a
    784-output linear layer (benchmarks/bench_vae.py). The output layer is linear (a
    convolution plus biases): the logits are unconstrained reals.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
    if channels < 1:
        raise ValueError(f"channels must be ≥ 1, got {channels}")
    act = ACTIVATIONS[activation]
    return nn.Sequential(
        nn.Linear(m, hidden), act(),
        nn.Linear(hidden, channels * 7 * 7), act(),
        ToFeatureMap(channels, 7),                                         # (N, C, 7, 7)
        nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1), act(),  # (N, C, 14, 14)
        nn.Conv2d(channels, 4, 3, padding=1),                              # (N, 4, 14, 14)
        nn.PixelShuffle(2),                                                # (N, 1, 28, 28)
        nn.Flatten(),                                                      # (N, 784)
        ImageBias(D),                                                      # logits
    ).to(memory_format=torch.channels_last)


# ----------------------------------------------------------------------------- the model
class VAE(nn.Module):
    """Gaussian encoder q_φ(z|x), N(0, I) prior, Bernoulli decoder p_θ(x|z) (eqs. 4–14).

    encoder φ: an MLP 784 → hidden → 2m (the outputs μ and ln σ, a linear output layer: both
    are unconstrained reals). Decoder θ, m → 784 logits with a linear output (the sigmoid is
    folded into the likelihood), one of
    ``decoder="mlp"``: m → reversed hidden → 784, fully connected;
    ``decoder="conv"``: m → hidden[0] → C×7×7 → a transposed convolution to 14×14 → a
    sub-pixel convolution to 28×28 (`conv_decoder`, C = ``channels``).

    Public methods take images of any accepted shape and validate them; the underscored
    ones (`_elbo_terms`, `_log_weights`, `_iwae`) take (N, 784) binary tensors on the model's
    device as they are, for the training losses and `evaluate`.
    """

    def __init__(self, m: int = 20, hidden: tuple[int, ...] = (500, 500),
                 activation: str = "elu", decoder: str = "mlp", channels: int = 16):
        super().__init__()
        if m < 1:
            raise ValueError(f"latent dimension m must be ≥ 1, got {m}")
        if decoder not in DECODERS:
            raise ValueError(f"unknown decoder {decoder!r}; choose one of {DECODERS}")
        if len(hidden) < 1:
            raise ValueError("hidden must list at least one layer width, e.g. (500, 500)")
        self.m, self.hidden, self.activation = m, tuple(hidden), activation
        self.decoder_kind, self.channels = decoder, channels
        self.encoder = mlp([D, *hidden, 2 * m], activation)   # φ: (N, 784) → (N, 2m)
        if decoder == "mlp":
            self.decoder = mlp([m, *reversed(hidden), D], activation)   # θ: (N, m) → (N, 784)
        else:
            self.decoder = conv_decoder(m, hidden[0], channels, activation)   # θ

    def extra_repr(self) -> str:
        conv = f", channels={self.channels}" if self.decoder_kind == "conv" else ""
        return (f"m={self.m}, hidden={self.hidden}, activation={self.activation!r}, "
                f"decoder={self.decoder_kind!r}{conv}")

    @property
    def device(self) -> torch.device:
        """The device of the model's parameters."""
        return next(self.parameters()).device

    @torch.no_grad()
    def init_output_bias(self, x_train: torch.Tensor, eps: float = 1e-3) -> VAE:
        """Set the decoder's output bias to logit(mean training image), clamped to [eps, 1 − eps].

        Then a decoder that ignores z already predicts every pixel's average: about −205 nats
        per held-out image, where zero logits (p = ½ everywhere) give 784·ln ½ ≈ −543.
        """
        x = check_images(x_train, "x_train", flat=True)  # (N, 784) intensities
        mean_logit = torch.logit(x.mean(0).clamp(eps, 1 - eps))  # (784,)
        last = self.decoder[-1]
        target = last.bias if isinstance(last, (nn.Linear, ImageBias)) else None
        if target is None or target.shape != mean_logit.shape:
            raise TypeError(f"the decoder's last layer {type(last).__name__} has no 784-long "
                            f"output bias to initialize")
        target.copy_(mean_logit.to(target.device))
        return self

    # --- the two networks
    def _binary(self, x_binary: torch.Tensor) -> torch.Tensor:
        """Validated binary images as (N, 784) on the model's device."""
        return check_images(x_binary, "x_binary", flat=True, binary=True).to(self.device)

    def _encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_sigma = self.encoder(x).chunk(2, dim=-1)  # (N, m), (N, m)
        return mu, log_sigma

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(μ_φ(x), ln σ_φ(x)), each (N, m), for images x in [0, 1]."""
        return self._encode(check_images(x, flat=True).to(self.device))

    def _logits(self, z: torch.Tensor) -> torch.Tensor:
        if z.shape[-1] != self.m:
            raise ValueError(f"z has shape {tuple(z.shape)}; the last axis must be the latent "
                             f"dimension m = {self.m}")
        lead = z.shape[:-1]
        return self.decoder(z.reshape(-1, self.m)).reshape(*lead, D)  # (…, 784)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder logits l = logit p_θ(z) for z of shape (…, m): (…, 1, 28, 28)."""
        return self._logits(z).unflatten(-1, (1, 28, 28))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli means p_θ(z) = sigmoid(logits) ∈ [0, 1]: (…, 1, 28, 28)."""
        return torch.sigmoid(self.decode_logits(z))

    def log_likelihood(self, x_binary: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """ln p_θ(x|z) for binarized x (N, …) and latents z (…, N, m): (…, N), in nats."""
        return bernoulli_log_likelihood(self._logits(z), self._binary(x_binary))

    # --- the objective
    def _elbo_terms(self, x: torch.Tensor, n_eps: int = 1,
                    generator: torch.Generator | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`elbo_terms` for x already (N, 784), binary and on the device (no checks)."""
        mu, log_sigma = self._encode(x)  # (N, m)
        z = q_sample(mu, log_sigma, n_eps, generator)  # (n_eps, N, m)
        # eq. (14): E_q[ln p_θ(x|z)] ≈ 1/n_eps Σ_ε ln p_θ(x | μ + σ ε)
        recon = bernoulli_log_likelihood(self._logits(z), x).mean(0)  # (N,)
        # eq. (13): the KL term in closed form
        return recon, kl_closed_form(mu, log_sigma)

    def elbo_terms(self, x_binary: torch.Tensor, n_eps: int = 1,
                   generator: torch.Generator | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction term, KL term) of eq. (12), each (N,) in nats.

        reconstruction: eq. (14), the average of ln p_θ(x|z) over n_eps reparameterized z;
        KL: eq. (13) in closed form.
        """
        return self._elbo_terms(self._binary(x_binary), n_eps, generator)

    def elbo(self, x_binary: torch.Tensor, n_eps: int = 1,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """ELBO(x) of eqs. (9)–(12), one value per image (N,), in nats; ≤ ln p_θ(x)."""
        recon, kl = self.elbo_terms(x_binary, n_eps, generator)
        # eq. (12): ELBO = E_q[ln p_θ(x|z)] − KL(q_φ(z|x) ‖ N(0, I))
        return recon - kl

    def _log_weights(self, x: torch.Tensor, k: int, generator: torch.Generator | None = None,
                     max_elements: int = 2**23) -> torch.Tensor:
        """`log_weights` for x already (N, 784), binary and on the device (no checks)."""
        if k < 1:
            raise ValueError(f"k must be ≥ 1 importance samples, got {k}")
        mu, log_sigma = self._encode(x)  # (N, m)
        chunk = max(1, max_elements // (len(x) * D))
        out = []
        for start in range(0, k, chunk):
            z = q_sample(mu, log_sigma, min(chunk, k - start), generator)  # (S, N, m)
            # ln w = ln p_θ(x, z) − ln q_φ(z|x) (inside eq. 7)
            #      = ln p_θ(x|z) + ln p(z) − ln q_φ(z|x)
            out.append(bernoulli_log_likelihood(self._logits(z), x) + log_prior(z)
                       - log_normal_diag(z, mu, log_sigma))
        return torch.cat(out)  # (k, N)

    def log_weights(self, x_binary: torch.Tensor, k: int,
                    generator: torch.Generator | None = None,
                    max_elements: int = 2**23) -> torch.Tensor:
        """ln w_i = ln p_θ(x, z_i) − ln q_φ(z_i|x) for k samples z_i ~ q_φ(z|x): (k, N).

        Computed in chunks of samples so that at most `max_elements` logits live at once.
        """
        return self._log_weights(self._binary(x_binary), k, generator, max_elements)

    def iwae(self, x_binary: torch.Tensor, k: int, generator: torch.Generator | None = None,
             batch_size: int = 100) -> torch.Tensor:
        """Importance-weighted estimate of ln p_θ(x), one per image (N,), in nats.

        ln (1/k) Σ_i w_i with w_i = p_θ(x, z_i) / q_φ(z_i|x): equals the ELBO in expectation at
        k = 1, is a lower bound on ln p_θ(x) in expectation for every k, and tends to
        ln p_θ(x) as k → ∞ (eq. 9: the gap closes as the KL term is beaten down).
        """
        return self._iwae(self._binary(x_binary), k, generator, batch_size)

    def _iwae(self, x: torch.Tensor, k: int, generator: torch.Generator | None = None,
              batch_size: int = 100) -> torch.Tensor:
        """`iwae` for x already (N, 784), binary and on the device (no checks)."""
        # IWAE_k = ln (1/k) Σ_i w_i, per image
        return torch.cat([log_mean_exp(self._log_weights(xb, k, generator), dim=0)
                          for xb in x.split(batch_size)])  # (N,)

    # --- the contract methods
    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n new images: Bernoulli means p_θ(z) at z ~ N(0, I_m) → (n, 1, 28, 28) in [0, 1]."""
        with eval_mode(self):
            z = torch.randn(n, self.m, generator=generator).to(self.device)  # (n, m)
            return self.decode(z)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Bernoulli means decoded at the encoder mean z = μ_φ(x): (N, 1, 28, 28) in [0, 1]."""
        mu, _ = self.encode(x)
        return self.decode(mu)


# ----------------------------------------------------------------------------- losses
def _flat_batch(x: torch.Tensor) -> torch.Tensor:
    """A training batch (B, 1, 28, 28) or (B, 784) as (B, 784): a shape check, no host sync."""
    if x.dim() < 2 or x[0].numel() != D:
        raise ValueError(f"a training batch has shape {tuple(x.shape)}; expected MNIST images "
                         f"(B, 1, 28, 28) or (B, 784)")
    return x.reshape(len(x), D)


def elbo_loss(n_eps: int = 1, generator: torch.Generator | None = None) -> Callable:
    """Training loss for `ck.train`: −mean ELBO on a fresh dynamic binarization of the batch.

    Logs the ELBO and its two terms (reconstruction, KL) so they can be plotted separately.
    Randomness (binarization, ε) comes from `generator` (default: torch's global one; a CPU
    generator serves CPU training only, as the binarization runs on the batch's device). The
    batch's pixel range is not checked here (that would wait for the device every step):
    validate the training images once where they enter.
    """
    def loss(model: VAE, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x_binary = binarize_dynamic(_flat_batch(x), generator)  # (B, 784) in {0, 1}
        recon, kl = model._elbo_terms(x_binary, n_eps, generator)  # (B,), (B,)
        # eq. (12): ELBO = E_q[ln p_θ(x|z)] − KL
        elbo = recon - kl
        return {"loss": -elbo.mean(), "elbo": elbo.mean().detach(),
                "recon": recon.mean().detach(), "kl": kl.mean().detach()}
    return loss


def iwae_loss(k: int = 5, generator: torch.Generator | None = None) -> Callable:
    """Training loss for `ck.train`: −mean IWAE_k bound (Burda et al.); k = 1 is the ELBO
    with a Monte-Carlo KL. Randomness from `generator` (default: torch's global one)."""
    def loss(model: VAE, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x_binary = binarize_dynamic(_flat_batch(x), generator)  # (B, 784) in {0, 1}
        # IWAE_k = ln (1/k) Σ_i w_i
        bound = log_mean_exp(model._log_weights(x_binary, k, generator), dim=0)  # (B,)
        return {"loss": -bound.mean(), f"iwae{k}": bound.mean().detach()}
    return loss


# ----------------------------------------------------------------------------- evaluation
@torch.no_grad()
def evaluate(model: VAE, x_binary: torch.Tensor, k: int = 0, n_eps: int = 1,
             seed: int = 0, batch_size: int = 500) -> dict[str, float]:
    """Mean ELBO (and its terms) and, if k > 0, mean IWAE_k over `x_binary`, in nats.

    Validates `x_binary` once; the randomness comes from a generator seeded with `seed`.
    """
    x = model._binary(x_binary)  # (N, 784)
    g = torch.Generator().manual_seed(seed)
    with eval_mode(model):
        terms = [model._elbo_terms(xb, n_eps, g) for xb in x.split(batch_size)]
        recon = torch.cat([t[0] for t in terms])  # (N,)
        kl = torch.cat([t[1] for t in terms])  # (N,)
        # eq. (12): ELBO = reconstruction − KL
        out = {"elbo": float((recon - kl).mean()), "recon": float(recon.mean()),
               "kl": float(kl.mean())}
        if k > 0:
            out[f"iwae{k}"] = float(model._iwae(x, k, g).mean())
    return out


__all__ = ["DECODERS", "VAE", "ImageBias", "ToFeatureMap", "conv_decoder", "kl_closed_form",
           "kl_torch", "kl_monte_carlo", "log_normal_diag", "log_prior",
           "bernoulli_log_likelihood", "log_mean_exp", "reparameterize", "q_sample",
           "elbo_loss", "iwae_loss", "evaluate"]
