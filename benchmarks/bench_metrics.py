"""How long the yardstick of notebook 05 takes, and whether torchmetrics and our formula agree.

Prints: classifier features per second; time of one Fréchet distance (torchmetrics vs our
float64 eigen-decomposition formula) and their relative difference on real digits; time of k-NN
precision/recall and of a full `evaluate_samples` on 1,000 images. CPU-seconds are printed next
to wall seconds because the machine may be shared.
"""
import time

import torch

import coursekit as ck
from coursekit import metrics as M


def timed(fn, repeat=3):
    best_wall, best_cpu, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        best_wall = min(best_wall, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return out, best_wall, best_cpu


def main():
    cfg = ck.setup(seed=0)
    real, other = M.heldout_images(1000), M.train_subset(1000)
    M.features(real[:10])  # load the classifier once
    f_real, wall, cpu = timed(lambda: M.features(real))
    print(f"features of 1,000 images: {wall:.3f} s wall, {cpu:.3f} CPU-s "
          f"({1000 / wall:,.0f} images/s, {cfg.threads} threads)")
    f_other = M.features(other)
    fd_tm, wall_tm, cpu_tm = timed(lambda: M.frechet_distance_features(f_real, f_other))
    fd_own, wall_own, cpu_own = timed(lambda: M.gaussian_frechet_distance(
        f_real.mean(0), torch.cov(f_real.T.double()), f_other.mean(0),
        torch.cov(f_other.T.double())))
    print(f"Fréchet distance (128-d features, 1,000 vs 1,000): torchmetrics {fd_tm:.6f} "
          f"({wall_tm * 1e3:.1f} ms), own float64 formula {fd_own:.6f} ({wall_own * 1e3:.1f} ms); "
          f"relative difference {abs(fd_tm - fd_own) / fd_own:.2e}")
    (p, r), wall, cpu = timed(lambda: M.precision_recall_features(f_real, f_other, k=5))
    print(f"k-NN precision/recall (k=5): {p:.3f}/{r:.3f} in {wall:.3f} s wall, {cpu:.3f} CPU-s")
    _, wall, cpu = timed(lambda: M.evaluate_samples(other), repeat=2)
    print(f"evaluate_samples(1,000 images): {wall:.2f} s wall, {cpu:.2f} CPU-s")


if __name__ == "__main__":
    main()
