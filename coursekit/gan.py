"""Generative adversarial networks: the lecture's ±1 game, mode collapse and vanishing gradients.

Lecture section "Generative Adversarial Network" (it has no numbered equations; we cite its
bullets). z ~ N(0, I_m) → Gen → fake x̃; Disc is a classifier whose desired output is +1 on
data and −1 on fakes; it sees real and fake points with equal probability; Gen and Disc are
trained simultaneously by backpropagation. Issues: mode collapse and vanishing gradients.

Contents, top to bottom:

* the game: `pm1_logistic_loss` (softplus(−y·Disc(x)) with y = ±1), `discriminator_loss`,
  `generator_loss` (saturating log(1 − D(G(z))) or non-saturating −log D(G(z))),
  `discriminator_accuracy`, `gan_step` (one simultaneous update, for `ck.train(step_fn=...)`,
  optionally with annealed instance noise);
* 2-D toys: `MLPGenerator`, `LinearGenerator`, `MLPDiscriminator` (optionally *packed*,
  PacGAN), `ToyGAN`, `RING_CONFIGS`, `train_ring_gan` / `ring_study` (snapshots of samples and
  of Disc's decision map, over seeds);
* mode collapse, measured: `mode_metrics` (nearest mode, high quality within 3 std, coverage),
  `study_summary`, `format_study`;
* vanishing gradients, measured: `generator_grad_norm`, `vanishing_gradient_sweep`;
* the optimal discriminator: `optimal_discriminator`, `train_discriminator`;
* MNIST: `DCGenerator`, `DCDiscriminator`, `MNISTGAN` (``sample(n, generator)``), `slerp`, the
  pretrained recipe ``"gan"`` (fixed-z snapshot grids saved for a replay slider);
* figures: `draw_ring_snapshot`, `plot_ring_snapshots`, `plot_study`, `plot_study_curves`,
  `plot_vanishing`, `plot_snapshot_grids`.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoints import Recipe, register
from .data import from_pm1, ring_modes, ring_of_gaussians, to_pm1
from .train import EMA, History, gradient_step, train

GEN_LOSSES = ("saturating", "nonsaturating")


# ============================================================================ the ±1 game
def _check_logits(logits: torch.Tensor, name: str = "logits") -> None:
    if not torch.is_tensor(logits) or not logits.is_floating_point():
        raise TypeError(f"{name} must be a float tensor of Disc outputs (real numbers, before "
                        f"any sigmoid), got {type(logits).__name__}"
                        + (f" of dtype {logits.dtype}" if torch.is_tensor(logits) else ""))


def pm1_logistic_loss(logits: torch.Tensor, y: torch.Tensor | float) -> torch.Tensor:
    """Logistic loss with the lecture's labels y = +1 (data) / −1 (fake): mean softplus(−y·Disc(x)).

    softplus(−y·s) = log(1 + e^(−y·s)) = −log σ(y·s). It equals ``BCEWithLogitsLoss`` with
    labels (y + 1)/2 ∈ {0, 1}, because σ(−s) = 1 − σ(s).
    """
    _check_logits(logits)
    y = torch.as_tensor(y, dtype=logits.dtype, device=logits.device)
    bad = (y != 1) & (y != -1)
    if bad.any():
        raise ValueError(f"labels must be +1 (data) or -1 (fake) as in the lecture, found "
                         f"{y[bad].unique().tolist()[:5]}; for 0/1 labels use 2*y - 1")
    # softplus(−y·Disc(x)) = −log σ(y·Disc(x)), computed stably from the logit
    return F.softplus(-y * logits).mean()


def discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Disc's loss: real (y = +1) and fake (y = −1) points with equal probability.

    ½·E_x[softplus(−Disc(x))] + ½·E_z[softplus(+Disc(G(z)))] = −½ E log D(x) − ½ E log(1 − D(G(z))),
    with D = σ(Disc) the probability of "real".
    """
    _check_logits(d_real, "d_real")
    _check_logits(d_fake, "d_fake")
    return 0.5 * pm1_logistic_loss(d_real, 1.0) + 0.5 * pm1_logistic_loss(d_fake, -1.0)


def generator_loss(d_fake: torch.Tensor, kind: str = "nonsaturating") -> torch.Tensor:
    """Gen's loss from Disc's logits on fakes s = Disc(G(z)), D = σ(s).

    * ``"saturating"`` (the minimax game): minimise E log(1 − D(G(z))) = −E softplus(s).
      Its gradient w.r.t. s is −σ(s) = −D(G(z)) → 0 when Disc rejects every fake.
    * ``"nonsaturating"`` (the usual practice): minimise −E log D(G(z)) = E softplus(−s).
      Its gradient w.r.t. s is −(1 − D(G(z))) → −1 in the same situation.
    """
    _check_logits(d_fake, "d_fake")
    if kind == "saturating":
        # log(1 − σ(s)) = −softplus(s)
        return -F.softplus(d_fake).mean()
    if kind == "nonsaturating":
        # −log σ(s) = softplus(−s)
        return F.softplus(-d_fake).mean()
    raise ValueError(f"generator loss kind must be one of {GEN_LOSSES}, got {kind!r}")


@torch.no_grad()
def discriminator_accuracy(d_real: torch.Tensor, d_fake: torch.Tensor) -> float:
    """Balanced accuracy of Disc: ½·P(Disc(x) > 0 | real) + ½·P(Disc(x̃) < 0 | fake)."""
    return 0.5 * (d_real > 0).float().mean().item() + 0.5 * (d_fake < 0).float().mean().item()


# ============================================================================ models
def _mlp(sizes: list[int], act: Callable[[], nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """Gen for 2-D toys: z (B, z_dim) ~ N(0, I) → x̃ (B, out_dim)."""

    def __init__(self, z_dim: int = 2, hidden: int = 128, depth: int = 3, out_dim: int = 2):
        super().__init__()
        self.z_dim, self.out_dim = z_dim, out_dim
        self.net = _mlp([z_dim] + [hidden] * depth + [out_dim], nn.ReLU)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"Gen expects z of shape (B, {self.z_dim}), got {tuple(z.shape)}")
        return self.net(z)  # (B, out_dim)


class LinearGenerator(nn.Module):
    """A deliberately poor Gen for experiments: x̃ = A z + b, started at A = scale·I, b = 0,
    so the fakes are N(0, scale²·I) — a Gaussian blob with none of the data's structure."""

    def __init__(self, scale: float = 1.0, dim: int = 2):
        super().__init__()
        self.z_dim = dim
        self.linear = nn.Linear(dim, dim)
        with torch.no_grad():
            self.linear.weight.copy_(scale * torch.eye(dim))
            self.linear.bias.zero_()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.linear(z)  # (B, dim)


class MLPDiscriminator(nn.Module):
    """Disc for 2-D toys: x (B, in_dim) → logits (B // pack,), +1 = data, −1 = fake.

    ``pack > 1`` is PacGAN (Lin et al., 2018): Disc judges `pack` samples of the same kind
    at once (concatenated), so a batch of near-identical fakes is easy to spot — it sees the
    lack of diversity that a one-sample Disc cannot see.
    """

    def __init__(self, in_dim: int = 2, hidden: int = 128, depth: int = 3, pack: int = 1):
        super().__init__()
        if pack < 1:
            raise ValueError(f"pack must be ≥ 1, got {pack}")
        self.in_dim, self.pack = in_dim, pack
        self.net = _mlp([in_dim * pack] + [hidden] * depth + [1], lambda: nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f"Disc expects x of shape (B, {self.in_dim}), got {tuple(x.shape)}")
        if x.shape[0] % self.pack:
            raise ValueError(f"a packed Disc (pack={self.pack}) needs a batch size divisible "
                             f"by {self.pack}, got {x.shape[0]}; change the batch size")
        # PacGAN: (B, d) → (B / pack, pack·d), one decision per pack
        return self.net(x.reshape(-1, self.pack * self.in_dim)).squeeze(-1)  # (B // pack,)

    def point_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Disc's logit for single points (B, d) → (B,); a packed Disc sees `pack` copies."""
        return self(x.repeat_interleave(self.pack, dim=0))


class ToyGAN(nn.Module):
    """Gen and Disc for 2-D data in one module (what `ck.train` trains and checkpoints)."""

    def __init__(self, z_dim: int = 2, hidden: int = 128, depth: int = 3, pack: int = 1,
                 d_hidden: int | None = None, d_depth: int | None = None):
        super().__init__()
        self.z_dim = z_dim
        self.G = MLPGenerator(z_dim, hidden, depth)
        self.D = MLPDiscriminator(2, d_hidden or hidden, d_depth or depth, pack)

    def prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(0, I_m), (n, z_dim)."""
        device = next(self.parameters()).device
        return torch.randn(n, self.z_dim, generator=generator).to(device)  # (n, z_dim)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n fake points x̃ = Gen(z), z ~ N(0, I): (n, 2)."""
        was_training = self.training
        self.eval()
        x = self.G(self.prior(n, generator))
        self.train(was_training)
        return x


def optimizer_steps(opt: torch.optim.Optimizer) -> int:
    """How many updates an Adam-like optimizer has made (read from its state; 0 before the first)."""
    first = opt.param_groups[0]["params"][0]
    return int(opt.state[first]["step"]) if first in opt.state else 0


def gan_step(opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
             gen_loss: str = "nonsaturating", d_steps: int = 1,
             preprocess: Callable[[torch.Tensor], torch.Tensor] | None = None,
             instance_noise: Callable[[int], float] | None = None) -> Callable:
    """A ``step_fn(model, x_real) -> dict`` for ``ck.train``: one simultaneous GAN update.

    `model` has ``.G``, ``.D`` and ``.prior(n)``. Disc takes `d_steps` steps on a half-real,
    half-fake batch (the lecture's "equal probability"), then Gen one step on `gen_loss`.
    `instance_noise(t)`, if given, is the std of Gaussian noise added to *every* input of Disc
    (real and fake) at Gen update t: it blurs both distributions so that Disc's gradient
    reaches fakes far from the data (anneal it to 0 to end with the true game).
    Logged: loss_d, loss_g, d_acc (Disc's balanced accuracy), d_real / d_fake (mean D = σ(·)).
    """
    if gen_loss not in GEN_LOSSES:
        raise ValueError(f"gen_loss must be one of {GEN_LOSSES}, got {gen_loss!r}")

    def step(model, x_real, *_):
        x_real = preprocess(x_real) if preprocess is not None else x_real
        n = len(x_real)
        sigma = instance_noise(optimizer_steps(opt_g)) if instance_noise is not None else 0.0

        def blur(x):  # x + σ·ε, ε ~ N(0, I)
            return x + sigma * torch.randn_like(x) if sigma > 0 else x

        for _ in range(d_steps):
            x_fake = model.G(model.prior(n)).detach()           # (n, ...) Gen held fixed
            d_real, d_fake = model.D(blur(x_real)), model.D(blur(x_fake))
            loss_d = discriminator_loss(d_real, d_fake)
            gradient_step(model.D, opt_d, loss_d)
        d_fake_g = model.D(blur(model.G(model.prior(n))))        # Disc held fixed (only opt_g steps)
        loss_g = generator_loss(d_fake_g, gen_loss)
        gradient_step(model.G, opt_g, loss_g)
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item(),
                "d_acc": discriminator_accuracy(d_real, d_fake),
                "d_real": torch.sigmoid(d_real).mean().item(),
                "d_fake": torch.sigmoid(d_fake).mean().item()}

    return step


# ============================================================================ mode metrics
def mode_metrics(samples: torch.Tensor, modes: torch.Tensor | None = None, std: float = 0.02,
                 n_std: float = 3.0, min_share: float = 0.01) -> dict:
    """Mode collapse, measured (the 2-D metrics of the unrolled-GAN / VEEGAN / PacGAN papers).

    Each sample is assigned to its nearest mode; it is *high quality* (HQ) when it lies within
    `n_std` standard deviations of that mode's centre. A mode is *covered* when at least
    `min_share` of all samples are HQ samples of that mode (default 1 %, i.e. 25 of 2,500 —
    a tenth of the 12.5 % each mode of the ring of 8 gets from a perfect generator).

    Returns {"modes_covered": int, "hq": fraction of HQ samples, "hq_counts": (K,) tensor,
    "n": number of samples, "min_count": HQ samples a mode needs}.
    """
    if modes is None:
        modes = ring_modes()
    if samples.dim() != 2 or samples.shape[1] != modes.shape[1]:
        raise ValueError(f"samples must have shape (N, {modes.shape[1]}) like the modes, got "
                         f"{tuple(samples.shape)}")
    if len(samples) == 0:
        raise ValueError("mode_metrics needs at least one sample")
    if not 0.0 <= min_share <= 1.0:
        raise ValueError(f"min_share is a fraction of the samples in [0, 1], got {min_share}")
    samples = samples.detach().float().cpu()
    dist = torch.cdist(samples, modes.float().cpu())           # (N, K)
    nearest_dist, nearest = dist.min(dim=1)                    # (N,), (N,)
    hq = nearest_dist <= n_std * std                           # (N,) high-quality mask
    hq_counts = torch.bincount(nearest[hq], minlength=len(modes))  # (K,)
    min_count = max(1, math.ceil(min_share * len(samples)))
    return {"modes_covered": int((hq_counts >= min_count).sum()),
            "hq": hq.sum().item() / len(samples), "hq_counts": hq_counts, "n": len(samples),
            "min_count": min_count}


# ============================================================================ ring experiment
#: Configurations of the ring-of-8 experiment (see notebook 03). Keys are `ToyGAN` / optimiser
#: arguments; the same seeds and step counts are used for every configuration.
_RING_NETS = dict(z_dim=2, hidden=64, depth=3, pack=1, betas=(0.5, 0.999),
                  gen_loss="nonsaturating", batch_size=128)
RING_CONFIGS: dict[str, dict] = {
    # Disc learns 3× slower than Gen: Gen moves all fakes to Disc's current favourite spot
    "slow_disc": dict(_RING_NETS, lr=1e-3, d_lr=3e-4),
    # the plain GAN: equal, constant learning rates
    "vanilla": dict(_RING_NETS, lr=1e-3),
    # the remedy: instance noise σ = 0.6 → 0 over the first half, learning rates 3e-3 → 1e-5
    "noise_anneal": dict(_RING_NETS, lr=3e-3, lr_final=1e-5, noise=0.6, noise_end=0.5),
}
RING = dict(n_modes=8, radius=2.0, std=0.02)


def ring_sampler(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A batch from the ring of 8 Gaussians (radius 2, std 0.02): (n, 2)."""
    return ring_of_gaussians(n, generator=generator, **RING)


@torch.no_grad()
def decision_map(D: MLPDiscriminator, lim: float = 2.6, n: int = 100) -> torch.Tensor:
    """D(x) = σ(Disc(x)) on an n × n grid over [−lim, lim]²: (n, n), row i = x₂, column j = x₁."""
    axis = torch.linspace(-lim, lim, n)
    x2, x1 = torch.meshgrid(axis, axis, indexing="ij")
    grid = torch.stack([x1.flatten(), x2.flatten()], dim=1)     # (n², 2)
    device = next(D.parameters()).device
    return torch.sigmoid(D.point_logits(grid.to(device))).reshape(n, n).cpu()


def _with_cosine_lr(step_fn: Callable, optimizers: list, final_factor: float,
                    steps: int) -> Callable:
    """Wrap a step_fn: each learning rate follows a cosine from its start value down to
    `final_factor` × that value over `steps`. The step count comes from Adam's own state, so a
    resumed run continues the schedule.
    """
    start = [[group["lr"] for group in o.param_groups] for o in optimizers]

    def step(model, *batch):
        t = min(1.0, optimizer_steps(optimizers[0]) / max(1, steps - 1))
        factor = final_factor + 0.5 * (1 - final_factor) * (1 + math.cos(math.pi * t))
        for o, lrs in zip(optimizers, start):
            for group, lr in zip(o.param_groups, lrs):
                group["lr"] = lr * factor
        return step_fn(model, *batch)

    return step


@dataclass
class RingRun:
    """One ring-of-8 training run: the model, its history and its snapshots."""

    config: str
    seed: int
    model: ToyGAN
    history: History
    snapshots: list[dict] = field(default_factory=list)  # {"step", "samples", "d_map", metrics}
    seconds: float = 0.0
    settings: dict = field(default_factory=dict)

    @property
    def final(self) -> dict:
        return self.snapshots[-1]

    def snapshot_at(self, step: int) -> dict:
        """The snapshot taken at `step` (KeyError listing the steps when there is none)."""
        for snap in self.snapshots:
            if snap["step"] == step:
                return snap
        raise KeyError(f"no snapshot at step {step}; snapshots: {[s['step'] for s in self.snapshots]}")

    def gan_at(self, step: int, seed: int = 0) -> ToyGAN:
        """A fresh ToyGAN whose Gen has the weights of the snapshot at `step` and whose Disc is
        newly initialised (seeded): e.g. a *poor* Gen from early training."""
        c = self.settings
        torch.manual_seed(seed)
        model = ToyGAN(c["z_dim"], c["hidden"], c["depth"], c["pack"], c.get("d_hidden"),
                       c.get("d_depth"))
        model.G.load_state_dict(self.snapshot_at(step)["G_state"])
        return model


def train_ring_gan(config: str | dict = "vanilla", seed: int = 0, steps: int = 3000,
                   snapshot_every: int = 500, n_eval: int = 2500, progress: bool = False,
                   map_size: int = 80) -> RingRun:
    """Train a `ToyGAN` on the ring of 8 Gaussians with ``ck.train`` and take snapshots.

    A snapshot (at step 0, every `snapshot_every` steps and at the end) holds `n_eval` samples
    (fixed z), Disc's decision map and `mode_metrics`.
    """
    name = config if isinstance(config, str) else "custom"
    if isinstance(config, str):
        if config not in RING_CONFIGS:
            raise KeyError(f"unknown ring configuration {config!r}; known: {sorted(RING_CONFIGS)}")
        config = RING_CONFIGS[config]
    c = dict(config)
    torch.manual_seed(seed)
    model = ToyGAN(c["z_dim"], c["hidden"], c["depth"], c["pack"], c.get("d_hidden"),
                   c.get("d_depth"))
    opt_g = torch.optim.Adam(model.G.parameters(), lr=c["lr"], betas=c["betas"], foreach=True)
    opt_d = torch.optim.Adam(model.D.parameters(), lr=c.get("d_lr", c["lr"]), betas=c["betas"],
                             foreach=True)
    z_fixed = model.prior(n_eval, torch.Generator().manual_seed(10_000 + seed))  # (n_eval, z_dim)
    snapshots: list[dict] = []
    step_counter = {"step": 0}

    def snapshot(m: ToyGAN) -> dict:
        samples = m.G(z_fixed).cpu()                            # (n_eval, 2)
        metrics = mode_metrics(samples, ring_modes(RING["n_modes"], RING["radius"]), RING["std"])
        snapshots.append({"step": step_counter["step"], "samples": samples,
                          "d_map": decision_map(m.D, n=map_size),
                          "G_state": {k: v.detach().clone() for k, v in m.G.state_dict().items()},
                          "modes_covered": metrics["modes_covered"], "hq": metrics["hq"]})
        step_counter["step"] += snapshot_every
        return {"modes_covered": metrics["modes_covered"], "hq": metrics["hq"]}

    with torch.no_grad():
        model.eval()
        snapshot(model)
        model.train()
    t0 = time.perf_counter()
    noise = None
    if c.get("noise", 0.0) > 0:  # instance noise, annealed linearly to 0 at noise_end·steps
        sigma0, stop = c["noise"], c.get("noise_end", 0.6) * steps

        def noise(t: int) -> float:
            return sigma0 * max(0.0, 1.0 - t / stop)

    step_fn = gan_step(opt_g, opt_d, c["gen_loss"], c.get("d_steps", 1), instance_noise=noise)
    if c.get("lr_final", c["lr"]) != c["lr"]:  # cosine decay of both learning rates
        step_fn = _with_cosine_lr(step_fn, [opt_g, opt_d], c["lr_final"] / c["lr"], steps)
    history = train(model, None, ring_sampler, steps=steps, batch_size=c["batch_size"],
                    step_fn=step_fn,
                    optimizer={"g": opt_g, "d": opt_d}, eval_fn=snapshot,
                    eval_every=snapshot_every, seed=seed, progress=progress,
                    desc=f"ring GAN {name} seed {seed}")
    snapshots[-1]["step"] = steps
    return RingRun(name, seed, model, history, snapshots, time.perf_counter() - t0, c)


def ring_study(configs: list[str] | dict[str, dict], seeds=(0, 1, 2), steps: int = 3000,
               snapshot_every: int = 500, progress: bool = True) -> dict[str, list[RingRun]]:
    """Train every configuration with every seed (same steps): {config name: [RingRun, ...]}."""
    items = configs.items() if isinstance(configs, dict) else [(c, c) for c in configs]
    runs: dict[str, list[RingRun]] = {}
    for name, config in items:
        runs[name] = []
        for seed in seeds:
            run = train_ring_gan(config, seed=seed, steps=steps, snapshot_every=snapshot_every,
                                 progress=progress)
            run.config = name
            runs[name].append(run)
    return runs


def study_summary(runs: dict[str, list[RingRun]]) -> dict[str, dict]:
    """Final-snapshot metrics per configuration: per-seed lists, mean and spread (min–max, std)."""
    out = {}
    for name, rs in runs.items():
        modes = torch.tensor([float(r.final["modes_covered"]) for r in rs])
        hq = torch.tensor([100 * r.final["hq"] for r in rs])
        out[name] = {"seeds": [r.seed for r in rs], "modes": modes.tolist(), "hq": hq.tolist(),
                     "modes_mean": modes.mean().item(), "hq_mean": hq.mean().item(),
                     "modes_std": modes.std().item() if len(rs) > 1 else 0.0,
                     "hq_std": hq.std().item() if len(rs) > 1 else 0.0,
                     "seconds": sum(r.seconds for r in rs)}
    return out


def format_study(summary: dict[str, dict]) -> str:
    """A plain-text table: configuration, per-seed modes covered and % HQ, mean ± std."""
    lines = [f"{'configuration':14s} {'seed':>4s} {'modes (of 8)':>13s} {'% HQ':>7s}"]
    for name, s in summary.items():
        for seed, m, h in zip(s["seeds"], s["modes"], s["hq"]):
            lines.append(f"{name:14s} {seed:4d} {m:13.0f} {h:7.1f}")
        lines.append(f"{name:14s} {'mean':>4s} {s['modes_mean']:7.1f} ± {s['modes_std']:3.1f} "
                     f"{s['hq_mean']:5.1f} ± {s['hq_std']:.1f}   ({s['seconds']:.0f} s)")
    return "\n".join(lines)


# ============================================================================ figures
def draw_ring_snapshot(ax, snapshot: dict, lim: float = 2.6, real: torch.Tensor | None = None,
                       n_show: int = 1000, title: str | None = None):
    """One panel: Disc's decision map D(x) (heat map), data (green) and fakes (black)."""
    ax.imshow(snapshot["d_map"], extent=(-lim, lim, -lim, lim), origin="lower", cmap="RdBu_r",
              vmin=0, vmax=1, interpolation="bilinear")
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=6, c="tab:green", lw=0)
    fake = snapshot["samples"][:n_show]
    ax.scatter(fake[:, 0], fake[:, 1], s=2, c="black", alpha=0.5, lw=0)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.grid(False)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title or f"step {snapshot['step']}\n{snapshot['modes_covered']}/8 modes, "
                 f"{100 * snapshot['hq']:.0f}% HQ", fontsize=9)
    return ax


def plot_ring_snapshots(run: RingRun, steps: list[int] | None = None, panel: float = 2.6):
    """Snapshots of one run in a row (default: 4 spread over training, step 0 left out):
    Disc's map D(x) as a heat map (red = "real", blue = "fake"), data green, fakes black."""
    import matplotlib.pyplot as plt

    if steps is None:
        later = run.snapshots[1:]
        steps = [later[round(i * (len(later) - 1) / 3)]["step"] for i in range(4)]
    snaps = [run.snapshot_at(s) for s in dict.fromkeys(steps)]
    real = ring_sampler(400, torch.Generator().manual_seed(0))
    fig, axes = plt.subplots(1, len(snaps), figsize=(panel * len(snaps) + 1.0, panel + 0.9),
                             squeeze=False, layout="constrained")
    for ax, snap in zip(axes[0], snaps):
        draw_ring_snapshot(ax, snap, real=real)
    for ax in axes[0, 1:]:
        ax.set_ylabel("")
    fig.colorbar(axes[0, -1].images[0], ax=axes[0].tolist(), shrink=0.85,
                 label="D(x) = P(real | x)")
    fig.suptitle(f"Ring of 8, {run.config!r}, seed {run.seed}: fakes (black), data (green), "
                 f"Disc's map")
    return fig


def plot_study(summary: dict[str, dict]):
    """Modes covered and % HQ at the end of training, one dot per seed, bar = mean."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.2))
    names = list(summary)
    for ax, key, label, top in ((axes[0], "modes", "modes covered (of 8)", 8.5),
                                (axes[1], "hq", "% high-quality samples", 100)):
        means = [summary[n][f"{key}_mean"] for n in names]
        ax.bar(names, means, color="tab:blue", alpha=0.4, label="mean over seeds")
        for i, n in enumerate(names):
            vals = summary[n][key]
            ax.scatter([i] * len(vals), vals, color="black", s=14, zorder=3,
                       label="one seed" if i == 0 else None)
        ax.set_ylim(0, top)
        ax.set_ylabel(label)
        ax.set_xlabel("configuration")
    axes[1].axhline(90, color="tab:red", ls="--", lw=1, label="90 % bar")
    axes[1].legend(fontsize=8, loc="lower right")
    fig.suptitle("Mode collapse, measured at the end of training (2,500 samples per run)")
    fig.tight_layout()
    return fig


def plot_study_curves(runs: dict[str, list[RingRun]]):
    """Modes covered and % HQ at every snapshot, one line per seed, one colour per configuration."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.3))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for c, (name, rs) in zip(colors, runs.items()):
        for i, r in enumerate(rs):
            steps = [s["step"] for s in r.snapshots]
            kw = dict(color=c, alpha=0.8, marker="o", ms=3, label=name if i == 0 else None)
            axes[0].plot(steps, [s["modes_covered"] for s in r.snapshots], **kw)
            axes[1].plot(steps, [100 * s["hq"] for s in r.snapshots], **kw)
    axes[0].set_ylabel("modes covered (of 8)")
    axes[0].set_ylim(-0.3, 8.3)
    axes[1].set_ylabel("% high-quality samples")
    axes[1].set_ylim(0, 100)
    for ax in axes:
        ax.set_xlabel("training step")
        ax.legend(fontsize=8)
    fig.suptitle("Mode metrics during training (one line per seed)")
    fig.tight_layout()
    return fig


def plot_vanishing(sweeps: dict[str, dict]):
    """Gen's gradient norm (log scale) and batch-to-batch cosine for both generator losses,
    against Disc's accuracy and training steps. `sweeps`: label of the poor Gen → the output
    of `vanishing_gradient_sweep`."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    colors = {"saturating": "tab:red", "nonsaturating": "tab:blue"}
    markers = ["o", "s", "^", "D"]
    for marker, (label, out) in zip(markers, sweeps.items()):
        steps = [max(s, 0.5) for s in out["step"]]
        for kind, color in colors.items():
            kw = dict(color=color, marker=marker, ms=4, alpha=0.85)
            axes[0].plot(out["d_acc"], out[f"grad_{kind}"], ls="none", **kw)
            axes[1].plot(steps, out[f"grad_{kind}"], lw=1, **kw)
            axes[2].plot(out["d_acc"], out[f"cos_{kind}"], ls="none", **kw)
    for ax in axes[:2]:
        ax.set_yscale("log")
        ax.set_ylabel("‖∇θ L_Gen‖ (mean over z-batches)")
    axes[1].set_xscale("log")
    axes[0].set_xlabel("Disc's accuracy (balanced)")
    axes[1].set_xlabel("Disc's training steps (step 0 drawn at 0.5)")
    axes[2].set_xlabel("Disc's accuracy (balanced)")
    axes[2].set_ylabel("cosine between two z-batches' gradients")
    axes[2].set_ylim(-0.3, 1.05)
    axes[0].set_title("size vs Disc's accuracy", fontsize=10)
    axes[1].set_title("size vs Disc's training time", fontsize=10)
    axes[2].set_title("consistency of direction", fontsize=10)
    handles = [Line2D([], [], color=c, lw=2, label=("saturating log(1 − D(G(z)))" if k ==
               "saturating" else "non-saturating −log D(G(z))")) for k, c in colors.items()]
    handles += [Line2D([], [], color="gray", marker=m, ls="none", label=f"Gen: {label}")
                for m, label in zip(markers, sweeps)]
    axes[2].legend(handles=handles, fontsize=7.5, loc="lower left")
    fig.suptitle("Vanishing gradients: a poor Gen held fixed while Disc trains towards optimal")
    fig.tight_layout()
    return fig


def plot_snapshot_grids(steps: list[int], grids: torch.Tensor, n: int = 12, scale: float = 0.55):
    """Fixed-z samples (rows) at several training steps: the same z in every row."""
    from .plot import compare_grids

    rows = {f"step {s}": grids[i][:n].float() / 255 for i, s in enumerate(steps)}
    return compare_grids(rows, "The same fixed z during training (one row per step)", n=n,
                         scale=scale)


# ============================================================================ vanishing gradients
def generator_grad_norm(G: nn.Module, D: nn.Module, z: torch.Tensor, kind: str) -> float:
    """‖∇_θ L_G‖₂: norm of the generator loss gradient w.r.t. all of Gen's parameters θ.

    `kind` is "saturating" (L_G = E log(1 − D(G(z)))) or "nonsaturating" (−E log D(G(z))).
    Disc's parameters get no gradient; Gen's ``.grad`` fields are left untouched.
    """
    params = [p for p in G.parameters() if p.requires_grad]
    if not params:
        raise ValueError("Gen has no trainable parameters: nothing to take a gradient of")
    loss = generator_loss(D(G(z)), kind)
    grads = torch.autograd.grad(loss, params)
    return torch.sqrt(sum((g.double() ** 2).sum() for g in grads)).item()


def _flat_grad(G: nn.Module, D: nn.Module, z: torch.Tensor, kind: str) -> torch.Tensor:
    params = [p for p in G.parameters() if p.requires_grad]
    grads = torch.autograd.grad(generator_loss(D(G(z)), kind), params)
    return torch.cat([g.flatten() for g in grads]).double()    # (P,)


def vanishing_gradient_sweep(model: ToyGAN, real_sampler: Callable = None,
                             d_steps: int = 2000, n_points: int = 30, lr: float = 1e-3,
                             batch_size: int = 256, n_batches: int = 8, n_eval: int = 2048,
                             seed: int = 0) -> dict[str, list[float]]:
    """Hold Gen fixed, train Disc towards the optimal discriminator, watch Gen's gradients.

    At `n_points` steps (log-spaced in 0..d_steps) records Disc's balanced accuracy on fresh
    data and, for both generator losses, the gradient norm ‖∇_θ L_G‖ (mean over `n_batches`
    z-batches of `batch_size`) and the mean cosine between the gradients of two different
    z-batches (1 = the same direction every batch; near 0 = erratic). Disc trains with
    ``ck.train`` on the loss of `discriminator_loss`; Gen's parameters are never updated.
    Returns lists keyed "step", "d_acc", "d_fake" (mean D(G(z))), "grad_<kind>",
    "cos_<kind>" for kind in saturating / nonsaturating.
    """
    real_sampler = real_sampler or ring_sampler
    if d_steps < 1 or n_points < 2:
        raise ValueError(f"need d_steps ≥ 1 and n_points ≥ 2, got {d_steps}, {n_points}")
    G, D = model.G, model.D
    G.requires_grad_(True)
    g = torch.Generator().manual_seed(seed)
    x_eval = real_sampler(n_eval, g)                            # (n_eval, 2) real points
    z_eval = model.prior(n_eval, g)                             # (n_eval, z_dim)
    z_batches = [model.prior(batch_size, g) for _ in range(n_batches)]
    marks = sorted({0, *torch.logspace(0, math.log10(d_steps), n_points - 1).round().long().tolist()})
    out: dict[str, list[float]] = {k: [] for k in ("step", "d_acc", "d_fake", "grad_saturating",
                                                   "grad_nonsaturating", "cos_saturating",
                                                   "cos_nonsaturating")}

    def measure(step: int) -> None:
        with torch.no_grad():
            d_real, d_fake = D(x_eval), D(G(z_eval))
        out["step"].append(step)
        out["d_acc"].append(discriminator_accuracy(d_real, d_fake))
        out["d_fake"].append(torch.sigmoid(d_fake).mean().item())
        for kind in GEN_LOSSES:
            grads = torch.stack([_flat_grad(G, D, z, kind) for z in z_batches])  # (n_batches, P)
            norms = grads.norm(dim=1)
            unit = grads / norms.clamp_min(1e-300)[:, None]
            cos = (unit[:-1] * unit[1:]).sum(1)                 # consecutive batch pairs
            out[f"grad_{kind}"].append(norms.mean().item())
            out[f"cos_{kind}"].append(cos.mean().item())

    def disc_loss(D_, x_real):
        with torch.no_grad():
            x_fake = G(model.prior(len(x_real)))                 # Gen held fixed
        return discriminator_loss(D_(x_real), D_(x_fake))

    opt = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    done = 0
    measure(0)
    for mark in marks[1:]:
        train(D, disc_loss, real_sampler, steps=mark - done, batch_size=batch_size,
              optimizer=opt, seed=seed + mark, progress=False)
        done = mark
        D.train()
        measure(done)
    return out


# ============================================================================ optimal discriminator
def optimal_discriminator(p_data: torch.Tensor, p_g: torch.Tensor) -> torch.Tensor:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)): the best Disc for a fixed Gen.

    For each x, Disc's expected loss −p_data·log D − p_g·log(1 − D) (real and fake with equal
    probability) is minimised by D = p_data / (p_data + p_g); it is 1/2 wherever p_g = p_data.
    """
    p_data, p_g = torch.as_tensor(p_data), torch.as_tensor(p_g)
    if (p_data < 0).any() or (p_g < 0).any():
        raise ValueError("densities must be ≥ 0")
    return p_data / (p_data + p_g)


def train_discriminator(D: nn.Module, real_sampler: Callable, fake_sampler: Callable,
                        steps: int = 500, batch_size: int = 256, lr: float = 1e-3,
                        n_eval: int = 10_000, seed: int = 0) -> dict:
    """Train Disc alone (real vs a fixed fake distribution) with ``ck.train``; evaluate it.

    Samplers are ``sampler(n, generator) -> (n, d)``. Returns {"accuracy": balanced accuracy
    on fresh held-out points, "d_real", "d_fake": mean D = σ(Disc) on them, "history"}.
    """
    def both(n, generator):
        return real_sampler(n, generator), fake_sampler(n, generator)

    def disc_loss(D_, x_real, x_fake):
        return discriminator_loss(D_(x_real), D_(x_fake))

    history = train(D, disc_loss, both, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                    progress=False)
    g = torch.Generator().manual_seed(seed + 7_777)
    with torch.no_grad():
        d_real, d_fake = D(real_sampler(n_eval, g)), D(fake_sampler(n_eval, g))
    return {"accuracy": discriminator_accuracy(d_real, d_fake),
            "d_real": torch.sigmoid(d_real).mean().item(),
            "d_fake": torch.sigmoid(d_fake).mean().item(), "history": history}


# ============================================================================ MNIST DCGAN
class DCGenerator(nn.Module):
    """Gen for MNIST (DCGAN-style, small for CPUs): z (B, z_dim) → x̃ (B, 1, 28, 28) in [−1, 1]."""

    def __init__(self, z_dim: int = 32, width: int = 32):
        super().__init__()
        self.z_dim, self.width = z_dim, width
        self.project = nn.Sequential(nn.Linear(z_dim, 2 * width * 7 * 7, bias=False),
                                     nn.BatchNorm1d(2 * width * 7 * 7), nn.ReLU())
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False),  # 7 → 14
            nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, 2, 1),                      # 14 → 28
            nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"Gen expects z of shape (B, {self.z_dim}), got {tuple(z.shape)}")
        h = self.project(z).view(-1, 2 * self.width, 7, 7)          # (B, 2w, 7, 7)
        return self.up(h)                                            # (B, 1, 28, 28) in [−1, 1]


class DCDiscriminator(nn.Module):
    """Disc for MNIST: x (B, 1, 28, 28) in [−1, 1] → logits (B,), +1 = data, −1 = fake."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2),                   # 28 → 14
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2),           # 14 → 7
            nn.Flatten(), nn.Linear(2 * width * 7 * 7, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"Disc expects images of shape (B, 1, 28, 28) scaled to [-1, 1], "
                             f"got {tuple(x.shape)}")
        return self.net(x).squeeze(-1)                                 # (B,)


class MNISTGAN(nn.Module):
    """A small DCGAN for MNIST. ``sample(n)`` → (n, 1, 28, 28) in [0, 1] (the zoo contract)."""

    def __init__(self, z_dim: int = 32, width: int = 32):
        super().__init__()
        self.z_dim = z_dim
        self.G = DCGenerator(z_dim, width)
        self.D = DCDiscriminator(width)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(0, I_m): (n, z_dim), drawn on the CPU (reproducible) then moved."""
        return torch.randn(n, self.z_dim, generator=generator).to(self.device)

    @torch.no_grad()
    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """Gen(z) mapped to [0, 1], in eval mode: (B, 1, 28, 28)."""
        was_training = self.training
        self.eval()
        x = from_pm1(self.G(z.to(self.device)))                        # (B, 1, 28, 28) in [0, 1]
        self.train(was_training)
        return x

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n digits x̃ = Gen(z), z ~ N(0, I), mapped to [0, 1]: (n, 1, 28, 28)."""
        if n < 1:
            raise ValueError(f"n must be ≥ 1, got {n}")
        return self.generate(self.prior(n, generator))


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between latent codes (stays at the typical norm of N(0, I))."""
    z0n, z1n = z0 / z0.norm(dim=-1, keepdim=True), z1 / z1.norm(dim=-1, keepdim=True)
    omega = torch.acos((z0n * z1n).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


#: The MNIST recipe (default profile). `tiny` uses TINY_MNIST instead (seconds, for tests).
MNIST_RECIPE = dict(z_dim=32, width=32, steps=4000, batch_size=64, lr=2e-4, betas=(0.5, 0.999),
                    gen_loss="nonsaturating", ema_decay=0.995, report_raw=True,
                    snapshot_steps=(0, 100, 250, 500, 1000, 2000, 3000, 4000),
                    n_grid=64, n_eval=5000)
TINY_MNIST = dict(MNIST_RECIPE, steps=20, batch_size=32, snapshot_steps=(0, 10, 20), n_eval=200)


def fit_mnist_gan(model: MNISTGAN, cfg, tiny: bool = False, recipe: dict | None = None,
                  progress: bool = True) -> tuple[dict, dict]:
    """Train `model` on MNIST (train split) with ``ck.train``; keep fixed-z snapshot grids.

    Returns (metrics, extras). extras: "snapshot_steps" (K,), "snapshots" (K, n_grid, 1, 28, 28)
    uint8 (grids of the same fixed z at those steps, for a replay slider), "z_fixed",
    "loss_d", "loss_g", "d_acc" curves. Metrics come from ``ck.metrics.evaluate_samples``
    (classes covered, KL to uniform, Fréchet distance) on `n_eval` samples.
    """
    r = dict(recipe or (TINY_MNIST if tiny else MNIST_RECIPE))
    from .data import load_mnist

    torch.manual_seed(cfg.seed)
    x_train = load_mnist("train").x                                   # (N, 1, 28, 28) in [0, 1]
    opt_g = torch.optim.Adam(model.G.parameters(), lr=r["lr"], betas=r["betas"], foreach=True)
    opt_d = torch.optim.Adam(model.D.parameters(), lr=r["lr"], betas=r["betas"], foreach=True)
    z_fixed = model.prior(r["n_grid"], torch.Generator().manual_seed(cfg.seed + 31_337))
    step_fn = gan_step(opt_g, opt_d, r["gen_loss"], preprocess=to_pm1)
    snap_steps = list(r["snapshot_steps"])
    every = math.gcd(*snap_steps) if len(snap_steps) > 1 else r["steps"]
    if snap_steps[0] != 0 or snap_steps[-1] != r["steps"] or snap_steps != sorted(snap_steps):
        raise ValueError(f"snapshot_steps must rise from 0 to steps={r['steps']}, got {snap_steps}")
    # EMA of the weights, θ̄ ← d·θ̄ + (1 − d)·θ: averages out the players' oscillations; the
    # snapshots and the saved Gen use θ̄ (Disc's EMA is kept too but only Gen's matters).
    ema = EMA(model, r["ema_decay"]) if r.get("ema_decay") else None
    snaps, calls = [], {"n": 0}

    def grab(m: MNISTGAN) -> dict:
        # eval_fn runs every `every` steps and once at the end: call n ↔ step n·every
        step = min(calls["n"] * every, r["steps"])
        calls["n"] += 1
        if step in snap_steps:
            shown = ema.model if ema is not None else m
            snaps.append((shown.generate(z_fixed) * 255).round().to(torch.uint8).cpu())
        return {}

    grab(model)
    history = train(model, None, x_train, steps=r["steps"], batch_size=r["batch_size"],
                    step_fn=step_fn, optimizer={"g": opt_g, "d": opt_d}, eval_fn=grab,
                    eval_every=every, seed=cfg.seed, log_every=50, progress=progress,
                    desc="DCGAN on MNIST", ema=ema)
    steps_done = r["steps"]
    metrics = {"steps": float(steps_done), "d_acc_end": history.last("d_acc")}
    eval_g = torch.Generator().manual_seed(cfg.seed + 1)
    if r.get("report_raw") and not tiny:  # the last raw weights, for comparison with the EMA
        raw = mnist_class_metrics(model.sample(r["n_eval"], eval_g))
        metrics.update({f"raw_{k}": v for k, v in raw.items()})
        eval_g = torch.Generator().manual_seed(cfg.seed + 1)
    if ema is not None:
        model.load_state_dict(ema.model.state_dict())
    if not tiny:  # the classifier is another pretrained model: tiny runs (tests) skip it
        samples = model.sample(r["n_eval"], eval_g)
        metrics.update(mnist_class_metrics(samples))
    extras = {"snapshot_steps": torch.tensor(r["snapshot_steps"]), "snapshots": torch.stack(snaps),
              "z_fixed": z_fixed.cpu()}
    for key in ("loss_d", "loss_g", "d_acc"):
        steps_k, values = history.series(key)
        extras[key] = torch.tensor([steps_k, values], dtype=torch.float32)   # (2, T)
    return metrics, extras


def mnist_class_metrics(samples: torch.Tensor) -> dict:
    """Class coverage of generated digits via the course's MNIST classifier (``ck.metrics``).

    Returns coverage (classes with ≥ 1 % of the samples, of 10), kl_uniform (KL of the class
    histogram to uniform, nats), fd and fd_ratio (Fréchet distance in the classifier's feature
    space, and its ratio to real-vs-real), precision and recall.
    """
    from . import metrics  # lazy: metrics loads (or trains) the classifier checkpoint

    return {k: float(v) for k, v in metrics.evaluate_samples(samples).items()}


register(Recipe(
    "gan", build=lambda: MNISTGAN(MNIST_RECIPE["z_dim"], MNIST_RECIPE["width"]),
    fit=fit_mnist_gan,
    description=(f"Small DCGAN on MNIST (z_dim {MNIST_RECIPE['z_dim']}, width "
                 f"{MNIST_RECIPE['width']}), non-saturating loss, Adam 2e-4, "
                 f"{MNIST_RECIPE['steps']} steps of batch {MNIST_RECIPE['batch_size']}, weights = "
                 f"EMA (decay {MNIST_RECIPE['ema_decay']}); raw_* metrics: the last raw weights. "
                 f"Extras: fixed-z sample grids at steps {MNIST_RECIPE['snapshot_steps']}.")))
