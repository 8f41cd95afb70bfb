"""coursekit.labs.vae_studies: the ``vae_iwae`` study of notebook 02 and its paired check."""
import copy

import pytest
import torch

from coursekit.core import results as R
from coursekit.core.config import setup
from coursekit.labs import vae_studies as S
from coursekit.models.vae import VAE


def _fake(per_image: list[list[float]], ks=(1, 10)) -> dict:
    rows = torch.tensor(per_image, dtype=torch.float64)
    return {"ks": list(ks), "k_max": ks[-1], "n_images": rows.shape[1],
            "iwae_mean": rows.mean(1).tolist(), "iwae_se": [0.1] * len(ks),
            "elbo": float(rows[0].mean()), "elbo_se": 0.1, "per_image": rows.tolist()}


def test_iwae_measure_curve_rises_from_the_elbo_and_has_the_study_schema():
    torch.manual_seed(0)
    model = VAE(m=3, hidden=(16,))
    x = (torch.rand(30, 1, 28, 28, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    got = S.iwae_measure(model, x, k_max=50, seed=0, progress=False)
    assert got["ks"] == [1, 2, 5, 10, 20, 50] and got["n_images"] == 30
    assert len(got["per_image"]) == 6 and all(len(row) == 30 for row in got["per_image"])
    m = got["iwae_mean"]
    assert m[-1] > m[0] and got["rise_last"] == pytest.approx(m[-1] - m[-2])
    # IWAE_1 and the ELBO estimate the same expectation (Monte-Carlo KL vs closed form)
    assert abs(m[0] - got["elbo"]) < 5 * (got["iwae_se"][0] + got["elbo_se"])
    again = S.iwae_measure(model, x, k_max=50, seed=0, progress=False)
    assert again["iwae_mean"] == got["iwae_mean"]  # same seed, same numbers
    assert "ELBO" in S.format_iwae(got, "test") and "k ≤ 50" in S.format_iwae(got, "test")


def test_agrees_is_paired_and_sees_a_shift():
    g = torch.Generator().manual_seed(0)
    images = -90 + 10 * torch.randn(200, generator=g)  # a wide spread between images …
    full = _fake([(images - 3).tolist(), images.tolist()])
    noisy = images + 0.05 * torch.randn(200, generator=g)  # … and small Monte-Carlo noise
    small = _fake([(noisy[:50] - 3).tolist(), noisy[:50].tolist()])
    ok, why = S.iwae_agrees(small, full)
    assert ok, why
    assert "IWAE_10 on the 50 common images" in why
    shifted = copy.deepcopy(small)
    shifted["per_image"][1] = [v - 0.5 for v in shifted["per_image"][1]]  # 0.5 nats ≫ paired s.e.
    ok, why = S.iwae_agrees(shifted, full)
    assert not ok and "OUTSIDE" in why
    ok, why = S.iwae_agrees(small, full, k=5)
    assert not ok and "not in both curves" in why


def test_fast_run_agrees_with_the_committed_full_study():
    full = R.load_result("vae_iwae", verbose=False)
    assert full["k_max"] == 5000 and full["n_images"] == 1000
    assert full["rise_last"] > 0  # still rising at k = 5,000: a bound, not a plateau
    ok, why = R.agrees_with_committed("vae_iwae", setup(seed=1, profile="fast", verbose=False))
    assert ok, why


@pytest.mark.slow
def test_default_size_run_agrees_with_the_committed_full_study():
    """The notebook's size (k ≤ 500, 200 images; about 10 CPU-s), with other draws (seed 1)
    than the full study's (seed 0)."""
    cfg = setup(seed=1, profile="default", verbose=False)
    assert (cfg.scale(*S.IWAE_K_MAX), cfg.scale(*S.IWAE_N_IMAGES)) == (500, 200)
    ok, why = R.agrees_with_committed("vae_iwae", cfg)
    assert ok, why


def test_the_checkpoint_line_names_the_training_loop_and_the_whole_pretrain_command():
    """One consistent provenance line from the card: the training loop's CPU-minutes (what the
    notebook's prose quotes) and the whole `pretrain` command's seconds (what the card's
    "training time" row holds) are both named, so neither reads as the other."""
    from coursekit.core.checkpoints import pretrained

    run = pretrained("vae", setup(seed=0, profile="fast", verbose=False), verbose=False)
    line = S.checkpoint_line("vae", run)
    m = run.card["metrics"]
    assert f"training loop: {m['epochs']:.0f} epochs, {m['train_cpu_minutes']:.1f} CPU-min" in line
    assert f"python -m coursekit pretrain vae` (data, training loop, final held-out evaluation): " \
           f"{run.card['train_seconds']:.0f} s wall" in line
    assert "not trained now" in line
