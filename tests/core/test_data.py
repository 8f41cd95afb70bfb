"""coursekit.data: offline MNIST (MD5, split), errors on bad files, batches, toy sets."""
import gzip
import shutil
from pathlib import Path

import pytest
import torch

import coursekit as ck
from coursekit.core import data as D
from coursekit.core.config import DATA_DIR

ROOT = Path(DATA_DIR)


@pytest.fixture
def offline_copy(tmp_path):
    """A private data folder with the two offline files (so tests can break it)."""
    (tmp_path / "mnist").mkdir()
    for name, _ in D.OFFLINE_FILES.values():
        shutil.copy(ROOT / "mnist" / name, tmp_path / "mnist" / name)
    return tmp_path


def test_offline_files_match_published_md5():
    for name, md5 in D.OFFLINE_FILES.values():
        assert D.md5sum(ROOT / "mnist" / name) == md5


def test_attribution_travels_with_the_data():
    text = (ROOT / "mnist" / "README.md").read_text()
    assert "CC BY-SA 3.0" in text and "LeCun" in text


def test_split_sizes_shapes_and_range(offline_copy):
    train, held = ck.load_mnist("train", offline_copy), ck.load_mnist("heldout", offline_copy)
    assert (len(train), len(held)) == (9000, 1000)
    assert train.x.shape == (9000, 1, 28, 28) and train.x.dtype == torch.float32
    assert float(train.x.min()) == 0.0 and float(train.x.max()) == 1.0
    assert train.source == held.source == "offline-10k"


def test_split_is_disjoint_and_covers_all_10k():
    labels = torch.arange(10000) % 10
    tr, he = D.stratified_split(labels, 1000)
    assert len(set(tr.tolist()) & set(he.tolist())) == 0
    assert len(tr) + len(he) == 10000


def test_split_is_stratified_by_class(offline_copy):
    train, held = ck.load_mnist("train", offline_copy), ck.load_mnist("heldout", offline_copy)
    total = torch.bincount(torch.cat([train.y, held.y]), minlength=10).double()
    held_counts = torch.bincount(held.y, minlength=10).double()
    # each class's held-out share is 10% of that class, up to rounding
    assert torch.all((held_counts - total / 10).abs() <= 1.0)


def test_split_is_deterministic_and_independent_of_user_seed(offline_copy):
    torch.manual_seed(123)
    a = ck.load_mnist("heldout", offline_copy)
    shutil.rmtree(offline_copy / "cache")
    torch.manual_seed(999)
    b = ck.load_mnist("heldout", offline_copy)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)


def test_real_split_has_no_duplicate_images_across_train_and_heldout():
    train, held = ck.load_mnist("train"), ck.load_mnist("heldout")
    train_keys = {hash(x.numpy().tobytes()) for x in (train.x * 255).byte()}
    overlap = sum(hash(x.numpy().tobytes()) in train_keys for x in (held.x * 255).byte())
    assert overlap == 0


def test_cache_makes_second_load_fast(offline_copy):
    import time

    ck.load_mnist("train", offline_copy)
    assert (offline_copy / "cache" / "mnist_offline.pt").exists()
    t = time.perf_counter()
    ck.load_mnist("train", offline_copy)
    assert time.perf_counter() - t < 1.0


def test_corrupt_cache_is_rebuilt_with_a_warning(offline_copy):
    ck.load_mnist("train", offline_copy)
    (offline_copy / "cache" / "mnist_offline.pt").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="rebuilding"):
        assert len(ck.load_mnist("train", offline_copy)) == 9000


def test_missing_file_names_file_and_fix(offline_copy):
    (offline_copy / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(D.DataError, match=r"t10k-labels-idx1-ubyte\.gz.*git checkout -- data/mnist"):
        ck.load_mnist("train", offline_copy)


def test_truncated_file_fails_md5_with_expected_and_found(offline_copy):
    path = offline_copy / "mnist" / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:50_000])
    with pytest.raises(D.DataError, match=r"MD5 .*expected 9fb629c4189551a2d022fa330f9573f3"):
        ck.load_mnist("train", offline_copy)


def test_idx_reader_rejects_wrong_shape(tmp_path):
    bad = tmp_path / "bad-idx3-ubyte.gz"
    header = bytes([0, 0, 8, 3]) + (5).to_bytes(4, "big") + (32).to_bytes(4, "big") * 2
    with gzip.open(bad, "wb") as f:
        f.write(header + bytes(5 * 32 * 32))
    with pytest.raises(D.DataError, match=r"shape \(5, 32, 32\), expected \(None, 28, 28\)"):
        D.read_idx(bad, (None, 28, 28))


def test_idx_reader_rejects_truncated_payload(tmp_path):
    bad = tmp_path / "short-idx1-ubyte"
    bad.write_bytes(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + bytes(3))
    with pytest.raises(D.DataError, match="truncated"):
        D.read_idx(bad, (None,))


def test_full_mnist_layout_is_preferred_when_present(tmp_path):
    assert D.mnist_source(tmp_path) == "offline-10k"
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in D.FULL_RAW:
        (raw / f).touch()
    assert D.mnist_source(tmp_path) == "full-60k"


def test_unknown_split_is_a_clear_error():
    with pytest.raises(ValueError, match="'train' or 'heldout'"):
        ck.load_mnist("validation")


def test_batches_cover_every_example_once_and_stay_aligned():
    x = torch.arange(103).float()
    y = torch.arange(103) * 2
    seen = []
    for xb, yb in ck.batches(x, y, batch_size=10, generator=torch.Generator().manual_seed(0)):
        assert torch.equal(yb, (xb * 2).long())
        seen += xb.long().tolist()
    assert sorted(seen) == list(range(103))


def test_batches_drop_last_and_determinism():
    x = torch.arange(25)
    b1 = [b for (b,) in ck.batches(x, batch_size=10, drop_last=True,
                                   generator=torch.Generator().manual_seed(1))]
    b2 = [b for (b,) in ck.batches(x, batch_size=10, drop_last=True,
                                   generator=torch.Generator().manual_seed(1))]
    assert len(b1) == 2 and all(torch.equal(a, b) for a, b in zip(b1, b2))


def test_batches_rejects_misaligned_tensors():
    with pytest.raises(ValueError, match="different lengths"):
        next(ck.batches(torch.zeros(3), torch.zeros(4)))


def test_dataset_view_works_with_dataloader():
    ds = D.MNISTDataset("heldout")
    x, y = next(iter(torch.utils.data.DataLoader(ds, batch_size=8)))
    assert x.shape == (8, 1, 28, 28) and y.shape == (8,)


def test_transforms():
    x = torch.rand(1000)
    assert torch.allclose(D.from_pm1(D.to_pm1(x)), x)
    assert set(D.binarize_static(x).unique().tolist()) <= {0.0, 1.0}
    g = torch.Generator().manual_seed(0)
    b = D.binarize_dynamic(torch.full((20000,), 0.3), generator=g)
    assert abs(b.mean().item() - 0.3) < 0.02


@pytest.mark.parametrize("name", ["ring", "moons", "swiss_roll"])
def test_toy_sets_are_seeded_and_2d(name):
    a = D.toy_data(name, 500, generator=torch.Generator().manual_seed(0))
    b = D.toy_data(name, 500, generator=torch.Generator().manual_seed(0))
    assert a.shape == (500, 2) and torch.equal(a, b)
    assert a.abs().max() < 5


def test_ring_points_sit_on_their_modes():
    pts = D.ring_of_gaussians(2000, std=0.02, generator=torch.Generator().manual_seed(0))
    d = torch.cdist(pts, D.ring_modes()).min(dim=1).values
    assert d.max() < 0.15


def test_heldout_stays_held_out_with_full_mnist(offline_copy, monkeypatch):
    """With full MNIST present, "train" is its 60k train set but "heldout" stays the offline
    split's 1,000: the official 10k test set holds the 9,000 images every checkpoint was trained
    on, so it must never serve as held-out data (issue anywhere)."""
    offline = D._offline_tensors(offline_copy)
    official_test = torch.cat([offline["train_x"], offline["heldout_x"]])  # the t10k images
    fake_full = {"train_x": torch.zeros(60, 28, 28, dtype=torch.uint8),
                 "train_y": torch.zeros(60, dtype=torch.long),
                 "heldout_x": official_test, "heldout_y": torch.zeros(len(official_test)).long()}
    monkeypatch.setattr(D, "_full_tensors", lambda root, download: fake_full)
    monkeypatch.setenv("COURSEKIT_DOWNLOAD", "1")
    assert D.mnist_source(offline_copy) == "full-60k"
    train, held = D.load_mnist("train", offline_copy), D.load_mnist("heldout", offline_copy)
    assert len(train) == 60 and train.source == "full-60k"
    assert len(held) == D.N_HELDOUT and held.source == "offline-10k"
    assert torch.equal(held.x.squeeze(1).mul(255).round().byte(), offline["heldout_x"])
    seen = {bytes(img.numpy()) for img in offline["train_x"]}
    assert not any(bytes(img.numpy()) in seen for img in offline["heldout_x"])


def test_corrupt_data_message_names_only_what_a_user_has(offline_copy):
    (offline_copy / "mnist" / D.OFFLINE_FILES["images"][0]).write_bytes(b"broken")
    with pytest.raises(D.DataError) as err:
        D.load_mnist("train", offline_copy)
    assert "git checkout -- data/mnist" in str(err.value) and "shared/" not in str(err.value)


def test_a_read_only_data_folder_still_loads(offline_copy, tmp_path_factory, monkeypatch):
    """A shared, read-only checkout (JupyterHub): the decoded cache goes to the user's cache
    folder instead of data/cache/. (Simulated: tests may run as root, who can write anywhere.)"""
    user_cache = tmp_path_factory.mktemp("usercache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(user_cache))
    save = D.torch.save

    def read_only_save(obj, path, *a, **kw):
        if str(path).startswith(str(offline_copy)):
            raise PermissionError(13, "Read-only file system", str(path))
        return save(obj, path, *a, **kw)

    monkeypatch.setattr(D.torch, "save", read_only_save)
    train = D.load_mnist("train", offline_copy)
    assert len(train) == 9000 and not (offline_copy / "cache" / "mnist_offline.pt").exists()
    assert (user_cache / "coursekit" / "mnist_offline.pt").exists()
    assert len(D.load_mnist("heldout", offline_copy)) == 1000


def test_no_data_folder_names_coursekit_data(tmp_path):
    """A non-editable install looks for data next to the installed package: the error says how
    to point it at the course's data/ folder."""
    with pytest.raises(D.DataError, match="COURSEKIT_DATA"):
        D.load_mnist("train", tmp_path / "site-packages-data")
