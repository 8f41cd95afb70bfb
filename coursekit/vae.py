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
the likelihood functions want binarized images (use `ck.data.binarize_dynamic`).
"""
from __future__ import annotations

import math
import time

import torch
from torch import nn
from torch.distributions import Independent, Normal, kl_divergence
from torch.nn import functional as F

from .checkpoints import Recipe, register
from .data import binarize_dynamic, load_mnist

D = 784  #: pixels of one MNIST image, the dimension d of x
LOG_2PI = math.log(2 * math.pi)
#: Seed of the one fixed binarization of the 1,000 held-out images every number is reported on.
HELDOUT_BINARIZATION_SEED = 1234
ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "softplus": nn.Softplus, "elu": nn.ELU,
               "gelu": nn.GELU, "silu": nn.SiLU}


# ----------------------------------------------------------------------------- input checks
def check_images(x: torch.Tensor, binary: bool = False, name: str = "x") -> torch.Tensor:
    """Validate images and return them flattened to (N, 784).

    Accepts (N, 1, 28, 28), (N, 28, 28) or (N, 784) with values in [0, 1]; with
    ``binary=True`` only 0 and 1 (the Bernoulli likelihood is defined for binary pixels).
    """
    if not torch.is_tensor(x):
        raise TypeError(f"{name} must be a torch.Tensor of images, got {type(x).__name__}")
    if x.dim() == 4 and x.shape[1:] == (1, 28, 28) or x.dim() == 3 and x.shape[1:] == (28, 28):
        x = x.reshape(len(x), D)
    elif not (x.dim() == 2 and x.shape[1] == D):
        raise ValueError(f"{name} has shape {tuple(x.shape)}; expected MNIST images of shape "
                         f"(N, 1, 28, 28) or (N, 784). For a single image use x[None].")
    if not torch.is_floating_point(x):
        x = x.float()
    lo, hi = (float(x.min()), float(x.max())) if x.numel() else (0.0, 0.0)
    if lo < 0 or hi > 1 or math.isnan(lo) or math.isnan(hi):
        raise ValueError(f"{name} has values in [{lo:.3g}, {hi:.3g}]; expected pixel intensities "
                         f"in [0, 1]. Images in [-1, 1] go back with ck.data.from_pm1(x); "
                         f"raw bytes with x / 255.")
    if binary and not bool(((x == 0) | (x == 1)).all()):
        bad = x[(x != 0) & (x != 1)][0].item()
        raise ValueError(f"{name} must be binarized (every pixel 0 or 1) for the Bernoulli "
                         f"likelihood, found e.g. {bad:.3g}. Use "
                         f"ck.data.binarize_dynamic(x) (training) or vae.binarized_heldout() "
                         f"(evaluation).")
    return x


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
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


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


# ----------------------------------------------------------------------------- the model
def mlp(sizes: list[int], activation: str) -> nn.Sequential:
    """Linear layers of the given sizes with `activation` between them, linear output."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class ImageBias(nn.Module):
    """A learned bias per pixel added to the decoder's 784 logits (a (784,) parameter).

    A convolution shares its bias over the whole image; this gives each pixel its own offset,
    e.g. the logit of the mean training image (`VAE.init_output_bias`).
    """

    def __init__(self, d: int = D):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(d))

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        return logits + self.bias


class ToFeatureMap(nn.Module):
    """(N, C·7·7) → (N, C, 7, 7), stored channels-last (same values, faster CPU convolutions)."""

    def __init__(self, channels: int, side: int = 7):
        super().__init__()
        self.channels, self.side = channels, side

    def forward(self, h: torch.Tensor) -> torch.Tensor:
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


DECODERS = ("mlp", "conv")


class VAE(nn.Module):
    """Gaussian encoder q_φ(z|x), N(0, I) prior, Bernoulli decoder p_θ(x|z) (eqs. 4–14).

    encoder φ: an MLP 784 → hidden → 2m (the outputs μ and ln σ, a linear output layer: both
    are unconstrained reals). Decoder θ, m → 784 logits with a linear output (the sigmoid is
    folded into the likelihood), one of
    ``decoder="mlp"``: m → reversed hidden → 784, fully connected;
    ``decoder="conv"``: m → hidden[0] → C×7×7 → a transposed convolution to 14×14 → a
    sub-pixel convolution to 28×28 (`conv_decoder`, C = ``channels``).
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
        self.encoder = mlp([D, *hidden, 2 * m], activation)   # φ
        if decoder == "mlp":
            self.decoder = mlp([m, *reversed(hidden), D], activation)   # θ
        else:
            self.decoder = conv_decoder(m, hidden[0], channels, activation)   # θ

    def extra_repr(self) -> str:
        conv = f", channels={self.channels}" if self.decoder_kind == "conv" else ""
        return (f"m={self.m}, hidden={self.hidden}, activation={self.activation!r}, "
                f"decoder={self.decoder_kind!r}{conv}")

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @torch.no_grad()
    def init_output_bias(self, x_train: torch.Tensor, eps: float = 1e-3) -> "VAE":
        """Set the decoder's output bias to logit(mean training image), clamped to [eps, 1 − eps].

        Then a decoder that ignores z already predicts every pixel's average: about −205 nats
        per held-out image, where zero logits (p = ½ everywhere) give 784·ln ½ ≈ −543.
        """
        x = check_images(x_train, name="x_train")  # (N, 784) intensities
        if len(x) == 0:
            raise ValueError("x_train is empty; give the training images")
        mean_logit = torch.logit(x.mean(0).clamp(eps, 1 - eps))  # (784,)
        last = self.decoder[-1]
        target = last.bias if isinstance(last, (nn.Linear, ImageBias)) else None
        if target is None or target.shape != mean_logit.shape:
            raise TypeError(f"the decoder's last layer {type(last).__name__} has no 784-long "
                            f"output bias to initialize")
        target.copy_(mean_logit.to(target.device))
        return self

    # --- the two networks
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(μ_φ(x), ln σ_φ(x)), each (N, m), for images x in [0, 1]."""
        x = check_images(x).to(self.device)  # (N, 784)
        mu, log_sigma = self.encoder(x).chunk(2, dim=-1)  # (N, m), (N, m)
        return mu, log_sigma

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
        x = check_images(x_binary, binary=True, name="x_binary").to(self.device)  # (N, 784)
        return bernoulli_log_likelihood(self._logits(z), x)

    # --- the objective
    def elbo_terms(self, x_binary: torch.Tensor, n_eps: int = 1,
                   generator: torch.Generator | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction term, KL term) of eq. (12), each (N,) in nats.

        reconstruction: eq. (14), the average of ln p_θ(x|z) over n_eps reparameterized z;
        KL: eq. (13) in closed form.
        """
        x = check_images(x_binary, binary=True, name="x_binary").to(self.device)  # (N, 784)
        mu, log_sigma = self.encoder(x).chunk(2, dim=-1)  # (N, m)
        z = q_sample(mu, log_sigma, n_eps, generator)  # (n_eps, N, m)
        # eq. (14): E_q[ln p_θ(x|z)] ≈ 1/n_eps Σ_ε ln p_θ(x | μ + σ ε)
        recon = bernoulli_log_likelihood(self._logits(z), x).mean(0)  # (N,)
        return recon, kl_closed_form(mu, log_sigma)

    def elbo(self, x_binary: torch.Tensor, n_eps: int = 1,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """ELBO(x) of eqs. (9)–(12), one value per image (N,), in nats; ≤ ln p_θ(x)."""
        recon, kl = self.elbo_terms(x_binary, n_eps, generator)
        # eq. (12): ELBO = E_q[ln p_θ(x|z)] − KL(q_φ(z|x) ‖ N(0, I))
        return recon - kl

    def log_weights(self, x_binary: torch.Tensor, k: int,
                    generator: torch.Generator | None = None,
                    max_elements: int = 2**23) -> torch.Tensor:
        """ln w_i = ln p_θ(x, z_i) − ln q_φ(z_i|x) for k samples z_i ~ q_φ(z|x): (k, N).

        Computed in chunks of samples so that at most `max_elements` logits live at once.
        """
        x = check_images(x_binary, binary=True, name="x_binary").to(self.device)  # (N, 784)
        if k < 1:
            raise ValueError(f"k must be ≥ 1 importance samples, got {k}")
        mu, log_sigma = self.encoder(x).chunk(2, dim=-1)  # (N, m)
        chunk = max(1, max_elements // (len(x) * D))
        out = []
        for start in range(0, k, chunk):
            z = q_sample(mu, log_sigma, min(chunk, k - start), generator)  # (S, N, m)
            # ln w = ln p_θ(x, z) − ln q_φ(z|x) (inside eq. 7)
            #      = ln p_θ(x|z) + ln p(z) − ln q_φ(z|x)
            out.append(bernoulli_log_likelihood(self._logits(z), x) + log_prior(z)
                       - log_normal_diag(z, mu, log_sigma))
        return torch.cat(out)  # (k, N)

    def iwae(self, x_binary: torch.Tensor, k: int, generator: torch.Generator | None = None,
             batch_size: int = 100) -> torch.Tensor:
        """Importance-weighted estimate of ln p_θ(x), one per image (N,), in nats.

        ln (1/k) Σ_i w_i with w_i = p_θ(x, z_i) / q_φ(z_i|x): equals the ELBO in expectation at
        k = 1, is a lower bound on ln p_θ(x) in expectation for every k, and tends to
        ln p_θ(x) as k → ∞ (eq. 9: the gap closes as the KL term is beaten down).
        """
        x_binary = check_images(x_binary, binary=True, name="x_binary")
        out = [log_mean_exp(self.log_weights(xb, k, generator), dim=0)
               for xb in x_binary.split(batch_size)]
        return torch.cat(out)

    # --- the contract methods
    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n new images: Bernoulli means p_θ(z) at z ~ N(0, I_m) → (n, 1, 28, 28) in [0, 1]."""
        was_training = self.training
        self.eval()
        z = torch.randn(n, self.m, generator=generator).to(self.device)  # (n, m)
        images = self.decode(z)
        self.train(was_training)
        return images

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Bernoulli means decoded at the encoder mean z = μ_φ(x): (N, 1, 28, 28) in [0, 1]."""
        mu, _ = self.encode(x)
        return self.decode(mu)


def log_mean_exp(a: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """ln (1/k) Σ exp(a) along `dim`, computed stably (log-sum-exp)."""
    return torch.logsumexp(a, dim=dim) - math.log(a.shape[dim])


def iwae_curve(log_w: torch.Tensor, ks: list[int]) -> torch.Tensor:
    """IWAE_k estimates for several k from one set of log weights (K, N) → (len(ks), N).

    For each k, the K samples are cut into ⌊K/k⌋ disjoint blocks of k; the IWAE_k estimate of
    each block is averaged (lower variance than one block, same expectation).
    """
    K = log_w.shape[0]
    rows = []
    for k in ks:
        if not 1 <= k <= K:
            raise ValueError(f"k = {k} needs 1 ≤ k ≤ {K} (the number of log weights)")
        blocks = log_w[: (K // k) * k].reshape(K // k, k, -1)  # (B, k, N)
        rows.append(log_mean_exp(blocks, dim=1).mean(0))
    return torch.stack(rows)


# ----------------------------------------------------------------------------- losses
def elbo_loss(n_eps: int = 1):
    """Training loss for `ck.train`: −mean ELBO on a fresh dynamic binarization of the batch.

    Logs the ELBO and its two terms (reconstruction, KL) so they can be plotted separately.
    """
    def loss(model: VAE, x: torch.Tensor) -> dict:
        x_binary = binarize_dynamic(x)  # (B, 1, 28, 28) in {0, 1}, new every step
        recon, kl = model.elbo_terms(x_binary, n_eps)
        elbo = recon - kl
        return {"loss": -elbo.mean(), "elbo": elbo.mean().detach(),
                "recon": recon.mean().detach(), "kl": kl.mean().detach()}
    return loss


def iwae_loss(k: int = 5):
    """Training loss for `ck.train`: −mean IWAE_k bound (Burda et al.); k = 1 is the ELBO."""
    def loss(model: VAE, x: torch.Tensor) -> dict:
        x_binary = binarize_dynamic(x)
        bound = log_mean_exp(model.log_weights(x_binary, k), dim=0)  # (B,)
        return {"loss": -bound.mean(), f"iwae{k}": bound.mean().detach()}
    return loss


def autoencoder_loss(model: VAE, x: torch.Tensor) -> dict:
    """A plain (deterministic) auto-encoder with the same networks: −ln p_θ(x | z = μ_φ(x)).

    No sampling and no KL term: the code μ_φ(x) is free to sit anywhere in R^m, which is why
    sampling z ~ N(0, I) through such a decoder is not a generative model.
    """
    x_binary = binarize_dynamic(x)
    mu, _ = model.encode(x_binary)  # (B, m): the code h(x), used without noise
    recon = model.log_likelihood(x_binary, mu)  # (B,)
    return {"loss": -recon.mean(), "recon": recon.mean().detach()}


# ----------------------------------------------------------------------------- evaluation
def binarized_heldout(n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(images, labels) of the held-out split, binarized once with a fixed seed.

    Every held-out number in the notebook, the model cards and the benchmark uses this one
    binarization, so they can be compared. `n` keeps the first n images (fast profile).
    """
    held = load_mnist("heldout")
    g = torch.Generator().manual_seed(HELDOUT_BINARIZATION_SEED)
    x_binary = binarize_dynamic(held.x, generator=g)  # (N, 1, 28, 28) in {0, 1}
    return (x_binary[:n], held.y[:n]) if n is not None else (x_binary, held.y)


@torch.no_grad()
def evaluate(model: VAE, x_binary: torch.Tensor, k: int = 0, n_eps: int = 1,
             seed: int = 0, batch_size: int = 500) -> dict:
    """Mean ELBO (and its terms) and, if k > 0, mean IWAE_k over `x_binary`, in nats."""
    was_training = model.training
    model.eval()
    g = torch.Generator().manual_seed(seed)
    recon, kl = zip(*(model.elbo_terms(xb, n_eps, g) for xb in x_binary.split(batch_size)))
    recon, kl = torch.cat(recon), torch.cat(kl)
    out = {"elbo": float((recon - kl).mean()), "recon": float(recon.mean()),
           "kl": float(kl.mean())}
    if k > 0:
        out[f"iwae{k}"] = float(model.iwae(x_binary, k, g).mean())
    model.train(was_training)
    return out


# ----------------------------------------------------------------------------- exercises
#: Layers that only move values around (no weights, no nonlinearity).
_RESHAPES = (nn.Flatten, nn.Unflatten, nn.PixelShuffle, ToFeatureMap)
#: Output layers that are affine maps (unbounded outputs).
AFFINE_OUTPUTS = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def check_architecture(encoder: nn.Module, decoder: nn.Module, m: int) -> tuple[bool, str]:
    """Verifier of the exercise "what networks, what output layer" (used by the notebook).

    Wants: encoder (N, 784) → (N, 2m) [μ and ln σ], decoder (N, m) → (N, 784) logits, both
    with a linear (unbounded) output: ln σ and logits take any real value. The output layer is
    the last Linear / Conv2d / ConvTranspose2d; reshapes (Flatten, PixelShuffle, …) and an
    `ImageBias` after it keep the output affine.
    """
    x = torch.rand(8, D)
    with torch.no_grad():
        h = encoder(x)
        if tuple(h.shape) != (8, 2 * m):
            return False, (f"encoder maps (8, 784) to {tuple(h.shape)}, expected (8, {2 * m}): "
                           f"μ and ln σ, m = {m} each")
        out = decoder(torch.randn(8, m))
        if tuple(out.shape) != (8, D):
            return False, f"decoder maps (8, {m}) to {tuple(out.shape)}, expected (8, 784)"
    for name, net in (("encoder", encoder), ("decoder", decoder)):
        # the last layer with weights, looking past reshapes and a per-pixel bias
        last = [mod for mod in net.modules()
                if not isinstance(mod, (nn.Sequential, *_RESHAPES, ImageBias))][-1]
        if not isinstance(last, AFFINE_OUTPUTS):
            return False, (f"the {name}'s last layer is {type(last).__name__}: μ, ln σ and the "
                           f"logits are unconstrained reals, so the output layer must be linear "
                           f"(the sigmoid lives inside BCEWithLogits)")
        if not any(isinstance(mod, tuple(ACTIVATIONS.values())) for mod in net.modules()):
            return False, f"the {name} has no nonlinearity: it would be a linear map"
    return True, "linear output layers; encoder → (μ, ln σ), decoder → 784 logits"


def gradient_estimates(log_lik, mu: torch.Tensor, log_sigma: torch.Tensor, n_eps: int,
                       n_repeats: int, generator: torch.Generator | None = None,
                       max_samples: int = 8192) -> dict[str, torch.Tensor]:
    """Repeated estimates of ∇_μ E_q[f(z)], f = `log_lik`, z ~ N(μ, diag σ²), for one x.

    Returns {"pathwise", "score", "score_baseline"}, each (n_repeats, m), every row averaging
    n_eps samples:
    pathwise (reparameterization): ∇_μ f(μ + σ ε) = ∇_z f(z);
    score function (REINFORCE):     f(z) ∇_μ ln q(z) = f(z) (z − μ) / σ²;
    score function, leave-one-out baseline: (f(z_s) − mean_{r≠s} f(z_r)) (z_s − μ) / σ²
    (the baseline needs n_eps ≥ 2; NaN rows otherwise).
    `log_lik` maps z (…, m) to f(z) (…,); mu, log_sigma are (m,).
    """
    eps = torch.randn(n_repeats, n_eps, mu.shape[-1], generator=generator,
                      dtype=mu.dtype).to(mu.device)  # (R, S, m)
    out: dict[str, list] = {"pathwise": [], "score": [], "score_baseline": []}
    # ∇_μ ln q(z) = (z − μ) / σ² = ε / σ
    inv_sigma = torch.exp(-log_sigma.detach())
    for eps_chunk in eps.split(max(1, max_samples // n_eps)):  # bounded memory
        z = reparameterize(mu.detach(), log_sigma.detach(), eps_chunk).requires_grad_(True)
        f = log_lik(z)  # (R', S)
        (grad_z,) = torch.autograd.grad(f.sum(), z)
        f = f.detach()
        score_q = eps_chunk * inv_sigma  # (R', S, m)
        if n_eps >= 2:
            baseline = (f.sum(1, keepdim=True) - f) / (n_eps - 1)  # mean of the others, (R', S)
        else:
            baseline = torch.full_like(f, float("nan"))
        out["pathwise"].append(grad_z.mean(1))
        out["score"].append((f[..., None] * score_q).mean(1))
        out["score_baseline"].append(((f - baseline)[..., None] * score_q).mean(1))
    return {name: torch.cat(rows) for name, rows in out.items()}


# ----------------------------------------------------------------------------- training
class CosineAdam(torch.optim.Adam):
    """Adam whose learning rate decays along a cosine from `lr` to `lr · final_fraction`.

    The schedule reads Adam's own step counter, which is part of the optimizer's state, so a
    run resumed from a `ck.train` checkpoint continues on the same schedule.
    """

    def __init__(self, params, lr: float, total_steps: int, final_fraction: float = 0.02):
        super().__init__(params, lr=lr)
        self.base_lr, self.total_steps, self.final_fraction = lr, total_steps, final_fraction

    def lr_at(self, step: int) -> float:
        progress = min(step / max(self.total_steps, 1), 1.0)
        return self.base_lr * (self.final_fraction + (1 - self.final_fraction)
                               * 0.5 * (1 + math.cos(math.pi * progress)))

    def step(self, closure=None):
        first = self.param_groups[0]["params"][0]
        step = int(self.state[first]["step"]) if "step" in self.state[first] else 0
        for group in self.param_groups:
            group["lr"] = self.lr_at(step)
        return super().step(closure)


# ----------------------------------------------------------------------------- recipes
#: The default model: architecture and training chosen for the held-out likelihood goal
#: (IWAE ln p(x) ≥ −91 nats after ≤ 5 CPU-minutes), see benchmarks/bench_vae.py: an MLP
#: encoder 784-500-500-2m and the convolutional decoder m-500-(16×7×7)-14×14-28×28.
DEFAULT = {"m": 20, "hidden": (500, 500), "activation": "elu", "decoder": "conv",
           "channels": 16, "init_output_bias": True, "epochs": 70, "batch_size": 250,
           "lr": 3e-3, "objective": "elbo", "k_train": 5}
#: The m = 2 model of the latent-space figures: MLP networks 784-500-500-2 and 2-500-500-784,
#: ELBO, fewer epochs.
DEFAULT_2D = {**DEFAULT, "m": 2, "decoder": "mlp", "init_output_bias": False, "epochs": 60}
TINY = {"epochs": 2, "batch_size": 100, "n_train": 1000, "n_heldout": 200, "k_eval": 50}


def build_vae(settings: dict = DEFAULT) -> VAE:
    """A fresh, untrained VAE with the recipe's architecture."""
    return VAE(settings["m"], settings["hidden"], settings["activation"],
               settings.get("decoder", "mlp"), settings.get("channels", 16))


def fit_vae(model: VAE, cfg, tiny: bool = False, settings: dict = DEFAULT, eval_k: int = 5000,
            eval_every_epochs: int = 10, progress: bool = True) -> tuple[dict, dict]:
    """Train `model` on dynamically binarized MNIST train images; evaluate on held-out.

    Objective: the ELBO (settings["objective"] = "elbo") or the IWAE bound with k_train
    samples ("iwae"); Adam with a cosine learning-rate decay over settings["epochs"]. With
    settings["init_output_bias"] the decoder's output bias starts at logit(mean training image).
    Returns (metrics, extras): metrics for the model card (held-out ELBO and IWAE_k in nats,
    CPU-minutes of training), extras = training curves as tensors for the notebook.
    """
    import coursekit as ck

    epochs = TINY["epochs"] if tiny else settings["epochs"]
    batch_size = TINY["batch_size"] if tiny else settings["batch_size"]
    train_x = ck.load_mnist("train").x
    train_x = train_x[: TINY["n_train"]] if tiny else train_x
    held_x, _ = binarized_heldout(TINY["n_heldout"] if tiny else None)
    if settings.get("init_output_bias", False):
        model.init_output_bias(train_x)  # start from the mean image, logit(mean pixel)
    steps_per_epoch = len(train_x) // batch_size
    optimizer = CosineAdam(model.parameters(), settings["lr"], epochs * steps_per_epoch)
    loss_fn = (elbo_loss(1) if settings["objective"] == "elbo"
               else iwae_loss(settings["k_train"]))

    def eval_fn(model):
        return {f"heldout_{key}": v for key, v in evaluate(model, held_x[:500]).items()}

    c0 = time.process_time()
    history = ck.train(model, loss_fn, train_x, epochs=epochs, batch_size=batch_size,
                       optimizer=optimizer, eval_fn=eval_fn,
                       eval_every=steps_per_epoch * eval_every_epochs,
                       log_every=steps_per_epoch, seed=cfg.seed, desc="vae", progress=progress)
    # CPU time of all threads; it includes the held-out ELBO evaluations (about 1 %)
    train_cpu = time.process_time() - c0
    k = TINY["k_eval"] if tiny else eval_k
    final = evaluate(model, held_x, k=k, seed=cfg.seed)
    metrics = {"heldout_elbo": final["elbo"], f"heldout_iwae_k{k}": final[f"iwae{k}"],
               "heldout_recon": final["recon"], "heldout_kl": final["kl"],
               "epochs": epochs, "train_cpu_minutes": train_cpu / 60,
               "train_wall_minutes": history.seconds / 60}
    extras = {"steps_per_epoch": steps_per_epoch, "settings": repr(settings)}
    for phase in ("train", "eval"):
        for key in sorted(history.keys(phase)):
            steps, values = history.series(key, phase)
            extras[f"{phase}/{key}"] = torch.tensor([steps, values], dtype=torch.float64)
    return metrics, extras


register(Recipe(
    "vae", build=build_vae, fit=lambda model, cfg, tiny: fit_vae(model, cfg, tiny),
    description="VAE on binarized MNIST (eqs. 4–14): Gaussian encoder with m = "
                f"{DEFAULT['m']} (MLP 784-500-500-{2 * DEFAULT['m']}, ELU), Bernoulli decoder "
                "(convolutional: Linear 500, 16 maps of 7×7, ConvTranspose to 14×14, 3×3 conv + "
                "PixelShuffle to 28×28 logits), N(0, I) prior; ELBO, Adam 3e-3 with cosine "
                f"decay, batch 250, {DEFAULT['epochs']} epochs; held-out ELBO and IWAE log p(x) "
                "in nats."))
register(Recipe(
    "vae2d", build=lambda: build_vae(DEFAULT_2D),
    fit=lambda model, cfg, tiny: fit_vae(model, cfg, tiny, DEFAULT_2D, eval_k=1000),
    description="VAE with a 2-D latent space (m = 2) for the manifold, interpolation and "
                "AE-vs-VAE figures of notebook 02."))
