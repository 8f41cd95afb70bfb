"""coursekit: the support package of the notebooks for "Auto-Encoders and Generative Models".

``import coursekit as ck; cfg = ck.setup(seed=0)`` — then ``ck.load_mnist()``, ``ck.train(...)``,
``ck.pretrained(name)``, ``ck.plot.*``, ``ck.widgets.*``, ``ck.exercises.*``.

Layers (imports point down only):

* ``labs/``, ``recipes/`` — notebook experiments and exercise checks; how each pretrained model
  is trained;
* ``models/``, ``metrics/``, ``viz/`` — the lecture's maths and networks (``ck.vae`` is
  ``coursekit.models.vae``); the evaluation yardstick; figures and widgets;
* ``core/`` — session and profiles, data, the training loop, checkpoints, nn helpers.
"""
from __future__ import annotations

import importlib

from ._version import __version__
from .core import data, style
from .core.checkpoints import Pretrained, card_markdown, pretrained, training_cpu_minutes
from .core.config import Config, setup
from .core.data import DataError, batches, load_mnist
from .core.doctor import doctor
from .core.nn import count_parameters, eval_mode
from .core.train import (
    EMA,
    CheckpointError,
    Checkpointing,
    History,
    NonFiniteLossError,
    cosine_schedule,
    train,
)
from .labs import exercises
from .viz import plot, widgets

#: Loaded on first use so that ``import coursekit`` stays quick: ``ck.vae`` → models.vae, …
_LAZY = {"autoencoders": "coursekit.models.autoencoders", "vae": "coursekit.models.vae",
         "gan": "coursekit.models.gan", "diffusion": "coursekit.models.diffusion",
         "metrics": "coursekit.metrics", "models": "coursekit.models",
         "recipes": "coursekit.recipes", "labs": "coursekit.labs",
         "grading": "coursekit.labs.grading"}


def __getattr__(name: str):
    if name in _LAZY:
        return importlib.import_module(_LAZY[name])
    raise AttributeError(f"module 'coursekit' has no attribute {name!r}")


__all__ = ["setup", "doctor", "Config", "load_mnist", "batches", "DataError", "train", "History",
           "EMA", "Checkpointing", "cosine_schedule", "NonFiniteLossError", "CheckpointError",
           "pretrained", "Pretrained", "training_cpu_minutes", "card_markdown", "count_parameters",
           "eval_mode", "data", "style", "plot", "widgets", "exercises", "__version__"]
