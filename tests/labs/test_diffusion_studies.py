"""coursekit.labs.diffusion_studies: the ``ddpm_samplers`` study of notebook 04 and its check."""
import copy

import pytest
import torch

from coursekit.core import results as R
from coursekit.core.config import setup
from coursekit.labs import diffusion_studies as S
from coursekit.models.diffusion import ImageDiffusion


def _row(sampler: str, n: int, fd: float, subsets=(), eta: float = 0.0, steps: int = 10) -> dict:
    return {"sampler": sampler, "family": sampler, "steps": steps, "eta": eta,
            "net_calls": steps, "n": n, "fd": fd, "fd_real": 10.0, "fd_ratio": fd / 10.0,
            "fd_se": 1.0, "fd_ratio_se": 0.1, "coverage": 10, "kl_uniform": 0.0,
            "precision": 0.9, "recall": 0.9, "cpu_ms_per_sample": 20.0,
            "subsets": [dict(s) for s in subsets]}


def test_sampler_table_scores_every_sampler_at_its_n_and_the_ancestral_row_at_n_ddpm():
    """An untrained tiny U-Net (random samples): the schema, the two sample sizes, the
    real-vs-real reference at each n, and the same numbers for the same seed."""
    torch.manual_seed(0)
    model = ImageDiffusion((8, 8), T=20)
    got = S.sampler_table(model, 12, steps=(2,), etas=(0.0, 1.0), n_ddpm=6, seed=3, n_boot=4,
                          subset_ns=(6, 3), progress=False, verbose=False)
    labels = [(r["sampler"], r["n"]) for r in got["rows"]]
    assert labels == [("DDIM-2 η=0", 12), ("DDIM-2 η=0", 6), ("DDIM-2 η=1", 12),
                      ("DDIM-2 η=1", 6), ("DDPM-20 (ancestral)", 6)]
    for r in got["rows"]:
        assert r["fd_ratio"] == pytest.approx(r["fd"] / r["fd_real"])
        assert r["fd_se"] >= 0 and 0 <= r["coverage"] <= 10
    assert {r["fd_real"] for r in got["rows"] if r["n"] == 6} == {got["rows"][1]["fd_real"]}
    big = got["rows"][0]
    assert [(s["n"], s["k"]) for s in big["subsets"]] == [(6, 2), (3, 4)]
    # the n = 6 row is scored on the first 6 of the 12 DDIM samples
    first6 = S.features(S.draw(model, 12, torch.Generator().manual_seed(3), 2, 0.0))[:6]
    assert got["rows"][1]["fd"] == pytest.approx(
        S._score(first6, torch.zeros(6, 1, 28, 28), 0, 0, ())["fd"])
    assert got["rows"][4]["net_calls"] == 20 and got["rows"][4]["eta"] == 1.0
    again = S.sampler_table(model, 12, steps=(2,), etas=(0.0, 1.0), n_ddpm=6, seed=3, n_boot=4,
                            subset_ns=(6, 3), progress=False, verbose=False)
    assert [r["fd"] for r in again["rows"]] == [r["fd"] for r in got["rows"]]
    assert "real vs real FD at n = 6" in S.format_samplers(got, 6)
    assert [e["steps"] for e in S.eta_comparison(got)] == [2]
    with pytest.raises(ValueError, match="n_ddpm"):
        S.sampler_table(model, 12, n_ddpm=20, progress=False)


def test_agrees_uses_the_subsets_of_the_same_size_and_sees_a_shift():
    subsets = [{"n": 20, "k": 50, "fd_mean": 400.0, "fd_sd": 60.0}]
    full = {"rows": [_row("DDIM-10 η=0", 1000, 120.0, subsets),
                     _row("DDIM-10 η=0", 256, 118.0, [{"n": 20, "k": 12, "fd_mean": 0.0,
                                                        "fd_sd": 1.0}])]}
    small = {"rows": [_row("DDIM-10 η=0", 20, 450.0)]}
    ok, why = S.samplers_agree(small, full)
    assert ok, why
    assert "over 50 subsets" in why
    shifted = copy.deepcopy(small)
    shifted["rows"][0]["fd"] = 700.0  # 5 sd away
    ok, why = S.samplers_agree(shifted, full)
    assert not ok and "NOT all within" in why
    other = {"rows": [_row("DDIM-10 η=0", 33, 450.0)]}  # no subset of that size
    ok, why = S.samplers_agree(other, full)
    assert not ok and "no row" in why


def test_committed_study_is_at_n_1000_with_the_ancestral_row_at_more_than_128_chains():
    full = R.load_result("ddpm_samplers", verbose=False)
    assert full["n"] == 1000 and full["n_ddpm"] >= 128  # 128 = the classifier's feature dimensions
    sizes = {r["n"] for r in full["rows"]}
    assert sizes == {full["n"], full["n_ddpm"]}
    ancestral = [r for r in full["rows"] if not r["sampler"].startswith("DDIM")]
    assert len(ancestral) == 1 and ancestral[0]["n"] == full["n_ddpm"]
    assert ancestral[0]["net_calls"] == 1000
    for n in sizes:  # one real-vs-real reference per table
        assert len({r["fd_real"] for r in full["rows"] if r["n"] == n}) == 1
    # every DDIM sampler is in both tables
    ddim = {r["sampler"] for r in full["rows"] if r["sampler"].startswith("DDIM")}
    for n in sizes:
        assert ddim == {r["sampler"] for r in full["rows"] if r["n"] == n
                        and r["sampler"].startswith("DDIM")}


@pytest.mark.slow
def test_fast_run_agrees_with_the_committed_full_study():
    """The CI size (DDIM-10, η = 0 and 1, n = 20; a few CPU-s), with other draws (seed 1, so
    sampling seed 2) than the full study's."""
    ok, why = R.agrees_with_committed("ddpm_samplers",
                                      setup(seed=1, profile="fast", verbose=False))
    assert ok, why


@pytest.mark.slow
def test_default_size_run_agrees_with_the_committed_full_study():
    """The notebook's size (DDIM-10, η = 0 and 1, n = 200; about 10 CPU-s)."""
    ok, why = R.agrees_with_committed("ddpm_samplers",
                                      setup(seed=1, profile="default", verbose=False))
    assert ok, why


def test_format_samplers_prints_no_ratio_below_the_feature_dimensions():
    big = {"rows": [_row("DDIM-10 η=0", 200, 100.0)]}
    assert "10.00×" in S.format_samplers(big, 200)
    small = {"rows": [_row("DDIM-10 η=0", 20, 100.0), _row("AE reconstructions", 20, 50.0)]}
    small["rows"][1]["net_calls"] = small["rows"][1]["cpu_ms_per_sample"] = None
    text = S.format_samplers(small, 20)
    assert "no ratios" in text and "×" not in text.split("\n", 2)[2]
    recon = next(line for line in text.splitlines() if line.startswith("AE reconstructions"))
    assert recon.split()[2:4] == ["—", "—"]  # no network calls, no sampling CPU


def test_pretrained_fd_ratios_reads_notebook_05s_sets_and_scores_reconstructions(monkeypatch):
    """The notebook's *Going further* A without card keys in sight: one value per set of samples
    from notebook 05's study (so both notebooks show the same numbers), one score per disjoint
    set of reconstructions."""
    scored = []

    def fake_evaluate(images):
        scored.append(images.clone())
        return {"fd_ratio": float(images.mean())}

    import coursekit.core.results as results
    import coursekit.metrics as metrics
    monkeypatch.setattr(metrics, "evaluate_samples", fake_evaluate)
    table = {"n": 4, "models": {"ddpm": {"per_seed": {"fd_ratio": [4.4, 4.5, 5.0, 5.4, 4.7]}},
                                "ldm": {"per_seed": {"fd_ratio": [3.2, 2.6, 2.5, 3.1, 3.5]}}}}
    monkeypatch.setattr(results, "load_result", lambda name, verbose=True: table)

    class AE:  # encode/decode: identity
        def encode(self, x):
            return x

        def decode(self, h):
            return h

    class LDM:
        ae = AE()

    train_x = torch.arange(12.0).reshape(12, 1, 1, 1)
    got, n = S.pretrained_fd_ratios(LDM(), train_x)
    assert n == 4 and list(got) == list(S.FD_LABELS)
    pixel, latent, recon = got.values()
    assert pixel == [4.4, 4.5, 5.0, 5.4, 4.7] and latent == [3.2, 2.6, 2.5, 3.1, 3.5]
    assert recon == [1.5, 5.5, 9.5]  # the means of images 0-3, 4-7, 8-11: disjoint sets
    assert [len(s) for s in scored] == [4, 4, 4]
    with pytest.raises(ValueError, match="training images"):
        S.pretrained_fd_ratios(LDM(), train_x[:8])
