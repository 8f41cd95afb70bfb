"""The pretrained recipes ``"ae"``, ``"ae2d"`` and ``"dae"``: MLP autoencoders of eqs. (1)–(2).

One config, `AEConfig`, for all three: "ae" (m = 16, the default undercomplete AE, also the
code space of the latent DDPM "ldm" and a model of the comparison), "ae2d" (m = 2, for the
code-space explorer of notebook 01) and "dae" (m = 16, trained on Gaussian-corrupted inputs,
eq. (2)). `fit` trains with ``ck.train`` on the squared loss, then fits the Gaussian of the
training codes that ``Autoencoder.sample`` draws from, and reports held-out errors (and PCA's
with the same m) for the model card.

``AE`` is the "ae" config: ``build(AE)`` is the architecture the "ldm" recipe loads.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..core.checkpoints import Recipe, register
from ..core.config import Config
from ..core.data import load_mnist
from ..core.train import train
from ..models.autoencoders import (
    CORRUPTIONS,
    Autoencoder,
    corrupt,
    make_denoising_loss,
    pca,
    reconstruction_error,
    reconstruction_loss,
)


@dataclass(frozen=True)
class AEConfig:
    """Settings of an MLP autoencoder recipe (default: "ae", 60 epochs of Adam 1e-3).

    corruption: None trains a plain AE on L(x, f(h(x))) (eq. 1); a name of
      `coursekit.models.autoencoders.CORRUPTIONS` trains a denoising AE on L(x, f(h(x̃))),
      x̃ ~ C(x̃|x) at `level` (eq. 2), and adds the held-out denoising error to the card.
    n_train: train on the first n_train images (None: the whole train split).
    """

    m: int = 16
    hidden: tuple[int, ...] = (512, 128)
    epochs: int = 60
    batch_size: int = 128
    lr: float = 1e-3
    n_train: int | None = None
    corruption: str | None = None
    level: float = 0.5

    def __post_init__(self) -> None:
        if self.corruption is not None and self.corruption not in CORRUPTIONS:
            raise ValueError(f"corruption must be None or one of {sorted(CORRUPTIONS)}, got "
                             f"{self.corruption!r}")

    def tiny(self) -> AEConfig:
        """The seconds-long variant (tests, fast profile): one epoch on 1,024 images."""
        return replace(self, n_train=1024, epochs=1)


def build(config: AEConfig) -> Autoencoder:
    """A fresh, untrained autoencoder (weights drawn from torch's global generator)."""
    return Autoencoder(config.m, config.hidden)


def fit(model: Autoencoder, cfg: Config, config: AEConfig) -> dict[str, float]:
    """Train `model` in place with ``ck.train``, fit its code Gaussian; return card metrics.

    Metrics: squared error per image on the training images and the held-out split, PCA's
    held-out error with the same m and, for a denoising AE, the held-out error of f(h(x̃))
    against the clean x (corruption drawn with ``cfg.generator(1)``).
    """
    x_train, x_held = load_mnist("train").x[:config.n_train], load_mnist("heldout").x
    if config.corruption is None:
        # eq. (1): min L(x, f(h(x)))
        loss_fn = reconstruction_loss
    else:
        # eq. (2): x̃ ~ C(x̃|x), min L(x, f(h(x̃)))
        loss_fn = make_denoising_loss(config.corruption, config.level)
    device = next(model.parameters()).device
    train(model, loss_fn, x_train.to(device), epochs=config.epochs,
          batch_size=config.batch_size, lr=config.lr, seed=cfg.seed, desc="pretrain")
    model.fit_code_gaussian(x_train)
    model.cpu()
    metrics = {"train_sq_error": reconstruction_error(model, x_train),
               "heldout_sq_error": reconstruction_error(model, x_held),
               f"pca{model.m}_heldout_sq_error": reconstruction_error(pca(x_train, model.m),
                                                                      x_held)}
    if config.corruption is not None:
        x_tilde = corrupt(x_held, config.corruption, config.level, cfg.generator(1))
        metrics["heldout_denoise_sq_error"] = reconstruction_error(model, x_held,
                                                                   x_input=x_tilde)
    return metrics


#: The "ae" recipe's config (also the autoencoder of the latent DDPM "ldm").
AE = AEConfig()
AE2D = replace(AE, m=2)
DAE = replace(AE, corruption="gaussian", level=0.5)

register(Recipe(
    "ae", AE, build=build, fit=fit,
    description=f"Undercomplete MLP autoencoder, eq. (1): 784-512-128-{AE.m}-128-512-784, "
                f"ReLU, sigmoid output, squared loss, Adam 1e-3, 60 epochs; code Gaussian "
                f"(code_mean, code_chol) fitted to the training codes for sample()."))
register(Recipe(
    "ae2d", AE2D, build=build, fit=fit,
    description="Undercomplete MLP autoencoder with a 2-D code (m = 2) for the code-space "
                "explorer: 784-512-128-2-128-512-784, squared loss, Adam 1e-3, 60 epochs."))
register(Recipe(
    "dae", DAE, build=build, fit=fit,
    description=f"Denoising autoencoder, eq. (2): same architecture as 'ae' (m = {DAE.m}), "
                f"trained on x̃ = clip(x + {DAE.level} ε) with clean targets, Adam 1e-3, "
                f"60 epochs."))

__all__ = ["AEConfig", "AE", "AE2D", "DAE", "build", "fit"]
