"""coursekit.models.gan: the lecture's ±1 game, D*, the players, slerp."""
import pytest
import torch

from coursekit.models import gan


# ----------------------------------------------------------------------------- the ±1 game
def test_pm1_logistic_loss_equals_bce_with_logits_on_01_labels():
    g = torch.Generator().manual_seed(0)
    logits = 4 * torch.randn(1000, generator=g, dtype=torch.float64)
    y_pm1 = torch.randint(0, 2, (1000,), generator=g).double() * 2 - 1   # ±1 labels
    bce = torch.nn.BCEWithLogitsLoss()(logits, (y_pm1 + 1) / 2)         # {0, 1} labels
    assert torch.allclose(gan.pm1_logistic_loss(logits, y_pm1), bce, rtol=1e-12)


def test_pm1_loss_refuses_01_labels_with_a_hint():
    with pytest.raises(ValueError, match=r"\+1 \(data\) or -1 \(fake\).*2\*y - 1"):
        gan.pm1_logistic_loss(torch.zeros(3), torch.tensor([0.0, 1.0, 1.0]))
    with pytest.raises(TypeError, match="float tensor"):
        gan.pm1_logistic_loss(torch.zeros(3, dtype=torch.long), 1.0)


def test_discriminator_sees_real_and_fake_with_equal_weight():
    d_real, d_fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0, 1.0, 0.0])
    expected = 0.5 * torch.nn.functional.softplus(-d_real).mean() + \
        0.5 * torch.nn.functional.softplus(d_fake).mean()
    assert torch.allclose(gan.discriminator_loss(d_real, d_fake), expected)
    assert gan.discriminator_accuracy(d_real, d_fake) == pytest.approx(0.5 * 1 / 2 + 0.5 * 1 / 4)


def test_saturating_loss_gradient_vanishes_where_nonsaturating_does_not():
    # dL/ds for the two generator losses: −σ(s)/N and −(1 − σ(s))/N
    s = torch.tensor([-12.0, -3.0, 0.0, 3.0], dtype=torch.float64, requires_grad=True)
    grads = {}
    for kind in gan.GEN_LOSSES:
        (grads[kind],) = torch.autograd.grad(gan.generator_loss(s, kind), s)
    assert torch.allclose(grads["saturating"], -torch.sigmoid(s.detach()) / 4)
    assert torch.allclose(grads["nonsaturating"], -(1 - torch.sigmoid(s.detach())) / 4)
    # Disc sure the sample is fake (s = −12): saturating gradient ≈ 0, non-saturating ≈ −1/N
    assert abs(grads["saturating"][0]) < 1e-5 and grads["nonsaturating"][0] < -0.24
    with pytest.raises(ValueError, match="saturating"):
        gan.generator_loss(s, "minimax")


def test_optimal_discriminator_is_one_half_where_densities_agree():
    p = torch.tensor([0.1, 0.5, 2.0])
    assert torch.allclose(gan.optimal_discriminator(p, p), torch.full((3,), 0.5))
    assert torch.allclose(gan.optimal_discriminator(torch.tensor([3.0]), torch.tensor([1.0])),
                          torch.tensor([0.75]))
    with pytest.raises(ValueError, match="≥ 0"):
        gan.optimal_discriminator(torch.tensor([-1.0]), torch.tensor([1.0]))


# ----------------------------------------------------------------------------- gan_step
class _RecordingDisc(torch.nn.Module):
    """Disc stub that remembers its inputs (to see what the game feeds it)."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(2))
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return x @ self.w


def test_instance_noise_blurs_every_disc_input_and_none_without_it():
    for sigma in (0.0, 1.0):
        model = gan.ToyGAN(z_dim=2, hidden=8, depth=1)
        model.D = _RecordingDisc()
        opt_g = torch.optim.Adam(model.G.parameters())
        opt_d = torch.optim.Adam(model.D.parameters())
        step = gan.gan_step(opt_g, opt_d, instance_noise=lambda t, s=sigma: s)
        step(model, torch.zeros(4000, 2))
        real_seen = model.D.seen[0]                                    # Disc's view of the data
        assert len(model.D.seen) == 3                          # real, fake (Disc), fake (Gen)
        assert real_seen.std().item() == pytest.approx(sigma, abs=0.05)


def test_gan_step_draws_from_its_generator_and_updates_both_players():
    def one_step(seed):
        torch.manual_seed(0)                                           # same initial weights
        model = gan.ToyGAN(z_dim=2, hidden=8, depth=1)
        opt_g, opt_d = (torch.optim.Adam(p.parameters(), lr=1e-2) for p in (model.G, model.D))
        before = {k: v.clone() for k, v in model.state_dict().items()}
        step = gan.gan_step(opt_g, opt_d, "saturating", instance_noise=lambda t: 0.5,
                            generator=torch.Generator().manual_seed(seed))
        torch.manual_seed(1234)                                        # global stream: unused
        logged = step(model, torch.ones(16, 2))
        state = model.state_dict()
        assert all(not torch.equal(before[k], state[k]) for k in ("G.net.0.weight",
                                                                   "D.net.0.weight"))
        return logged, state, torch.rand(1)

    (a, sa, ra), (b, sb, rb), (c, _, _) = one_step(0), one_step(0), one_step(1)
    assert a == b and all(torch.equal(sa[k], sb[k]) for k in sa) and a != c
    untouched = torch.rand(1, generator=torch.Generator().manual_seed(1234))
    assert torch.equal(ra, untouched) and torch.equal(rb, untouched)  # global RNG not used
    assert set(a) == {"loss_d", "loss_g", "d_acc", "d_real", "d_fake"}
    with pytest.raises(ValueError, match="gen_loss"):
        gan.gan_step(None, None, "wasserstein")


def test_gan_step_holds_disc_fixed_while_gen_learns_and_restores_its_flags():
    torch.manual_seed(0)
    model = gan.ToyGAN(z_dim=2, hidden=8, depth=1)
    opt_g, opt_d = (torch.optim.Adam(p.parameters(), lr=1e-2) for p in (model.G, model.D))
    seen = {}
    d_step, g_step = opt_d.step, opt_g.step

    def spy_d(*a, **k):                       # Disc's own gradient, at its update
        seen["d_grad"] = [p.grad.clone() for p in model.D.parameters()]
        return d_step(*a, **k)

    def spy_g(*a, **k):                       # during Gen's update Disc is frozen
        seen["frozen"] = [p.requires_grad for p in model.D.parameters()]
        seen["g_grad"] = all(p.grad is not None for p in model.G.parameters())
        return g_step(*a, **k)

    opt_d.step, opt_g.step = spy_d, spy_g
    gan.gan_step(opt_g, opt_d, generator=torch.Generator().manual_seed(0))(model, torch.ones(16, 2))
    assert seen["frozen"] == [False] * len(seen["d_grad"]) and seen["g_grad"]
    # Gen's backward passed *through* Disc but left Disc's gradients as its own step made them
    assert all(torch.equal(p.grad, g) for p, g in zip(model.D.parameters(), seen["d_grad"]))
    assert all(p.requires_grad for p in model.D.parameters())
    layer = torch.nn.Linear(2, 2)
    layer.bias.requires_grad_(False)          # a parameter frozen before stays frozen
    with gan.frozen(layer):
        assert not layer.weight.requires_grad
    assert layer.weight.requires_grad and not layer.bias.requires_grad


# ----------------------------------------------------------------------------- players
def test_toy_generator_and_discriminator_shapes_and_packing():
    model = gan.ToyGAN(z_dim=3, hidden=16, depth=2, pack=4)
    z = model.prior(8)
    assert z.shape == (8, 3) and model.G(z).shape == (8, 2)
    assert model.D(torch.zeros(8, 2)).shape == (2,)                 # one decision per pack of 4
    assert model.D.point_logits(torch.zeros(5, 2)).shape == (5,)
    with pytest.raises(ValueError, match="divisible by 4"):
        model.D(torch.zeros(6, 2))
    with pytest.raises(ValueError, match=r"\(B, 3\)"):
        model.G(torch.zeros(8, 2))
    model.train()
    assert model.sample(7).shape == (7, 2) and model.training       # mode restored


def test_toy_gan_state_dict_keys_are_the_ring_study_layout():
    keys = list(gan.ToyGAN(hidden=8, depth=2).state_dict())
    assert keys == [f"{p}.net.{i}.{w}" for p in "GD" for i in (0, 2, 4) for w in ("weight",
                                                                                 "bias")]


def test_dcgan_shapes_and_the_sample_contract():
    model = gan.MNISTGAN(z_dim=8, width=4)
    z = model.prior(5)
    x = model.G(z)
    assert x.shape == (5, 1, 28, 28) and x.min() >= -1 and x.max() <= 1
    assert model.D(x).shape == (5,)
    model.train()
    s1 = model.sample(6, generator=torch.Generator().manual_seed(3))
    s2 = model.sample(6, generator=torch.Generator().manual_seed(3))
    assert s1.shape == (6, 1, 28, 28) and 0 <= s1.min() and s1.max() <= 1
    assert torch.equal(s1, s2) and not s1.requires_grad and model.training  # mode restored
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        model.D(torch.zeros(2, 784))
    with pytest.raises(ValueError, match="n must be"):
        model.sample(0)


def test_slerp_ends_at_the_endpoints_and_keeps_the_norm_of_orthogonal_codes():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(3, 8, generator=g), torch.randn(3, 8, generator=g)
    assert torch.allclose(gan.slerp(z0, z1, 0.0), z0, atol=1e-5)
    assert torch.allclose(gan.slerp(z0, z1, 1.0), z1, atol=1e-5)
    e0, e1 = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    assert gan.slerp(e0, e1, 0.5).norm().item() == pytest.approx(1.0)
