"""coursekit.recipes.vae: the "vae" and "vae2d" recipes, their checkpoints and the held-out
binarization every reported number uses."""
import math

import pytest
import torch
from torch import nn

from coursekit.core import checkpoints as C
from coursekit.models.vae import VAE, ImageBias
from coursekit.recipes import vae as R


def test_registered_recipes_use_the_conv_decoder_for_m_20_and_the_mlp_for_m_2():
    recipes = C.recipes()
    assert recipes["vae"].config == R.VAE_CONFIG and recipes["vae2d"].config == R.VAE2D_CONFIG
    model = R.build(R.VAE_CONFIG)
    assert model.m == 20 and isinstance(model.decoder[-1], ImageBias)
    model_2d = R.build(R.VAE2D_CONFIG)
    assert model_2d.m == 2 and isinstance(model_2d.decoder[-1], nn.Linear)
    tiny = R.VAE_CONFIG.tiny()
    assert (tiny.epochs, tiny.n_train, tiny.k_eval) == (2, 1000, 50)
    assert (tiny.m, tiny.hidden, tiny.decoder) == (20, (500, 500), "conv")  # same network


@pytest.mark.parametrize("name", ["vae", "vae2d"])
def test_committed_checkpoints_load_unchanged(name):
    made = C.pretrained(name, verbose=False)
    assert isinstance(made.model, VAE) and not made.model.training
    metrics = made.card["metrics"]
    assert metrics["heldout_elbo"] < 0 and metrics["heldout_kl"] > 0
    assert made.extras["train/elbo"].shape[0] == 2 and made.extras["steps_per_epoch"] > 0
    assert made.model.sample(2, torch.Generator().manual_seed(0)).shape == (2, 1, 28, 28)


def test_binarized_heldout_is_one_fixed_binarization():
    x, y = R.binarized_heldout(50)
    x2, _ = R.binarized_heldout()
    assert x.shape == (50, 1, 28, 28) and y.shape == (50,)
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(x, x2[:50])


def test_fit_trains_through_train_with_the_cosine_schedule_of_the_old_cosine_adam(
        monkeypatch, cfg):
    """The schedule gives lr·(0.02 + 0.98·½(1 + cos(π t/T))), what `CosineAdam` did."""
    seen = {}

    def fake_train(model, loss_fn, data, **kwargs):
        seen.update(kwargs)
        raise StopIteration

    monkeypatch.setattr(R, "train", fake_train)
    with pytest.raises(StopIteration):
        R.fit(R.build(R.VAE_CONFIG.tiny()), cfg, R.VAE_CONFIG.tiny())
    factor, total, lr, final = seen["schedule"], 20, 3e-3, 0.02
    for step in range(total + 3):  # CosineAdam.lr_at, verbatim: bit-identical rates
        progress = min(step / max(total, 1), 1.0)
        old = lr * (final + (1 - final) * 0.5 * (1 + math.cos(math.pi * progress)))
        assert lr * factor(step, total) == old
    assert seen["lr"] == 3e-3 and seen["batch_size"] == 100 and seen["epochs"] == 2


@pytest.mark.slow
def test_tiny_recipe_trains_and_reports_heldout_numbers(cfg):
    made = C.fit_recipe("vae", cfg, tiny=True, command="test")
    metrics = made.card["metrics"]
    assert -300 < metrics["heldout_elbo"] < metrics["heldout_iwae_k50"] < 0
    assert made.extras["train/elbo"].shape == (2, 2)  # (steps, values) at 2 epochs
    assert made.extras["settings"] == repr(R.VAE_CONFIG.tiny())
    assert made.model.sample(2).shape == (2, 1, 28, 28)
