"""coursekit.labs.gan_studies: the ring-of-8 study behind notebook 03's three-seed table."""
import copy
from dataclasses import replace

import pytest

from coursekit.core import results as R
from coursekit.core.config import setup
from coursekit.labs import gan_ring, gan_studies


@pytest.fixture(scope="module")
def committed():
    return R.load_result("gan_ring", verbose=False)


def _tiny_runs(names=("vanilla", "cosine_lr"), seeds=(0, 1), steps=16):
    configs = {n: replace(gan_studies.RING_STUDY[n], hidden=8, batch_size=16) for n in names}
    return gan_ring.ring_study(configs, seeds=seeds, steps=steps, snapshot_every=steps // 8,
                               progress=False)


def test_study_is_registered_for_notebook_03_and_its_file_is_the_full_profile(committed):
    study = R.STUDIES.get("gan_ring")
    assert study.notebook == "03" and study.agrees is gan_studies.ring_agrees
    assert set(committed["configs"]) == set(gan_studies.RING_STUDY)
    assert committed["steps"] == 4000
    assert all(s["seeds"] == [0, 1, 2] for s in committed["configs"].values())


def test_the_control_is_noise_anneal_without_its_noise():
    noisy, control = gan_studies.RING_STUDY["noise_anneal"], gan_studies.RING_STUDY["cosine_lr"]
    assert noisy.noise > 0 and control.noise == 0
    assert replace(control, noise=noisy.noise) == noisy              # nothing else differs
    assert {k: gan_studies.RING_STUDY[k] for k in gan_ring.RING_CONFIGS} == gan_ring.RING_CONFIGS


def test_ring_record_has_the_committed_shape_and_formats(committed):
    runs = _tiny_runs()
    record = gan_studies.ring_record(runs, steps=16, snapshot_every=2, cpu_seconds={"vanilla": 1.0})
    for name, s in R._jsonable(record)["configs"].items():
        assert R.schema(s) == R.schema(committed["configs"][name])
        assert len(s["curves"]) == 2 and s["curves"][0]["step"] == list(range(0, 17, 2))
        assert [sum(c) for c in s["mode_counts"]] == [round(h / 100 * record["n_eval"])
                                                      for h in s["hq"]]
    table = gan_studies.format_ring(record)
    assert "std over 2 seeds" in table
    single = gan_studies.ring_record({"vanilla": runs["vanilla"][:1]}, 16, 2)
    assert single["configs"]["vanilla"]["modes_std"] == -1.0
    assert "mean" not in gan_studies.format_ring(single)          # no mean ± std for one seed
    figs = [gan_studies.plot_ring_finals(record, "t"), gan_studies.plot_ring_curves(record, "t")]
    assert all(f.axes for f in figs)


def test_agrees_equal_same_seed_in_range_and_outside(committed):
    ok, why = gan_studies.ring_agrees(committed, committed)
    assert ok and why.count("equal") == 3 * len(committed["configs"])
    small = copy.deepcopy(committed)
    for s in small["configs"].values():                          # seed 0 only, as the notebook
        for key in ("seeds", "modes", "hq"):
            s[key] = s[key][:1]
    assert gan_studies.ring_agrees(small, committed)[0]
    van = small["configs"]["vanilla"]
    m, h = min(committed["configs"]["vanilla"]["modes"]), min(committed["configs"]["vanilla"]["hq"]) - 1
    van["modes"], van["hq"] = [m], [h]
    ok, why = gan_studies.ring_agrees(small, committed)            # not equal, but in range
    assert ok and f"vanilla seed 0: {m}/8, {h:.1f} % HQ in the full range" in why
    noisy = small["configs"]["noise_anneal"]
    noisy["modes"], noisy["hq"] = [7], [80.0]
    ok, why = gan_studies.ring_agrees(small, committed)
    assert not ok and "noise_anneal seed 0: 7/8, 80.0 % HQ OUTSIDE" in why
    short = dict(small, steps=160)
    ok, why = R.STUDIES.get("gan_ring").check(short, committed)
    assert ok is None and "not comparable" in why and "steps = 160 here" in why


def test_train_ring_config_knows_the_control_and_refuses_unknown_names():
    with pytest.raises(KeyError, match="cosine_lr"):
        gan_studies.train_ring_config("no_such_config")


@pytest.mark.slow
def test_default_profile_runs_equal_or_agree_with_the_committed_study(committed):
    """The default profile trains seed 0 at the full 4,000 steps (a run: ~25 CPU-s, one thread):
    the control and the configuration it controls must agree with the committed file (on the
    machine that made it: equal)."""
    cfg = setup(seed=0, profile="default", verbose=False)
    small = gan_studies.run_ring(cfg, names=("noise_anneal", "cosine_lr"))
    assert small["steps"] == committed["steps"]
    assert all(s["seeds"] == [0] for s in small["configs"].values())
    ok, why = gan_studies.ring_agrees(small, committed)
    assert ok, why


def test_first_step_all_covered_needs_coverage_to_the_end():
    curve = {"step": [0, 10, 20, 30], "modes": [0, 8, 7, 8]}
    assert gan_studies.first_step_all_covered(curve) == 30
    assert gan_studies.first_step_all_covered({"step": [0, 10], "modes": [8, 7]}) is None


def test_the_committed_study_separates_schedule_and_noise(committed):
    """What notebook 03 renders from the committed study: the schedule alone raises % HQ over
    vanilla (ranges apart) but its modes covered overlap vanilla's; the noise on top lowers % HQ;
    neither difference in modes covered is distinguishable with three seeds."""
    text = gan_studies.what_the_runs_separate(committed)
    assert "higher for `cosine_lr` than for `vanilla`" in text
    assert "lower for `noise_anneal` than for `cosine_lr`" in text
    assert text.count("not distinguishable") == 2                  # both mode comparisons
    assert "noise *alone*" in text                               # what no run tests
    coverage = gan_studies.noise_and_coverage(committed)
    assert "never to the end (seed 1)" in coverage and "gets there later" in coverage
    assert "delays coverage" not in coverage                     # seed 1: only the noise run keeps 8


def _curves(first_steps, seeds=(0, 1, 2)):
    """A ring record's configuration whose seed k covers all 8 modes from first_steps[k] on."""
    steps = [0, 500, 1000, 1500, 2000]
    curves = [{"seed": s, "step": steps, "hq": [0.0] * 5,
               "modes": [8 if f is not None and st >= f else 7 for st in steps]}
              for s, f in zip(seeds, first_steps)]
    return {"seeds": list(seeds), "curves": curves, "modes": [c["modes"][-1] for c in curves]}


@pytest.mark.parametrize("noisy, control, says, never_says", [
    ((1500, 1500, 2000), (500, 1000, 1500), "delays coverage rather than bringing it", "Only"),
    ((1500, 1500, 1000), (500, 1000, 1500), "neither gets there first every time", "delays"),
    ((500, 500, 500), (1000, 1000, 1500), "the noise run gets there earlier", "delays"),
    ((1500, 1500, 2000), (500, None, 1500), "Only `noise_anneal` keeps all eight to the end on seed 1",
     "delays"),
])
def test_noise_and_coverage_says_what_the_curves_show_and_nothing_more(noisy, control, says,
                                                                       never_says):
    result = {"configs": {"noise_anneal": _curves(noisy), "cosine_lr": _curves(control)}}
    text = gan_studies.noise_and_coverage(result)
    assert says in text and never_says not in text, text
    if None in control:
        assert "never to the end (seed 1)" in text and "not distinguishable" in text
