"""coursekit.core.checkpoints: registry, round trip, model card, clear errors, determinism."""
import math
from dataclasses import dataclass, replace

import pytest
import torch
from torch import nn

import coursekit as ck
from coursekit.core import checkpoints as C
from coursekit.core.train import CheckpointError


@dataclass
class ToyConfig:
    n_in: int = 3
    epochs: int = 3

    def tiny(self) -> "ToyConfig":
        return replace(self, epochs=2)


def _fit(model, cfg, settings):
    x = torch.randn(64, 3, generator=cfg.generator())
    y = x.sum(1, keepdim=True)
    hist = ck.train(model, lambda m, a, b: ((m(a) - b) ** 2).mean(), (x, y), epochs=settings.epochs,
                    batch_size=16, progress=False, seed=cfg.seed)
    return {"mse": hist.last("loss"), "epochs": settings.epochs}, {"note": torch.tensor([1.0, 2.0])}


@pytest.fixture
def toy_recipe():
    C.register(C.Recipe("toy_test", ToyConfig(), build=lambda c: nn.Linear(c.n_in, 1), fit=_fit,
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
    loaded = ck.pretrained(toy_recipe, directory=tmp_path, verbose=False)
    model = loaded.model
    saved = torch.load(path, weights_only=True)["state_dict"]
    assert torch.equal(model.weight, saved["weight"])
    assert loaded.card["seed"] == 1
    assert torch.equal(loaded.extras["note"], torch.tensor([1.0, 2.0]))


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
    C.register(C.Recipe("toy_test", ToyConfig(n_in=5), build=lambda c: nn.Linear(c.n_in, 1),
                        fit=_fit))
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
    loaded = ck.pretrained(toy_recipe, directory=tmp_path, verbose=False)
    assert loaded.card["tiny"] and not (tmp_path / "toy_test.pt").exists()
    assert loaded.card["metrics"]["epochs"] == ToyConfig().tiny().epochs


def test_unknown_name_lists_known_recipes():
    with pytest.raises(KeyError, match="known"):
        C.get_recipe("no_such_model")


def test_committed_checkpoints_all_load():
    """Every file in data/checkpoints loads into its current architecture."""
    for name in C.recipes():
        path = C.checkpoint_path(name)
        if path.exists():
            recipe = C.get_recipe(name)
            loaded = C.load_pretrained_file(name, recipe.build(recipe.config), path)
            assert path.stat().st_size <= 10 * 2**20
            assert not loaded.card["tiny"]
            assert not loaded.model.training


def test_recipe_config_without_a_tiny_variant_is_refused():
    with pytest.raises(TypeError, match="tiny"):
        C.register(C.Recipe("no_tiny", {"epochs": 3}, build=lambda c: nn.Linear(3, 1), fit=_fit))
    assert "no_tiny" not in C.REGISTRY


def test_training_cpu_minutes_prefers_the_loop_over_the_whole_recipe():
    card = {"train_cpu_seconds": 1200.0, "metrics": {}}
    assert C.training_cpu_minutes(card) == 20.0  # no loop figure: the whole recipe
    card["metrics"] = {"train_cpu_minutes": 4.5}
    assert C.training_cpu_minutes(card) == 4.5
    card["metrics"] = {"train_loop_cpu_seconds": 600.0, "train_cpu_minutes": 4.5}
    assert C.training_cpu_minutes(card) == 10.0
    assert math.isnan(C.training_cpu_minutes({}))


def test_seed_spread_groups_a_metric_over_its_sampling_seeds():
    # diffusion cards keep seed 1 unprefixed; the gan card names seed 1 and keeps the median unprefixed
    diffusion = {"ddim50_fd_ratio": 3.0, "seed2_ddim50_fd_ratio": 2.0, "seed3_ddim50_fd_ratio": 4.0,
                 "seed2_ddim50_sample_cpu_seconds": 1.0, "ddim50_eta0_fd_ratio": 9.0}
    assert C.seed_spread(diffusion) == {"ddim50_fd_ratio": [3.0, 2.0, 4.0]}
    gan = {"seed1_fd_ratio": 7.0, "seed2_fd_ratio": 6.0, "seed3_fd_ratio": 8.0, "fd_ratio": 7.0}
    assert C.seed_spread(gan) == {"fd_ratio": [7.0, 6.0, 8.0]}
    assert C.seed_spread({"fd_ratio": 1.0, "raw_fd_ratio": 2.0}) == {}


def test_card_markdown_gives_median_and_range_over_the_seeds():
    card = {"name": "x", "command": "c", "seed": 0, "data": {"source": "s"}, "train_seconds": 1,
            "threads": 1, "device": "cpu", "machine": "m", "parameters": 1,
            "versions": {"coursekit": "0", "torch": "0", "python": "3"}, "date": "d",
            "metrics": {"fd_ratio": 3.0, "seed2_fd_ratio": 2.0, "seed3_fd_ratio": 5.0}}
    assert "| fd_ratio | 3 | 3 | 2–5 |" in C.card_markdown(card)
    card["metrics"] = {"fd_ratio": 3.0}
    assert "sampling seeds" not in C.card_markdown(card)


@pytest.mark.parametrize("path", sorted(C.checkpoint_path("ae").parent.glob("*.pt")),
                         ids=lambda p: p.stem)
def test_committed_card_markdown_is_the_rendering_of_the_checkpoints_card(path):
    card = torch.load(path, map_location="cpu", weights_only=True)["card"]
    assert path.with_suffix(".md").read_text() == C.card_markdown(card), (
        f"{path.with_suffix('.md')} is stale: rewrite it from the checkpoint's card")
