"""The pretrained recipe ``"gan"``: a small DCGAN on MNIST, trained with ``ck.train``.

Gen and Disc play the lecture's ±1 game (`coursekit.models.gan.gan_step`, non-saturating Gen
loss) with Adam; the saved weights are an exponential moving average of the trained ones;
fixed-z sample grids taken during training are saved next to the weights (``extras``) for
notebook 03's replay slider.

What the recipe adds to the textbook DCGAN, and why (pilots at equal CPU time, 1 thread; the
ablation is `ABLATION` below, printed by benchmarks/bench_gan.py and notebook 03): a Disc half
as wide as Gen (d_width 32 vs 64: the biggest single gain — a cheaper step buys ~1.8× the steps
per CPU-second, and Disc stays weak enough for Gen to learn), learning rate 4e-4 for both
players instead of 2e-4, DCGAN weight initialisation, and Gen's step reusing the fakes of Disc's
step. The loss is the lecture's. The run is limited by how many steps it gets: 9,000 steps of
batch 64 score FD 7.6× real-vs-real (median of 3 sampling seeds; 7,000 steps: 9.3×), and 18,000
steps of batch 32 in about the same CPU time score worse (8.5×): more, noisier updates do not
buy what longer training does.
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
    steps: int = 9000
    batch_size: int = 64
    lr: float = 4e-4
    #: Disc's learning rate (two time-scale update rule, TTUR); None: `lr`, as Gen's
    d_lr: float | None = None
    betas: tuple[float, float] = (0.5, 0.999)
    gen_loss: str = "nonsaturating"
    ema_decay: float = 0.995
    snapshot_steps: tuple[int, ...] = (0, 100, 250, 500, 1000, 2000, 4000, 6500, 9000)
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


#: What each ingredient did to FD at equal CPU time (measured, 1 thread; benchmarks/gan_pilots.md).
#: Columns: run, what changed, steps, training-loop CPU-s, FD / real-vs-real (n = 1,000 vs the
#: held-out 1,000), load average (1-min, on the 2-core machine) while it ran. "textbook": z 64,
#: Gen 64 / Disc 64 channels, Adam 2e-4 β1 0.5, batch 64, the ±1 game with the non-saturating loss.
ABLATION: tuple[tuple[str, str, int, float, str, str], ...] = (
    # 2026-12-01, gan_pilot.py, raw weights, sampling seed 1, at 300 CPU-s ("+": added to reuse)
    ("base", "textbook", 1155, 300, "37.2 (seed 1)", "1-6"),
    ("reuse", "+ Gen reuses Disc's fakes", 1229, 296, "36.5 (seed 1)", "1-6"),
    ("reuse_aug2", "+ translate ±2 px (DiffAugment)", 1215, 289, "30.7 (seed 1, 9/10)", "1-6"),
    ("reuse_g32d32", "+ Gen and Disc width 32", 3367, 300, "25.9 (seed 1)", "1-6"),
    ("reuse_lr4", "+ lr 4e-4 both", 1246, 300, "25.3 (seed 1)", "1-6"),
    ("reuse_g64d32", "+ Disc width 32", 2179, 288, "21.5 (seed 1)", "1-6"),
    ("d32_lr4", "+ Disc width 32 + lr 4e-4", 2417, 300, "18.2 (seed 1)", "1-6"),
    # at the full budget; EMA weights, median (range) of sampling seeds 1-3 where given
    ("base", "textbook", 3436, 900, "14.6 (seed 1)", "1-6"),
    ("d32_lr4", "Disc 32, lr 4e-4, reuse, EMA 0.995", 7045, 872, "8.59 (8.12-9.16)", "1-6"),
    ("card 2026-12-01", "the same, `pretrain gan`", 7000, 956, "9.28 (8.77-9.76)", "n/a"),
    # 2026-12-02, the card's recipe with its lr on coursekit's cosine_schedule (not kept)
    ("cosine0", "card's, lr 4e-4 cosine -> 0, 6500 st", 6500, 1044, "12.3 (11.2-12.6)",
     "4.5-9.0, mean 6.9"),
    ("cosine6e-4", "card's, lr 6e-4 cosine -> 0.3x", 7000, 1231, "10.1 (9.42-10.3)",
     "1.8-7.3, mean 3.8"),
    # 2026-12-02, later, a faster machine (the card's step: 88 ms CPU idle, 137 on the one above);
    # build/gan_pilot.py = `pretrain gan` with these settings; the two ran side by side
    ("A_b64_9k", "card's, 9,000 steps", 9000, 757, "7.56 (6.99-7.78)", "0.7-2.1 (2 runs)"),
    ("B_b32_18k", "card's, batch 32, 18,000 st, EMA .9975", 18000, 811, "8.54 (8.51-9.25)",
     "0.7-2.1 (2 runs)"),
    ("card 2026-12-02", "A as `pretrain gan` (the same metrics)", 9000, 834, "7.56 (6.99-7.78)",
     "1.0-1.5 (alone)"),
)


#: The rows notebook 03 shows: the ingredients at equal CPU time, then the budget runs.
SHORT_ABLATION = ("base", "reuse", "reuse_aug2", "reuse_lr4", "reuse_g64d32", "d32_lr4",
                  "card 2026-12-01", "A_b64_9k", "B_b32_18k", "card 2026-12-02")


def format_ablation(runs: tuple[str, ...] | None = None) -> str:
    """`ABLATION` as a plain-text table (recorded numbers, not re-measured); `runs`: only the
    rows of these runs (e.g. `SHORT_ABLATION`)."""
    lines = ["ablation (recorded pilots, 1 thread, not measured now; FD / real-vs-real, n = 1,000):",
             f"  {'run':16s} {'change':38s} {'steps':>6s} {'CPU-s':>6s} {'FD ratio':22s} load"]
    for run, change, steps, cpu, fd, load in ABLATION:
        if runs is not None and run not in runs:
            continue
        lines.append(f"  {run:16s} {change:38s} {steps:6d} {cpu:6.0f} {fd:22s} {load}")
    return "\n".join(lines)



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
