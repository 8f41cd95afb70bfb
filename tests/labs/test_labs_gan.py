"""coursekit.labs.gan_*: notebook 03's ring study, vanishing gradients, trained Disc, figures."""
import math
from dataclasses import replace

import pytest
import torch

from coursekit.core.data import ring_modes
from coursekit.labs import gan_mnist, gan_optimal, gan_ring, gan_vanishing
from coursekit.models import gan


# ----------------------------------------------------------------------------- mode metrics
def _at_modes(counts, std=0.02, seed=0):
    g = torch.Generator().manual_seed(seed)
    modes = ring_modes()
    idx = torch.cat([torch.full((c,), k) for k, c in enumerate(counts)])
    return modes[idx] + std * torch.randn(len(idx), 2, generator=g)


def test_mode_metrics_all_modes_covered_and_high_quality():
    m = gan_ring.mode_metrics(_at_modes([2500 // 8 + 1] * 4 + [2500 // 8] * 4))
    assert m["modes_covered"] == 8
    # 3 std hold 1 − exp(−9/2) = 98.9 % of a 2-D Gaussian (chi² with 2 degrees of freedom)
    assert m["hq"] == pytest.approx(1 - math.exp(-4.5), abs=0.006)
    assert m["hq_counts"].sum() <= 2500 and m["min_count"] == 25


def test_mode_metrics_one_mode_is_collapse():
    m = gan_ring.mode_metrics(_at_modes([0, 0, 2500, 0, 0, 0, 0, 0]))
    assert m["modes_covered"] == 1 and m["hq_counts"].argmax() == 2 and m["hq"] > 0.98


def test_mode_metrics_off_mode_noise_has_no_quality_and_no_modes():
    g = torch.Generator().manual_seed(1)
    angle = 2 * math.pi * torch.rand(2500, generator=g)
    circle = torch.stack([angle.cos(), angle.sin()], 1) * 1.0      # radius 1, modes at radius 2
    m = gan_ring.mode_metrics(circle)
    assert m["modes_covered"] == 0 and m["hq"] == 0.0


def test_mode_coverage_threshold_is_one_percent_of_samples():
    far = torch.full((2500 - 199, 2), 10.0)                         # off-mode filler
    just = torch.cat([_at_modes([25] * 7 + [24], std=0.0), far])
    m = gan_ring.mode_metrics(just)
    assert m["min_count"] == 25                                     # 1 % of 2,500
    assert m["modes_covered"] == 7 and m["hq"] == pytest.approx(199 / 2500)
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        gan_ring.mode_metrics(torch.zeros(10, 3))


# ----------------------------------------------------------------------------- ring training
def _tiny_ring(config="vanilla", seed=0, steps=20):
    c = replace(gan_ring.RING_CONFIGS[config], hidden=16, batch_size=32)
    return gan_ring.train_ring_gan(c, seed=seed, steps=steps, snapshot_every=10, n_eval=100,
                                   map_size=8)


def test_ring_training_takes_snapshots_with_metrics():
    run = _tiny_ring()
    assert [s["step"] for s in run.snapshots] == [0, 10, 20]
    last = run.final
    assert last["samples"].shape == (100, 2) and last["d_map"].shape == (8, 8)
    assert 0 <= last["d_map"].min() and last["d_map"].max() <= 1
    assert {"loss_d", "loss_g", "d_acc"} <= run.history.keys()
    assert run.history.series("hq", "eval")[0] == [10, 20]         # eval_fn told the step
    poor = run.gan_at(10)                                              # Gen of the step-10 snapshot
    assert torch.equal(poor.G.net[0].weight, run.snapshot_at(10)["G_state"]["net.0.weight"])
    with pytest.raises(KeyError, match="snapshots"):
        run.snapshot_at(15)
    with pytest.raises(KeyError, match="known"):
        gan_ring.train_ring_gan("no_such_config")


def test_ring_run_is_reproducible_and_leaves_the_global_rng_alone():
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    a = _tiny_ring("noise_anneal", seed=3)
    assert torch.equal(torch.rand(3), expected)                        # caller's stream untouched
    b = _tiny_ring("noise_anneal", seed=3)
    c = _tiny_ring("noise_anneal", seed=4)
    assert torch.equal(a.final["samples"], b.final["samples"])
    assert not torch.equal(a.final["samples"], c.final["samples"])


def test_ring_cosine_schedule_reaches_lr_final_at_the_last_update():
    c = gan_ring.RING_CONFIGS["noise_anneal"]
    factor = gan_ring._ring_schedule(c)
    lrs = [c.lr * factor(step, 50) for step in range(50)]
    assert lrs[0] == pytest.approx(3e-3) and lrs[-1] == pytest.approx(1e-5)
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))                 # monotone decay
    final = c.lr_final / c.lr                                          # the study's cosine:
    assert all(factor(t, 50) == final + 0.5 * (1 - final) * (1 + math.cos(math.pi * (t / 49)))
               for t in range(50))                                     # progress t / (steps − 1)
    assert gan_ring._ring_schedule(gan_ring.RING_CONFIGS["vanilla"]) is None


def test_ring_study_names_the_runs_and_summarises_them():
    configs = {"small": replace(gan_ring.RING_CONFIGS["vanilla"], hidden=8, batch_size=16)}
    runs = gan_ring.ring_study(configs, seeds=(0, 1), steps=10, snapshot_every=5,
                               progress=False)
    assert [r.name for r in runs["small"]] == ["small", "small"]
    summary = gan_ring.study_summary(runs)
    assert summary["small"]["seeds"] == [0, 1] and len(summary["small"]["hq"]) == 2
    table = gan_ring.format_study(summary)
    assert table.splitlines()[0].startswith("configuration") and "mean" in table
    figs = [gan_ring.plot_ring_snapshots(runs["small"][0]), gan_ring.plot_study(summary),
            gan_ring.plot_study_curves(runs)]
    assert all(f.axes for f in figs)


# ----------------------------------------------------------------------------- gradients
def test_linear_generator_starts_as_scaled_identity():
    G = gan_vanishing.LinearGenerator(scale=0.1)
    z = torch.randn(5, 2)
    assert torch.allclose(G(z), 0.1 * z)


def test_generator_grad_norm_matches_autograd_and_leaves_grads_alone():
    torch.manual_seed(0)
    model = gan.ToyGAN(z_dim=2, hidden=8, depth=2)
    z = model.prior(32)
    norm = gan_vanishing.generator_grad_norm(model.G, model.D, z, "nonsaturating")
    model.G.zero_grad()
    gan.generator_loss(model.D(model.G(z)), "nonsaturating").backward()
    manual = math.sqrt(sum(float((p.grad ** 2).sum()) for p in model.G.parameters()))
    assert norm == pytest.approx(manual, rel=1e-5)
    model.G.zero_grad(set_to_none=True)
    gan_vanishing.generator_grad_norm(model.G, model.D, z, "saturating")
    assert all(p.grad is None for p in model.G.parameters())


def test_vanishing_gradient_sweep_sat_gradient_collapses_once_disc_wins(cfg):
    model = gan.ToyGAN(z_dim=2, hidden=16, depth=2)
    out = gan_vanishing.vanishing_gradient_sweep(model, d_steps=80, n_points=3, batch_size=64,
                                                 n_batches=3, n_eval=256, lr=1e-2)
    assert out["step"][0] == 0 and out["step"][-1] == 80
    assert len(out["grad_saturating"]) == len(out["d_acc"]) == len(out["step"])
    assert out["d_acc"][-1] > 0.95                                    # Disc wins against a poor Gen
    ratio = out["grad_nonsaturating"][-1] / out["grad_saturating"][-1]
    assert ratio > 10                                                  # small saturating gradients
    assert gan_vanishing.plot_vanishing({"poor": out}).axes


# ----------------------------------------------------------------------------- optimal Disc
def test_disc_cannot_beat_chance_on_identical_distributions(cfg):
    D = gan.MLPDiscriminator(hidden=16, depth=2)
    out = gan_optimal.train_discriminator(D, gan_ring.ring_sampler, gan_ring.ring_sampler,
                                          steps=100, batch_size=128, n_eval=4000)
    assert abs(out["accuracy"] - 0.5) < 0.03
    assert abs(out["d_real"] - 0.5) < 0.05 and abs(out["d_fake"] - 0.5) < 0.05


# ----------------------------------------------------------------------------- MNIST figures
def test_snapshot_grids_one_row_per_step():
    grids = torch.randint(0, 256, (3, 16, 1, 28, 28), dtype=torch.uint8)
    fig = gan_mnist.plot_snapshot_grids([0, 10, 20], grids, n=8)
    assert len(fig.axes) == 3


# ----------------------------------------------------------------------------- one thread
def test_toy_training_runs_on_one_thread_without_denormals_and_restores_the_setting():
    before = torch.get_num_threads()
    tiny = torch.tensor([1e-40], dtype=torch.float32)  # a denormal float32
    with gan_ring.small_net_cpu():
        assert torch.get_num_threads() == 1
        assert (tiny * 1.0).item() == 0.0 or not torch.set_flush_denormal(True)  # flushed
    assert torch.get_num_threads() == before
    assert (tiny * 1.0).item() != 0.0, "denormals are back after the block"
    with pytest.raises(RuntimeError), gan_ring.small_net_cpu():
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before


def test_toy_adam_is_adam_up_to_float_rounding():
    torch.manual_seed(0)
    start = [torch.randn(64, 64), torch.randn(64)]
    grads = torch.Generator().manual_seed(1)
    draws = [[torch.randn(p.shape, generator=grads) for p in start] for _ in range(200)]

    def run(make):
        ps = [p.clone().requires_grad_() for p in start]
        opt = make(ps)
        for gs in draws:
            for p, g in zip(ps, gs):
                p.grad = g
            opt.step()
        return ps

    fused = run(lambda ps: gan_ring.toy_adam(ps, lr=1e-3, betas=(0.5, 0.999)))
    plain = run(lambda ps: torch.optim.Adam(ps, lr=1e-3, betas=(0.5, 0.999), foreach=False))
    moved = max((f - s).abs().max().item() for f, s in zip(fused, start))
    gap = max((f - p).abs().max().item() for f, p in zip(fused, plain))
    assert moved > 0.05 and gap < 1e-5, (moved, gap)


def test_perfect_generator_hq_is_the_2d_gaussian_mass_within_3_std():
    assert gan_ring.PERFECT_HQ == pytest.approx(98.89, abs=0.01)


# ----------------------------------------------------------------------------- demonstrations
def test_disc_separates_disjoint_circles_although_the_fakes_are_close():
    torch.manual_seed(0)
    out = gan_optimal.train_discriminator(gan.MLPDiscriminator(hidden=64, depth=3),
                                          gan_optimal.circle_sampler(1.0),
                                          gan_optimal.circle_sampler(1.05), steps=200,
                                          n_eval=2000)
    assert out["accuracy"] > 0.9                                      # a near-perfect Disc exists
    x = gan_optimal.circle_sampler(1.05)(100, torch.Generator().manual_seed(0))
    assert torch.allclose(x.norm(dim=1), torch.full((100,), 1.05))


def test_disc_memorises_a_finite_training_set_but_is_at_chance_on_fresh_points():
    g = torch.Generator().manual_seed(3)
    points = torch.randn(16, 2, generator=g)
    sample = gan_optimal.finite_sampler(points)
    assert all((row == points).all(1).any() for row in sample(50, g))   # only the 16 points

    def gaussian(n, generator=None):
        return torch.randn(n, 2, generator=generator)

    torch.manual_seed(0)
    D = gan.MLPDiscriminator(hidden=64, depth=3)
    memo = gan_optimal.train_discriminator(D, sample, gaussian, steps=300, n_eval=4000)
    fresh = gan_optimal.evaluate_discriminator(D, gaussian, gaussian, n_eval=4000)
    assert memo["accuracy"] > fresh["accuracy"] + 0.1
    assert abs(fresh["accuracy"] - 0.5) < 4 * fresh["accuracy_se"] + 0.01


def test_evaluate_discriminator_loss_is_log_2_for_a_coin_flip():
    class Zero(torch.nn.Module):
        def forward(self, x):
            return torch.zeros(len(x))

    out = gan_optimal.evaluate_discriminator(Zero(), gan_ring.ring_sampler,
                                             gan_ring.ring_sampler, n_eval=1000)
    assert out["loss"] == pytest.approx(math.log(2))
    assert out["d_min"] == out["d_max"] == 0.5

    class FirstCoordinate(torch.nn.Module):                           # right half = "real"
        def forward(self, x):
            return x[:, 0]

    half = gan_optimal.evaluate_discriminator(FirstCoordinate(), gan_ring.ring_sampler,
                                              gan_ring.ring_sampler, n_eval=1000)
    assert abs(half["accuracy"] - 0.5) < 0.05                         # any function: 50 % expected
    assert half["accuracy_se"] == pytest.approx(math.sqrt(0.25 / 2000), rel=0.05)


def test_sweep_summary_reads_the_sweep_and_per_batch_ranges():
    model = gan.ToyGAN(z_dim=2, hidden=16, depth=2)
    out = gan_vanishing.vanishing_gradient_sweep(model, d_steps=40, n_points=3, batch_size=64,
                                                 n_batches=3, n_eval=256, lr=1e-2)
    for kind in ("saturating", "nonsaturating"):
        assert all(lo <= m <= hi for lo, m, hi in zip(out[f"gradmin_{kind}"], out[f"grad_{kind}"],
                                                      out[f"gradmax_{kind}"]))
    s = gan_vanishing.sweep_summary(out)
    assert s["steps"] == 40 and s["sat_peak"] >= s["sat_end"]
    assert s["ratio_end"] == pytest.approx(out["grad_nonsaturating"][-1] / out["grad_saturating"][-1])
