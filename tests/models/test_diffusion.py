"""coursekit.models.diffusion as a specification of the lecture's eqs. (15)–(19)."""
import math

import pytest
import torch

from coursekit.models import diffusion as D


def _toy(T=50, schedule="linear", clip=None):
    torch.manual_seed(0)
    return D.Diffusion(D.ToyDenoiser(2, hidden=16, depth=1, T=T), (2,), T=T, schedule=schedule,
                       clip=clip)


# ----------------------------------------------------------------------------- schedules
@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_schedules_destroy_the_signal_monotonically(schedule):
    betas = D.make_betas(1000, schedule)
    alpha_bar = D.alpha_bar_of(betas)
    assert betas.shape == (1000,) and alpha_bar.shape == (1001,)
    assert ((betas > 0) & (betas < 1)).all()
    assert alpha_bar[0] == 1.0
    assert (alpha_bar[1:] < alpha_bar[:-1]).all(), "alpha_bar must decrease strictly"
    assert alpha_bar[-1] < 1e-3, "x^(T) must be (almost) pure noise"


def test_cosine_keeps_more_signal_than_linear_in_the_middle():
    lin, cos = (D.alpha_bar_of(D.make_betas(1000, s)) for s in ("linear", "cosine"))
    assert cos[250] > lin[250] and cos[500] > lin[500]


def test_unknown_schedule_is_a_clear_error():
    with pytest.raises(ValueError, match="linear"):
        D.make_betas(10, "quadratic")
    with pytest.raises(ValueError, match="positive"):
        D.make_betas(0, "cosine")


# ----------------------------------------------------------------------------- forward process
def test_one_forward_step_is_eq16():
    model = _toy()
    x_t = torch.randn(5, 2)
    t = 7
    got = model.q_step(x_t, t, generator=torch.Generator().manual_seed(3))
    z = torch.randn(5, 2, generator=torch.Generator().manual_seed(3))
    alpha_t, beta_t = 1 - model.betas[t], model.betas[t]
    torch.testing.assert_close(got, alpha_t.sqrt() * x_t + beta_t.sqrt() * z)
    with pytest.raises(ValueError, match="0…49"):
        model.q_step(x_t, 50)  # the last step goes from x^(T-1) to x^(T)


def test_q_sample_moments_match_the_closed_form():
    model = _toy(T=100, schedule="cosine")
    x_0 = torch.tensor([[1.5, -0.5]]).expand(50_000, 2)
    for t in (1, 30, 100):
        x_t = model.q_sample(x_0, t, generator=torch.Generator().manual_seed(t))
        ab = model.alpha_bar[t]
        torch.testing.assert_close(x_t.mean(0), ab.sqrt() * x_0[0], atol=0.02, rtol=0)
        torch.testing.assert_close(x_t.var(0), (1 - ab).expand(2), atol=0.02, rtol=0.03)


def test_iterating_eq16_matches_the_closed_form():
    model = _toy(T=40)
    x_0 = torch.tensor([[2.0, -1.0]]).expand(30_000, 2)
    g = torch.Generator().manual_seed(0)
    x = x_0
    for t in range(40):
        x = model.q_step(x, t, generator=g)
    ab = model.alpha_bar[40]
    torch.testing.assert_close(x.mean(0), ab.sqrt() * x_0[0], atol=0.03, rtol=0)
    torch.testing.assert_close(x.var(0), (1 - ab).expand(2), atol=0.03, rtol=0)


def test_variance_recursion_eq17_fixed_point_only_for_sqrt_mean_and_unit_variance():
    betas = D.make_betas(200, "linear")
    torch.testing.assert_close(D.forward_variance(1.0, betas), torch.ones(201, dtype=torch.float64))
    assert D.forward_variance(1.0, betas, "alpha")[-1] < 0.9  # eq. (15) read literally shrinks
    v = D.forward_variance(0.2, betas)  # data with Var != I: approaches 1, not equal at t = 0
    assert v[0] == 0.2 and abs(v[-1] - 1) < 1e-3 and (v[1:] > v[:-1]).all()
    # closed form: Var(x^(t)) = alpha_bar_t Var(x^(0)) + 1 - alpha_bar_t
    ab = D.alpha_bar_of(betas)
    torch.testing.assert_close(v, ab * 0.2 + 1 - ab)
    with pytest.raises(ValueError, match="eq. 15"):
        D.forward_variance(1.0, betas, "beta")


# ----------------------------------------------------------------------------- posterior
def test_posterior_matches_brute_force_gaussian_in_1d():
    """q(x^(t) | x^(t+1), x^(0)) ∝ q(x^(t) | x^(0)) q(x^(t+1) | x^(t)), on a fine grid."""
    model = D.Diffusion(D.ToyDenoiser(1, 8, 1, T=100), (1,), T=100, schedule="cosine")
    x_0, x_next = torch.tensor([[0.8]]), torch.tensor([[-0.3]])
    for t in (0, 10, 60, 98):
        ab_t = model.alpha_bar[t].double()
        alpha_t, beta_t = model.alphas[t].double(), model.betas[t].double()
        grid = torch.linspace(-6, 6, 400_001, dtype=torch.float64)
        log_p = (-(grid - ab_t.sqrt() * 0.8) ** 2 / (2 * (1 - ab_t)).clamp(min=1e-300)
                 if t > 0 else torch.where((grid - 0.8).abs() < 1e-4, 0.0, -math.inf))
        log_p = log_p - (-0.3 - alpha_t.sqrt() * grid) ** 2 / (2 * beta_t)
        w = torch.softmax(log_p, 0)
        mean_bf = (w * grid).sum()
        var_bf = (w * (grid - mean_bf) ** 2).sum()
        mean, var = model.q_posterior(x_0, x_next, t)
        assert abs(mean.item() - mean_bf.item()) < 1e-3
        assert abs(var.item() - var_bf.item()) < 1e-4 + 1e-3 * var_bf.item()


# ----------------------------------------------------------------------------- samplers
class GaussianOracle(torch.nn.Module):
    """The exact E[ε | x^(t)] when x^(0) ~ N(m, s²): lets us test samplers without training."""

    def __init__(self, alpha_bar, m, s):
        super().__init__()
        self.alpha_bar, self.m, self.s = alpha_bar, m, s

    def forward(self, x_t, t):
        ab = self.alpha_bar[t].reshape(-1, 1)
        return (1 - ab).sqrt() * (x_t - ab.sqrt() * self.m) / (ab * self.s ** 2 + 1 - ab)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_samplers_recover_gaussian_data_with_the_exact_denoiser(sampler):
    model = D.Diffusion(torch.nn.Identity(), (1,), T=100, schedule="linear")
    model.net = GaussianOracle(model.alpha_bar, m=1.0, s=0.5)
    g = torch.Generator().manual_seed(0)
    x = model.ddpm_sample(10_000, g) if sampler == "ddpm" else model.ddim_sample(10_000, 50, g)
    assert abs(x.mean().item() - 1.0) < 0.03 and abs(x.std().item() - 0.5) < 0.03


def test_ddim_with_all_T_steps_and_eta_1_is_ancestral_ddpm():
    """σ² = (1 − ᾱ_t)/(1 − ᾱ_{t+1}) β_t = β̃_t: the DDIM jump becomes the step of eq. (18)."""
    model = _toy(T=30, schedule="cosine").eval()
    ddpm = model.ddpm_sample(50, torch.Generator().manual_seed(4))
    ddim = model.ddim_sample(50, 30, torch.Generator().manual_seed(4), eta=1.0)
    torch.testing.assert_close(ddim, ddpm, atol=1e-4, rtol=1e-4)


def test_samplers_shapes_and_determinism_with_a_seed():
    model = _toy(T=20).eval()
    for draw in (lambda g: model.ddpm_sample(7, g), lambda g: model.ddim_sample(7, 5, g),
                 lambda g: model.ddim_sample(7, 5, g, eta=1.0)):
        a, b = draw(torch.Generator().manual_seed(1)), draw(torch.Generator().manual_seed(1))
        c = draw(torch.Generator().manual_seed(2))
        assert a.shape == (7, 2) and torch.equal(a, b) and not torch.equal(a, c)
    x_T = torch.randn(4, 2)
    assert torch.equal(model.ddim_sample(4, 5, x_T=x_T), model.ddim_sample(4, 5, x_T=x_T))
    x, traj = model.ddpm_sample(3, trajectory_every=5)
    assert [t for t, _ in traj] == [20, 15, 10, 5, 0] and torch.equal(traj[-1][1], x)
    x, traj = model.ddim_sample(3, 4, return_trajectory=True)
    assert [t for t, _ in traj] == [20, 15, 10, 5, 0] and torch.equal(traj[-1][1], x)
    assert model.ddim_timesteps(4) == [20, 15, 10, 5, 0]


def test_clipping_keeps_the_predicted_x0_in_range():
    model = _toy(T=20, clip=0.5)
    x_t = 10 * torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    t = torch.full((64,), 3)
    x0, eps = model.predict_x0_eps(x_t, t)
    assert x0.abs().max() <= 0.5 + 1e-6
    ab = model.alpha_bar[3]
    torch.testing.assert_close(ab.sqrt() * x0 + (1 - ab).sqrt() * eps, x_t)  # still x^(t)


def test_image_model_sample_contract():
    model = D.ImageDiffusion(channels=(8, 16), T=10)
    out = model.sample(3, torch.Generator().manual_seed(0), steps=2)
    assert out.shape == (3, 1, 28, 28) and out.min() >= 0 and out.max() <= 1
    assert model.sample(2, ddim=False).shape == (2, 1, 28, 28)
    assert torch.equal(out, model.sample(3, torch.Generator().manual_seed(0), steps=2))
    assert model.training, "sample restores the training mode"


def test_networks_see_t_on_a_0_to_1000_scale_without_touching_the_callers_module():
    net = D.ToyDenoiser(2, 8, 1)  # built for T = 1000
    D.Diffusion(net, (2,), T=50)
    assert net.t_scale == 1.0, "Diffusion must not change the network it is given"
    assert D.toy_diffusion(T=50).net.t_scale == 20.0
    assert D.ImageDiffusion(channels=(8, 16), T=10).net.t_scale == 100.0


def test_min_snr_weighting_down_weights_the_almost_clean_layers():
    seen = {}

    class Recorder(torch.nn.Module):
        def forward(self, x, t):
            seen["t"] = t
            return torch.zeros_like(x)  # error = ε, E‖ε‖² per coordinate = 1

    x_0 = torch.zeros(4000, 2)
    plain = D.Diffusion(Recorder(), (2,), T=100, schedule="cosine")
    weighted = D.Diffusion(Recorder(), (2,), T=100, schedule="cosine", loss_weight="min_snr")
    loss_plain = plain.loss(x_0, generator=torch.Generator().manual_seed(0))
    loss_weighted = weighted.loss(x_0, generator=torch.Generator().manual_seed(0))
    ab = weighted.alpha_bar[seen["t"]]
    snr = ab / (1 - ab)
    assert abs(loss_plain.item() - 1) < 0.05
    # same t and ε for both: the weighted loss is the plain one times E[min(SNR, 5)/SNR]
    assert abs(loss_weighted.item() - (snr.clamp(max=5) / snr).mean().item()) < 0.05
    assert loss_weighted < loss_plain


@pytest.mark.parametrize("t_sampling, middle_share", [("uniform", (0.47, 0.53)),
                                                      ("logit_normal", (0.70, 0.76))])
def test_training_timesteps_stay_in_range_and_logit_normal_favours_the_middle(
        t_sampling, middle_share):
    T = 1000
    model = D.Diffusion(torch.nn.Identity(), (2,), T=T, t_sampling=t_sampling)
    t = model.sample_t(20_000, generator=torch.Generator().manual_seed(0))
    assert t.min() >= 1 and t.max() <= T
    # P(T/4 < t < 3T/4): 0.5 for uniform t; P(|n| < ln 3) = 0.728 for t/T = sigmoid(n)
    share = ((t > T / 4) & (t < 3 * T / 4)).float().mean().item()
    assert middle_share[0] < share < middle_share[1]


# ----------------------------------------------------------------------------- bad input
def test_bad_input_says_what_was_expected():
    model = D.ImageDiffusion(channels=(8, 16), T=10)
    with pytest.raises(ValueError, match=r"\(batch, 1, 28, 28\)"):
        model.q_sample(torch.rand(2, 28, 28), 3)
    with pytest.raises(ValueError, match="0…10"):
        model.q_sample(torch.rand(2, 1, 28, 28), 11)
    with pytest.raises(ValueError, match="ddim=True"):
        model.sample(2, steps=5, ddim=False)
    with pytest.raises(ValueError, match="1 ≤ steps"):
        model.ddim_timesteps(0)
    with pytest.raises(ValueError, match="t_sampling"):
        D.ImageDiffusion(channels=(8, 16), T=10, t_sampling="beta")
    with pytest.raises(ValueError, match="loss_weight"):
        D.ImageDiffusion(channels=(8, 16), T=10, loss_weight="snr")


# ----------------------------------------------------------------------------- latent models
def test_latent_ddim_stays_in_the_code_range_although_alpha_bar_T_is_tiny():
    codes = torch.randn(256, 4, generator=torch.Generator().manual_seed(0))
    model = D.LatentDiffusion(codes, T=200)  # untrained: its noise prediction is off
    assert model.alpha_bar[-1] < 1e-5 and model.clip == pytest.approx(
        model.standardize(codes).abs().max().item())
    h = model.ddim_sample(64, 50, torch.Generator().manual_seed(1))  # standardized codes
    assert torch.isfinite(h).all() and h.abs().max() <= model.clip + 1e-5


class _TinyDecoder(torch.nn.Module):
    """A stand-in autoencoder with m and decode (the contract LatentImageDiffusion needs)."""

    def __init__(self, m=16):
        super().__init__()
        self.m, self.lin = m, torch.nn.Linear(m, 784)

    def decode(self, h):
        return torch.sigmoid(self.lin(h)).reshape(-1, 1, 28, 28)


def test_latent_model_keeps_its_code_range_through_save_and_load(tmp_path):
    codes = 5.0 * torch.randn(256, 16, generator=torch.Generator().manual_seed(0))
    model = D.LatentImageDiffusion(_TinyDecoder(), codes, T=20, hidden=32, depth=1)
    fresh = D.LatentImageDiffusion(_TinyDecoder(), T=20, hidden=32, depth=1)  # placeholders
    assert fresh.latent.clip != pytest.approx(model.latent.clip)
    torch.save(model.state_dict(), tmp_path / "ldm.pt")
    fresh.load_state_dict(torch.load(tmp_path / "ldm.pt", weights_only=True))
    assert fresh.latent.clip == pytest.approx(model.latent.clip)
    a = model.sample(3, torch.Generator().manual_seed(1), steps=4)
    b = fresh.sample(3, torch.Generator().manual_seed(1), steps=4)
    assert a.shape == (3, 1, 28, 28) and 0 <= a.min() and a.max() <= 1
    torch.testing.assert_close(a, b)
    assert model.sample(2, torch.Generator().manual_seed(1), steps=None).shape == (2, 1, 28, 28)


def test_a_sampling_seed_names_the_same_images_in_any_batch_size():
    """One meaning per seed (issue one-source): n samples drawn with batch sizes 50 and 500 are
    identical, and the first k of n samples are the k samples of a call with n = k."""
    from coursekit.models.diffusion import ImageDiffusion

    torch.manual_seed(0)
    model = ImageDiffusion(channels=(8, 8), T=10)

    def draw(n, b, **kw):
        return model.sample(n, torch.Generator().manual_seed(1), batch_size=b, **{"steps": 4, **kw})

    for kw in ({"eta": 1.0}, {"ddim": False, "steps": None}):
        a, b = draw(120, 50, **kw), draw(120, 500, **kw)
        assert torch.equal(a, b), kw
        assert torch.equal(draw(30, 7, **kw), a[:30]), kw
    assert not torch.equal(draw(30, 50), model.sample(30, torch.Generator().manual_seed(2),
                                                       steps=4))


def test_per_sample_noise_rejects_a_batch_of_the_wrong_size():
    from coursekit.models.diffusion import per_sample_noise

    noise = per_sample_noise(4, torch.Generator().manual_seed(0))
    assert noise.randn((4, 3)).shape == (4, 3)
    with pytest.raises(ValueError, match="batch of 5 samples.*4 per-sample"):
        noise.randn((5, 3))
