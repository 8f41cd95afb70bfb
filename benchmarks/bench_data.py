"""Benchmark: the in-memory batch iterator vs torchvision's MNIST Dataset + DataLoader.

Both go over the same 9,000 training images (torchvision reads them from IDX files written in
its own layout to a temporary folder). Prints images/s of each and their ratio last; then the
share of a real VAE training epoch spent fetching batches with the in-memory iterator.
Goals (foundation issue): ratio ≥ 100×, fetch share < 2 %.

    .venv/bin/python benchmarks/bench_data.py
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

import coursekit as ck
from coursekit.core.checkpoints import get_recipe


def write_idx(path: Path, array: torch.Tensor) -> None:
    """Write a uint8 tensor as an (uncompressed) IDX file, the format torchvision reads."""
    header = bytes([0, 0, 8, array.dim()]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.contiguous().numpy().tobytes())


def images_per_second(make_iter, n_images: int, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for _batch in make_iter():
            pass
        best = min(best, time.perf_counter() - t)
    return n_images / best


def main(batch_size: int = 128) -> None:
    from torch.utils.data import DataLoader
    from torchvision.datasets import MNIST
    from torchvision.transforms import ToTensor

    cfg = ck.setup(seed=0)
    train = ck.load_mnist("train")
    n = len(train)
    with tempfile.TemporaryDirectory() as root:
        raw = Path(root) / "MNIST" / "raw"
        raw.mkdir(parents=True)
        images_u8 = (train.x[:, 0] * 255).round().to(torch.uint8)
        for prefix in ("train", "t10k"):
            write_idx(raw / f"{prefix}-images-idx3-ubyte", images_u8)
            write_idx(raw / f"{prefix}-labels-idx1-ubyte", train.y.to(torch.uint8))
        ds = MNIST(root, train=True, transform=ToTensor())
        assert torch.equal(ds[0][0], train.x[0]), "both pipelines must see the same images"
        loader = DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=0)
        tv = images_per_second(lambda: loader, n, repeats=2)
    g = torch.Generator().manual_seed(0)
    mem = images_per_second(lambda: ck.batches(train.x, train.y, batch_size=batch_size,
                                               generator=g), n, repeats=5)
    print(f"torchvision MNIST + DataLoader(ToTensor()): {tv:12,.0f} images/s")
    print(f"coursekit in-memory batches():              {mem:12,.0f} images/s")

    # Share of one real VAE training epoch spent fetching batches.
    try:
        recipe = get_recipe("vae")
    except KeyError:
        recipe = None
    if recipe is not None:
        model = recipe.build(recipe.config)
        loss = lambda m, x: -m.elbo(ck.data.binarize_dynamic(x)).mean()  # noqa: E731
        t = time.perf_counter()
        ck.train(model, loss, train.x, epochs=1, batch_size=100, progress=False)
        epoch = time.perf_counter() - t
        t = time.perf_counter()
        for _ in ck.batches(train.x, batch_size=100, generator=g, drop_last=True):
            pass
        fetch = time.perf_counter() - t
        print(f"VAE epoch ({ck.count_parameters(model):,} parameters, batch 100): {epoch:.2f} s; "
              f"fetching its batches: {fetch * 1e3:.1f} ms = {100 * fetch / epoch:.2f} % of the epoch")
    else:
        print("VAE epoch share: skipped (no 'vae' recipe registered)")
    print(f"ratio in-memory / DataLoader: {mem / tv:.0f}x  (goal >= 100x; threads={cfg.threads})")


if __name__ == "__main__":
    main()
