"""coursekit.recipes.diffusion: the training helpers and the "ddpm" / "ldm" recipes."""
import dataclasses

import pytest
import torch

import coursekit as ck
from coursekit.core.checkpoints import checkpoint_path, fit_recipe, get_recipe
from coursekit.models import diffusion as D
from coursekit.recipes import diffusion as R
from coursekit.recipes.diffusion import DDPM, LDM, Sampler, describe_samplers


def test_training_lowers_the_denoising_loss_on_a_toy():
    model = D.toy_diffusion(T=50)
    hist = R.fit_toy(model, "moons", steps=100, batch_size=128, progress=False)
    _, losses = hist.series("loss")
    assert losses[-1] < 0.8 * losses[0] and hist.steps == 100 and hist.cpu_seconds > 0


def test_fit_diffusion_ends_with_the_ema_weights_and_follows_the_schedule():
    model = D.toy_diffusion(T=20, hidden=16, depth=1)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    R.fit_diffusion(model, lambda b, g: torch.randn(b, 2, generator=g), steps=30,
                    batch_size=32, lr=1e-2, warmup=10, ema_decay=0.9, progress=False)
    moved = [k for k, v in model.state_dict().items() if not torch.equal(v, start[k])]
    assert moved and all(k.startswith("net.mlp") for k in moved), "only weights train"
    assert torch.equal(model.betas, start["betas"])


def test_fit_latent_does_not_reseed_the_callers_random_stream():
    g = torch.Generator().manual_seed(0)
    codes = 3.0 + 2.0 * torch.randn(512, 4, generator=g)  # (N, m) codes, not standardized
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    model, hist = R.fit_latent(codes, steps=20, T=20, batch_size=64, progress=False)
    assert torch.equal(torch.rand(3), expected)
    again, _ = R.fit_latent(codes, steps=20, T=20, batch_size=64, progress=False)
    for k, v in model.state_dict().items():  # the seed alone fixes the result
        assert torch.equal(v, again.state_dict()[k])
    torch.testing.assert_close(model.standardize(codes).mean(0), torch.zeros(4), atol=1e-5,
                               rtol=0)
    h = model.sample_codes(5, torch.Generator().manual_seed(1), steps=4)
    assert h.shape == (5, 4) and torch.isfinite(h).all() and hist.steps == 20
    with pytest.raises(ValueError, match=r"\(N, m\)"):
        R.fit_latent(torch.randn(10), steps=1)


def test_score_samples_prefixes_the_keys_and_times_the_sampler():
    class Uniform(torch.nn.Module):
        def sample(self, n, generator=None, steps=None, eta=None):
            return torch.rand(n, 1, 28, 28, generator=generator)

    out = R.evaluate(Uniform(), 20, 0, (R.Sampler("a_", 1, 5), R.Sampler("b_", 2, None, 1.0)))
    assert {"a_fd", "a_fd_ratio", "a_sample_cpu_seconds", "b_coverage", "eval_n",
            "eval_cpu_seconds"} <= set(out)
    assert out["eval_n"] == 20 and out["a_fd"] != out["b_fd"]


@pytest.mark.parametrize("name, config", [("ddpm", R.DDPM), ("ldm", R.LDM)])
def test_recipes_are_registered_with_a_tiny_variant(name, config):
    recipe = get_recipe(name)
    assert recipe.config is config and dataclasses.is_dataclass(config)
    tiny = recipe.settings(tiny=True)
    assert tiny.samplers == () and tiny.steps < config.steps
    assert all(s.prefix.endswith("_") for s in config.samplers)


def test_ddpm_build_matches_the_committed_architecture():
    model = R.build_ddpm(R.DDPM)
    assert ck.count_parameters(model) == 156_241
    assert model.T == 1000 and model.loss_weight == "min_snr" and model.clip == 1.0


@pytest.mark.slow
def test_tiny_ddpm_recipe_round_trip(cfg):
    made = fit_recipe("ddpm", cfg, tiny=True, command="test")
    m = made.card["metrics"]
    assert m["train_steps"] == 10 and m["batch_size"] == 16 and m["train_loop_cpu_seconds"] > 0
    assert made.model.sample(2, torch.Generator().manual_seed(0), steps=2).shape == (2, 1, 28, 28)


@pytest.mark.slow
def test_ldm_recipe_counts_the_autoencoder_in_its_training_time(cfg):
    if not checkpoint_path("ae").exists():
        pytest.skip("data/checkpoints/ae.pt not made yet: python -m coursekit pretrain ae")
    model = R.build_ldm(R.LDM.tiny())
    metrics = R.fit_ldm(model, cfg, R.LDM.tiny())
    assert metrics["latent_train_steps"] == 20 and metrics["ae_train_cpu_seconds"] > 0
    assert metrics["train_loop_cpu_seconds"] == pytest.approx(
        metrics["ae_train_cpu_seconds"] + metrics["latent_train_loop_cpu_seconds"])
    ae = ck.pretrained("ae", verbose=False).model
    for name, value in ae.state_dict().items():  # the model carries the committed decoder
        torch.testing.assert_close(model.ae.state_dict()[name], value)


def test_committed_ddpm_checkpoint_follows_the_contract():
    if not checkpoint_path("ddpm").exists():
        pytest.skip("data/checkpoints/ddpm.pt not made yet: python -m coursekit pretrain ddpm")
    loaded = ck.pretrained("ddpm", verbose=False)
    assert loaded.card["parameters"] <= 2_000_000
    out = loaded.model.sample(2, torch.Generator().manual_seed(0), steps=3)
    assert out.shape == (2, 1, 28, 28) and 0 <= out.min() and out.max() <= 1
    assert "ddim50_fd_ratio" in loaded.card["metrics"]


def test_committed_ldm_checkpoint_follows_the_contract():
    if not checkpoint_path("ldm").exists():
        pytest.skip("data/checkpoints/ldm.pt not made yet: python -m coursekit pretrain ldm")
    loaded = ck.pretrained("ldm", verbose=False)
    out = loaded.model.sample(4, torch.Generator().manual_seed(0), steps=5)
    assert out.shape == (4, 1, 28, 28) and 0 <= out.min() and out.max() <= 1
    card = loaded.card["metrics"]
    # every sampler of the recipe is on the card: three sampling seeds for each kind of sampler
    assert {s.prefix + "fd_ratio" for s in LDM.samplers} | {"train_loop_cpu_seconds"} <= set(card)
    assert sorted(s.seed_offset for s in LDM.samplers if s.steps == 50) == [1, 2, 3]


def test_committed_ddpm_card_scores_every_sampler_of_the_recipe():
    if not checkpoint_path("ddpm").exists():
        pytest.skip("data/checkpoints/ddpm.pt not made yet: python -m coursekit pretrain ddpm")
    card = ck.pretrained("ddpm", verbose=False).card["metrics"]
    assert {s.prefix + "fd_ratio" for s in DDPM.samplers} <= set(card)


def test_describe_samplers_names_each_key_its_kind_and_its_seed():
    text = describe_samplers((Sampler("ddim50_eta1_", 1, 50, 1.0), Sampler("seed2_ddpm9_", 2, None)),
                             T=9)
    assert text == ("ddim50_eta1_*: DDIM-50 (η = 1), sampling seed 1; "
                    "seed2_ddpm9_*: all 9 ancestral steps, sampling seed 2")
