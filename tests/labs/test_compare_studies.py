"""coursekit.labs.compare_studies: the ``compare_models`` study of notebook 05 and its texts."""
import copy

import pytest

from coursekit.core import results as R
from coursekit.labs import compare_studies as S


def _entry(per_seed: dict, seeds=(0, 1, 2), sha="abc", **extra) -> dict:
    per_seed = {k: [float(x) for x in v] for k, v in per_seed.items()}
    return {"cell": "", "parameters": 1, "train_cpu_min": 1.0, "tiny": False,
            "checkpoint": {"file": "x.pt", "sha256": sha, "date": ""}, "seeds": list(seeds),
            "per_seed": per_seed, **S._summary(per_seed), "cpu_seconds": [1.0] * len(seeds),
            **extra}


def _metrics(fd_ratio, precision=(0.9, 0.9, 0.9), recall=(0.8, 0.8, 0.8), **more) -> dict:
    return {"fd_ratio": fd_ratio, "fd": [5 * v for v in fd_ratio], "precision": precision,
            "recall": recall, "coverage": (10, 10, 10), "kl_uniform": (0.05, 0.05, 0.05),
            "cpu_sec_per_sample": (1e-4, 1e-4, 1e-4), **more}


def _result(models: dict, n=1000, ldm_decoder_is_ae=False) -> dict:
    real = {k: [float(x) for x in v] for k, v in _metrics((0.98, 1.0, 1.03)).items()
            if k in (*S.SPREAD, "fd")}
    return {"n": n, "seeds": [0, 1, 2], "ddim_steps": 50, "iwae_k": 100, "slow_batch": 100,
            "reference": {"fd": 5.0, "coverage": 10, "kl_uniform": 0.01, "precision": 0.96,
                          "recall": 0.96},
            "models": models, "real_vs_real": {"seeds": [0, 1, 2], "per_seed": real,
                                               **S._summary(real)},
            "ldm_decoder_is_ae": ldm_decoder_is_ae}


def test_verdicts_tell_apart_only_gaps_large_next_to_the_spread():
    res = _result({"vae": _entry(_metrics((19.0, 19.5, 20.1))),
                   "gan": _entry(_metrics((19.8, 21.9, 22.5))),
                   "ldm": _entry(_metrics((3.6, 4.3, 4.6)))})
    text = S.verdicts(res)
    head, fd_line = text.splitlines()[0], next(
        line for line in text.splitlines() if "FD / real" in line)
    # classes is 10/10 in every row: no comparison, not in the family (4 metrics, not 5)
    assert head.startswith("24 comparisons (6 pairs of rows × 4 metrics)")
    assert "ldm better than vae and gan" in fd_line  # a 5× gap, seeds spread by ~10 %
    assert "real data better than every model" in fd_line
    assert "Not distinguishable: vae and gan." in fd_line  # 3 seeds, overlapping: weak
    assert "**classes**" not in text  # all 10/10: said once in words, not tested


def test_verdicts_compare_every_pair_with_one_correction_and_say_so_for_one_seed():
    res = _result({"a": _entry(_metrics((1.5, 1.6, 1.7))), "b": _entry(_metrics((3.0, 3.1, 3.2)))})
    ranked = S.rank_pairs(res)
    assert len(ranked) == 3 * len(S.tested_metrics(res)) and "coverage" not in S.tested_metrics(res)
    assert {(v["a"], v["b"]) for v in ranked} == {("a", "b"), ("a", "real data"),
                                                  ("b", "real data")}
    assert S.verdict(ranked, "fd_ratio", "a", "b") == "a"
    assert S.relation(res, "fd_ratio", "b", "a") == "higher than"
    one = _result({"a": _entry({k: v[:1] for k, v in _metrics((2,), (0.9,), (0.8,)).items()},
                               seeds=(0,))})
    assert all(v["better"] is None for v in S.rank_pairs(one)), "one seed: no spread"


def test_a_precision_above_the_fresh_real_draws_but_not_the_reference_is_not_called_better():
    """The reference draw is one of the real-data rows' values (review finding on 05 c27)."""
    res = _result({"ldm": _entry(_metrics((2.6, 2.9, 3.2), precision=(0.95, 0.96, 0.97)))})
    res["real_vs_real"]["per_seed"]["precision"] = [0.945, 0.94, 0.95]
    res["real_vs_real"].update(S._summary(res["real_vs_real"]["per_seed"]))
    res["reference"]["precision"] = 0.96
    assert S.real_row(res)["per_seed"]["precision"] == [0.96, 0.945, 0.94, 0.95]
    assert S.verdict(S.rank_pairs(res), "precision", "ldm", "real data") is None


@pytest.mark.parametrize("vae_fd, expect", [
    ((19.0, 19.5, 20.0), "lower than"),
    ((23.0, 24.5, 26.0), "not distinguishable from"),
    ((60.0, 61.0, 62.0), "higher than")])
def test_reconstruction_vs_generation_follows_the_verdicts(vae_fd, expect):
    res = _result({"ae": _entry(_metrics((23.5, 24.0, 24.4), recon_mse=(9.1,) * 3)),
                   "vae": _entry(_metrics(vae_fd, recon_mse=(5.8,) * 3)),
                   "ldm": _entry(_metrics((3.6, 4.3, 4.6)))}, ldm_decoder_is_ae=True)
    text = S.reconstruction_vs_generation(res)
    assert text.startswith("The ldm decodes with the ae's own decoder")
    assert "(error 9.1)" in text and "is lower than the ae's (4.3× vs 24.0×)" in text
    res["ldm_decoder_is_ae"] = False
    text = S.reconstruction_vs_generation(res)
    assert "ldm" not in text and "The vae reconstructs held-out digits better than the ae" in text
    assert f"FD / real is {expect} the ae's" in text


def test_agrees_equal_in_range_outside_and_not_comparable():
    full = _result({"gan": _entry(_metrics((19.8, 21.9, 22.5)))})
    small = copy.deepcopy(full)
    ok, why = S.compare_agrees(small, full)
    assert ok and "gan: 15 equal, 0 in range" in why
    # another seed, inside the band around the full range
    small["models"]["gan"] = _entry(_metrics((21.0,), (0.9,), (0.8,)), seeds=(7,))
    ok, why = S.compare_agrees(small, full)
    assert ok and "5 in range" in why
    # seed 0 again but a different FD: not equal, and far outside the band
    small["models"]["gan"] = _entry(_metrics((40.0,), (0.9,), (0.8,)), seeds=(0,))
    ok, why = S.compare_agrees(small, full)
    assert not ok and "OUTSIDE" in why and "fd_ratio" in why
    # another checkpoint: nothing to compare
    small["models"]["gan"]["checkpoint"]["sha256"] = "other"
    ok, why = S.compare_agrees(small, full)
    assert ok and "other checkpoint" in why
    # another n: ratios are not comparable across n
    ok, why = R.STUDIES.get("compare_models").check(_result({}, n=100), full)
    assert ok is None and "not comparable" in why and "n = 100 here, 1000" in why


def test_tables_show_median_range_sampler_and_n():
    res = _result({"vae": _entry(_metrics((19.0, 19.5, 20.1), elbo=(-95.3, -95.1, -95.0),
                                          recon_mse=(5.8,) * 3)),
                   "ddpm": _entry(_metrics((4.2, 4.7, 5.2)))})
    table = S.format_spread(res)
    assert "| vae | z ~ N(0, I) | 1,000 | 19.5× (19.0–20.1×) |" in table
    assert "| ddpm | DDIM-50, η = 1 | 1,000 |" in table
    # the real data: fresh draws 0.98–1.03 and the reference draw (1.0× by construction)
    assert table.splitlines()[-1].startswith("| real data | train images | 1,000 | 1.0× | ")
    cells = S.format_cells(res)
    assert "-95.1 (-95.3 to -95.0)" in cells and "| 5.8 |" in cells and "—" in cells
    live = _result({"vae": _entry({k: v[:1] for k, v in _metrics((19.5,), (0.9,), (0.8,),
                                                                 elbo=(-95.1,)).items()},
                                  seeds=(0,))})
    assert "real-vs-real FD at n = 1000: 5.00" in S.format_live(live)
    assert "ELBO -95.10" in S.format_live(live), "the VAE's likelihood bound is printed too"


def test_live_line_leaves_out_the_fd_when_n_does_not_exceed_the_feature_dimensions():
    """With n ≤ 128 samples the 128-dim covariances are singular: no FD, and the line says why."""
    entry = _entry({k: v[:1] for k, v in _metrics((19.5,), (0.9,), (0.8,)).items()}, seeds=(0,))
    small = S.format_live(_result({"ddpm": entry}, n=100))
    assert "no FD" in small and "singular" in small and "×" not in small
    assert "precision 0.90" in small


def _committed():
    path = R.result_path("compare_models")
    if not path.exists():
        pytest.skip("data/results/compare_models.json is not committed yet")
    return R.load_result("compare_models", verbose=False)


def test_committed_table_is_of_the_current_checkpoints():
    full = _committed()
    changed = S.changed_checkpoints(full)
    assert not changed, (f"checkpoints {changed} changed since data/results/compare_models.json "
                         f"was made: remake it with `python -m coursekit reproduce compare_models`")
    assert set(full["models"]) == set(S.STUDY_MODELS)
    assert all(len(m["seeds"]) >= 2 for m in full["models"].values()), "no spread, no verdicts"
    assert full["n"] > S.N_FEATURES and full["reference"]["fd"] > 0


@pytest.mark.slow
def test_default_size_run_of_the_cheap_models_agrees_with_the_committed_table(cfg):
    """n = 1,000 and the first seed, as the notebook measures live (ae, vae, gan, ldm; no IWAE,
    the slowest part): same seed and checkpoint → the committed numbers, within EQUAL_REL (or
    the band around the full range on another machine)."""
    from coursekit.labs.compare import load_for_comparison

    full = _committed()
    models = load_for_comparison(["ae", "vae", "gan", "ldm"], cfg)  # those that load now
    small, _ = S.measure(list(models), models, n=full["n"], seeds=full["seeds"][:1],
                         ddim_steps=full["ddim_steps"], iwae_k=0, progress=False)
    ok, why = S.compare_agrees(small, full)
    assert ok, why
    assert all(f"{name}:" in why for name in models) and "not comparable" not in why


#: (card key prefix per sampling seed 1, 2, 3) of each sampling model's headline sampler: the
#: sampler notebook 05 uses (ddpm: DDIM-50 η = 1; ldm: DDIM-50 η = 0 in code space; gan: z ~ N(0, I)).
CARD_SEED_KEYS = {"gan": ("seed1_", "seed2_", "seed3_"),
                  "ddpm": ("ddim50_eta1_", "seed2_ddim50_eta1_", "seed3_ddim50_eta1_"),
                  "ldm": ("ddim50_", "seed2_ddim50_", "seed3_ddim50_")}


def test_a_sampling_seed_gives_the_same_numbers_in_notebook_05_and_on_the_card():
    """One source per number (issue one-source): the compare study samples each model with the
    cards' seeds 1, 2, 3 and the same samplers, so every per-seed FD / real, precision and recall
    of a sampling model is its card's value."""
    import torch

    from coursekit.core.checkpoints import checkpoint_path
    from coursekit.core.results import load_result

    result = load_result("compare_models", verbose=False)
    for name, prefixes in CARD_SEED_KEYS.items():
        row = result["models"][name]
        card = torch.load(checkpoint_path(name), map_location="cpu", weights_only=True)["card"]
        assert row["seeds"][:3] == [1, 2, 3], row["seeds"]
        for key in ("fd_ratio", "precision", "recall"):
            want = [card["metrics"][p + key] for p in prefixes]
            assert row["per_seed"][key][:3] == pytest.approx(want, rel=1e-4), (name, key)


# ----------------------------------------------------------------------------- the notebook's texts
def _mixed():
    """FD / real: ldm better than vae and gan, vae and gan not distinguishable (3 seeds)."""
    return _result({"vae": _entry(_metrics((19.0, 19.5, 20.1))),
                    "gan": _entry(_metrics((19.8, 21.9, 22.5))),
                    "ldm": _entry(_metrics((3.6, 4.3, 4.6)))})


def test_pair_takeaway_picks_the_closest_pair_told_apart_and_the_widest_not():
    res = _mixed()
    ranked = S.rank_pairs(res)
    text = S.pair_takeaway(res)
    assert text.startswith("on FD / real the test tells apart the ldm and real data (4.3× vs 1.0×) "
                           "but not the vae and the gan (19.5× vs 21.9×)")
    assert S.verdict(ranked, "fd_ratio", "vae", "ldm") == "ldm"
    assert S.verdict(ranked, "fd_ratio", "vae", "gan") is None


def test_pair_takeaway_when_every_pair_is_told_apart_takes_its_contrast_from_recall():
    res = _result({"vae": _entry(_metrics((19.0, 19.1, 19.2), recall=(0.80, 0.95, 0.85))),
                   "ldm": _entry(_metrics((3.0, 3.05, 3.1), recall=(0.86, 0.87, 0.88)))})
    assert "- **FD / real** (lower is better): Every pair told apart; best first: real data, " \
           "ldm, vae." in S.verdicts(res)
    text = S.pair_takeaway(res)
    assert text.startswith("on FD / real the test tells every pair apart, even the ldm and real "
                           "data (3.0× vs 1.0×); on recall it cannot tell ")
    assert "not yet a difference" not in text


def test_pair_takeaway_when_no_pair_is_told_apart():
    res = _result({"vae": _entry(_metrics((2.0, 5.0, 9.0))),
                   "gan": _entry(_metrics((1.0, 4.0, 12.0)))})
    assert all(v["better"] is None for v in S.rank_pairs(res) if v["metric"] == "fd_ratio")
    assert S.pair_takeaway(res).startswith("on FD / real the test tells no pair of rows apart")


@pytest.mark.parametrize("ldm_precision, where, verdict", [
    ((0.965, 0.97, 0.975), "sits above real data's", "the test cannot tell them apart"),
    ((0.75, 0.76, 0.755), "is lower than real data's", None)])
def test_axes_takeaway_says_where_the_ldm_sits_and_follows_the_verdicts(ldm_precision, where,
                                                                       verdict):
    res = _result({"ddpm": _entry(_metrics((4.4, 4.7, 5.0), precision=(0.83, 0.82, 0.84),
                                           recall=(0.97, 0.975, 0.965))),
                   "ldm": _entry(_metrics((2.6, 2.9, 3.1), precision=ldm_precision,
                                          recall=(0.86, 0.87, 0.865)))})
    text = S.axes_takeaway(res)
    assert where in text and (verdict is None or verdict in text)
    assert f"recall is {S.relation(res, 'recall', 'ldm', 'ddpm')} the ddpm's" in text
    assert ("typical digits" in text) == where.startswith("sits"), "a possibility, only when at/above"


def test_describe_pair_accepts_keys_and_labels_and_says_the_verdict():
    res = _mixed()
    assert S.describe_pair(res, "FD / real", "vae", "ldm") == S.describe_pair(
        res, "fd_ratio", "vae", "ldm")
    assert S.describe_pair(res, "fd_ratio", "vae", "ldm").endswith("→ ldm better (lower is better)")
    assert S.describe_pair(res, "fd_ratio", "vae", "gan").endswith("→ not distinguishable")
    with pytest.raises(KeyError, match="rows are"):
        S.describe_pair(res, "fd_ratio", "vae", "dcgan")
    with pytest.raises(KeyError, match="no column"):
        S.describe_pair(res, "sharpness", "vae", "gan")


def test_constant_columns_are_said_once_under_the_table():
    table = S.format_spread(_mixed(), drop_constant=True)
    head = table.splitlines()[0]
    assert "| n |" not in head and "classes" not in head and "FD / real" in head
    assert table.endswith("Same in every row, so not shown as a column: 1,000 images per set; "
                          "classes 10/10.")
    assert "| 1,000 |" in S.format_spread(_mixed()), "the full table keeps the n column"


def test_what_we_saw_names_leaders_counts_and_costs():
    res = _result({"ae": _entry(_metrics((23.5, 24.0, 24.4), recon_mse=(9.1,) * 3)),
                   "vae": _entry(_metrics((19.0, 19.5, 20.0), recall=(0.9, 0.91, 0.92),
                                          recon_mse=(5.8,) * 3, elbo=(-95.3,) * 3,
                                          iwae=(-91.1,) * 3,
                                          cpu_sec_per_sample=(2e-3,) * 3))})
    lead, tested, cells = S.what_we_saw(res)
    assert lead.startswith("Of the models, the vae has the lowest FD / real (19.5×)")
    told = sum(v["better"] is not None for v in S.rank_pairs(res))
    assert tested.startswith(f"The test tells {told} of the table's {len(S.rank_pairs(res))} "
                             f"comparisons apart")
    assert "(ae 9.1, vae 5.8)" in cells and "IWAE -91.1 nats, ELBO -95.3" in cells
    assert "0.1 (ae) to 2 CPU-ms (vae)" in cells


def test_the_notebook_texts_on_the_file_agree_with_its_verdicts():
    """Every verdict word the notebook prints comes from the verdicts of the file (no verdict
    is written by hand)."""
    full = _committed()
    ranked = S.rank_pairs(full)
    assert f"recall is {S.relation(full, 'recall', 'ldm', 'ddpm')} the ddpm's" in \
        S.axes_takeaway(full)
    text = S.pair_takeaway(full)
    rows = list(S.table_rows(full))
    named = [r for r in rows if f"the {r} " in text or f"{r} (" in text or f"the {r}'s" in text]
    assert named, text
    for v in ranked:  # a pair the text calls "told apart" is told apart, and vice versa
        pair = f"{'the ' if v['a'] != S.REAL else ''}{v['a']} and " \
               f"{'the ' if v['b'] != S.REAL else ''}{v['b']} ("
        if v["metric"] == "fd_ratio" and pair in text:
            told_words = text.split(pair)[0].endswith(("tells apart ", "even "))
            assert told_words == (v["better"] is not None), (pair, text)
