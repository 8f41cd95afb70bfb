"""`python -m coursekit doctor` / `ck.doctor()`: is everything in place?"""
from __future__ import annotations

import importlib.util
import platform

import torch
import torchvision

from .._version import __version__
from .checkpoints import CHECKPOINT_DIR, checkpoint_path, load_pretrained_file, recipes, status_line
from .config import DATA_DIR, ROOT, current_profile, default_threads, pick_device
from .data import DataError, load_mnist, mnist_source


def shown_path(path) -> str:
    """A path as a user of the project writes it: relative to the project when inside it."""
    try:
        return str(path.resolve().relative_to(ROOT.resolve())) + "/"
    except ValueError:
        return str(path)


def doctor() -> bool:
    """Print versions, device, data status and checkpoints; True when everything is in place."""

    ok = True
    print(f"coursekit {__version__} | Python {platform.python_version()} | torch "
          f"{torch.__version__} | torchvision {torchvision.__version__}")
    size = "" if current_profile() == "default" else f" | {current_profile()} size"
    print(f"device: {pick_device()} | threads: {default_threads()}{size}")
    print(f"data folder: {shown_path(DATA_DIR)}")
    try:
        train, held = load_mnist("train"), load_mnist("heldout")
        md5 = "MD5 verified" if mnist_source() == "offline-10k" else "torchvision files"
        print(f"  MNIST: OK — source {train.source}, {len(train)} train / {len(held)} held-out "
              f"({md5})")
    except DataError as e:
        ok = False
        print(f"  MNIST: PROBLEM — {e}")
    print(f"checkpoints in {shown_path(CHECKPOINT_DIR)}:")
    for name, recipe in sorted(recipes().items()):
        path = checkpoint_path(name)
        if not path.exists():
            print(f"  {name:12s} missing (trained on first use; or `python -m coursekit "
                  f"pretrain {name}`)")
            continue
        try:
            card = load_pretrained_file(name, recipe.build(recipe.config), path).card
            print(status_line(name, card, path.stat().st_size))
        except Exception as e:  # report every broken file, then exit non-zero
            ok = False
            print(f"  {name:12s} PROBLEM — {e}")
    for pkg, why in (("ipywidgets", "sliders"), ("jupyterlab_widgets", "widgets in JupyterLab"),
                     ("torchmetrics", "Fréchet distance")):
        found = importlib.util.find_spec(pkg) is not None
        ok &= found
        print(f"  {pkg:18s} {'OK' if found else 'MISSING — run `make lab` or pip install -e .'}"
              f" ({why})")
    print("all good" if ok else "some checks failed: see PROBLEM / MISSING lines above")
    return bool(ok)
