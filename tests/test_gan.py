"""coursekit.gan: the lecture's ±1 game, mode metrics, vanishing gradients, D*, the DCGAN."""
import math

import pytest
import torch

import coursekit as ck
from coursekit import gan
from coursekit.data import ring_modes


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


# ----------------------------------------------------------------------------- mode metrics
def _at_modes(counts, std=0.02, seed=0):
    g = torch.Generator().manual_seed(seed)
    modes = ring_modes()
    idx = torch.cat([torch.full((c,), k) for k, c in enumerate(counts)])
    return modes[idx] + std * torch.randn(len(idx), 2, generator=g)


def test_mode_metrics_all_modes_covered_and_high_quality():
    m = gan.mode_metrics(_at_modes([2500 // 8 + 1] * 4 + [2500 // 8] * 4))
    assert m["modes_covered"] == 8
    # 3 std hold 1 − exp(−9/2) = 98.9 % of a 2-D Gaussian (chi² with 2 degrees of freedom)
    assert m["hq"] == pytest.approx(1 - math.exp(-4.5), abs=0.006)
    assert m["hq_counts"].sum() <= 2500 and m["min_count"] == 25


def test_mode_metrics_one_mode_is_collapse():
    m = gan.mode_metrics(_at_modes([0, 0, 2500, 0, 0, 0, 0, 0]))
    assert m["modes_covered"] == 1 and m["hq_counts"].argmax() == 2 and m["hq"] > 0.98


def test_mode_metrics_off_mode_noise_has_no_quality_and_no_modes():
    g = torch.Generator().manual_seed(1)
    angle = 2 * math.pi * torch.rand(2500, generator=g)
    circle = torch.stack([angle.cos(), angle.sin()], 1) * 1.0      # radius 1, modes at radius 2
    m = gan.mode_metrics(circle)
    assert m["modes_covered"] == 0 and m["hq"] == 0.0


def test_mode_coverage_threshold_is_one_percent_of_samples():
    far = torch.full((2500 - 199, 2), 10.0)                         # off-mode filler
    just = torch.cat([_at_modes([25] * 7 + [24], std=0.0), far])
    m = gan.mode_metrics(just)
    assert m["min_count"] == 25                                     # 1 % of 2,500
    assert m["modes_covered"] == 7 and m["hq"] == pytest.approx(199 / 2500)
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        gan.mode_metrics(torch.zeros(10, 3))


# ----------------------------------------------------------------------------- models
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
    assert model.sample(7).shape == (7, 2)


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


def test_slerp_ends_at_the_endpoints():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(3, 8, generator=g), torch.randn(3, 8, generator=g)
    assert torch.allclose(gan.slerp(z0, z1, 0.0), z0, atol=1e-5)
    assert torch.allclose(gan.slerp(z0, z1, 1.0), z1, atol=1e-5)


def test_linear_generator_starts_as_scaled_identity():
    G = gan.LinearGenerator(scale=0.1)
    z = torch.randn(5, 2)
    assert torch.allclose(G(z), 0.1 * z)


class _RecordingDisc(torch.nn.Module):
    """Disc stub that remembers its inputs (to see what the game feeds it)."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(2))
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return x @ self.w


def test_instance_noise_blurs_every_disc_input_and_none_without_it(cfg):
    for sigma in (0.0, 1.0):
        model = gan.ToyGAN(z_dim=2, hidden=8, depth=1)
        model.D = _RecordingDisc()
        opt_g = torch.optim.Adam(model.G.parameters())
        opt_d = torch.optim.Adam(model.D.parameters())
        step = gan.gan_step(opt_g, opt_d, instance_noise=lambda t: sigma)
        step(model, torch.zeros(4000, 2))
        real_seen = model.D.seen[0]                                    # Disc's view of the data
        assert len(model.D.seen) == 3                                  # real, fake (Disc), fake (Gen)
        assert real_seen.std().item() == pytest.approx(sigma, abs=0.05)


def test_cosine_learning_rate_ends_at_its_final_value():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p], lr=3e-3)

    def step(model):
        p.grad = torch.ones(1)
        opt.step()
        return {}

    wrapped = gan._with_cosine_lr(step, [opt], 1e-5 / 3e-3, steps=50)
    lrs = []
    for _ in range(50):
        wrapped(None)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[0] == pytest.approx(3e-3) and lrs[-1] == pytest.approx(1e-5)
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))                 # monotone decay


# ----------------------------------------------------------------------------- gradients
def test_generator_grad_norm_matches_autograd_and_leaves_grads_alone():
    torch.manual_seed(0)
    model = gan.ToyGAN(z_dim=2, hidden=8, depth=2)
    z = model.prior(32)
    norm = gan.generator_grad_norm(model.G, model.D, z, "nonsaturating")
    model.G.zero_grad()
    gan.generator_loss(model.D(model.G(z)), "nonsaturating").backward()
    manual = math.sqrt(sum(float((p.grad ** 2).sum()) for p in model.G.parameters()))
    assert norm == pytest.approx(manual, rel=1e-5)
    model.G.zero_grad(set_to_none=True)
    gan.generator_grad_norm(model.G, model.D, z, "saturating")
    assert all(p.grad is None for p in model.G.parameters())


def test_vanishing_gradient_sweep_sat_gradient_collapses_once_disc_wins(cfg):
    model = gan.ToyGAN(z_dim=2, hidden=16, depth=2)
    out = gan.vanishing_gradient_sweep(model, d_steps=80, n_points=3, batch_size=64,
                                       n_batches=3, n_eval=256, lr=1e-2)
    assert out["step"][0] == 0 and out["step"][-1] == 80
    assert len(out["grad_saturating"]) == len(out["d_acc"]) == len(out["step"])
    assert out["d_acc"][-1] > 0.95                                    # Disc wins against a poor Gen
    ratio = out["grad_nonsaturating"][-1] / out["grad_saturating"][-1]
    assert ratio > 10                                                  # small saturating gradients


# ----------------------------------------------------------------------------- optimal Disc
def test_optimal_discriminator_is_one_half_where_densities_agree():
    p = torch.tensor([0.1, 0.5, 2.0])
    assert torch.allclose(gan.optimal_discriminator(p, p), torch.full((3,), 0.5))
    assert torch.allclose(gan.optimal_discriminator(torch.tensor([3.0]), torch.tensor([1.0])),
                          torch.tensor([0.75]))
    with pytest.raises(ValueError, match="≥ 0"):
        gan.optimal_discriminator(torch.tensor([-1.0]), torch.tensor([1.0]))


def test_disc_cannot_beat_chance_on_identical_distributions(cfg):
    D = gan.MLPDiscriminator(hidden=16, depth=2)
    out = gan.train_discriminator(D, gan.ring_sampler, gan.ring_sampler, steps=100,
                                  batch_size=128, n_eval=4000)
    assert abs(out["accuracy"] - 0.5) < 0.03
    assert abs(out["d_real"] - 0.5) < 0.05 and abs(out["d_fake"] - 0.5) < 0.05


# ----------------------------------------------------------------------------- training
def test_ring_training_takes_snapshots_with_metrics(cfg):
    run = gan.train_ring_gan(dict(gan.RING_CONFIGS["vanilla"], hidden=16, batch_size=32),
                             seed=0, steps=20, snapshot_every=10, n_eval=100, map_size=8)
    assert [s["step"] for s in run.snapshots] == [0, 10, 20]
    last = run.final
    assert last["samples"].shape == (100, 2) and last["d_map"].shape == (8, 8)
    assert 0 <= last["d_map"].min() and last["d_map"].max() <= 1
    assert {"loss_d", "loss_g", "d_acc"} <= run.history.keys()
    poor = run.gan_at(10)                                              # Gen of the step-10 snapshot
    assert torch.equal(poor.G.net[0].weight, run.snapshot_at(10)["G_state"]["net.0.weight"])
    with pytest.raises(KeyError, match="snapshots"):
        run.snapshot_at(15)


def test_tiny_gan_recipe_round_trip(tmp_path, cfg):
    from coursekit import checkpoints as C

    path = C.pretrain_main("gan", tiny=True, directory=tmp_path)
    assert path.stat().st_size < 10 * 2**20
    model = ck.pretrained("gan", directory=tmp_path, verbose=False)
    extras = model.pretrained_extras
    k = len(gan.TINY_MNIST["snapshot_steps"])
    assert extras["snapshots"].shape == (k, gan.TINY_MNIST["n_grid"], 1, 28, 28)
    assert extras["snapshots"].dtype == torch.uint8
    assert model.sample(4).shape == (4, 1, 28, 28)
