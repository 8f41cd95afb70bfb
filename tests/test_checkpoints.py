"""coursekit.checkpoints: registry, round trip, model card, clear errors, determinism."""
import pytest
import torch
from torch import nn

import coursekit as ck
from coursekit import checkpoints as C
from coursekit.train import CheckpointError


def _fit(model, cfg, tiny):
    x = torch.randn(64, 3, generator=cfg.generator())
    y = x.sum(1, keepdim=True)
    hist = ck.train(model, lambda m, a, b: ((m(a) - b) ** 2).mean(), (x, y), epochs=3,
                    batch_size=16, progress=False, seed=cfg.seed)
    return {"mse": hist.last("loss")}, {"note": torch.tensor([1.0, 2.0])}


@pytest.fixture
def toy_recipe():
    C.register(C.Recipe("toy_test", build=lambda: nn.Linear(3, 1), fit=_fit,
                        description="a linear toy for the tests"))
    yield "toy_test"
    C.REGISTRY.pop("toy_test", None)


def test_round_trip_with_card_and_extras(tmp_path, toy_recipe, capsys):
    path = C.pretrain_main(toy_recipe, seed=1, tiny=True, directory=tmp_path)
    assert path.stat().st_size < 10 * 2**20
    card_md = (tmp_path / "toy_test.md").read_text()
    for field in ("python -m coursekit pretrain toy_test --seed 1 --tiny", "offline-10k",
                  "9fb629c4189551a2d022fa330f9573f3", "mse", "CPU-s"):
        assert field in card_md
    model = ck.pretrained(toy_recipe, directory=tmp_path, verbose=False)
    saved = torch.load(path, weights_only=True)["state_dict"]
    assert torch.equal(model.weight, saved["weight"])
    assert model.pretrained_card["seed"] == 1
    assert torch.equal(model.pretrained_extras["note"], torch.tensor([1.0, 2.0]))


def test_same_command_and_seed_give_same_metrics(tmp_path, toy_recipe):
    a = torch.load(C.pretrain_main(toy_recipe, seed=3, tiny=True, directory=tmp_path / "a"),
                   weights_only=True)
    b = torch.load(C.pretrain_main(toy_recipe, seed=3, tiny=True, directory=tmp_path / "b"),
                   weights_only=True)
    assert a["card"]["metrics"] == b["card"]["metrics"]
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])


def test_corrupt_checkpoint_is_a_clear_error(tmp_path, toy_recipe):
    (tmp_path / "toy_test.pt").write_bytes(b"\x80garbage")
    with pytest.raises(CheckpointError, match="corrupt.*python -m coursekit pretrain toy_test"):
        ck.pretrained(toy_recipe, directory=tmp_path, verbose=False)


def test_mismatched_architecture_is_a_clear_error(tmp_path, toy_recipe):
    C.pretrain_main(toy_recipe, tiny=True, directory=tmp_path)
    C.register(C.Recipe("toy_test", build=lambda: nn.Linear(5, 1), fit=_fit))
    with pytest.raises(CheckpointError, match="does not match the current"):
        ck.pretrained(toy_recipe, directory=tmp_path, verbose=False)


def test_checkpoint_of_another_model_is_refused(tmp_path, toy_recipe):
    C.pretrain_main(toy_recipe, tiny=True, directory=tmp_path)
    (tmp_path / "toy_test.pt").rename(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="holds model 'toy_test', not 'other'"):
        C.load_pretrained_file("other", nn.Linear(3, 1), tmp_path / "other.pt")


def test_missing_checkpoint_trains_tiny_in_fast_profile_without_saving(tmp_path, toy_recipe,
                                                                       monkeypatch):
    monkeypatch.setenv("COURSEKIT_FAST", "1")
    model = ck.pretrained(toy_recipe, directory=tmp_path, verbose=False)
    assert model.pretrained_card["tiny"] and not (tmp_path / "toy_test.pt").exists()


def test_unknown_name_lists_known_recipes():
    with pytest.raises(KeyError, match="known"):
        C.get_recipe("no_such_model")


def test_committed_checkpoints_all_load():
    """Every file in data/checkpoints loads into its current architecture."""
    for name in C.recipes():
        path = C.checkpoint_path(name)
        if path.exists():
            model = C.load_pretrained_file(name, C.get_recipe(name).build(), path)
            assert path.stat().st_size <= 10 * 2**20
            assert not model.pretrained_card["tiny"]
