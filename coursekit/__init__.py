"""coursekit: the support package of the notebooks for "Auto-Encoders and Generative Models".

``import coursekit as ck; cfg = ck.setup(seed=0)`` — then ``ck.load_mnist()``, ``ck.train(...)``,
``ck.pretrained(name)``, ``ck.plot.*``, ``ck.widgets.*`` and one module per lecture section
(``ck.autoencoders``, ``ck.vae``, ``ck.gan``, ``ck.diffusion``; imported on first use).
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

from . import data, plot, widgets  # noqa: E402
from .checkpoints import count_parameters, pretrained  # noqa: E402
from .doctor import doctor  # noqa: E402
from .config import Config, setup  # noqa: E402
from .data import DataError, batches, load_mnist  # noqa: E402
from .train import EMA, CheckpointError, History, NonFiniteLossError, train  # noqa: E402

_LAZY = {"autoencoders", "vae", "gan", "diffusion", "metrics", "checkpoints", "exercises"}


def __getattr__(name: str):
    """Section modules load on first use (``ck.vae``) so ``import coursekit`` stays quick."""
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'coursekit' has no attribute {name!r}")


__all__ = ["setup", "doctor", "Config", "load_mnist", "batches", "DataError", "train", "History", "EMA",
           "NonFiniteLossError", "CheckpointError", "pretrained", "count_parameters", "data",
           "plot", "widgets", "__version__"]
