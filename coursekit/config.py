"""`setup(seed)`: one call at the top of every notebook.

It seeds every random number generator, picks the device, sets a thread count, reads the
profile (``COURSEKIT_FAST=1`` → fast) and sets matplotlib defaults, then prints one line.
Notebooks scale their work with ``cfg.scale(...)`` instead of ad-hoc ``if`` blocks.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

#: Root of the repository (the folder that holds ``coursekit/`` and ``data/``).
ROOT = Path(__file__).resolve().parent.parent
#: Where data, caches and checkpoints live; override with ``COURSEKIT_DATA``.
DATA_DIR = Path(os.environ.get("COURSEKIT_DATA", ROOT / "data"))


def is_fast() -> bool:
    """True when ``COURSEKIT_FAST`` is set to a true value (CI / `make test` profile)."""
    return os.environ.get("COURSEKIT_FAST", "0").strip().lower() in {"1", "true", "yes", "on"}


def seed_everything(seed: int) -> None:
    """Seed Python's `random`, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device(prefer: str | None = None) -> torch.device:
    """cuda, then mps, then cpu; ``COURSEKIT_DEVICE`` or `prefer` overrides."""
    prefer = prefer or os.environ.get("COURSEKIT_DEVICE")
    if prefer:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def default_threads() -> int:
    """Threads for torch: ``COURSEKIT_THREADS`` if set, else the usable cores (at most 8).

    Small conv nets gain nothing past a handful of threads, and oversubscription on a shared
    laptop costs more than it gives.
    """
    if os.environ.get("COURSEKIT_THREADS"):
        return max(1, int(os.environ["COURSEKIT_THREADS"]))
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


@dataclass
class Config:
    """What `setup` decided. Pass it around instead of reading globals."""

    seed: int
    device: torch.device
    fast: bool
    threads: int
    data_dir: Path = field(default=DATA_DIR)

    @property
    def profile(self) -> str:
        return "fast" if self.fast else "default"

    def scale(self, default, fast):
        """`default` in the student profile, `fast` under ``COURSEKIT_FAST=1``.

        >>> cfg.scale(epochs := 20, 1)  # 20 epochs for students, 1 in CI
        """
        return fast if self.fast else default

    def generator(self, offset: int = 0) -> torch.Generator:
        """A fresh CPU `torch.Generator` seeded from the config's seed (+ offset)."""
        return torch.Generator().manual_seed(self.seed + offset)


def set_matplotlib_defaults() -> None:
    """Readable defaults for notebooks and slides (titles, labels, no top/right spines)."""
    import matplotlib as mpl

    mpl.rcParams.update({
        "figure.figsize": (6.4, 4.0),
        "figure.dpi": 90,
        "savefig.dpi": 90,
        "axes.titlesize": 12,
        "axes.labelsize": 11,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "image.cmap": "gray",
        "legend.frameon": False,
    })


def setup(seed: int = 0, device: str | None = None, verbose: bool = True) -> Config:
    """Seed everything, pick device and threads, read the profile; print one line.

    Call it once as the first thing in a notebook: ``cfg = ck.setup(seed=0)``.
    The same seed gives the same numbers on the same machine (deterministic CPU kernels).
    """
    seed_everything(seed)
    threads = default_threads()
    torch.set_num_threads(threads)
    dev = pick_device(device)
    cfg = Config(seed=seed, device=dev, fast=is_fast(), threads=threads)
    set_matplotlib_defaults()
    if verbose:
        import torchvision

        from . import __version__

        print(f"coursekit {__version__} | torch {torch.__version__} | torchvision "
              f"{torchvision.__version__} | device {dev} | {threads} threads | "
              f"profile {cfg.profile} | seed {seed}")
    return cfg
