"""The logic of scripts/colab_sim.py (`make test-colab`, which is not part of `make test`): the
fake full-MNIST layout it hands the notebooks, the reset of the simulated runtime, and the
verdict on one notebook's run. Cheap: no venv, no kernel."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from coursekit.core import data as D
from coursekit.core.config import DATA_DIR

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import colab_sim as S  # noqa: E402


def test_fake_full_mnist_is_torchvisions_layout_and_holds_no_heldout_image(tmp_path):
    from torchvision.datasets import MNIST

    raw = tmp_path / "MNIST" / "raw"
    assert S.fake_full_mnist(Path(DATA_DIR), raw, n_train=20_000) == {"train": 20_000, "test": 10_000}
    assert D.full_mnist_available(tmp_path) and D.mnist_source(tmp_path) == "full-60k"
    train, test = MNIST(str(tmp_path), train=True), MNIST(str(tmp_path), train=False)
    assert train.data.shape == (20_000, 28, 28) and len(train.targets) == 20_000
    offline = D._offline_tensors(Path(DATA_DIR))
    # its test set is the official one, which contains every checkpoint's training images …
    assert torch.equal(test.data.sort(0).values, torch.cat(
        [offline["train_x"], offline["heldout_x"]]).sort(0).values)
    # … and its train set (shifted offline train images) never holds a held-out image
    held = {bytes(i.numpy()) for i in offline["heldout_x"]}
    assert not any(bytes(i.numpy()) in held for i in train.data)
    assert torch.equal(train.data[:9000], offline["train_x"])
    assert torch.equal(train.targets[:9000], offline["train_y"])


def test_fake_full_mnist_refuses_more_images_than_it_can_shift(tmp_path):
    with pytest.raises(ValueError, match="at most"):
        S.fake_full_mnist(Path(DATA_DIR), tmp_path, n_train=100_000)


def test_reset_removes_what_the_bootstrap_added_and_restores_changed_versions():
    base = {"torch": "2.9.1", "numpy": "2.1.0", "packaging": "24.0"}
    now = {"torch": "2.9.1", "numpy": "2.1.0", "packaging": "25.0", "coursekit": "0.2.0",
           "tqdm": "4.70.1"}
    assert S.packages_to_reset(base, now) == (["coursekit", "tqdm"], ["packaging==24.0"])
    assert S.packages_to_reset(base, dict(base)) == ([], [])
    assert S.canon("Jupyter_Client") == S.canon("jupyter.client") == "jupyter-client"


def _run(tmp_path, **probe):
    clone = tmp_path / S.CLONE_DIR
    good_probe = {"torch": "2.9.1+cu128", "torchvision": "0.24.1+cu128",
                  "coursekit_file": str(clone / "coursekit" / "__init__.py"),
                  "COURSEKIT_DOWNLOAD": None, "train_source": "offline-10k", "n_train": 9000,
                  "heldout_source": "offline-10k", "n_heldout": 1000,
                  "heldout_images_seen_in_training": 0}
    res = {"ok": True, "error": None, "failed_cell": None, "bootstrap_cell": True,
           "bootstrap_errors": [], "probe": {**good_probe, **probe}}
    after = {"torch": {"version": "2.9.1"}, "torchvision": {"version": "0.24.1"},
             "coursekit": {"version": "0.2.0", "editable_project_location": str(clone)},
             "torchmetrics": {}, "ipywidgets": {}, "tqdm": {}}
    return res, after


def test_verdict_passes_a_clean_run_and_names_each_fault(tmp_path):
    res, after = _run(tmp_path)
    assert S.verdict(res, "offline", "2.9.1", "0.24.1", tmp_path, {}, after) == []
    bad = S.verdict(*_run(tmp_path, COURSEKIT_DOWNLOAD="1", heldout_source="full-60k",
                          n_heldout=10000)[:1], "offline", "2.9.1", "0.24.1", tmp_path, {}, after)
    assert any("COURSEKIT_DOWNLOAD" in b for b in bad) and any("held-out" in b for b in bad)
    res, _ = _run(tmp_path, train_source="full-60k", n_train=60000)
    assert S.verdict(res, "full-mnist", "2.9.1", "0.24.1", tmp_path, {}, after) == []
    assert S.verdict(res, "offline", "2.9.1", "0.24.1", tmp_path, {}, after)  # 60k unasked
    moved = {**after, "torch": {"version": "2.14.1"}}
    del moved["tqdm"]
    bad = S.verdict(_run(tmp_path)[0], "offline", "2.9.1", "0.24.1", tmp_path,
                    {"coursekit": {}}, moved)
    assert [b.split()[0] for b in bad] == ["coursekit", "torch", "the"]
