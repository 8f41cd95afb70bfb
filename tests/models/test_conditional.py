"""coursekit.models.conditional as a specification: classifier-free guidance, label dropout,
flow matching (path, target, Euler step, sampler) and the conditional VAE."""
import pytest
import torch

from coursekit.models import conditional as C
from coursekit.models.diffusion import ToyDenoiser


def _cldm(m=4, p_uncond=0.1):
    torch.manual_seed(0)
    codes = torch.randn(64, m) * 2 + 1
    return C.ConditionalLatentDiffusion(codes, T=20, hidden=16, depth=1, p_uncond=p_uncond)


# ----------------------------------------------------------------------------- guidance
def test_cfg_at_w0_is_the_conditional_prediction():
    g = torch.Generator().manual_seed(0)
    cond, uncond = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    assert torch.equal(C.cfg_combine(cond, uncond, 0.0), cond)


def test_cfg_extrapolates_away_from_the_unconditional():
    cond, uncond = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 1.0]])
    # (1 + w) c − w u = c + w (c − u)
    assert torch.allclose(C.cfg_combine(cond, uncond, 2.0), cond + 2.0 * (cond - uncond))
    assert torch.allclose(C.cfg_combine(cond, uncond, -1.0), uncond)  # w = −1: unconditional


def test_guided_eps_at_w0_equals_the_network_with_the_label():
    model = _cldm()
    x, t, y = torch.randn(6, 4), torch.full((6,), 7), torch.arange(6)
    with torch.no_grad():
        assert torch.allclose(model.eps_guided(x, t, y, 0.0), model.net(x, t, y))
        both = model.eps_guided(x, t, y, 1.5)
        want = 2.5 * model.net(x, t, y) - 1.5 * model.net(x, t, torch.full_like(y, C.NULL_LABEL))
    assert torch.allclose(both, want, atol=1e-6)


def test_label_dropout_rate_and_null_label():
    y = torch.arange(10).repeat(2000)  # (20000,)
    dropped = C.drop_labels(y, 0.1, torch.Generator().manual_seed(0))
    null = dropped == C.NULL_LABEL
    assert 0.09 < null.float().mean() < 0.11
    assert torch.equal(dropped[~null], y[~null]), "labels that are kept stay unchanged"
    assert torch.equal(C.drop_labels(y, 0.0), y)
    assert (C.drop_labels(y, 1.0) == C.NULL_LABEL).all()
    with pytest.raises(ValueError, match="probability"):
        C.drop_labels(y, 1.5)


def test_conditional_sampling_shapes_labels_and_determinism():
    model = _cldm()
    h = model.sample_codes(10, torch.Generator().manual_seed(1), steps=5, w=1.0)
    h2 = model.sample_codes(10, torch.Generator().manual_seed(1), steps=5, w=1.0)
    assert h.shape == (10, 4) and torch.isfinite(h).all() and torch.equal(h, h2)
    other = model.sample_codes(10, torch.Generator().manual_seed(1), steps=5, w=0.0)
    assert not torch.equal(h, other), "the guidance weight must change the samples"
    with pytest.raises(ValueError, match="0…9"):
        model.sample_codes(2, steps=5, labels=torch.tensor([3, 12]))
    with pytest.raises(ValueError, match="one label per sample"):
        model.sample_codes(3, steps=5, labels=torch.tensor([3, 1]))
    with pytest.raises(RuntimeError, match="labels"):
        model.ddim_sample(2, 5)  # the bare sampler has no labels to draw


def test_conditional_loss_is_finite_and_trains_the_label_embedding():
    model = _cldm()
    loss = model.loss(model.standardize(torch.randn(32, 4)), torch.arange(32) % 10,
                      torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss) and model.net.label_emb.weight.grad.abs().sum() > 0


# ----------------------------------------------------------------------------- flow matching
def test_fm_path_ends_at_data_and_noise_and_its_velocity_is_the_target():
    g = torch.Generator().manual_seed(0)
    x_0, eps = torch.randn(8, 3, generator=g), torch.randn(8, 3, generator=g)
    assert torch.allclose(C.fm_interpolate(x_0, eps, torch.zeros(8)), x_0)
    assert torch.allclose(C.fm_interpolate(x_0, eps, torch.ones(8)), eps)
    t, dt = torch.full((8,), 0.3), 1e-3
    finite_diff = (C.fm_interpolate(x_0, eps, t + dt) - C.fm_interpolate(x_0, eps, t)) / dt
    assert torch.allclose(finite_diff, C.fm_target(x_0, eps), atol=1e-3)
    assert torch.allclose(C.fm_target(x_0, eps), eps - x_0)


def test_euler_step_moves_by_dt_times_velocity_towards_data():
    x, v = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.5, 1.0]])
    assert torch.allclose(C.euler_step(x, v, 1.0, 0.75), x - 0.25 * v)
    # on a straight path the exact velocity takes one Euler step from noise to data
    x_0, eps = torch.tensor([[3.0, 0.0]]), torch.tensor([[-1.0, 2.0]])
    assert torch.allclose(C.euler_step(eps, C.fm_target(x_0, eps), 1.0, 0.0), x_0)


class _ExactVelocity(torch.nn.Module):
    """v(x, t) = (x − x_0) / t for a single data point x_0: the exact flow to x_0."""

    def __init__(self, x_0):
        super().__init__()
        self.x_0 = torch.nn.Parameter(x_0, requires_grad=False)

    def forward(self, x, t):
        return (x - self.x_0) / t[:, None]


@pytest.mark.parametrize("steps", [1, 2, 8])
def test_euler_sampler_with_the_exact_velocity_lands_on_the_data(steps):
    x_0 = torch.tensor([2.0, -1.0])
    flow = C.FlowMatching(_ExactVelocity(x_0), 2)
    x, traj = flow.sample(5, torch.Generator().manual_seed(0), steps=steps, return_trajectory=True)
    assert torch.allclose(x, x_0.expand(5, 2), atol=1e-5)
    assert len(traj) == steps + 1 and traj[0][0] == 1.0 and traj[-1][0] == 0.0
    with pytest.raises(ValueError, match="steps"):
        flow.sample(2, steps=0)


def test_fm_loss_is_zero_for_the_exact_target_and_checks_shapes():
    flow = C.FlowMatching(ToyDenoiser(2, 8, 1, T=1), 2)
    loss = flow.loss(torch.randn(16, 2), torch.Generator().manual_seed(0))
    assert loss.ndim == 0 and torch.isfinite(loss)
    with pytest.raises(ValueError, match="expects"):
        flow.loss(torch.randn(16, 3))
    t = flow.sample_t(100, torch.Generator().manual_seed(0))
    assert ((t > 0) & (t < 1)).all() and len(t.unique()) == 100


def test_latent_flow_learns_a_gaussian_quickly():
    torch.manual_seed(0)
    codes = torch.randn(2000, 2) * torch.tensor([0.5, 2.0]) + torch.tensor([3.0, -1.0])
    flow = C.LatentFlow(ToyDenoiser(2, 32, 2, T=1), codes)
    opt = torch.optim.Adam(flow.parameters(), 3e-3)
    g = torch.Generator().manual_seed(0)
    data = flow.standardize(codes)
    for _ in range(400):
        loss = flow.loss(data[torch.randint(0, 2000, (128,), generator=g)], g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    h = flow.sample_codes(2000, torch.Generator().manual_seed(1), steps=20)
    assert torch.allclose(h.mean(0), codes.mean(0), atol=0.25)
    assert torch.allclose(h.std(0), codes.std(0), rtol=0.25)


# ----------------------------------------------------------------------------- CVAE
def test_cvae_shapes_elbo_and_sampling():
    torch.manual_seed(0)
    cvae = C.CVAE(m=4, hidden=(32,), channels=4)
    x = (torch.rand(6, 784) > 0.5).float()
    y = torch.arange(6)
    elbo = cvae.elbo(x, y, torch.Generator().manual_seed(0))
    assert elbo.shape == (6,) and (elbo < 0).all()
    s = cvae.sample(10, torch.Generator().manual_seed(0))
    assert s.shape == (10, 1, 28, 28) and 0 <= s.min() and s.max() <= 1
    a = cvae.sample(2, torch.Generator().manual_seed(0), labels=[3, 3])
    b = cvae.sample(2, torch.Generator().manual_seed(0), labels=[7, 7])
    assert not torch.equal(a, b), "the label must change the decoded image"
    with pytest.raises(ValueError, match="integer digits"):
        cvae.sample(2, labels=torch.tensor([0.5, 1.0]))


def test_balanced_labels():
    y = C.balanced_labels(1000)
    assert torch.equal(torch.bincount(y), torch.full((10,), 100))


def test_cvae_temperature_scales_the_code_and_rejects_nonpositive_values():
    torch.manual_seed(0)
    cvae = C.CVAE(m=4, hidden=(32,), channels=4)
    cold = cvae.sample(50, torch.Generator().manual_seed(0), labels=[3] * 50, temperature=0.1)
    warm = cvae.sample(50, torch.Generator().manual_seed(0), labels=[3] * 50, temperature=1.0)
    assert cold.std(0).mean() < warm.std(0).mean(), "a lower temperature gives more alike images"
    with pytest.raises(ValueError, match="temperature"):
        cvae.sample(2, temperature=0.0)
