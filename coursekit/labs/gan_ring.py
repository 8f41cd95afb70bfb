"""Notebook 03's mode-collapse study: a GAN on the ring of 8 Gaussians, measured.

* `RING_CONFIGS` (typed `RingConfig`s), `ring_sampler`, `train_ring_gan` (snapshots of the
  samples and of Disc's decision map) and `ring_study` (every configuration × every seed);
* mode collapse as numbers: `mode_metrics` (nearest mode, high quality within 3 std,
  coverage), `study_summary`, `format_study`;
* figures: `draw_ring_snapshot`, `plot_ring_snapshots`, `plot_study`, `plot_study_curves`.
"""
from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import torch

from ..core.data import ring_modes, ring_of_gaussians
from ..core.nn import eval_mode, seeded
from ..core.train import History, cosine_schedule, train
from ..models.gan import MLPDiscriminator, ToyGAN, gan_step

#: The ring of 8 Gaussians of the unrolled-GAN paper: modes at radius 2, std 0.02.
RING = dict(n_modes=8, radius=2.0, std=0.02)
#: % HQ of a perfect generator: the mass of a 2-D Gaussian within 3 std, 100·(1 − e^(−9/2)).
PERFECT_HQ = 100 * (1 - math.exp(-4.5))


@dataclass(frozen=True)
class RingConfig:
    """One configuration of the ring experiment: `ToyGAN` size, Adam and the game's options.

    d_lr: Disc's learning rate (default: `lr`). lr_final: when given, both learning rates
    follow a cosine from their start value down to ``lr_final / lr`` × that value.
    noise: std of the instance noise on every Disc input, annealed linearly to 0 at
    ``noise_end × steps``.
    """

    lr: float
    d_lr: float | None = None
    lr_final: float | None = None
    noise: float = 0.0
    noise_end: float = 0.5
    z_dim: int = 2
    hidden: int = 64
    depth: int = 3
    pack: int = 1
    betas: tuple[float, float] = (0.5, 0.999)
    gen_loss: str = "nonsaturating"
    batch_size: int = 128

    def build(self) -> ToyGAN:
        """A fresh ToyGAN of this size (weights from torch's global generator)."""
        return ToyGAN(self.z_dim, self.hidden, self.depth, self.pack)


#: The configurations of notebook 03; the same seeds and step counts are used for each.
RING_CONFIGS: dict[str, RingConfig] = {
    # Disc learns 3× slower than Gen: Gen moves all fakes to Disc's current favourite spot
    "slow_disc": RingConfig(lr=1e-3, d_lr=3e-4),
    # the plain GAN: equal, constant learning rates
    "vanilla": RingConfig(lr=1e-3),
    # the remedy: instance noise σ = 0.6 → 0 over the first half, learning rates 3e-3 → 1e-5
    "noise_anneal": RingConfig(lr=3e-3, lr_final=1e-5, noise=0.6, noise_end=0.5),
}


@contextmanager
def small_net_cpu() -> Iterator[None]:
    """Run the block with one intra-op thread and denormal floats flushed to zero (both
    restored afterwards).

    The toys of notebook 03 are MLPs of 64 units on batches of 128-256 points: each operation
    is far too small to split across threads, so a second thread only waits for the first
    (twice the CPU time for the same wall time on an idle machine, and many times the wall
    time when other processes share the cores); the committed ``gan_ring`` study was made with
    one. Denormals (|x| < 1.2e-38 in float32) are slow on most CPUs and carry no information
    at this scale: a 4,000-step ring run took about 30 s with them and 26 s without.
    """
    threads = torch.get_num_threads()  # (torch cannot report the denormal setting: its default, off,
    torch.set_num_threads(1)           # is restored)
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.set_flush_denormal(False)


def toy_adam(params, lr: float, betas: tuple[float, float] = (0.9, 0.999)) -> torch.optim.Adam:
    """Adam for the 2-D toys, with torch's fused CPU kernel: one loop in C++ over all of a small
    MLP's parameters instead of about ten tensor operations per step, 3.5× faster for these
    networks (Adam was a quarter of a ring step). The same update as plain Adam up to float
    rounding (about 1e-7 after 500 steps), which a GAN can amplify: runs made with it are
    compared with studies made with it."""
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)


def ring_sampler(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A batch from the ring of 8 Gaussians (radius 2, std 0.02): (n, 2)."""
    return ring_of_gaussians(n, generator=generator, **RING)


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


@torch.no_grad()
def decision_map(D: MLPDiscriminator, lim: float = 2.6, n: int = 100) -> torch.Tensor:
    """D(x) = σ(Disc(x)) on an n × n grid over [−lim, lim]²: (n, n), row i = x₂, column j = x₁."""
    axis = torch.linspace(-lim, lim, n)
    x2, x1 = torch.meshgrid(axis, axis, indexing="ij")
    grid = torch.stack([x1.flatten(), x2.flatten()], dim=1)     # (n², 2)
    device = next(D.parameters()).device
    return torch.sigmoid(D.point_logits(grid.to(device))).reshape(n, n).cpu()


# ============================================================================ training
@dataclass
class RingRun:
    """One ring-of-8 training run: the model, its history and its snapshots."""

    name: str
    seed: int
    config: RingConfig
    model: ToyGAN
    history: History
    snapshots: list[dict] = field(default_factory=list)  # {"step", "samples", "d_map", metrics}
    seconds: float = 0.0

    @property
    def final(self) -> dict:
        return self.snapshots[-1]

    def snapshot_at(self, step: int) -> dict:
        """The snapshot taken at `step` (KeyError listing the steps when there is none)."""
        for snap in self.snapshots:
            if snap["step"] == step:
                return snap
        raise KeyError(f"no snapshot at step {step}; snapshots: "
                       f"{[s['step'] for s in self.snapshots]}")

    def gan_at(self, step: int, seed: int = 0) -> ToyGAN:
        """A fresh ToyGAN whose Gen has the weights of the snapshot at `step` and whose Disc is
        newly initialised (seeded): e.g. a *poor* Gen from early training."""
        with seeded(seed):
            model = self.config.build()
        model.G.load_state_dict(self.snapshot_at(step)["G_state"])
        return model


def _ring_step_fn(c: RingConfig, opt_g, opt_d, steps: int, generator: torch.Generator):
    """The game's step with this configuration's instance noise (annealed linearly to 0)."""
    noise = None
    if c.noise > 0:
        stop = c.noise_end * steps

        def noise(t: int) -> float:
            return c.noise * max(0.0, 1.0 - t / stop)

    return gan_step(opt_g, opt_d, c.gen_loss, instance_noise=noise, generator=generator)


def _ring_schedule(c: RingConfig):
    """Cosine decay lr → lr_final that reaches lr_final at the *last* update (step total − 1),
    as the study was run; None for constant learning rates."""
    if c.lr_final is None or c.lr_final == c.lr:
        return None
    cosine = cosine_schedule(final=c.lr_final / c.lr)
    return lambda step, total: cosine(step, total - 1)


def train_ring_gan(config: str | RingConfig = "vanilla", seed: int = 0, steps: int = 3000,
                   snapshot_every: int = 500, n_eval: int = 2500, progress: bool = False,
                   map_size: int = 80, name: str | None = None,
                   desc: str | None = None) -> RingRun:
    """Train a `ToyGAN` on the ring of 8 Gaussians with ``ck.train`` and take snapshots.

    A snapshot (at step 0, every `snapshot_every` steps and at the end) holds `n_eval` samples
    (fixed z), Disc's decision map, Gen's weights and `mode_metrics`. `seed` fixes the initial
    weights and every random draw of the run; torch's global generator is left as it was.
    Runs with one intra-op thread and no denormals (`small_net_cpu`). `name` labels the run and
    its progress bar (default: the configuration's name, "custom" for a `RingConfig`). The bar
    counts steps only (no running metrics); `desc` replaces its label.
    """
    with small_net_cpu():
        return _train_ring_gan(config, seed, steps, snapshot_every, n_eval, progress, map_size,
                               name, desc)


def _train_ring_gan(config, seed, steps, snapshot_every, n_eval, progress, map_size,
                    name, desc=None) -> RingRun:
    name = name or (config if isinstance(config, str) else "custom")
    if isinstance(config, str):
        if config not in RING_CONFIGS:
            raise KeyError(f"unknown ring configuration {config!r}; known: {sorted(RING_CONFIGS)}")
        config = RING_CONFIGS[config]
    c = config
    with seeded(seed):
        model = c.build()
        # z and the instance noise continue the seeded stream after the initial weights
        noise_g = torch.Generator().set_state(torch.get_rng_state())
    opt_g = toy_adam(model.G.parameters(), lr=c.lr, betas=c.betas)
    opt_d = toy_adam(model.D.parameters(), lr=c.d_lr or c.lr, betas=c.betas)
    z_fixed = model.prior(n_eval, torch.Generator().manual_seed(10_000 + seed))  # (n_eval, z_dim)
    modes = ring_modes(RING["n_modes"], RING["radius"])
    snapshots: list[dict] = []

    def snapshot(m: ToyGAN, step: int) -> dict:
        samples = m.G(z_fixed).cpu()                            # (n_eval, 2)
        metrics = mode_metrics(samples, modes, RING["std"])
        snapshots.append({"step": step, "samples": samples,
                          "d_map": decision_map(m.D, n=map_size),
                          "G_state": {k: v.detach().clone() for k, v in m.G.state_dict().items()},
                          "modes_covered": metrics["modes_covered"], "hq": metrics["hq"]})
        return {"modes_covered": metrics["modes_covered"], "hq": metrics["hq"]}

    with eval_mode(model), torch.no_grad():
        snapshot(model, 0)
    t0 = time.perf_counter()
    history = train(model, None, ring_sampler, steps=steps, batch_size=c.batch_size,
                    step_fn=_ring_step_fn(c, opt_g, opt_d, steps, noise_g),
                    optimizer={"g": opt_g, "d": opt_d}, schedule=_ring_schedule(c),
                    eval_fn=snapshot, eval_every=snapshot_every, seed=seed, progress=progress,
                    desc=desc or f"ring GAN {name} seed {seed}", show_metrics=False)
    return RingRun(name, seed, c, model, history, snapshots, time.perf_counter() - t0)


def ring_study(configs: list[str] | dict[str, RingConfig], seeds=(0, 1, 2), steps: int = 3000,
               snapshot_every: int = 500, progress: bool = True) -> dict[str, list[RingRun]]:
    """Train every configuration with every seed (same steps): {config name: [RingRun, ...]}."""
    items = configs.items() if isinstance(configs, dict) else [(c, c) for c in configs]
    return {name: [train_ring_gan(config, seed=seed, steps=steps, snapshot_every=snapshot_every,
                                  progress=progress, name=name) for seed in seeds]
            for name, config in items}


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
    ax.imshow(snapshot["d_map"].numpy(), extent=(-lim, lim, -lim, lim), origin="lower",
              cmap="RdBu_r", vmin=0, vmax=1, interpolation="bilinear")
    if real is not None:
        ax.scatter(real[:, 0].numpy(), real[:, 1].numpy(), s=6, c="tab:green", lw=0)
    fake = snapshot["samples"][:n_show].numpy()
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
    fig.suptitle(f"Ring of 8, {run.name!r}, seed {run.seed}: fakes (black), data (green), "
                 f"Disc's map")
    return fig


def plot_study(summary: dict[str, dict]):
    """Modes covered and % HQ at the end of training, one dot per seed, bar = mean."""
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
    axes[1].axhline(PERFECT_HQ, color="tab:red", ls="--", lw=1,
                    label=f"perfect generator ({PERFECT_HQ:.1f} %)")
    axes[1].legend(fontsize=8, loc="lower right")
    fig.suptitle("Mode collapse, measured at the end of training (2,500 samples per run)")
    fig.tight_layout()
    return fig


def plot_study_curves(runs: dict[str, list[RingRun]]):
    """Modes covered and % HQ at every snapshot, one line per seed, one colour per configuration."""
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.3))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for c, (name, rs) in zip(colors, runs.items()):
        for i, r in enumerate(rs):
            steps = [s["step"] for s in r.snapshots]
            kw = dict(color=c, alpha=0.8, marker="o", ms=3, label=name if i == 0 else None)
            axes[0].plot(steps, [s["modes_covered"] for s in r.snapshots], **kw)
            axes[1].plot(steps, [100 * s["hq"] for s in r.snapshots], **kw)
    return finish_mode_axes(fig, axes, "Mode metrics during training (one line per seed)", 8)


def finish_mode_axes(fig, axes, title: str, legend_size: float):
    """Labels, limits and legends of a (modes covered, % HQ) pair of axes over training steps."""
    axes[0].set_ylabel("modes covered (of 8)")
    axes[0].set_ylim(-0.3, 8.3)
    axes[1].set_ylabel("% high-quality samples")
    axes[1].set_ylim(0, 100)
    for ax in axes:
        ax.set_xlabel("training step")
        ax.legend(fontsize=legend_size)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_mode_collapse(run: RingRun, step: int | None = None, n_show: int = 1000):
    """Mode collapse as the lecture means it, for one snapshot of `run` (default: the last):
    left, the data (green), Gen's fakes (black) and the eight modes numbered 0–7; right, the
    high-quality samples of each mode (`mode_metrics`) as bars, covered modes blue, the others
    vermillion, with the coverage threshold (1 % of the samples) and a perfect Gen's share."""
    from ..core.style import COLORS

    snap = run.final if step is None else run.snapshot_at(step)
    m = mode_metrics(snap["samples"], std=RING["std"])
    counts = m["hq_counts"].tolist()
    modes = ring_modes(RING["n_modes"], RING["radius"])
    real = ring_sampler(400, torch.Generator().manual_seed(0))
    fake = snap["samples"][:n_show]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.4), width_ratios=(1, 1.25),
                                      layout="constrained")
    left.scatter(real[:, 0], real[:, 1], s=40, color=COLORS["green"], alpha=0.35, lw=0,
                 label="data")
    left.scatter(fake[:, 0], fake[:, 1], s=5, color="black", alpha=0.5, lw=0,
                 label=f"fakes ({len(fake):,} of {m['n']:,})")
    for k, (x, y) in enumerate(modes.tolist()):
        left.annotate(str(k), (1.2 * x, 1.2 * y), ha="center", va="center", fontsize=10,
                      color=COLORS["blue"] if counts[k] >= m["min_count"] else COLORS["vermillion"],
                      fontweight="bold")
    lim = 2.8
    left.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="$x_1$", ylabel="$x_2$",
             title=f"Step {snap['step']}: data and Gen's fakes\n(mode numbers coloured as the bars)")
    left.set_aspect("equal")
    left.legend(loc="center", fontsize=9, markerscale=2)
    covered = [c >= m["min_count"] for c in counts]
    right.bar([str(k) for k in range(len(counts))], counts,
              color=[COLORS["blue"] if c else COLORS["vermillion"] for c in covered])
    right.axhline(m["min_count"], color="black", ls="--", lw=1,
                  label=f"covered: at least {m['min_count']} (1 % of the samples)")
    right.axhline(m["n"] / len(counts) * PERFECT_HQ / 100, color=COLORS["green"], ls=":", lw=1.5,
                  label="a perfect Gen (the same on every mode)")
    right.bar([0], [0], color=COLORS["blue"], label="covered mode")      # legend entries
    right.bar([0], [0], color=COLORS["vermillion"], label="missed mode")
    right.set(xlabel="mode (numbered as on the left)", ylabel="high-quality samples",
              title=f"{sum(covered)}/8 modes covered, {100 * m['hq']:.0f} % of fakes high quality")
    right.legend(fontsize=8, loc="upper right")
    right.set_ylim(0, max(max(counts), m["n"] / len(counts)) * 1.3)
    return fig
