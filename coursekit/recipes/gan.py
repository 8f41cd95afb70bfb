"""The pretrained recipe ``"gan"``: a small DCGAN on MNIST, trained with ``ck.train``.

Gen and Disc play the lecture's ±1 game (`coursekit.models.gan.gan_step`, non-saturating Gen
loss) with Adam; the saved weights are an exponential moving average of the trained ones;
fixed-z sample grids taken during training are saved next to the weights (``extras``) for
notebook 03's replay slider.

What the recipe adds to the textbook DCGAN, and why (pilots at equal CPU time, 1 thread; the
ablation is in benchmarks/bench_gan.py): a Disc half as wide as Gen (d_width 32 vs 64: the
biggest single gain — a cheaper step buys ~1.8× the steps per CPU-second, and Disc stays weak
enough for Gen to learn), learning rate 4e-4 for both players instead of 2e-4, DCGAN weight
initialisation, and Gen's step reusing the fakes of Disc's step. The loss is the lecture's.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

from .. import metrics
from ..core.checkpoints import Recipe, register
from ..core.config import Config
from ..core.data import load_mnist, to_pm1
from ..core.train import EMA, train
from ..models.gan import GEN_LOSSES, MNISTGAN, dcgan_init, gan_step


@dataclass(frozen=True)
class GANConfig:
    """Settings of the MNIST DCGAN recipe.

    snapshot_steps: steps (rising from 0 to `steps`) at which Gen's samples of the same fixed
      `n_grid` codes z are kept. n_eval: samples scored with ``ck.metrics.evaluate_samples``
      at the end, for the EMA weights with each sampling seed of `eval_seeds` (the card gets
      each seed's scores, their median and range) and, with the first seed, for the last
      trained weights (``raw_*``); 0 skips the scoring (the classifier is another pretrained
      model: tiny runs do without it).
    """

    z_dim: int = 64
    width: int = 64
    d_width: int = 32
    steps: int = 7000
    batch_size: int = 64
    lr: float = 4e-4
    #: Disc's learning rate (two time-scale update rule, TTUR); None: `lr`, as Gen's
    d_lr: float | None = None
    betas: tuple[float, float] = (0.5, 0.999)
    gen_loss: str = "nonsaturating"
    ema_decay: float = 0.995
    snapshot_steps: tuple[int, ...] = (0, 100, 250, 500, 1000, 2000, 3500, 5000, 7000)
    n_grid: int = 64
    n_eval: int = 1000
    eval_seeds: tuple[int, ...] = (1, 2, 3)

    def __post_init__(self) -> None:
        snaps = list(self.snapshot_steps)
        if not snaps or snaps[0] != 0 or snaps[-1] != self.steps or snaps != sorted(snaps):
            raise ValueError(f"snapshot_steps must rise from 0 to steps={self.steps}, "
                             f"got {self.snapshot_steps}")
        if self.gen_loss not in GEN_LOSSES:
            raise ValueError(f"gen_loss must be one of {GEN_LOSSES}, got {self.gen_loss!r}")

    def tiny(self) -> GANConfig:
        """The seconds-long variant (tests, fast profile): 20 steps, no classifier scoring."""
        return replace(self, steps=20, batch_size=32, snapshot_steps=(0, 10, 20), n_eval=0)


def build(config: GANConfig) -> MNISTGAN:
    """A fresh, untrained DCGAN with DCGAN initialisation (drawn from torch's global generator)."""
    model = MNISTGAN(config.z_dim, config.width, config.d_width)
    model.apply(dcgan_init)
    return model


def _scores(samples: torch.Tensor, prefix: str = "") -> dict[str, float]:
    """``ck.metrics.evaluate_samples`` of generated digits (classes covered, KL to uniform,
    Fréchet distance and its ratio to real-vs-real, precision, recall), keys prefixed."""
    return {prefix + k: float(v) for k, v in metrics.evaluate_samples(samples).items()}


def fit(model: MNISTGAN, cfg: Config, config: GANConfig) -> tuple[dict, dict]:
    """Train `model` on MNIST (train split) with ``ck.train``; keep fixed-z snapshot grids.

    Returns (metrics, extras). metrics: "steps", "d_acc_end" (Disc's accuracy on its last
    batches) and, when ``config.n_eval``, the scores of the EMA weights and (``raw_*``) of the
    last trained weights. extras: "snapshot_steps" (K,), "snapshots" (K, n_grid, 1, 28, 28)
    uint8 (the EMA Gen on the same z at those steps), "z_fixed", and the "loss_d", "loss_g",
    "d_acc" curves as (2, T) tensors of (step, value). `model` ends with the EMA weights.
    """
    x_train = load_mnist("train").x                                   # (N, 1, 28, 28) in [0, 1]
    opt_g = torch.optim.Adam(model.G.parameters(), lr=config.lr, betas=config.betas,
                             foreach=True)
    opt_d = torch.optim.Adam(model.D.parameters(), lr=config.d_lr or config.lr,
                             betas=config.betas, foreach=True)
    z_fixed = model.prior(config.n_grid, cfg.generator(31_337))        # (n_grid, z_dim)
    # EMA of the weights, θ̄ ← d·θ̄ + (1 − d)·θ: averages out the players' oscillations; the
    # snapshots and the saved Gen use θ̄ (Disc's EMA is kept too but only Gen's matters).
    ema = EMA(model, config.ema_decay)
    snapshots: list[torch.Tensor] = []

    def snapshot(m: MNISTGAN, step: int) -> dict:
        if step in config.snapshot_steps:
            grid = ema.model.generate(z_fixed)                         # (n_grid, 1, 28, 28)
            snapshots.append((grid * 255).round().to(torch.uint8).cpu())
        return {}

    snapshot(model, 0)
    history = train(model, None, x_train, steps=config.steps, batch_size=config.batch_size,
                    step_fn=gan_step(opt_g, opt_d, config.gen_loss, preprocess=to_pm1,
                                     generator=cfg.generator(), reuse_fakes=True),
                    optimizer={"g": opt_g, "d": opt_d}, ema=ema, eval_fn=snapshot,
                    eval_every=math.gcd(*config.snapshot_steps), seed=cfg.seed, log_every=50,
                    desc="DCGAN on MNIST")
    card = {"steps": float(config.steps), "d_acc_end": history.last("d_acc"),
            "train_loop_cpu_seconds": history.cpu_seconds}
    seeds = config.eval_seeds
    if config.n_eval:  # the last raw weights, for comparison with the EMA
        card.update(_scores(model.sample(config.n_eval, cfg.generator(seeds[0])), "raw_"))
    model.load_state_dict(ema.model.state_dict())
    if config.n_eval:
        card.update(_spread([_scores(model.sample(config.n_eval, cfg.generator(s)))
                             for s in seeds], seeds))
    extras = {"snapshot_steps": torch.tensor(config.snapshot_steps),
              "snapshots": torch.stack(snapshots), "z_fixed": z_fixed.cpu()}
    for key in ("loss_d", "loss_g", "d_acc"):
        extras[key] = history.curve(key)                                    # (2, T)
    return card, extras


def _spread(scores: list[dict[str, float]], seeds: tuple[int, ...]) -> dict[str, float]:
    """Per-seed scores (``seed{s}_…``), and the median, min and max over the seeds of each
    score; the unprefixed keys hold the median."""
    out: dict[str, float] = {}
    for seed, row in zip(seeds, scores):
        out.update({f"seed{seed}_{k}": v for k, v in row.items()})
    for key in scores[0]:
        values = sorted(row[key] for row in scores)
        out[key] = values[len(values) // 2]
        out[f"{key}_min"], out[f"{key}_max"] = values[0], values[-1]
    return out


def recipe(config: GANConfig) -> Recipe:
    """The ``"gan"`` recipe with these settings (its card's description is made from them);
    ``register(recipe(replace(CONFIG, …)))`` trains a variant with ``pretrain gan``."""
    c = config
    adam = (f"Adam {c.lr:g} (β1 {c.betas[0]}) for both" if c.d_lr in (None, c.lr) else
            f"Adam (β1 {c.betas[0]}) {c.lr:g} for Gen, {c.d_lr:g} for Disc")
    return Recipe(
        "gan", c, build=build, fit=fit,
        description=(f"DCGAN on MNIST (z_dim {c.z_dim}, Gen width {c.width}, Disc width "
                     f"{c.d_width}, DCGAN init), the lecture's ±1 game with the "
                     f"non-saturating Gen loss, {adam}, "
                     f"{c.steps} steps of batch {c.batch_size}, Gen's step reuses Disc's "
                     f"fakes, weights = EMA (decay {c.ema_decay}). Metrics: {c.n_eval} "
                     f"samples per sampling seed {c.eval_seeds} vs the held-out images "
                     f"(unprefixed = median, _min/_max = range, seedN_ = one seed); raw_*: the last "
                     f"raw weights, seed {c.eval_seeds[0]}. Extras: fixed-z sample grids at "
                     f"steps {c.snapshot_steps}."))


CONFIG = GANConfig()
register(recipe(CONFIG))
