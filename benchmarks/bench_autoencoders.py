"""Benchmark of the linear AE ≡ PCA experiment (notebook 01, section 2). Prints ratios.

1. Cost of one full-batch step of a linear AE (m = 16) computed from the data matrix (N × d)
   versus from the covariance Σ (d × d): same loss and gradient, different cost.
2. Quality reached by the notebook's full-batch recipe (Adam 3e-3, 1500 steps): largest principal
   angle to the PCA subspace and the error ratio — the goals are "a few degrees at most" and
   "within 1 %".

Run: ``.venv/bin/python benchmarks/bench_autoencoders.py`` (CPU-seconds are reported as well as
wall time, so numbers from a busy machine can still be compared).
"""
from __future__ import annotations

import time

import torch

import coursekit as ck
from coursekit.models import autoencoders as A


def timed(fn, repeats: int) -> tuple[float, float]:
    fn()  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats, (time.process_time() - c0) / repeats


def main() -> None:
    cfg = ck.setup(seed=0)
    x = ck.load_mnist("train").x
    sigma = A.covariance(x)
    model = A.LinearAutoencoder(16)
    model.set_mean(x)

    def step_data():
        model.zero_grad()
        A.reconstruction_loss(model, x).backward()

    def step_sigma():
        model.zero_grad()
        A.linear_ae_covariance_loss(model, sigma).backward()

    with torch.no_grad():
        loss_data = float(A.reconstruction_loss(model, x))
        loss_sigma = float(A.linear_ae_covariance_loss(model, sigma))
    wall_d, cpu_d = timed(step_data, 5)
    wall_s, cpu_s = timed(step_sigma, 20)
    print(f"full-batch step, N = {len(x)}: data matrix {wall_d * 1e3:.1f} ms wall "
          f"({cpu_d * 1e3:.1f} CPU-ms) | covariance {wall_s * 1e3:.1f} ms wall "
          f"({cpu_s * 1e3:.1f} CPU-ms) | speed-up {cpu_d / cpu_s:.1f}x (CPU time)")
    print(f"same loss: data {loss_data:.4f} vs covariance {loss_sigma:.4f} "
          f"(relative difference {abs(loss_data - loss_sigma) / loss_data:.1e})")

    p = A.pca(x, 16)
    torch.manual_seed(cfg.seed)
    linear_ae = A.LinearAutoencoder(16)
    linear_ae.set_mean(x)
    t0, c0 = time.perf_counter(), time.process_time()
    ck.train(linear_ae, A.linear_ae_covariance_loss, lambda bs, g: sigma, steps=1500, lr=3e-3,
             progress=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    theta = A.principal_angles(linear_ae.W_d, p.components, degrees=True)
    ratio = A.reconstruction_error(linear_ae, x) / A.reconstruction_error(p, x)
    print(f"notebook recipe (1500 full-batch steps): {wall:.1f} s wall, {cpu:.1f} CPU-s | "
          f"largest principal angle {theta.max():.3f}° (goal ≤ 3°) | error ratio "
          f"{ratio:.5f} (goal within 1 %)")


if __name__ == "__main__":
    main()
