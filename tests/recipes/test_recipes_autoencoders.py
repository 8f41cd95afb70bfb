"""coursekit.recipes.autoencoders: the "ae", "ae2d" and "dae" recipes and their checkpoints."""
import dataclasses

import pytest
import torch

from coursekit.core import checkpoints as C
from coursekit.recipes import autoencoders as R


def _images(n=2):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def test_registered_recipes_follow_the_contract():
    recipes = C.recipes()
    for name, config, m in (("ae", R.AE, 16), ("ae2d", R.AE2D, 2), ("dae", R.DAE, 16)):
        assert recipes[name].config == config and config.m == m
        model = recipes[name].build(config)
        assert model.m == m and model.encode(_images()).shape == (2, m)
        assert {"code_mean", "code_chol"} <= set(model.state_dict())
    assert R.DAE.corruption == "gaussian" and R.AE.corruption is None
    tiny = R.AE.tiny()
    assert (tiny.n_train, tiny.epochs) == (1024, 1)
    assert (tiny.m, tiny.hidden) == (R.AE.m, R.AE.hidden)  # same network, shorter training


def test_config_rejects_an_unknown_corruption():
    with pytest.raises(ValueError, match="corruption must be None or one of"):
        dataclasses.replace(R.AE, corruption="blur")


@pytest.mark.parametrize("name", ["ae", "ae2d", "dae"])
def test_committed_checkpoints_load_and_match_their_cards(name):
    made = C.pretrained(name, verbose=False)
    assert not made.model.training
    assert made.card["metrics"]["heldout_sq_error"] > 0
    s = made.model.sample(3, torch.Generator().manual_seed(0))
    assert s.shape == (3, 1, 28, 28) and 0 <= float(s.min()) and float(s.max()) <= 1


@pytest.mark.parametrize("name", ["ae", "dae"])  # about 1 s each: not marked slow
def test_tiny_recipe_trains_in_seconds_and_round_trips(name, cfg, tmp_path):
    path = C.pretrain_main(name, tiny=True, directory=tmp_path)
    made = C.pretrained(name, directory=tmp_path, verbose=False)
    assert path.stat().st_size < 10 * 2**20
    keys = {"train_sq_error", "heldout_sq_error", "pca16_heldout_sq_error"}
    if name == "dae":  # eq. (2): the denoising error of f(h(x̃)) against the clean x
        keys.add("heldout_denoise_sq_error")
    assert set(made.card["metrics"]) == keys
    assert made.card["tiny"] and made.model.sample(3).shape == (3, 1, 28, 28)
