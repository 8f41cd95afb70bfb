"""Autoencoders, lecture eqs. (1)–(3): undercomplete AE, linear AE ≡ PCA, denoising, sparse.

* eq. (1): an encoder h(x) ∈ R^m with m < d and a decoder f with f(h(x)) ≈ x, trained by
  minimising a loss L(x, f(h(x))); here the squared error L_LS (`squared_error`,
  `reconstruction_loss`). Networks: `Autoencoder` (MLPs), `sparse_autoencoder`.
* "If f is linear and L = L_LS we learn PCA": `LinearAutoencoder`, `pca`, `principal_angles`
  and `linear_ae_covariance_loss` (the loss of a linear AE only sees the data covariance).
* eq. (2): denoising, x̃ ~ C(x̃|x), minimise L(x, f(h(x̃))): the corruptions
  `gaussian_noise`, `masking_noise`, `salt_and_pepper` (by name: `corrupt`) and
  `denoising_loss`.
* eq. (3): sparse AE, minimise L(x, f(h(x))) + Ω(h): `l1_penalty`, `kl_sparsity_penalty`,
  `sparse_loss`, `fraction_active`, `fraction_dead`.

Every model here exposes ``encode(x) -> (N, m)``, ``decode(h) -> (N, 1, 28, 28)`` and
``reconstruct(x)``; `reconstruction_error` scores any of them. How the registered models
"ae", "ae2d" and "dae" are trained is in `coursekit.recipes.autoencoders`.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parametrize

from ..core.nn import IMAGE_SHAPE, D, check_images, eval_mode, mlp


# ============================================================================ shapes
def as_matrix(x: torch.Tensor, name: str = "x") -> torch.Tensor:
    """A data matrix (N, d): (N, d) tensors of any d pass through, images (N, 1, 28, 28) or
    (N, 28, 28) are flattened to (N, 784).

    Unlike `check_images` this checks no value range and keeps dtype and gradient: PCA and the
    linear AE also work on Gaussian toy data, a linear AE's reconstructions are not clipped to
    [0, 1], and the training losses need the gradient of x̂.
    """
    if not torch.is_tensor(x):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() == 2:
        return x
    if tuple(x.shape[1:]) in (IMAGE_SHAPE, IMAGE_SHAPE[1:]):
        return x.reshape(len(x), D)
    raise ValueError(f"{name} has shape {tuple(x.shape)}; expected a data matrix (N, d) or "
                     f"images (N, 1, 28, 28)")


def as_images(x_flat: torch.Tensor) -> torch.Tensor:
    """(N, 784) → (N, 1, 28, 28); other (N, d) matrices are returned unchanged."""
    return x_flat.reshape(len(x_flat), *IMAGE_SHAPE) if x_flat.shape[-1] == D else x_flat


def _check_codes(h: torch.Tensor, m: int | None = None) -> None:
    if not torch.is_tensor(h) or h.dim() != 2 or (m is not None and h.shape[1] != m):
        found = tuple(h.shape) if torch.is_tensor(h) else type(h).__name__
        raise ValueError(f"codes h must be a (N, {m or 'm'}) tensor, found {found}")


# ============================================================================ eq. (1) networks
class Autoencoder(nn.Module):
    """eq. (1): encoder h(x) ∈ R^m and decoder f with f(h(x)) ≈ x, both MLPs.

    encoder: 784 → hidden… → m (ReLU between layers; `code_activation` "relu" makes h ≥ 0,
    used by the sparse AE of eq. (3)); decoder: m → reversed(hidden)… → 784, then a sigmoid so
    the reconstruction is an image in [0, 1]. With ``hidden=()`` both maps are one layer, and
    the decoder's weight columns are the learned "features" (`decoder_features`).

    For sampling the buffers ``code_mean`` (m,) and ``code_chol`` (m, m) hold a Gaussian
    N(mean, L Lᵀ) fitted to the training codes by `fit_code_gaussian`; `sample` decodes draws
    from it.
    """

    def __init__(self, m: int = 16, hidden: Sequence[int] = (512, 128),
                 code_activation: str | None = None):
        super().__init__()
        if not isinstance(m, int) or m < 1:
            raise ValueError(f"code size m must be a positive int, got {m!r}")
        if any(not isinstance(k, int) or k < 1 for k in hidden):
            raise ValueError(f"hidden must be a sequence of positive ints, got {hidden!r}")
        if code_activation not in (None, "relu", "sigmoid"):
            raise ValueError(f"code_activation must be None, 'relu' or 'sigmoid', got "
                             f"{code_activation!r}")
        self.m, self.hidden, self.code_activation = m, tuple(hidden), code_activation
        act = {None: None, "relu": nn.ReLU(), "sigmoid": nn.Sigmoid()}[code_activation]
        self.encoder = mlp([D, *hidden, m], "relu", act)
        self.decoder = mlp([m, *reversed(hidden), D], "relu", nn.Sigmoid())
        self.register_buffer("code_mean", torch.zeros(m))
        self.register_buffer("code_chol", torch.eye(m))

    def extra_repr(self) -> str:
        """The settings shown by ``print(model)``."""
        return f"m={self.m}, hidden={self.hidden}, code_activation={self.code_activation}"

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """h(x): images (N, 1, 28, 28) in [0, 1] (or (N, 784)) → codes (N, m)."""
        x_flat = check_images(x, flat=True)  # (N, 784)
        # eq. (1): h(x) ∈ R^m, m < d
        return self.encoder(x_flat)

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """f(h): codes (N, m) → images (N, 1, 28, 28) in [0, 1]."""
        _check_codes(h, self.m)
        # eq. (1): f(h) ≈ x
        return as_images(self.decoder(h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """f(h(x)), differentiable in the weights: (N, 1, 28, 28) → (N, 1, 28, 28)."""
        return self.decode(self.encode(x))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """f(h(x)) for images in [0, 1]; (N, 1, 28, 28) → (N, 1, 28, 28) in [0, 1]."""
        return self(x)

    def decoder_features(self) -> torch.Tensor:
        """Columns of the last decoder layer as images (k, 1, 28, 28), min-max scaled; k is m
        for a one-layer AE, else hidden[0]."""
        w = self.decoder[-2].weight.detach().T  # (k, 784): one row per input unit of that layer
        lo, hi = w.min(1, keepdim=True).values, w.max(1, keepdim=True).values
        return as_images((w - lo) / (hi - lo).clamp_min(1e-12))

    @torch.no_grad()
    def codes(self, x: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
        """h(x) for a whole data set in batches, in eval mode, without gradients: (N, m)."""
        device = self.code_mean.device
        with eval_mode(self):
            return torch.cat([self.encode(x[i:i + batch_size].to(device))
                              for i in range(0, len(x), batch_size)])

    @torch.no_grad()
    def fit_code_gaussian(self, x: torch.Tensor, jitter: float = 1e-5) -> None:
        """Fit N(mean, Σ) to the codes h(x) of `x`; store mean and Cholesky factor L (Σ = L Lᵀ)."""
        h = self.codes(x).double()  # (N, m)
        if len(h) < 2:
            raise ValueError(f"fit_code_gaussian needs at least 2 images, got {len(h)}")
        mean = h.mean(0)  # (m,)
        cov = torch.atleast_2d(torch.cov(h.T))  # (m, m)
        scale = float(cov.diagonal().mean()) or 1.0
        chol = torch.linalg.cholesky(cov + jitter * scale * torch.eye(self.m, dtype=cov.dtype))
        self.code_mean.copy_(mean.float())
        self.code_chol.copy_(chol.float())

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode n codes h ~ N(code_mean, L Lᵀ): (n, 1, 28, 28) in [0, 1] (eval mode, no grad)."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        eps_device = generator.device if generator is not None else self.code_mean.device
        eps = torch.randn(n, self.m, generator=generator, device=eps_device)  # (n, m)
        # h = mean + L ε ~ N(mean, L Lᵀ)
        h = self.code_mean + eps.to(self.code_mean.device) @ self.code_chol.T  # (n, m)
        with eval_mode(self):
            return self.decode(h)


class UnitColumns(nn.Module):
    """Parametrization W = V / ‖V‖ column-wise: every decoder column (feature) has norm 1."""

    def forward(self, V: torch.Tensor) -> torch.Tensor:
        """W = V / ‖V‖ per column: (d, m) → (d, m)."""
        return V / V.norm(dim=0, keepdim=True).clamp_min(1e-8)


def sparse_autoencoder(m: int = 1024, unit_norm_decoder: bool = True) -> Autoencoder:
    """One-layer overcomplete AE for eq. (3): h = ReLU(W x + b) ∈ R^m (m ≥ d allowed),
    x̂ = sigmoid(V h + c). ReLU codes are exactly 0 when a unit is off.

    `unit_norm_decoder` keeps every column of V at norm 1. Without it an L1 penalty Ω(h) can be
    dodged by rescaling (h → h / c, V → c V gives the same x̂ and c times smaller Ω).
    """
    model = Autoencoder(m=m, hidden=(), code_activation="relu")
    if unit_norm_decoder:
        parametrize.register_parametrization(model.decoder[0], "weight", UnitColumns())
    return model


# ============================================================================ linear AE ≡ PCA
class LinearAutoencoder(nn.Module):
    """A linear AE on centred data: h = W_e (x − x̄) ∈ R^m, x̂ = x̄ + W_d h (no squashing).

    With the squared loss its optimum spans the top-m principal subspace ("f linear, L_LS →
    PCA"). ``mean`` (x̄) is a buffer set by `set_mean` (centre the data first). Inputs are
    (N, d) matrices of any values or, for d = 784, images; the output is not clipped to [0, 1].
    """

    def __init__(self, m: int, d: int = D):
        super().__init__()
        if not isinstance(m, int) or not 1 <= m <= d:
            raise ValueError(f"code size m must be an int in [1, {d}], got {m!r}")
        self.m, self.d = m, d
        self.encoder = nn.Linear(d, m, bias=False)  # W_e: (m, d)
        self.decoder = nn.Linear(m, d, bias=False)  # W_d: (d, m)
        self.register_buffer("mean", torch.zeros(d))

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        x_flat = as_matrix(x)
        if x_flat.shape[1] != self.d:
            raise ValueError(f"expected inputs of shape (N, {self.d}), found {tuple(x.shape)}")
        return x_flat

    @torch.no_grad()
    def set_mean(self, x: torch.Tensor) -> None:
        """x̄ = mean of the training data (the AE then works on x − x̄)."""
        self.mean.copy_(self._flat(x).mean(0))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """h = W_e (x − x̄): (N, d) or images → (N, m)."""
        return self.encoder(self._flat(x) - self.mean)

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """x̂ = x̄ + W_d h: (N, m) → (N, 1, 28, 28) for MNIST (or (N, d) otherwise)."""
        x_hat = self.mean + self.decoder(h)  # (N, d)
        return as_images(x_hat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x̂ = x̄ + W_d W_e (x − x̄)."""
        return self.decode(self.encode(x))

    reconstruct = forward

    @property
    def W_d(self) -> torch.Tensor:
        """The decoder matrix (d, m); its column space is what PCA is compared with."""
        return self.decoder.weight

    @property
    def W_e(self) -> torch.Tensor:
        """The encoder matrix (m, d)."""
        return self.encoder.weight


@dataclass
class PCA:
    """Top-m principal subspace: mean (d,), components V_m (d, m) with orthonormal columns,
    variances (m,) (eigenvalues of the covariance, descending) and all d' eigenvalues."""

    mean: torch.Tensor
    components: torch.Tensor
    variances: torch.Tensor
    all_variances: torch.Tensor

    @property
    def m(self) -> int:
        """The dimension of the subspace."""
        return self.components.shape[1]

    def top(self, k: int) -> PCA:
        """The top-k principal subspace (k ≤ m) without a new SVD."""
        if not isinstance(k, int) or not 1 <= k <= self.m:
            raise ValueError(f"k must be an int in [1, {self.m}], got {k!r}")
        return PCA(self.mean, self.components[:, :k], self.variances[:k], self.all_variances)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Coordinates V_mᵀ (x − x̄): (N, m)."""
        return (as_matrix(x) - self.mean) @ self.components

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """x̄ + V_m h: (N, m) → (N, 1, 28, 28) for images, (N, d) otherwise."""
        return as_images(self.mean + h @ self.components.T)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Orthogonal projection x̄ + V_m V_mᵀ (x − x̄) onto the affine principal subspace."""
        return self.decode(self.encode(x))


def pca(x: torch.Tensor, m: int) -> PCA:
    """PCA of a data matrix (N, d) or images via the SVD of the centred data (float64).

    X − x̄ = U S Vᵀ; the principal directions are the rows of Vᵀ, the variances S²/N.
    """
    x_flat = as_matrix(x).double()  # (N, d)
    n, d = x_flat.shape
    if not isinstance(m, int) or not 1 <= m <= min(n, d):
        raise ValueError(f"m must be an int in [1, min(N, d) = {min(n, d)}], got {m!r}")
    mean = x_flat.mean(0)  # (d,)
    # X − x̄ = U S Vᵀ
    _, S, Vh = torch.linalg.svd(x_flat - mean, full_matrices=False)
    variances = S ** 2 / n
    return PCA(mean=mean.float(), components=Vh[:m].T.float().contiguous(),
               variances=variances[:m].float(), all_variances=variances.float())


def covariance(x: torch.Tensor) -> torch.Tensor:
    """Σ = (1/N) Σ_n (x_n − x̄)(x_n − x̄)ᵀ of a data matrix or images, flattened: (d, d), float32."""
    x_flat = as_matrix(x)
    xc = x_flat.double() - x_flat.double().mean(0)  # (N, d)
    return (xc.T @ xc / len(xc)).float()


def principal_angles(A: torch.Tensor, B: torch.Tensor, degrees: bool = False) -> torch.Tensor:
    """Principal angles θ_1 ≤ … ≤ θ_k between the column spaces of A (d, p) and B (d, q).

    k = min(p, q). With orthonormal bases Q_A, Q_B: cos θ_i are the singular values of
    Q_Aᵀ Q_B and sin θ_i those of (I − Q_A Q_Aᵀ) Q_B (for q ≤ p); the sine is used for small
    angles, where arccos is inaccurate. Computed in float64. θ = 0 for all i ⇔ same subspace
    (when p = q); the largest angle measures how far apart the subspaces are.
    """
    Qa, Qb = _orthonormal_basis(A, "A"), _orthonormal_basis(B, "B")
    if Qa.shape[0] != Qb.shape[0]:
        raise ValueError(f"A and B must have the same number of rows (the ambient dimension "
                         f"d); found A {tuple(A.shape)} and B {tuple(B.shape)}")
    if Qb.shape[1] > Qa.shape[1]:
        Qa, Qb = Qb, Qa
    # cos θ: singular values of Q_Aᵀ Q_B (descending → θ ascending)
    cos = torch.linalg.svdvals(Qa.T @ Qb).clamp(max=1.0)
    # sin θ: singular values of the part of Q_B outside span(A) (descending → reverse)
    sin = torch.linalg.svdvals(Qb - Qa @ (Qa.T @ Qb)).clamp(max=1.0).flip(0)
    theta = torch.where(cos ** 2 >= 0.5, torch.arcsin(sin), torch.arccos(cos))  # (k,)
    return torch.rad2deg(theta) if degrees else theta


def _orthonormal_basis(A: torch.Tensor, name: str, rtol: float = 1e-10) -> torch.Tensor:
    if not torch.is_tensor(A) or A.dim() != 2:
        found = tuple(A.shape) if torch.is_tensor(A) else type(A).__name__
        raise ValueError(f"{name} must be a matrix (d, k) whose columns span a subspace; "
                         f"found {found}")
    if A.shape[1] == 0 or A.shape[1] > A.shape[0]:
        raise ValueError(f"{name} has shape {tuple(A.shape)}: need 1 ≤ k ≤ d columns in R^d "
                         f"(pass a decoder weight (d, m), not its transpose)")
    A = A.detach().double().cpu()
    if not torch.isfinite(A).all():
        raise ValueError(f"{name} contains NaN or inf")
    U, S, _ = torch.linalg.svd(A, full_matrices=False)
    if S[-1] <= rtol * S[0]:
        rank = int((S > rtol * S[0]).sum())
        raise ValueError(f"the columns of {name} are linearly dependent (rank {rank} < "
                         f"{A.shape[1]} columns), so they do not span a {A.shape[1]}-dim "
                         f"subspace; drop redundant columns first")
    return U  # (d, k), orthonormal columns spanning col(A)


# ============================================================================ eq. (1) losses
def squared_error(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """L_LS(x, x̂) = ‖x − x̂‖² per image (summed over the pixels or the d coordinates): (N,)."""
    x_hat, x = as_matrix(x_hat, "x_hat"), as_matrix(x)
    if x_hat.shape != x.shape:
        raise ValueError(f"x_hat has shape {tuple(x_hat.shape)} but x has {tuple(x.shape)} "
                         f"(after flattening images); they must match")
    # L_LS(x, x̂) = Σ_i (x_i − x̂_i)²
    return ((x - x_hat) ** 2).sum(1)


def reconstruction_loss(model: nn.Module, x: torch.Tensor, *unused: torch.Tensor
                        ) -> torch.Tensor:
    """eq. (1): mean over the batch of L_LS(x, f(h(x))); extra batch tensors (labels) are
    ignored."""
    # eq. (1): L(x, f(h(x))) with L = squared error
    return squared_error(model(x), x).mean()


def linear_ae_covariance_loss(model: LinearAutoencoder, sigma: torch.Tensor) -> torch.Tensor:
    """Full-batch squared loss of a linear AE, computed from the data covariance Σ (d, d).

    For centred data, E‖x − W_d W_e x‖² = tr((I − A) Σ (I − A)ᵀ) with A = W_d W_e
    = tr Σ − 2 tr(W_dᵀ Σ W_eᵀ) + tr(W_dᵀ W_d W_e Σ W_eᵀ).
    The loss sees the data only through Σ — a linear AE can learn nothing beyond second
    moments, which is why it lands on PCA — and a full-batch step costs O(d² m), not O(N d m).
    """
    if sigma.dim() != 2 or sigma.shape != (model.d, model.d):
        raise ValueError(f"sigma must be the ({model.d}, {model.d}) covariance matrix, found "
                         f"{tuple(sigma.shape)}")
    W_e, W_d = model.W_e, model.W_d  # (m, d), (d, m)
    sigma_We = sigma @ W_e.T  # (d, m)
    # tr((I − A) Σ (I − A)ᵀ), A = W_d W_e, expanded so no (d, d) product is formed
    return (torch.trace(sigma) - 2 * (W_d * sigma_We).sum()
            + ((W_d.T @ W_d) * (W_e @ sigma_We)).sum())


# ============================================================================ eq. (2) C(x̃|x)
def _uniform(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    device = generator.device if generator is not None else x.device
    return torch.rand(x.shape, generator=generator, device=device).to(x.device)


def _check_rate(p: float, name: str) -> None:
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"{name} is a probability per pixel and must be in [0, 1], got {p}")


def gaussian_noise(x: torch.Tensor, sigma: float, generator: torch.Generator | None = None,
                   clip: bool = True) -> torch.Tensor:
    """eq. (2), C(x̃|x) = N(x, σ² I): x̃ = x + σ ε, ε ~ N(0, I); clipped to [0, 1] by default.

    x: images in [0, 1] of any image shape; x̃ has the same shape. Without `generator` the
    noise is drawn from torch's global generator.
    """
    if float(sigma) < 0:
        raise ValueError(f"noise level sigma must be ≥ 0, got {sigma}")
    check_images(x)
    device = generator.device if generator is not None else x.device
    eps = torch.randn(x.shape, generator=generator, device=device).to(x.device)  # like x
    # eq. (2): x̃ ~ C(x̃|x) = N(x, σ² I)
    x_tilde = x + sigma * eps
    return x_tilde.clamp(0, 1) if clip else x_tilde


def masking_noise(x: torch.Tensor, p: float, generator: torch.Generator | None = None
                  ) -> torch.Tensor:
    """eq. (2), masking: each pixel independently set to 0 with probability p."""
    _check_rate(p, "masking rate p")
    check_images(x)
    keep = _uniform(x, generator) >= p  # like x, True with probability 1 − p
    # eq. (2): x̃_i = 0 with prob. p, x_i otherwise
    return x * keep


def salt_and_pepper(x: torch.Tensor, p: float, generator: torch.Generator | None = None
                    ) -> torch.Tensor:
    """eq. (2), salt-and-pepper: each pixel with probability p replaced by 0 or 1 (½ each)."""
    _check_rate(p, "salt-and-pepper rate p")
    check_images(x)
    u = _uniform(x, generator)  # like x
    hit = u < p                   # corrupted pixels
    salt = u < p / 2              # half of them (u uniform on [0, p)) become 1
    # eq. (2): x̃_i ∈ {0, 1} with prob. p, x_i otherwise
    return torch.where(hit, salt.to(x.dtype), x)


#: The corruption processes C(x̃|x) of eq. (2) by name; the level is σ or p.
CORRUPTIONS: dict[str, Callable[..., torch.Tensor]] = {
    "gaussian": gaussian_noise, "masking": masking_noise, "salt_and_pepper": salt_and_pepper}


def corrupt(x: torch.Tensor, kind: str, level: float,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """x̃ ~ C(x̃|x) by name: "gaussian" (level = σ), "masking" or "salt_and_pepper" (level = p)."""
    if kind not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {kind!r}; choose one of {sorted(CORRUPTIONS)}")
    return CORRUPTIONS[kind](x, level, generator=generator)


def denoising_loss(model: nn.Module, x: torch.Tensor, kind: str = "gaussian",
                   level: float = 0.5, generator: torch.Generator | None = None
                   ) -> torch.Tensor:
    """eq. (2): x̃ ~ C(x̃|x), minimise L(x, f(h(x̃))) — the target is the clean x."""
    x_tilde = corrupt(x, kind, level, generator)
    # eq. (2): L(x, f(h(x̃)))
    return squared_error(model(x_tilde), x).mean()


def make_denoising_loss(kind: str = "gaussian", level: float = 0.5
                        ) -> Callable[..., torch.Tensor]:
    """A ``loss_fn(model, x, *unused)`` for `ck.train` with a fixed corruption (eq. 2).

    The noise is drawn from torch's global generator, whose state `ck.train` checkpoints, so
    a resumed run draws the same corruptions.
    """
    # fail early on a bad kind/level (a throwaway generator: the global stream is untouched)
    corrupt(torch.zeros(1, *IMAGE_SHAPE), kind, level, torch.Generator())

    def loss_fn(model: nn.Module, x: torch.Tensor, *unused: torch.Tensor) -> torch.Tensor:
        """eq. (2) on one batch x: L(x, f(h(x̃))), x̃ ~ C(x̃|x)."""
        return denoising_loss(model, x, kind, level)

    return loss_fn


# ============================================================================ eq. (3) Ω(h)
def l1_penalty(h: torch.Tensor, lam: float) -> torch.Tensor:
    """eq. (3), Ω(h) = λ ‖h‖₁, averaged over the batch. h: (N, m)."""
    _check_codes(h)
    if float(lam) < 0:
        raise ValueError(f"sparsity weight lam must be ≥ 0, got {lam}")
    # eq. (3): Ω(h) = λ Σ_j |h_j|
    return lam * h.abs().sum(1).mean()


def kl_sparsity_penalty(h: torch.Tensor, rho: float = 0.05, beta: float = 1.0,
                        eps: float = 1e-6) -> torch.Tensor:
    """eq. (3) with the KL sparsity target: Ω(h) = β Σ_j KL(ρ ‖ ρ̂_j), ρ̂_j = mean_n h_nj.

    Needs codes in [0, 1] (e.g. sigmoid units): ρ̂_j is unit j's average activation, pushed
    towards a small target ρ. KL(ρ‖ρ̂) = ρ log(ρ/ρ̂) + (1−ρ) log((1−ρ)/(1−ρ̂)).
    """
    _check_codes(h)
    if not 0 < rho < 1:
        raise ValueError(f"target activation rho must be in (0, 1), got {rho}")
    lo, hi = float(h.detach().min()), float(h.detach().max())
    if lo < 0 or hi > 1:
        raise ValueError(f"the KL sparsity penalty needs codes in [0, 1] (average activations "
                         f"are probabilities), found [{lo:.3g}, {hi:.3g}]; use sigmoid codes or "
                         f"the L1 penalty")
    rho_hat = h.mean(0).clamp(eps, 1 - eps)  # (m,)
    # eq. (3): Ω(h) = β Σ_j KL(ρ ‖ ρ̂_j)
    kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
    return beta * kl.sum()


def fraction_active(h: torch.Tensor, threshold: float = 1e-3) -> float:
    """Average fraction of the m code units with |h_j| > threshold per example (0..1)."""
    _check_codes(h)
    return float((h.abs() > threshold).float().mean())


def fraction_dead(h: torch.Tensor, threshold: float = 1e-3) -> float:
    """Fraction of code units that are inactive (|h_j| ≤ threshold) on every example of h."""
    _check_codes(h)
    return float((h.abs() <= threshold).all(0).float().mean())


def sparse_loss(model: Autoencoder, x: torch.Tensor, lam: float, *unused: torch.Tensor,
                penalty: str = "l1", rho: float = 0.05) -> dict:
    """eq. (3): L(x, f(h(x))) + Ω(h); returns loss, its two parts and the active fraction."""
    h = model.encode(x)  # (B, m)
    reconstruction = squared_error(model.decode(h), x).mean()
    if penalty == "l1":
        omega = l1_penalty(h, lam)
    elif penalty == "kl":
        omega = kl_sparsity_penalty(h, rho=rho, beta=lam)
    else:
        raise ValueError(f"penalty must be 'l1' or 'kl', got {penalty!r}")
    # eq. (3): L(x, f(h(x))) + Ω(h)
    return {"loss": reconstruction + omega, "reconstruction": reconstruction.detach(),
            "omega": omega.detach(), "active": fraction_active(h.detach())}


# ============================================================================ evaluation
@torch.no_grad()
def reconstruction_error(model: nn.Module | PCA | Callable, x: torch.Tensor,
                         batch_size: int = 2000, x_input: torch.Tensor | None = None) -> float:
    """Mean over images of ‖x − x̂‖² (sum over pixels). `model` has `.reconstruct` or is a
    callable; `x_input` (e.g. corrupted images) is fed instead of x, the target stays x.
    A module is evaluated in eval mode (its mode is restored afterwards)."""
    fn = model.reconstruct if hasattr(model, "reconstruct") else model
    is_module = isinstance(model, nn.Module)
    device = next(iter(model.state_dict().values()), x).device if is_module else x.device
    x_input = x if x_input is None else x_input
    total = 0.0
    with eval_mode(model) if is_module else contextlib.nullcontext():
        for i in range(0, len(x), batch_size):
            x_hat = fn(x_input[i:i + batch_size].to(device)).cpu()
            total += float(squared_error(x_hat, x[i:i + batch_size]).sum())
    return total / len(x)
