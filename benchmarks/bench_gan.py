"""Cost of the GAN notebook's training, measured in one run (prints numbers, asserts nothing).

    python benchmarks/bench_gan.py            # ~1-2 CPU-minutes

Prints milliseconds per training step (wall and CPU, this process) of
* the ring-of-8 GAN of `gan.RING_CONFIGS` (both configurations),
* the MNIST DCGAN of the "gan" recipe (batch 64),
and extrapolates them to the notebook's default profile: 2 configurations × 3 seeds × the
ring steps, and the DCGAN recipe when its checkpoint is missing. On a machine shared with
other jobs, the CPU figure is the one to compare.
"""
from __future__ import annotations

import time

import torch

import coursekit as ck
from coursekit import gan


def per_step(fn, steps: int) -> tuple[float, float]:
    t, c = time.perf_counter(), time.process_time()
    fn(steps)
    return (time.perf_counter() - t) / steps * 1e3, (time.process_time() - c) / steps * 1e3


def ring(name: str, steps: int) -> None:
    gan.train_ring_gan(name, seed=0, steps=steps, snapshot_every=steps, progress=False,
                       map_size=10, n_eval=500)


def dcgan(steps: int) -> None:
    r = gan.MNIST_RECIPE
    model = gan.MNISTGAN(r["z_dim"], r["width"])
    opt_g = torch.optim.Adam(model.G.parameters(), lr=r["lr"], betas=r["betas"], foreach=True)
    opt_d = torch.optim.Adam(model.D.parameters(), lr=r["lr"], betas=r["betas"], foreach=True)
    x = ck.load_mnist("train").x
    ck.train(model, None, x, steps=steps, batch_size=r["batch_size"], progress=False,
             step_fn=gan.gan_step(opt_g, opt_d, r["gen_loss"], preprocess=ck.data.to_pm1),
             optimizer={"g": opt_g, "d": opt_d})


def main() -> None:
    cfg = ck.setup(seed=0)
    ring_steps = 300
    total_ring = 0.0
    for name, c in gan.RING_CONFIGS.items():
        wall, cpu = per_step(lambda n: ring(name, n), ring_steps)
        total_ring += 3 * c.get("steps", 3000) * wall / 1e3
        print(f"ring GAN {name:8s}: {wall:6.2f} ms/step wall, {cpu:6.2f} ms/step CPU "
              f"({cfg.threads} threads)")
    wall, cpu = per_step(dcgan, 20)
    print(f"MNIST DCGAN    : {wall:6.1f} ms/step wall, {cpu:6.1f} ms/step CPU (batch "
          f"{gan.MNIST_RECIPE['batch_size']})")
    print(f"extrapolated: ring study (2 configurations x 3 seeds) {total_ring:.0f} s wall; "
          f"DCGAN recipe ({gan.MNIST_RECIPE['steps']} steps) "
          f"{gan.MNIST_RECIPE['steps'] * wall / 1e3:.0f} s wall")


if __name__ == "__main__":
    main()
