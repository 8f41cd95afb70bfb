"""The pretrained recipes ``"vae"`` and ``"vae2d"``: the Bernoulli VAE of eqs. (4)–(14).

One config, `VAEConfig`, for both: "vae" (m = 20, MLP encoder and convolutional decoder, the
held-out likelihood model) and "vae2d" (m = 2, MLP networks, for the latent-space figures of
notebook 02). `fit` maximises the ELBO (eq. 12) with ``ck.train`` on dynamically binarized
training images, Adam with a cosine decay of the learning rate to 2 % of its start, and reports
the held-out ELBO and IWAE_k bound on one fixed binarization of the held-out split
(`binarized_heldout`), in nats per image.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ..core.checkpoints import Recipe, register
from ..core.config import Config
from ..core.data import binarize_dynamic, load_mnist
from ..core.nn import check_images
from ..core.train import History, cosine_schedule, train
from ..models.vae import VAE, elbo_loss, evaluate

#: Seed of the one fixed binarization of the 1,000 held-out images every number is reported on.
HELDOUT_BINARIZATION_SEED = 1234
#: The learning rate decays along a cosine to this fraction of its initial value.
FINAL_LR_FRACTION = 0.02
#: Held-out ELBO (on the first 500 held-out images) every this many epochs, for the curves.
EVAL_EVERY_EPOCHS = 10


def binarized_heldout(n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(images, labels) of the held-out split, binarized once with a fixed seed.

    Every held-out number in the notebook, the model cards and the benchmark uses this one
    binarization, so they can be compared. `n` keeps the first n images (fast profile).
    Images (N, 1, 28, 28) in {0, 1}, labels (N,).
    """
    held = load_mnist("heldout")
    g = torch.Generator().manual_seed(HELDOUT_BINARIZATION_SEED)
    x_binary = binarize_dynamic(held.x, generator=g)  # (N, 1, 28, 28) in {0, 1}
    return (x_binary[:n], held.y[:n]) if n is not None else (x_binary, held.y)


@dataclass(frozen=True)
class VAEConfig:
    """Settings of a VAE recipe (default: "vae", chosen in benchmarks/bench_vae.py for the
    goal IWAE ln p(x) ≥ −91 nats after ≤ 5 CPU-minutes).

    m, hidden, activation, decoder, channels: the `VAE` architecture.
    init_output_bias: start the decoder's output bias at logit(mean training image).
    n_train / n_heldout: use the first n images of the train / held-out split (None: all).
    epochs, batch_size, lr: Adam with a cosine decay to 2 % of `lr` over all steps.
    k_eval: importance samples of the final held-out IWAE bound.
    """

    m: int = 20
    hidden: tuple[int, ...] = (500, 500)
    activation: str = "elu"
    decoder: str = "conv"
    channels: int = 16
    init_output_bias: bool = True
    n_train: int | None = None
    n_heldout: int | None = None
    epochs: int = 70
    batch_size: int = 250
    lr: float = 3e-3
    k_eval: int = 5000

    def tiny(self) -> VAEConfig:
        """The seconds-long variant (tests, fast profile): 2 epochs on 1,000 images."""
        return replace(self, epochs=2, batch_size=100, n_train=1000, n_heldout=200, k_eval=50)


def build(config: VAEConfig) -> VAE:
    """A fresh, untrained VAE (weights drawn from torch's global generator)."""
    return VAE(config.m, config.hidden, config.activation, config.decoder, config.channels)


def _curves(history: History, steps_per_epoch: int) -> dict:
    """The training and held-out curves as (2, n) float64 tensors (steps, values)."""
    extras: dict = {"steps_per_epoch": steps_per_epoch}
    for phase in ("train", "eval"):
        for key in sorted(history.keys(phase)):
            extras[f"{phase}/{key}"] = history.curve(key, phase, dtype=torch.float64)
    return extras


def fit(model: VAE, cfg: Config, config: VAEConfig) -> tuple[dict, dict]:
    """Train `model` in place on dynamically binarized train images; evaluate on held-out.

    Objective: the ELBO with one ε per image (`elbo_loss`); Adam with a cosine decay of the
    learning rate (`cosine_schedule`). Returns (metrics, extras): metrics for the model card
    (held-out ELBO, its terms and IWAE_k in nats, training CPU- and wall-minutes), extras =
    the training curves as tensors for the notebook and the config's repr.
    """
    train_x = check_images(load_mnist("train").x[:config.n_train], "train images")
    held_x, _ = binarized_heldout(config.n_heldout)
    if config.init_output_bias:
        model.init_output_bias(train_x)  # start from the mean image, logit(mean pixel)
    steps_per_epoch = len(train_x) // config.batch_size

    def eval_fn(model: VAE, step: int) -> dict[str, float]:
        return {f"heldout_{key}": v for key, v in evaluate(model, held_x[:500]).items()}

    history = train(model, elbo_loss(1), train_x, epochs=config.epochs,
                    batch_size=config.batch_size, lr=config.lr,
                    schedule=cosine_schedule(final=FINAL_LR_FRACTION), eval_fn=eval_fn,
                    eval_every=steps_per_epoch * EVAL_EVERY_EPOCHS, log_every=steps_per_epoch,
                    seed=cfg.seed, desc="vae")
    k = config.k_eval
    final = evaluate(model, held_x, k=k, seed=cfg.seed)
    metrics = {"heldout_elbo": final["elbo"], f"heldout_iwae_k{k}": final[f"iwae{k}"],
               "heldout_recon": final["recon"], "heldout_kl": final["kl"],
               "epochs": config.epochs, "train_cpu_minutes": history.cpu_seconds / 60,
               "train_wall_minutes": history.seconds / 60}
    return metrics, {**_curves(history, steps_per_epoch), "settings": repr(config)}


#: The "vae" recipe's config: MLP encoder 784-500-500-2m, convolutional decoder
#: m-500-(16×7×7)-14×14-28×28.
VAE_CONFIG = VAEConfig()
#: The m = 2 model of the latent-space figures: MLP networks 784-500-500-2 and 2-500-500-784,
#: fewer epochs, IWAE with k = 1000.
VAE2D_CONFIG = replace(VAE_CONFIG, m=2, decoder="mlp", init_output_bias=False, epochs=60,
                       k_eval=1000)

register(Recipe(
    "vae", VAE_CONFIG, build=build, fit=fit,
    description="VAE on binarized MNIST (eqs. 4–14): Gaussian encoder with m = "
                f"{VAE_CONFIG.m} (MLP 784-500-500-{2 * VAE_CONFIG.m}, ELU), Bernoulli decoder "
                "(convolutional: Linear 500, 16 maps of 7×7, ConvTranspose to 14×14, 3×3 conv + "
                "PixelShuffle to 28×28 logits), N(0, I) prior; ELBO, Adam 3e-3 with cosine "
                f"decay, batch 250, {VAE_CONFIG.epochs} epochs; held-out ELBO and IWAE log p(x) "
                "in nats."))
register(Recipe(
    "vae2d", VAE2D_CONFIG, build=build, fit=fit,
    description="VAE with a 2-D latent space (m = 2) for the manifold, interpolation and "
                "AE-vs-VAE figures of notebook 02."))

__all__ = ["VAEConfig", "VAE_CONFIG", "VAE2D_CONFIG", "HELDOUT_BINARIZATION_SEED",
           "binarized_heldout", "build", "fit"]
