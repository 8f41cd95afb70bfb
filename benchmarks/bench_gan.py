"""Cost of the GAN notebook's training, measured in one run (prints numbers, asserts nothing).

    COURSEKIT_THREADS=1 python benchmarks/bench_gan.py       # ~1 CPU-minute

Prints milliseconds per training step (wall and CPU, this process) of
* the ring-of-8 GAN of every configuration in `gan_ring.RING_CONFIGS`,
* the MNIST DCGAN of the "gan" recipe (its config: Disc width, reused fakes, EMA),
and extrapolates them (CPU time) to the notebook's default profile: every configuration × 3
seeds × RING_STEPS steps, and the DCGAN recipe (only trained when its checkpoint is missing),
as a ratio to the issue's 10-minute budget. On a machine shared with other jobs, the CPU
figures are the ones to compare.

Last, the verdict of the committed `gan` checkpoint against the [sample-quality] bars, read from
its card: training-loop CPU-s (≤ 900 on 1 thread), FD / real-vs-real as median and range over 3
sampling seeds of 1,000 samples (≤ 8×), classes covered (10/10) and KL to uniform (≤ 0.05).
The ablation behind the recipe (each ingredient's effect on FD at equal CPU time), `ABLATION`,
is printed before the verdict; its runs are described in benchmarks/gan_pilots.md (1 thread, on
a machine shared with other jobs: the load average is in each row, because CPU-s per step
grow with the load).

Measured 2026-11-27 (1 thread, machine shared with two other jobs, 17 s wall in all): ring GAN
7.7–7.9 ms/step CPU for each configuration, DCGAN 160 ms/step CPU; extrapolated ring study
282 CPU-s = 0.47 × the 600 s budget (notebook 03 measured 281–301 s wall for it), DCGAN recipe
642 CPU-s = 1.07 × (the checkpoint's card: 708 CPU-s including snapshots and evaluation).
"""
from __future__ import annotations

import time

import torch

import coursekit as ck
from coursekit.labs import gan_ring
from coursekit.models import gan
from coursekit.recipes.gan import GANConfig, build, format_ablation


def per_step(fn, steps: int) -> tuple[float, float]:
    t, c = time.perf_counter(), time.process_time()
    fn(steps)
    return (time.perf_counter() - t) / steps * 1e3, (time.process_time() - c) / steps * 1e3


def ring(name: str, steps: int) -> None:
    gan_ring.train_ring_gan(name, seed=0, steps=steps, snapshot_every=steps, progress=False,
                       map_size=10, n_eval=500)


def dcgan(steps: int) -> None:
    """`steps` training steps of the "gan" recipe's model and update (without its snapshots)."""
    r = GANConfig()
    model = build(r)
    opt_g = torch.optim.Adam(model.G.parameters(), lr=r.lr, betas=r.betas, foreach=True)
    opt_d = torch.optim.Adam(model.D.parameters(), lr=r.lr, betas=r.betas, foreach=True)
    x = ck.load_mnist("train").x
    ck.train(model, None, x, steps=steps, batch_size=r.batch_size, progress=False,
             step_fn=gan.gan_step(opt_g, opt_d, r.gen_loss, preprocess=ck.data.to_pm1,
                                  reuse_fakes=True),
             optimizer={"g": opt_g, "d": opt_d}, ema=ck.EMA(model, r.ema_decay))


#: Steps per ring run in notebook 03's default profile (``STEPS = cfg.scale(4000, 160)``).
RING_STEPS = 4000
#: The issue's budget for the default profile, seconds.
BUDGET_S = 600


def main() -> None:
    cfg = ck.setup(seed=0)
    ring_steps = 300
    total_ring = 0.0
    for name in gan_ring.RING_CONFIGS:
        wall, cpu = per_step(lambda n, name=name: ring(name, n), ring_steps)
        total_ring += 3 * RING_STEPS * cpu / 1e3
        print(f"ring GAN {name:12s}: {wall:6.2f} ms/step wall, {cpu:6.2f} ms/step CPU "
              f"({cfg.threads} threads)")
    wall, cpu = per_step(dcgan, 60)
    print(f"MNIST DCGAN           : {wall:6.1f} ms/step wall, {cpu:6.1f} ms/step CPU (batch "
          f"{GANConfig().batch_size})")
    dcgan_s = GANConfig().steps * cpu / 1e3
    print(f"extrapolated (CPU): ring study ({len(gan_ring.RING_CONFIGS)} configurations x 3 "
          f"seeds x {RING_STEPS} steps) {total_ring:.0f} s = {total_ring / BUDGET_S:.2f} x the "
          f"{BUDGET_S} s budget; DCGAN recipe ({GANConfig().steps} steps, only without "
          f"its checkpoint) {dcgan_s:.0f} s = {dcgan_s / BUDGET_S:.2f} x")


#: The [sample-quality] bars for the MNIST GAN.
BARS = {"fd_ratio": 8.0, "train_cpu_s": 900.0, "coverage": 10, "kl_uniform": 0.05}


def verdict() -> None:
    """The committed checkpoint's card against the bars (printed last)."""
    m = ck.pretrained("gan", verbose=False).card["metrics"]
    cpu = m.get("train_loop_cpu_seconds", float("nan"))
    seeds = sorted(k for k in m if k.startswith("seed") and k.endswith("_fd_ratio"))
    print(f"gan card: training loop {cpu:.0f} CPU-s ({cpu / BARS['train_cpu_s']:.2f} x the "
          f"{BARS['train_cpu_s']:.0f} s bar); FD ratio median {m['fd_ratio']:.2f} "
          f"(range {m.get('fd_ratio_min', float('nan')):.2f}-"
          f"{m.get('fd_ratio_max', float('nan')):.2f}, {len(seeds)} sampling seeds); "
          f"classes {m['coverage']:.0f}/10 (median), KL to uniform {m['kl_uniform']:.3f}")
    checks = {"FD median <= 8x": m["fd_ratio"] <= BARS["fd_ratio"],
              "<= 900 CPU-s": cpu <= BARS["train_cpu_s"],
              "10/10 classes on every seed": m.get("coverage_min", m["coverage"]) >= 10,
              "KL <= 0.05": m["kl_uniform"] <= BARS["kl_uniform"]}
    print("verdict: " + "; ".join(f"{k} {'met' if ok else 'NOT met'}" for k, ok in checks.items())
          + f" (FD ratio {m['fd_ratio'] / BARS['fd_ratio']:.2f} x the bar)")


if __name__ == "__main__":
    main()
    print(format_ablation())
    verdict()
