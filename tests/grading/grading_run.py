"""Grading the planted submissions with nbgrader (minutes of CPU, one core): `conftest.py`
starts it in a background thread as soon as the session has collected the test that needs it,
so it overlaps the rest of `make test`."""
from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "grading"))
import assignments as A  # noqa: E402
from planted import PLANTED  # noqa: E402

GRADING = pytest.StashKey[Future]()
TEST_NAME = "test_nbgrader_gives_each_submission_its_points"
#: the planted submissions that go through nbgrader: the first three of each assignment (all of
#: them are measured against the bands in grading/calibration.json)
GRADED_PLANTED = {name: PLANTED[name][:3] for name in A.assignments()}


def submissions(course: Path) -> dict[str, dict[str, dict[str, float]]]:
    """Place the solution, the untouched release and three planted slips of every assignment
    in `course`/submitted/; return the expected autograded points per assignment and student."""
    expected: dict[str, dict[str, dict[str, float]]] = {}
    for name in A.assignments():
        auto = A.points(A.source_notebook(name))["auto"]
        reference = A.solution_code(A.cell_by_id(A.source_notebook(name), "answer").source)
        A.submit(course, name, "solution", A.solved(name, course))
        A.submit(course, name, "untouched", A.release_notebook(name, course))
        expected[name] = {"solution": dict(auto), "untouched": dict.fromkeys(auto, 0.0)}
        for wrong in GRADED_PLANTED[name]:
            A.submit(course, name, wrong.name, A.solved(name, course, answer=wrong.apply(reference)))
            expected[name][wrong.name] = {k: float(v) for k, v in wrong.points.items()}
    return expected


def _grade() -> list[tuple[Path, dict, dict]]:
    tmp = Path(tempfile.mkdtemp(prefix="coursekit-grading-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    course = A.build(tmp / "course")
    expected = submissions(course)
    return [(course, expected, A.autograde(course))]


def start_grading() -> Future:
    """Build the course, submit, autograde — in a background thread."""
    pool = ThreadPoolExecutor(1)
    future = pool.submit(_grade)
    pool.shutdown(wait=False)
    return future
