"""The graded assignments (grading/source/, nbgrader): what students get holds no answer, the
bands separate right from wrong, and the real grader gives the points it should."""
from __future__ import annotations

import json
import re
import sys
from html import unescape
from pathlib import Path

import nbformat
import pytest

from coursekit.labs.grading import GradingError, assert_band

sys.path.insert(0, str(Path(__file__).parent))
from grading_run import GRADING, PLANTED, ROOT, A, start_grading  # noqa: E402

NAMES = A.assignments()


def normalize(text: str) -> str:
    return re.sub(r"\s+", "", text)


def band(name: str) -> tuple[float | None, float | None]:
    """(lower, upper) of the trained-model test, read from the hidden test in the source."""
    src = A.cell_by_id(A.source_notebook(name), "test_trained").source
    lower = re.search(r"lower=(-?[\d.]+)", src)
    upper = re.search(r"upper=(-?[\d.]+)", src)
    return (float(lower.group(1)) if lower else None, float(upper.group(1)) if upper else None)


def inside(value: float, lo_hi) -> bool:
    """Does the hidden test's band check (`ck.grading.assert_band`) accept `value`?"""
    try:
        assert_band(value, "outcome", *lo_hi)
    except GradingError:
        return False
    return True


def test_four_assignments_one_per_section_with_points():
    assert NAMES == ["hw1_autoencoders", "hw2_vae", "hw3_gan", "hw4_diffusion"]
    for name in NAMES:
        nb = A.source_notebook(name)
        p = A.points(nb)
        assert "test_trained" in p["auto"] and p["auto"]["test_trained"] == 3
        assert p["manual"] == {"written": 3}, f"{name}: one written answer graded by hand"
        assert sum(p["auto"].values()) >= 6
        # the rubric travels with the grader's copy only
        assert "Rubric" in A.cell_by_id(nb, "written").source


def test_answer_keys_are_found_and_none_is_in_the_installed_package():
    package = normalize("".join(p.read_text() for p in (ROOT / "coursekit").rglob("*.py")))
    for name in NAMES:
        keys = A.answer_keys(name)
        assert len(keys) >= 4, f"{name}: too few answer keys to scan for"
        leaked = [k for k in keys if normalize(k) in package]
        assert not leaked, f"{name}: graded reference lines found in coursekit: {leaked}"


def test_answer_key_scan_catches_a_planted_leak():
    key = A.answer_keys("hw2_vae")[0]
    assert normalize(key) in normalize(f"x = 1\n    {key}  # copied\n")


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """An nbgrader course folder with every assignment generated (as `make assignments`)."""
    return A.build(tmp_path_factory.mktemp("course"))


def test_release_notebooks_hold_no_answer(course):
    for name in NAMES:
        release = (course / "release" / name / f"{name}.ipynb").read_text()
        text = normalize(release)
        assert not [k for k in A.answer_keys(name) if normalize(k) in text]
        for marker in ("BEGIN SOLUTION", "HIDDEN TESTS", "Rubric", "Model answer", "_outcome"):
            assert marker not in release, f"{name}: {marker!r} reached the release notebook"
        nb = nbformat.reads(release, as_version=4)
        assert "raise NotImplementedError()" in A.cell_by_id(nb, "answer").source
        assert A.cell_by_id(nb, "written").source.strip() == "YOUR ANSWER HERE"
        assert (course / "rubrics" / f"{name}.md").read_text().count("Rubric") == 1


def test_the_calibration_shows_the_bands_separate_right_from_wrong():
    """Reference on 5 seeds inside the band; every planted slip that the band should catch is
    outside it on every seed it was run with (grading/calibration.json, `calibrate`)."""
    study = json.loads((ROOT / "grading" / "calibration.json").read_text())
    for name in NAMES:
        task, lo_hi = study["tasks"][name], band(name)
        ref = [v["outcome"] for v in task["reference"].values()]
        assert len(ref) >= 5 and all(inside(v, lo_hi) for v in ref), (name, ref, lo_hi)
        caught = [p for p in PLANTED[name] if p.points["test_trained"] == 0]
        assert len(caught) >= 3, f"{name}: the band must catch at least three planted slips"
        for wrong in PLANTED[name]:
            values = [v["outcome"] for v in task["wrong"][wrong.name].values()]
            expected_inside = wrong.points["test_trained"] > 0
            assert values and all(inside(v, lo_hi) == expected_inside for v in values), (
                name, wrong.name, values, lo_hi)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_the_calibration_is_what_the_notebook_measures(name):
    """Seed 0 of the reference, run now, gives calibration.json's number."""
    study = json.loads((ROOT / "grading" / "calibration.json").read_text())
    value, cpu = A.task_outcome(name, 0)
    recorded = study["tasks"][name]["reference"]["0"]["outcome"]
    assert value == pytest.approx(recorded, rel=0.02, abs=1e-3)


@pytest.mark.slow
def test_nbgrader_gives_each_submission_its_points(request):
    """The real grader, offline: the solutions get every autograded point (the written answer
    waits for a human), the untouched release 0 without crashing, each planted slip its partial
    points. The grading runs in the background from the start of the session (conftest.py)."""
    graded = request.config.stash.get(GRADING, None)
    if graded is None:  # the hook did not start it (e.g. run by node id): grade now
        graded = start_grading()
    for folder, expected, scores in graded.result():
        for name, students in expected.items():
            for student, want in students.items():
                got = scores[name][student]
                # a written answer waits for a human; an unchanged "YOUR ANSWER HERE" gets 0
                written = 0.0 if student == "untouched" else None
                assert got["written"] == written, f"{name}/{student}: written answer {got['written']}"
                auto = {k: v for k, v in got.items() if k != "written"}
                assert auto == want, f"{name}/{student}: got {auto}, expected {want}"
        # the feedback pages hold no hidden test and no line of its reference code, only the
        # hints (a student's own code may of course contain the same lines as the reference)
        for name in expected:
            pages = list((folder / "feedback").glob(f"*/{name}/{name}.html"))
            assert len(pages) == len(expected[name]), (name, pages)
            keys = [normalize(k) for k in A.answer_keys(name, hidden_only=True)]
            for page in pages:
                html = page.read_text()
                assert "HIDDEN TESTS" not in html and "_grader_" not in html, page
                text = normalize(unescape(re.sub(r"<[^>]+>", "", html)))
                submitted = nbformat.read(folder / "submitted" / page.parts[-3] / name /
                                          f"{name}.ipynb", as_version=4)
                own = normalize(A.cell_by_id(submitted, "answer").source)
                leaked = [k for k in keys if k in text and k not in own]
                assert not leaked, (page, leaked)
        # every cell of the untouched release ran (errors allowed), nothing crashed
        for name in expected:
            nb = nbformat.read(folder / "autograded" / "untouched" / name / f"{name}.ipynb",
                               as_version=4)
            assert all(c.get("execution_count") for c in nb.cells if c.cell_type == "code")
