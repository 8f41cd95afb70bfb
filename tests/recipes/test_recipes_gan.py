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
    assert set(made.card["metrics"]) == {"steps", "d_acc_end", "train_loop_cpu_seconds"}  # no scoring
    assert made.extras["loss_d"].shape[0] == 2                         # (step, value) rows
    assert made.model.sample(4).shape == (4, 1, 28, 28)


@pytest.mark.slow
def test_fit_scores_the_ema_and_the_raw_weights_with_the_yardstick(cfg):
    config = replace(R.GANConfig().tiny(), steps=10, snapshot_steps=(0, 10), n_eval=50)
    model = R.build(config)
    card, extras = R.fit(model, cfg, config)
    scores = ("fd", "fd_ratio", "coverage", "kl_uniform", "precision", "recall")
    spread = {f"{k}{end}" for k in scores for end in ("", "_min", "_max")}
    per_seed = {f"seed{s}_{k}" for s in config.eval_seeds for k in scores}
    assert set(card) == {"steps", "d_acc_end", "train_loop_cpu_seconds", *spread, *per_seed,
                         *(f"raw_{k}" for k in scores)}
    assert all(math.isfinite(v) for v in card.values())
    for k in scores:  # the unprefixed value is the median of the seeds, inside their range
        values = sorted(card[f"seed{s}_{k}"] for s in config.eval_seeds)
        assert card[k] == values[1] and (card[f"{k}_min"], card[f"{k}_max"]) == (
            values[0], values[-1])
    assert extras["snapshots"].shape[0] == 2


def test_spread_is_median_and_range_over_seeds():
    rows = [{"fd": 3.0}, {"fd": 1.0}, {"fd": 2.0}]
    out = R._spread(rows, (1, 2, 3))
    assert (out["fd"], out["fd_min"], out["fd_max"]) == (2.0, 1.0, 3.0)
    assert (out["seed1_fd"], out["seed2_fd"], out["seed3_fd"]) == (3.0, 1.0, 2.0)


def test_gen_step_can_reuse_the_fakes_of_disc_step():
    """reuse_fakes plays the same game with one Gen forward pass per step instead of two:
    only the z drawn differs, so with the same generator it draws half as many z."""
    config = R.GANConfig().tiny()
    counts = {}
    for reuse in (False, True):
        model = R.build(config)
        opt_g = torch.optim.Adam(model.G.parameters(), 1e-3)
        opt_d = torch.optim.Adam(model.D.parameters(), 1e-3)
        g = torch.Generator().manual_seed(0)
        calls = []
        prior = model.prior
        model.prior = (lambda n, generator=None, calls=calls, prior=prior:
                       calls.append(n) or prior(n, generator))
        out = gan.gan_step(opt_g, opt_d, reuse_fakes=reuse, generator=g)(
            model, torch.rand(8, 1, 28, 28) * 2 - 1)
        counts[reuse] = len(calls)
        assert math.isfinite(out["loss_g"]) and math.isfinite(out["loss_d"])
    assert counts == {False: 2, True: 1}
    with pytest.raises(ValueError, match="d_steps = 1"):
        gan.gan_step(opt_g, opt_d, d_steps=2, reuse_fakes=True)(model, torch.zeros(8, 1, 28, 28))


def test_dcgan_init_draws_small_weights_and_unit_batchnorm_scales():
    torch.manual_seed(0)
    model = R.build(R.GANConfig())
    w = model.G.up[0].weight
    assert abs(float(w.std()) - 0.02) < 0.002 and abs(float(w.mean())) < 0.002
    bn = model.G.up[1]
    assert abs(float(bn.weight.mean()) - 1.0) < 0.01 and float(bn.bias.abs().max()) == 0.0
    assert model.D.net[0].out_channels == R.GANConfig().d_width


@pytest.mark.slow
def test_a_variant_recipe_describes_its_own_settings_and_disc_gets_its_own_lr(cfg, monkeypatch):
    assert "Adam 0.0004 (β1 0.5) for both" in R.recipe(R.CONFIG).description
    ttur = replace(R.GANConfig().tiny(), d_lr=1e-4)
    assert "0.0004 for Gen, 0.0001 for Disc" in R.recipe(ttur).description
    lrs = []
    real_adam = torch.optim.Adam

    def spy(params, lr, **kw):
        lrs.append(lr)
        return real_adam(params, lr=lr, **kw)

    monkeypatch.setattr(torch.optim, "Adam", spy)
    R.fit(R.build(ttur), cfg, ttur)
    assert lrs == [ttur.lr, 1e-4]                                     # Gen's, then Disc's
