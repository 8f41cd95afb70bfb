"""Data: offline / full MNIST, transforms, a fast in-memory batch iterator, 2-D toy sets.

MNIST sources, in order of preference (``load_mnist`` reports which one it used):

1. ``full-60k``: the torchvision layout ``data/MNIST/raw/`` with all four files (60k train,
   10k test), or ``COURSEKIT_DOWNLOAD=1`` to let torchvision download it.
2. ``offline-10k``: the official 10k test set shipped in ``data/mnist/`` (CC BY-SA 3.0,
   Y. LeCun, C. Cortes, C. J. C. Burges), MD5-checked, split once and for all — stratified by
   class with a fixed seed — into 9,000 train / 1,000 held-out images.

Images come back as float32 tensors of shape (N, 1, 28, 28) in [0, 1]; labels as int64 (N,).
"""
from __future__ import annotations

import gzip
import hashlib
import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import DATA_DIR

#: The offline files and their MD5 sums (identical to torchvision.datasets.MNIST.resources).
OFFLINE_FILES = {
    "images": ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    "labels": ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
}
#: Seed of the 9,000 / 1,000 split. Fixed: it does not depend on the user's seed.
SPLIT_SEED = 20260312
N_HELDOUT = 1000
FULL_RAW = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
SHARED_HINT = ("Restore it with `git checkout -- data/mnist` (or download the course repository "
               "again): data/mnist/ must hold t10k-images-idx3-ubyte.gz and "
               "t10k-labels-idx1-ubyte.gz, the official MNIST test files.")


class DataError(ValueError):
    """A data file is missing, corrupt or of the wrong shape. The message says how to fix it."""


@dataclass
class MNISTSplit:
    """One split of MNIST held in memory.

    x: (N, 1, 28, 28) float32 in [0, 1]; y: (N,) int64; source: which files it came from.
    """

    x: torch.Tensor
    y: torch.Tensor
    source: str
    split: str

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return f"MNISTSplit({self.split!r}, n={len(self)}, source={self.source!r})"


# ----------------------------------------------------------------------------- IDX files
def md5sum(path: Path) -> str:
    """MD5 hex digest of a file."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_idx(path: Path, expected_shape: tuple[int | None, ...]) -> np.ndarray:
    """Read an IDX file (optionally gzipped) of unsigned bytes and check its shape.

    `expected_shape` uses None for "any length" (e.g. (None, 28, 28)).
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot be read as an IDX file ({e}). The file is truncated "
                        f"or corrupt; {SHARED_HINT}") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an IDX file of unsigned bytes (magic {raw[:4].hex()}, "
                        f"expected 00000803/00000801). {SHARED_HINT}")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if len(dims) != len(expected_shape) or any(
            e is not None and d != e for d, e in zip(dims, expected_shape)):
        raise DataError(f"{path}: has shape {dims}, expected {expected_shape} "
                        f"(None = any). Is this an MNIST file? {SHARED_HINT}")
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != math.prod(dims):
        raise DataError(f"{path}: header says {math.prod(dims)} values, found {data.size}. "
                        f"The file is truncated; {SHARED_HINT}")
    return data.reshape(dims)


def _check_md5(path: Path, expected: str) -> None:
    if not path.exists():
        if not path.parent.parent.exists():  # no data folder at all: an install without -e
            raise DataError(f"no course data folder at {path.parent.parent}: set COURSEKIT_DATA "
                            f"to the data/ folder of the course (it holds mnist/ and "
                            f"checkpoints/), or install the course with `pip install -e .`")
        raise DataError(f"MNIST file not found: {path}. {SHARED_HINT}")
    found = md5sum(path)
    if found != expected:
        raise DataError(f"{path}: MD5 {found}, expected {expected}. The file is corrupt or "
                        f"truncated (e.g. an interrupted copy). {SHARED_HINT}")


# ----------------------------------------------------------------------------- split
def stratified_split(labels: torch.Tensor, n_heldout: int, seed: int = SPLIT_SEED
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, held-out): held-out keeps each class's share of the data.

    Per-class counts use the largest-remainder rule so they add up to exactly `n_heldout`.
    Deterministic for a given seed; both index tensors are sorted.
    """
    g = torch.Generator().manual_seed(seed)
    classes, counts = torch.unique(labels, return_counts=True)
    quota = counts.double() * n_heldout / len(labels)
    take = quota.floor().long()
    remainder = quota - take
    for i in torch.argsort(remainder, descending=True, stable=True)[: n_heldout - int(take.sum())]:
        take[i] += 1
    held = []
    for c, k in zip(classes.tolist(), take.tolist()):
        idx = torch.nonzero(labels == c).flatten()
        held.append(idx[torch.randperm(len(idx), generator=g)[:k]])
    held_idx = torch.cat(held).sort().values
    mask = torch.ones(len(labels), dtype=torch.bool)
    mask[held_idx] = False
    return torch.nonzero(mask).flatten(), held_idx


# ----------------------------------------------------------------------------- loaders
def _cache_path(root: Path, name: str) -> Path:
    return root / "cache" / f"{name}.pt"


def _load_cached(path: Path, build) -> dict:
    """Load a dict of tensors from `path`; rebuild (and rewrite atomically) when absent/corrupt."""
    if path.exists():
        try:
            return torch.load(path, weights_only=True)
        except Exception as e:  # a corrupt cache is never fatal: it is only a cache
            warnings.warn(f"Cache {path} is unreadable ({e}); rebuilding it.", stacklevel=3)
    data = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(data, tmp)
        os.replace(tmp, path)
    except OSError:  # a read-only data folder (a shared hub checkout): the cache is optional
        user = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "coursekit"
        if path.parent != user:
            try:
                return _load_cached(user / path.name, lambda: data)
            except OSError:
                pass  # no writable cache anywhere: decode again next time (a second or two)
    return data


def _offline_tensors(root: Path) -> dict:
    img_name, img_md5 = OFFLINE_FILES["images"]
    lab_name, lab_md5 = OFFLINE_FILES["labels"]
    img_path, lab_path = root / "mnist" / img_name, root / "mnist" / lab_name
    # MD5 is checked on every load (a few ms): a corrupt file must never reach a student.
    _check_md5(img_path, img_md5)
    _check_md5(lab_path, lab_md5)

    def build() -> dict:
        images = torch.from_numpy(read_idx(img_path, (None, 28, 28)).copy())
        labels = torch.from_numpy(read_idx(lab_path, (None,)).astype(np.int64))
        if len(images) != len(labels):
            raise DataError(f"{img_path} has {len(images)} images but {lab_path} has "
                            f"{len(labels)} labels. {SHARED_HINT}")
        train_idx, held_idx = stratified_split(labels, N_HELDOUT)
        return {"train_x": images[train_idx], "train_y": labels[train_idx],
                "heldout_x": images[held_idx], "heldout_y": labels[held_idx],
                "md5": img_md5 + lab_md5}

    data = _load_cached(_cache_path(root, "mnist_offline"), build)
    if data.get("md5") != img_md5 + lab_md5:  # stale cache from other files
        _cache_path(root, "mnist_offline").unlink()
        data = _load_cached(_cache_path(root, "mnist_offline"), build)
    return data


def full_mnist_available(root: Path = DATA_DIR) -> bool:
    """True when the torchvision layout with all four raw files is in `root`/MNIST/raw."""
    raw = Path(root) / "MNIST" / "raw"
    return all((raw / f).exists() or (raw / (f + ".gz")).exists() for f in FULL_RAW)


def _full_tensors(root: Path, download: bool) -> dict:
    """Full MNIST's 60k train images (its test set is never used: see `load_mnist`)."""
    def build() -> dict:
        from torchvision.datasets import MNIST

        ds = MNIST(str(root), train=True, download=download)
        return {"train_x": ds.data.clone(), "train_y": ds.targets.clone()}

    return _load_cached(_cache_path(root, "mnist_full"), build)


def mnist_source(root: Path | str | None = None) -> str:
    """Which source `load_mnist` will use: "full-60k" or "offline-10k"."""
    root = Path(root) if root is not None else DATA_DIR
    if full_mnist_available(root) or os.environ.get("COURSEKIT_DOWNLOAD") == "1":
        return "full-60k"
    return "offline-10k"


def load_mnist(split: str = "train", root: Path | str | None = None, verbose: bool = False
               ) -> MNISTSplit:
    """MNIST as in-memory tensors: ``split`` is "train" or "heldout" (alias "test").

    "train" is full MNIST's 60k train images when present in torchvision's layout or when
    ``COURSEKIT_DOWNLOAD=1``, otherwise the offline split's 9,000; "heldout" is always the
    offline split's 1,000 images, which no pretrained model has seen (the official 10k test set
    holds the 9,000 images they were trained on).
    Decoded tensors are cached in ``data/cache/`` (delete it to force a rebuild).
    """
    if split == "test":
        split = "heldout"
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout' (alias 'test'), got {split!r}")
    root = Path(root) if root is not None else DATA_DIR
    source = mnist_source(root)
    if source == "full-60k" and split == "train":
        data = _full_tensors(root, download=not full_mnist_available(root))
    else:
        # Held-out stays held out: every checkpoint, the yardstick classifier and the reference
        # statistics were fitted on the offline split's 9,000 train images, which are part of
        # the official 10k test set. So "heldout" is always the offline split's 1,000 images,
        # whatever the source; full MNIST only brings its 60k train images for live training.
        data = _offline_tensors(root)
    x = data[f"{split}_x"].unsqueeze(1).float().div_(255.0)  # (N, 1, 28, 28) in [0, 1]
    source = source if split == "train" else "offline-10k"
    out = MNISTSplit(x=x, y=data[f"{split}_y"].long(), source=source, split=split)
    if verbose:
        print(f"MNIST {split}: {len(out)} images from {source} ({root})")
    return out


class MNISTDataset(torch.utils.data.Dataset):
    """`torch.utils.data.Dataset` view of a split, for users who want a `DataLoader`."""

    def __init__(self, split: str = "train", transform=None, root: Path | str | None = None):
        self.data = load_mnist(split, root)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        x = self.data.x[i]
        return (self.transform(x) if self.transform else x), int(self.data.y[i])


# ----------------------------------------------------------------------------- transforms
def to_pm1(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] → [-1, 1] (GAN and diffusion models work on this scale)."""
    return x * 2 - 1


def from_pm1(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] → [0, 1], clamped (for plotting and for the classifier)."""
    return ((x + 1) / 2).clamp(0, 1)


def binarize_static(x: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Fixed binarization: pixel = 1 where intensity > threshold."""
    return (x > threshold).float()


def binarize_dynamic(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Dynamic binarization: each pixel ~ Bernoulli(intensity), resampled at every call.

    The usual choice for Bernoulli VAEs: it acts as data augmentation and avoids overfitting.
    """
    return torch.bernoulli(x, generator=generator)


# ----------------------------------------------------------------------------- batches
def batches(*tensors: torch.Tensor, batch_size: int = 128, shuffle: bool = True,
            generator: torch.Generator | None = None, drop_last: bool = False
            ) -> Iterator[tuple[torch.Tensor, ...]]:
    """Yield aligned mini-batches of in-memory tensors (much faster than a DataLoader).

    ``for x, y in batches(train.x, train.y, batch_size=128, generator=g): ...``
    A single tensor yields 1-tuples, so write ``for (x,) in batches(train.x)``.
    """
    if not tensors:
        raise ValueError("batches() needs at least one tensor")
    n = len(tensors[0])
    if any(len(t) != n for t in tensors):
        raise ValueError(f"batches(): tensors have different lengths {[len(t) for t in tensors]}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start:start + batch_size]
        yield tuple(t[idx] for t in tensors)


# ----------------------------------------------------------------------------- 2-D toys
def ring_modes(n_modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """Centres of the ring-of-Gaussians modes, (n_modes, 2)."""
    angle = torch.arange(n_modes, dtype=torch.float32) * (2 * math.pi / n_modes)
    return radius * torch.stack([angle.cos(), angle.sin()], dim=1)


def ring_of_gaussians(n: int, n_modes: int = 8, radius: float = 2.0, std: float = 0.02,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """n points from a ring of `n_modes` equally weighted Gaussians (unrolled-GAN benchmark)."""
    k = torch.randint(n_modes, (n,), generator=generator)
    return ring_modes(n_modes, radius)[k] + std * torch.randn(n, 2, generator=generator)


def two_moons(n: int, noise: float = 0.05, generator: torch.Generator | None = None
              ) -> torch.Tensor:
    """n points from two interleaved half circles, centred and scaled to unit-ish variance."""
    t = torch.rand(n, generator=generator) * math.pi
    upper = torch.rand(n, generator=generator) < 0.5
    x = torch.where(upper, t.cos(), 1 - t.cos())
    y = torch.where(upper, t.sin(), 0.5 - t.sin())
    pts = torch.stack([x - 0.5, y - 0.25], dim=1) * 1.5
    return pts + noise * torch.randn(n, 2, generator=generator)


def swiss_roll(n: int, noise: float = 0.05, generator: torch.Generator | None = None
               ) -> torch.Tensor:
    """n points from a 2-D swiss roll, scaled to roughly [-2, 2]²."""
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator))
    pts = torch.stack([t * t.cos(), t * t.sin()], dim=1) / 7.0
    return pts + noise * torch.randn(n, 2, generator=generator)


TOY_DATASETS = {"ring": ring_of_gaussians, "moons": two_moons, "swiss_roll": swiss_roll}


def toy_data(name: str, n: int, generator: torch.Generator | None = None, **kw) -> torch.Tensor:
    """One of the 2-D toy sets by name: "ring", "moons", "swiss_roll"."""
    if name not in TOY_DATASETS:
        raise ValueError(f"unknown toy data set {name!r}; choose one of {sorted(TOY_DATASETS)}")
    return TOY_DATASETS[name](n, generator=generator, **kw)
