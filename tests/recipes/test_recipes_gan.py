"""coursekit.recipes.gan: the MNIST DCGAN recipe (typed config, fit through ck.train)."""
import math
from dataclasses import replace

import pytest
import torch

import coursekit as ck
from coursekit.core import checkpoints as C
from coursekit.models import gan
from coursekit.recipes import gan as R


def test_gan_recipe_is_registered_with_a_typed_config():
    recipe = C.recipes()["gan"]
    assert recipe.config == R.GANConfig() and recipe.fit is R.fit
    tiny = recipe.settings(tiny=True)
    assert (tiny.steps, tiny.snapshot_steps, tiny.n_eval) == (20, (0, 10, 20), 0)
    assert (tiny.z_dim, tiny.width) == (recipe.config.z_dim, recipe.config.width)  # same net
    assert isinstance(recipe.build(tiny), gan.MNISTGAN)


def test_config_refuses_snapshot_steps_that_do_not_span_the_run():
    with pytest.raises(ValueError, match="rise from 0 to steps=20"):
        replace(R.GANConfig().tiny(), snapshot_steps=(0, 10))
    with pytest.raises(ValueError, match="gen_loss"):
        R.GANConfig(gen_loss="minimax")


def test_committed_checkpoint_loads_unchanged():
    made = ck.pretrained("gan", train_if_missing=False, verbose=False)
    assert isinstance(made.model, gan.MNISTGAN) and not made.model.training
    assert made.card["metrics"]["steps"] == R.GANConfig().steps
    extras = made.extras
    assert extras["snapshots"].shape == (len(R.GANConfig().snapshot_steps), 64, 1, 28, 28)
    assert made.model.sample(4, torch.Generator().manual_seed(0)).shape == (4, 1, 28, 28)


@pytest.mark.slow
def test_tiny_gan_recipe_round_trip(tmp_path, cfg):
    path = C.pretrain_main("gan", tiny=True, directory=tmp_path)
    assert path.stat().st_size < 10 * 2**20
    made = ck.pretrained("gan", directory=tmp_path, verbose=False)
    tiny = R.GANConfig().tiny()
    snaps = made.extras["snapshots"]
    assert snaps.shape == (len(tiny.snapshot_steps), tiny.n_grid, 1, 28, 28)
    assert snaps.dtype == torch.uint8 and made.extras["snapshot_steps"].tolist() == [0, 10, 20]
    assert set(made.card["metrics"]) == {"steps", "d_acc_end"}        # n_eval = 0: no scoring
    assert made.extras["loss_d"].shape[0] == 2                         # (step, value) rows
    assert made.model.sample(4).shape == (4, 1, 28, 28)


@pytest.mark.slow
def test_fit_scores_the_ema_and_the_raw_weights_with_the_yardstick(cfg):
    config = replace(R.GANConfig().tiny(), steps=10, snapshot_steps=(0, 10), n_eval=50)
    model = R.build(config)
    card, extras = R.fit(model, cfg, config)
    scores = ("fd", "fd_ratio", "coverage", "kl_uniform", "precision", "recall")
    assert set(card) == {"steps", "d_acc_end", *scores, *(f"raw_{k}" for k in scores)}
    assert all(math.isfinite(v) for v in card.values())
    assert extras["snapshots"].shape[0] == 2
