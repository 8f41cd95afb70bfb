"""`setup(seed)`: one call at the top of every notebook.

It seeds every random number generator, picks the device, sets a thread count, reads the
profile and sets the course's matplotlib style (`core.style`), then prints one line. Notebooks scale their work with
``cfg.scale(default, fast)`` instead of ad-hoc ``if`` blocks.

Profiles (``COURSEKIT_PROFILE=fast|default|full``; ``COURSEKIT_FAST=1`` is short for fast):
``fast`` for CI, ``default`` for a class, ``full`` for the heavy studies at publication size.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .._version import __version__
from .stats import count
from .style import apply_style

#: Root of the repository (the folder that holds ``coursekit/`` and ``data/``).
ROOT = Path(__file__).resolve().parents[2]
#: Where data, caches and checkpoints live; override with ``COURSEKIT_DATA``.
DATA_DIR = Path(os.environ.get("COURSEKIT_DATA", ROOT / "data"))


PROFILES = ("fast", "default", "full")


def current_profile() -> str:
    """The profile named by ``COURSEKIT_PROFILE`` (or ``COURSEKIT_FAST=1`` → "fast")."""
    name = os.environ.get("COURSEKIT_PROFILE", "").strip().lower()
    if name:
        if name not in PROFILES:
            raise ValueError(f"COURSEKIT_PROFILE={name!r} is not a profile; choose one of "
                             f"{', '.join(PROFILES)}")
        return name
    fast = os.environ.get("COURSEKIT_FAST", "0").strip().lower() in {"1", "true", "yes", "on"}
    return "fast" if fast else "default"


def is_fast() -> bool:
    """True in the fast (CI / `make test`) profile."""
    return current_profile() == "fast"


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
    profile: str
    threads: int
    data_dir: Path = field(default=DATA_DIR)

    @property
    def fast(self) -> bool:
        return self.profile == "fast"

    def scale(self, default, fast, full=None):
        """`default` in the class profile, `fast` in CI, `full` (default if not given) in the
        full profile.

        >>> cfg.scale(20, 1)  # 20 epochs for students, 1 in CI
        """
        if self.profile == "fast":
            return fast
        return full if self.profile == "full" and full is not None else default

    @classmethod
    def current(cls, seed: int = 0) -> Config:
        """A Config describing this process as it is (profile, device, threads) without
        `setup`'s side effects: nothing is seeded, no thread count or style is changed."""
        return cls(seed=seed, device=pick_device(), profile=current_profile(),
                   threads=torch.get_num_threads())

    def generator(self, offset: int = 0) -> torch.Generator:
        """A fresh CPU `torch.Generator` seeded from the config's seed (+ offset)."""
        return torch.Generator().manual_seed(self.seed + offset)


def setup(seed: int = 0, device: str | None = None, verbose: bool = True,
          profile: str | None = None) -> Config:
    """Seed everything, pick device and threads, read the profile; print one line.

    Call it once as the first thing in a notebook: ``cfg = ck.setup(seed=0)``.
    The same seed gives the same numbers on the same machine (deterministic CPU kernels).
    ``COURSEKIT_SEED=N`` overrides `seed` (to run a whole notebook with another seed);
    `profile` overrides ``COURSEKIT_PROFILE`` / ``COURSEKIT_FAST``.
    """
    seed = int(os.environ.get("COURSEKIT_SEED", seed))
    seed_everything(seed)
    threads = default_threads()
    torch.set_num_threads(threads)
    dev = pick_device(device)
    if profile is not None and profile not in PROFILES:
        raise ValueError(f"profile {profile!r} is not a profile; choose one of "
                         f"{', '.join(PROFILES)}")
    cfg = Config(seed=seed, device=dev, profile=profile or current_profile(), threads=threads)
    apply_style()
    if verbose:
        import torchvision  # only for the version line: a slow import not every process needs

        # What a student needs: versions (for a bug report), where it runs, the seed, and the
        # size only when it is not the lab's default.
        size = "" if cfg.profile == "default" else f" | {cfg.profile} size"
        print(f"coursekit {__version__} | torch {torch.__version__.split('+')[0]} | torchvision "
              f"{torchvision.__version__.split('+')[0]} | {dev}, {count(threads, 'thread')} | "
              f"seed {seed}{size}")
    return cfg
