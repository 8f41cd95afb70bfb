"""`python -m coursekit doctor` / `ck.doctor()`: is everything in place?"""
from __future__ import annotations

import importlib.util
import platform

import torch
import torchvision

from .._version import __version__
from .checkpoints import CHECKPOINT_DIR, checkpoint_path, load_pretrained_file, recipes
from .config import DATA_DIR, current_profile, default_threads, pick_device
from .data import DataError, load_mnist, mnist_source


def doctor() -> bool:
    """Print versions, device, data status and checkpoints; True when everything is in place."""

    ok = True
    print(f"coursekit {__version__} | Python {platform.python_version()} | torch "
          f"{torch.__version__} | torchvision {torchvision.__version__}")
    print(f"device: {pick_device()} | threads: {default_threads()} | profile: "
          f"{current_profile()}")
    print(f"data folder: {DATA_DIR}")
    try:
        train, held = load_mnist("train"), load_mnist("heldout")
        md5 = "MD5 verified" if mnist_source() == "offline-10k" else "torchvision files"
        print(f"  MNIST: OK — source {train.source}, {len(train)} train / {len(held)} held-out "
              f"({md5})")
    except DataError as e:
        ok = False
        print(f"  MNIST: PROBLEM — {e}")
    print(f"checkpoints in {CHECKPOINT_DIR}:")
    for name, recipe in sorted(recipes().items()):
        path = checkpoint_path(name)
        if not path.exists():
            print(f"  {name:12s} missing (trained on first use; or `python -m coursekit "
                  f"pretrain {name}`)")
            continue
        try:
            m = load_pretrained_file(name, recipe.build(recipe.config), path).card["metrics"]
            shown = ", ".join(f"{k}={v:.4g}" for k, v in list(m.items())[:3])
            print(f"  {name:12s} OK ({path.stat().st_size / 2**20:.2f} MB; {shown})")
        except Exception as e:  # report every broken file, then exit non-zero
            ok = False
            print(f"  {name:12s} PROBLEM — {e}")
    for pkg, why in (("ipywidgets", "sliders"), ("jupyterlab_widgets", "widgets in JupyterLab"),
                     ("nbval", "make test"), ("torchmetrics", "Fréchet distance")):
        found = importlib.util.find_spec(pkg) is not None
        ok &= found
        print(f"  {pkg:18s} {'installed' if found else 'MISSING — run `make lab` or pip install -e .'}"
              f" ({why})")
    print("all good" if ok else "some checks failed: see PROBLEM / MISSING lines above")
    return bool(ok)
