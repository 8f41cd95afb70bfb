"""One yardstick for every generative model of the course: an MNIST classifier and its features.

Inception-based FID means little on MNIST (and its weights cannot be downloaded offline), so the
bundle brings its own feature network: a small CNN trained on the 9k train split
(``python -m coursekit pretrain classifier``). On top of it:

* `features(images)`: the classifier's penultimate layer, (N, 128).
* `frechet_distance(a, b)`: the Fréchet distance between Gaussians fitted to the features of two
  image sets, computed by torchmetrics' ``FrechetInceptionDistance`` with our network as its
  feature extractor (the field's implementation; our own float64 formula
  `gaussian_frechet_distance` validates it in the tests).
* `class_histogram`, `class_coverage`, `kl_to_uniform`: does the model produce every digit?
* `precision_recall`: k-NN manifold precision (fidelity) and recall (diversity),
  Kynkäänniemi et al. (2019).
* `reference()`: all of the above for real train images vs the real held-out 1,000, so a
  model's number reads as a multiple of "real vs real".
* `evaluate_samples(samples)` and `compare_models(names)`: the comparison of notebook 05.

Every image argument is a float tensor (N, 1, 28, 28) with values in [0, 1].
"""
from __future__ import annotations

import math
import time
from contextlib import contextmanager
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoints import CHECKPOINT_DIR, Recipe, count_parameters, pretrained, register
from .config import Config

N_CLASSES = 10
N_FEATURES = 128
#: Size of the real reference set: the held-out 1,000 (and 1,000 train images to compare with).
N_REFERENCE = 1000
#: Fixed seed of the train subset used for the real-vs-real reference (independent of cfg.seed).
REFERENCE_SEED = 1234


# ----------------------------------------------------------------------------- input checks
def check_images(images, name: str = "images") -> torch.Tensor:
    """Return `images` as float32 (N, 1, 28, 28) in [0, 1], or raise a ValueError saying why not."""
    if not torch.is_tensor(images):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, 1, 28, 28), got "
                        f"{type(images).__name__}")
    if images.dim() != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        hint = (" Add the channel axis with images.unsqueeze(1)." if images.dim() == 3 and
                tuple(images.shape[1:]) == (28, 28) else
                " Reshape flat vectors with images.view(-1, 1, 28, 28)." if images.dim() == 2
                and images.shape[1] == 784 else "")
        raise ValueError(f"{name}: expected shape (N, 1, 28, 28), found {tuple(images.shape)}."
                         + hint)
    if len(images) < 2:
        raise ValueError(f"{name}: need at least 2 images, found {len(images)}")
    images = images.detach().float()
    if not torch.isfinite(images).all():
        raise ValueError(f"{name}: contains NaN or inf values; check the model that made them")
    lo, hi = images.min().item(), images.max().item()
    if lo < -1e-4 or hi > 1 + 1e-4:
        hint = (" They look like [-1, 1] images: map them with ck.data.from_pm1(images)."
                if lo >= -1 - 1e-4 and hi <= 1 + 1e-4 else
                " They look like 0-255 pixel values: divide by 255." if hi > 1.5 and lo >= 0 else
                " Apply a sigmoid to logits, or clamp(0, 1).")
        raise ValueError(f"{name}: expected values in [0, 1], found [{lo:.3g}, {hi:.3g}]." + hint)
    return images.clamp(0, 1)


def _check_histogram(hist) -> torch.Tensor:
    hist = torch.as_tensor(hist, dtype=torch.float64)
    if hist.dim() != 1 or len(hist) < 2:
        raise ValueError(f"a class histogram is a 1-D vector of probabilities (10 for MNIST), "
                         f"found shape {tuple(hist.shape)}")
    if (hist < 0).any() or abs(hist.sum().item() - 1.0) > 1e-4:
        raise ValueError(f"a class histogram must be non-negative and sum to 1, found sum "
                         f"{hist.sum().item():.4g}, min {hist.min().item():.3g}. Normalise counts "
                         f"with counts / counts.sum().")
    return hist


# ----------------------------------------------------------------------------- the classifier
class MNISTClassifier(nn.Module):
    """A small CNN: three conv blocks, a 128-unit layer (the features), 10 logits.

    (B, 1, 28, 28) → conv 16 → pool → (B, 16, 14, 14) → conv 32 → pool → (B, 32, 7, 7) →
    conv 64 → pool → (B, 64, 3, 3) → fc 128 (features) → dropout → fc 10 (logits).
    About 0.15 CPU-seconds per batch of 128 on one laptop core.
    """

    num_features = N_FEATURES

    def __init__(self, width: int = 16, n_features: int = N_FEATURES):
        super().__init__()

        def block(c_in, c_out):
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                    nn.ReLU(), nn.MaxPool2d(2)]

        self.body = nn.Sequential(*block(1, width), *block(width, 2 * width),
                                  *block(2 * width, 4 * width), nn.Flatten(),
                                  nn.Linear(4 * width * 3 * 3, n_features), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(n_features, N_CLASSES))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer activations, (B, 128)."""
        return self.body(x - 0.1307)  # centre the inputs (MNIST pixel mean)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits, (B, 10)."""
        return self.head(self.features(x))


class FeatureExtractor(nn.Module):
    """Wraps the classifier for torchmetrics: images in [0, 1] → (B, 128) features."""

    def __init__(self, net: MNISTClassifier):
        super().__init__()
        self.net = net
        self.num_features = net.num_features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.features(images.to(next(self.net.parameters()).device).float())


class _Identity(nn.Module):
    """Feature 'extractor' for precomputed features (torchmetrics FID on feature vectors)."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return f


def random_shift(x: torch.Tensor, generator: torch.Generator | None = None,
                 max_shift: float = 2.0, max_degrees: float = 10.0, max_scale: float = 0.1
                 ) -> torch.Tensor:
    """Augmentation: each image shifted by up to `max_shift` pixels, slightly rotated and scaled."""
    b = len(x)
    u = torch.rand(b, 4, generator=generator) * 2 - 1  # (B, 4) in [-1, 1]
    angle = u[:, 0] * math.radians(max_degrees)
    scale = 1 + u[:, 1] * max_scale
    shift = u[:, 2:] * (2 * max_shift / 28)  # affine_grid works in [-1, 1] coordinates
    cos, sin = angle.cos() / scale, angle.sin() / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1).to(x)  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Fraction of images whose argmax logit is the label."""
    model.eval()
    device = next(model.parameters()).device
    correct = sum((model(xb.to(device)).argmax(1).cpu() == yb).sum().item()
                  for xb, yb in zip(x.split(batch_size), y.split(batch_size)))
    return correct / len(y)


def fit_classifier(model: MNISTClassifier, cfg: Config, tiny: bool = False):
    """Recipe: Adam on the 9k train split with random shifts/rotations, then the reference numbers.

    Default: 8 epochs at lr 2e-3 then 2 at 3e-4 (batch 128). Tiny: 40 steps on 1,024 images.
    """
    from .data import load_mnist
    from .train import train

    data, held = load_mnist("train"), load_mnist("heldout")
    x, y = (data.x[:1024], data.y[:1024]) if tiny else (data.x, data.y)
    g = cfg.generator(offset=1)

    def loss_fn(model, xb, yb):
        logits = model(random_shift(xb, g))  # (B, 10)
        return F.cross_entropy(logits, yb)

    phases = [(40, None, 2e-3)] if tiny else [(None, 8, 2e-3), (None, 2, 3e-4)]
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for i, (steps, epochs, lr) in enumerate(phases):
        for group in opt.param_groups:
            group["lr"] = lr
        train(model, loss_fn, (x, y), steps=steps, epochs=epochs or 1, batch_size=128,
              optimizer=opt, seed=cfg.seed + i, desc=f"classifier (lr {lr:g})")
    model.eval()
    metrics = {"heldout_accuracy": accuracy(model, held.x, held.y),
               "train_accuracy": accuracy(model, x, y)}
    ref = compute_reference(model.cpu())
    metrics.update({f"real_vs_real_{k}": v for k, v in ref.items() if k != "source"})
    return metrics, {"reference": ref}


register(Recipe("classifier", build=MNISTClassifier, fit=fit_classifier,
                description="Small MNIST CNN (penultimate layer = 128 features) for Fréchet "
                            "distance, class coverage and precision/recall of generated digits."))


@lru_cache(maxsize=1)
def classifier() -> MNISTClassifier:
    """The pretrained MNIST classifier (eval mode, CPU), loaded once per session."""
    with torch.enable_grad():  # a missing checkpoint means training, even inside no_grad code
        return pretrained("classifier", verbose=False).eval().requires_grad_(False)


@torch.no_grad()
def features(images: torch.Tensor, batch_size: int = 500, net: nn.Module | None = None
             ) -> torch.Tensor:
    """Penultimate-layer features of the classifier, (N, 128) float32 on the CPU."""
    images = check_images(images)
    net = net or classifier()
    device = next(net.parameters()).device
    return torch.cat([net.features(b.to(device)).cpu() for b in images.split(batch_size)])


@torch.no_grad()
def predict(images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Predicted digit of each image, (N,) int64."""
    images = check_images(images)
    net = classifier()
    return torch.cat([net(b).argmax(1) for b in images.split(batch_size)])


# ----------------------------------------------------------------------------- Fréchet distance
def gaussian_frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor,
                              sigma2: torch.Tensor) -> float:
    """Fréchet (2-Wasserstein²) distance between N(mu1, sigma1) and N(mu2, sigma2), in float64.

    d² = ‖mu1 − mu2‖² + Tr(sigma1 + sigma2 − 2 (sigma1^½ sigma2 sigma1^½)^½).
    Our own implementation, used to validate torchmetrics' in the tests.
    """
    mu1, mu2 = mu1.double(), mu2.double()
    sigma1, sigma2 = sigma1.double(), sigma2.double()

    def sqrtm_psd(a):  # symmetric PSD square root via eigendecomposition
        w, v = torch.linalg.eigh((a + a.T) / 2)
        return (v * w.clamp(min=0).sqrt()) @ v.T

    with _one_thread():
        root1 = sqrtm_psd(sigma1)
        cross = torch.linalg.eigvalsh(root1 @ sigma2 @ root1).clamp(min=0).sqrt().sum()
    # d² = ‖mu1 − mu2‖² + Tr(sigma1) + Tr(sigma2) − 2 Tr((sigma1^½ sigma2 sigma1^½)^½)
    d2 = (mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * cross
    return max(float(d2), 0.0)


@contextmanager
def _one_thread():
    """Run small dense linear algebra on one thread: a 128×128 eigendecomposition gains nothing
    from more, and on a busy machine OpenMP threads waiting for each other make it 100× slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _torchmetrics_fid(feature_module: nn.Module, input_size: tuple):
    from torchmetrics.image.fid import FrechetInceptionDistance

    return FrechetInceptionDistance(feature=feature_module, normalize=True,
                                    input_img_size=input_size)


@torch.no_grad()
def frechet_distance_features(feats_a: torch.Tensor, feats_b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N, F) and (M, F).

    Computed by torchmetrics' FID code (float64 moments) fed with the features directly.
    """
    if feats_a.dim() != 2 or feats_b.dim() != 2 or feats_a.shape[1] != feats_b.shape[1]:
        raise ValueError(f"features must be (N, F) and (M, F) with the same F, found "
                         f"{tuple(feats_a.shape)} and {tuple(feats_b.shape)}")
    if min(len(feats_a), len(feats_b)) < 2:
        raise ValueError("the Fréchet distance needs at least 2 vectors in each set")
    fid = _torchmetrics_fid(_Identity(feats_a.shape[1]), (feats_a.shape[1],))
    fid.update(feats_a.double(), real=True)
    fid.update(feats_b.double(), real=False)
    with _one_thread():
        return max(float(fid.compute()), 0.0)


@torch.no_grad()
def frechet_distance(images_a: torch.Tensor, images_b: torch.Tensor,
                     batch_size: int = 500) -> float:
    """Fréchet distance between two image sets in the classifier's feature space ("MNIST FID").

    torchmetrics ``FrechetInceptionDistance(feature=FeatureExtractor(classifier()),
    normalize=True, input_img_size=(1, 28, 28))``: it fits a Gaussian to each set's features and
    returns ‖mu_a − mu_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½). 0 for identical sets, symmetric,
    biased upwards for small sets: compare numbers only at equal set sizes.
    """
    images_a, images_b = check_images(images_a, "images_a"), check_images(images_b, "images_b")
    fid = _torchmetrics_fid(FeatureExtractor(classifier()), (1, 28, 28))
    for batch in images_a.split(batch_size):
        fid.update(batch, real=True)
    for batch in images_b.split(batch_size):
        fid.update(batch, real=False)
    with _one_thread():
        return max(float(fid.compute()), 0.0)


# ----------------------------------------------------------------------------- classes
@torch.no_grad()
def class_histogram(images: torch.Tensor) -> torch.Tensor:
    """Share of images the classifier assigns to each digit, (10,) probabilities (float64)."""
    counts = torch.bincount(predict(images), minlength=N_CLASSES).double()
    return counts / counts.sum()


def class_coverage(hist, threshold: float = 0.01) -> int:
    """Number of classes with at least `threshold` of the samples (10 = every digit appears)."""
    hist = _check_histogram(hist)
    return int((hist >= threshold).sum())


def kl_to_uniform(hist) -> float:
    """KL(hist ‖ uniform) in nats = log K − H(hist); 0 when every class is equally frequent.

    Its maximum, log 10 ≈ 2.30, means a single digit (total mode collapse).
    """
    hist = _check_histogram(hist)
    k = len(hist)
    p = hist[hist > 0]  # 0 log 0 = 0
    # KL(p ‖ u) = Σ p log(p / (1/K))
    return float((p * (p * k).log()).sum())


# ----------------------------------------------------------------------------- precision/recall
def _knn_radii(feats: torch.Tensor, k: int) -> torch.Tensor:
    """Distance of each point to its k-th nearest neighbour in the same set (itself excluded)."""
    d = torch.cdist(feats, feats)  # (N, N)
    return d.topk(k + 1, dim=1, largest=False).values[:, -1]


def _inside_manifold(points: torch.Tensor, support: torch.Tensor, radii: torch.Tensor
                     ) -> torch.Tensor:
    """For each point: is it inside at least one ball B(support_i, radii_i)?  (P,) bool."""
    d = torch.cdist(points, support)  # (P, S)
    return (d <= radii[None, :]).any(dim=1)


@torch.no_grad()
def precision_recall_features(real: torch.Tensor, fake: torch.Tensor, k: int = 5
                              ) -> tuple[float, float]:
    """k-NN precision and recall (Kynkäänniemi et al. 2019) of feature sets (N, F), (M, F).

    The real manifold is the union of balls around each real point, of radius its distance to
    its k-th nearest real neighbour; likewise for the fake one.
    precision = share of fake points inside the real manifold (are samples realistic?);
    recall    = share of real points inside the fake manifold (is the data covered?).
    """
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"features must be (N, F) and (M, F) with the same F, found "
                         f"{tuple(real.shape)} and {tuple(fake.shape)}")
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} points per set, "
                         f"found {len(real)} real and {len(fake)} fake")
    real, fake = real.double(), fake.double()
    precision = _inside_manifold(fake, real, _knn_radii(real, k)).double().mean()
    recall = _inside_manifold(real, fake, _knn_radii(fake, k)).double().mean()
    return float(precision), float(recall)


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 5) -> tuple[float, float]:
    """k-NN precision/recall of generated images `fake` against `real` images, in feature space.

    Use sets of equal size (the k-NN radii shrink as a set grows).
    """
    return precision_recall_features(features(check_images(real, "real")),
                                     features(check_images(fake, "fake")), k)


# ----------------------------------------------------------------------------- reference
def heldout_images(n: int = N_REFERENCE) -> torch.Tensor:
    """The real held-out images every model is compared with, (n, 1, 28, 28)."""
    from .data import load_mnist

    held = load_mnist("heldout")
    if n > len(held):
        raise ValueError(f"asked for {n} held-out images, the split has {len(held)}")
    return held.x[:n]


def train_subset(n: int = N_REFERENCE) -> torch.Tensor:
    """A fixed random subset of n real train images (seed REFERENCE_SEED)."""
    from .data import load_mnist

    train = load_mnist("train")
    idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(REFERENCE_SEED))
    return train.x[idx[:n]]


@torch.no_grad()
def compute_reference(net: nn.Module | None = None, n: int = N_REFERENCE, k: int = 5) -> dict:
    """Every metric for n real train images vs the first n real held-out images."""
    from .data import mnist_source

    real, other = heldout_images(n), train_subset(n)
    f_real, f_other = features(real, net=net), features(other, net=net)
    net = net or classifier()
    counts = torch.bincount(torch.cat([net(b).argmax(1) for b in other.split(500)]),
                            minlength=N_CLASSES).double()
    hist = counts / counts.sum()
    precision, recall = precision_recall_features(f_real, f_other, k)
    return {"n": n, "fd": frechet_distance_features(f_real, f_other),
            "coverage": class_coverage(hist), "kl_uniform": kl_to_uniform(hist),
            "precision": precision, "recall": recall, "source": mnist_source()}


_REFERENCE_CACHE: dict[int, dict] = {}


def reference(n: int = N_REFERENCE) -> dict:
    """Real train vs real held-out: fd, coverage, kl_uniform (alias kl), precision, recall.

    For n = 1,000 the numbers come from the classifier checkpoint (computed when it was made);
    other sizes are computed once per session (the Fréchet distance depends on the set size).
    """
    from .data import mnist_source

    if n not in _REFERENCE_CACHE:
        net = classifier()
        saved = getattr(net, "pretrained_extras", {}).get("reference")
        ok = saved is not None and saved.get("n") == n and saved.get("source") == mnist_source()
        ref = dict(saved) if ok else compute_reference(net, n)
        ref["kl"] = ref["kl_uniform"]
        _REFERENCE_CACHE[n] = ref
    return dict(_REFERENCE_CACHE[n])


@torch.no_grad()
def evaluate_samples(samples: torch.Tensor, k: int = 5) -> dict:
    """fd, fd_ratio, coverage, kl_uniform, precision, recall of generated images.

    The real set is the first len(samples) held-out images (at most 1,000); fd_ratio divides by
    the real-vs-real Fréchet distance at the same set size.
    """
    samples = check_images(samples, "samples")
    n = min(len(samples), N_REFERENCE)
    real = heldout_images(n)
    f_real, f_fake = features(real), features(samples[:n])
    hist = class_histogram(samples)
    precision, recall = precision_recall_features(f_real, f_fake, k)
    fd = frechet_distance_features(f_real, f_fake)
    return {"fd": fd, "fd_ratio": fd / reference(n)["fd"], "coverage": class_coverage(hist),
            "kl_uniform": kl_to_uniform(hist), "precision": precision, "recall": recall}


# ----------------------------------------------------------------------------- comparison
#: The lecture's 2×2 table: (column, row) of each model.
LECTURE_TABLE = {"ae": ("reconstruct X", "heuristic"), "gan": ("reconstruct q(X)", "heuristic"),
                 "vae": ("reconstruct X", "probabilistic"),
                 "ddpm": ("reconstruct q(X)", "probabilistic"),
                 "ldm": ("reconstruct q(X) in an AE's code space", "probabilistic")}


@torch.no_grad()
def sample_timed(model: nn.Module, n: int, generator: torch.Generator | None = None,
                 batch_size: int = 500, **kw) -> tuple[torch.Tensor, float]:
    """(samples (n, 1, 28, 28), seconds per image) from ``model.sample``."""
    out, t0 = [], time.perf_counter()
    for start in range(0, n, batch_size):
        out.append(model.sample(min(batch_size, n - start), generator=generator, **kw).cpu())
    seconds = time.perf_counter() - t0
    return torch.cat(out), seconds / n


@torch.no_grad()
def model_scores(name: str, model: nn.Module, n: int = N_REFERENCE, iwae_k: int = 100,
                 seed: int = 0, sample_kw: dict | None = None) -> tuple[dict, torch.Tensor]:
    """One row of the comparison table and the samples it was measured on.

    Reconstruction error L(x, f(h(x))) of eq. (1) (squared error per image, summed over the
    784 pixels) where the model has ``reconstruct``; ELBO of eq. (12) and IWAE (nats per image,
    on dynamically binarized held-out images) where it has ``elbo``/``iwae``; sample metrics of
    n samples; time per sample; parameters; training CPU-minutes from the model card.
    """
    from .data import binarize_dynamic

    real = heldout_images(n)
    g = torch.Generator().manual_seed(seed)
    column, kind = LECTURE_TABLE.get(name, ("", ""))
    row = {"model": name, "cell": f"{kind}, {column}" if column else ""}
    if hasattr(model, "reconstruct"):
        x_hat = torch.cat([model.reconstruct(b).cpu() for b in real.split(250)])  # (n, 1, 28, 28)
        # eq. (1): L(x, f(h(x))) = ‖x − f(h(x))‖², averaged over the held-out images
        row["recon_mse"] = float((x_hat - real).square().sum((1, 2, 3)).mean())
    if hasattr(model, "elbo"):
        x_bin = binarize_dynamic(real, generator=torch.Generator().manual_seed(seed))
        # eq. (12): ELBO = E_q[ln p_θ(x|z)] − KL(q_φ(z|x) ‖ N(0, I)), computed by the VAE
        row["elbo"] = float(torch.cat([model.elbo(b) for b in x_bin.split(250)]).mean())
        if hasattr(model, "iwae") and iwae_k:
            row["iwae"] = float(torch.cat([model.iwae(b, iwae_k) for b in x_bin.split(50)]).mean())
    samples, row["sec_per_sample"] = sample_timed(model, n, generator=g, **(sample_kw or {}))
    row.update(evaluate_samples(samples))
    row["parameters"] = count_parameters(model)
    card = getattr(model, "pretrained_card", {}) or {}
    row["train_cpu_min"] = training_cpu_minutes(card)
    row["tiny"] = bool(card.get("tiny", False))
    return row, samples


def training_cpu_minutes(card: dict) -> float:
    """CPU-minutes of a model card's training loop (process time summed over threads).

    Recipes that score their model after training (IWAE k = 5000, 1,000 DDIM samples, ...) report
    the loop alone in their metrics (``train_loop_cpu_seconds`` or ``train_cpu_minutes``); the
    card's ``train_cpu_seconds`` covers the whole recipe, evaluation included, and is the
    fallback for recipes that do not separate the two.
    """
    metrics = card.get("metrics", {}) or {}
    if "train_loop_cpu_seconds" in metrics:
        return float(metrics["train_loop_cpu_seconds"]) / 60
    if "train_cpu_minutes" in metrics:
        return float(metrics["train_cpu_minutes"])
    return float(card.get("train_cpu_seconds", card.get("train_seconds", float("nan")))) / 60


def load_for_comparison(names=("ae", "vae", "gan", "ddpm"), cfg: Config | None = None,
                        missing: str = "skip") -> dict[str, nn.Module]:
    """Each model from its committed checkpoint (``ck.pretrained``); never writes checkpoints.

    A model whose checkpoint is missing is left out with a message (``missing="skip"``), or
    replaced by a tiny stand-in trained on the spot (``missing="tiny"``, for development): a
    stand-in has ``pretrained_card["tiny"] = True`` and its table row says so. Models whose
    section module is not installed are always left out with a message.
    """
    from .checkpoints import checkpoint_path, fit_recipe, recipes
    from .config import setup

    if missing not in ("skip", "tiny"):
        raise ValueError(f"missing must be 'skip' or 'tiny', got {missing!r}")
    cfg = cfg or setup(verbose=False)
    known, models = recipes(), {}
    for name in names:
        path = checkpoint_path(name)
        if name not in known:
            print(f"{name}: no recipe registered (its section module is missing): left out")
        elif path.exists():
            models[name] = pretrained(name, verbose=False)
        elif missing == "skip":
            print(f"{name}: {path} is missing: left out (make it with "
                  f"`python -m coursekit pretrain {name}`)")
        else:
            print(f"{name}: {path} is missing: training a tiny stand-in (its row is marked "
                  f"'tiny'; make the real one with `python -m coursekit pretrain {name}`)")
            models[name] = fit_recipe(name, cfg, tiny=True, command="")[0]
    return models


def compare_models(names=("ae", "vae", "gan", "ddpm"), n: int = N_REFERENCE, iwae_k: int = 100,
                   seed: int = 0, models: dict | None = None, sample_kw: dict | None = None
                   ) -> tuple[list[dict], dict[str, torch.Tensor]]:
    """Rows of the comparison table (one dict per model) and each model's samples.

    `models` maps names to already loaded models (default: ``ck.pretrained(name)``);
    `sample_kw` maps names to extra keyword arguments of ``sample`` (e.g. DDIM steps).
    """
    rows, samples = [], {}
    for name in names:
        model = (models or {}).get(name) or pretrained(name, verbose=False)
        row, samples[name] = model_scores(name, model, n, iwae_k, seed,
                                          (sample_kw or {}).get(name))
        rows.append(row)
    return rows, samples


COLUMNS = [("model", "model", "{}"), ("cell", "2×2 table cell", "{}"),
           ("recon_mse", "recon. error", "{:.1f}"), ("elbo", "ELBO (nats)", "{:.1f}"),
           ("iwae", "IWAE (nats)", "{:.1f}"), ("fd", "FD", "{:.2f}"),
           ("fd_ratio", "FD / real", "{:.1f}×"), ("coverage", "classes", "{}/10"),
           ("kl_uniform", "KL to unif.", "{:.3f}"), ("precision", "precision", "{:.2f}"),
           ("recall", "recall", "{:.2f}"), ("sec_per_sample", "ms/sample", "{}"),
           ("parameters", "params", "{:,}"), ("train_cpu_min", "train CPU-min", "{:.1f}")]


def format_table(rows: list[dict], reference_row: dict | None = None) -> str:
    """The rows as a Markdown table ("—" where a metric is not defined for a model)."""
    def cell(row, key, fmt):
        v = row.get(key)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "—"
        if key == "sec_per_sample":
            return f"{1000 * v:.2g}" if v < 0.01 else f"{1000 * v:.0f}"
        return fmt.format(v)

    all_rows = [dict(r, model=r["model"] + " (tiny stand-in)") if r.get("tiny") else r
                for r in rows]
    all_rows += [{"model": "real train vs held-out", **reference_row, "fd_ratio": 1.0,
                  "cell": "data"}] if reference_row else []
    lines = ["| " + " | ".join(label for _, label, _ in COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(r, k, f) for k, _, f in COLUMNS) + " |" for r in all_rows]
    return "\n".join(lines)


__all__ = ["MNISTClassifier", "classifier", "features", "frechet_distance",
           "frechet_distance_features", "gaussian_frechet_distance", "class_histogram",
           "class_coverage", "kl_to_uniform", "precision_recall", "precision_recall_features",
           "reference", "evaluate_samples", "compare_models", "model_scores",
           "load_for_comparison", "format_table",
           "heldout_images", "check_images", "random_shift"]
