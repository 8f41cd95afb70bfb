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
#: a correct answer written differently: its own helper named like the hidden tests' variables
#: used to be (`_kl`), `cfg` from the setup cell, torch.distributions for the likelihood
OWN_HELPERS_VAE = """
def _kl(mu, log_sigma):
    var = torch.exp(2 * log_sigma)
    return 0.5 * (mu.pow(2) + var - 1).sum(-1) - log_sigma.sum(-1)


def negative_elbo(x, mu, log_sigma, decoder, eps):
    z = (mu + torch.exp(log_sigma) * eps).to(cfg.device)
    log_px = torch.distributions.Bernoulli(logits=decoder(z)).log_prob(x).sum(-1)
    return torch.mean(_kl(mu, log_sigma) - log_px)
"""


def submissions(course: Path) -> dict[str, dict[str, dict[str, float]]]:
    """Place the solution, the untouched release and three planted slips of every assignment
    in `course`/submitted/; return the expected autograded points per assignment and student."""
    expected: dict[str, dict[str, dict[str, float]]] = {}
    for name in A.assignments():
        auto = A.points(A.source_notebook(name))["auto"]
        reference = A.reference_answer(name)
        A.submit(course, name, "solution", A.solved(name, course))
        A.submit(course, name, "untouched", A.release_notebook(name, course))
        expected[name] = {"solution": dict(auto), "untouched": dict.fromkeys(auto, 0.0)}
        if name == "hw2_vae":
            A.submit(course, name, "own_helpers", A.solved(name, course, answer=OWN_HELPERS_VAE))
            expected[name]["own_helpers"] = dict(auto)
        for wrong in GRADED_PLANTED[name]:
            A.submit(course, name, wrong.name, A.solved(name, course, answer=wrong.apply(reference)))
            expected[name][wrong.name] = {k: float(v) for k, v in wrong.points.items()}
    return expected


def _grade() -> list[tuple[Path, dict, dict]]:
    tmp = Path(tempfile.mkdtemp(prefix="coursekit-grading-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    course = A.build(tmp / "course")
    expected = submissions(course)
    scores = A.autograde(course)
    A.nbgrader("generate_feedback", "*", "--force", course=course)
    return [(course, expected, scores)]


def start_grading() -> Future:
    """Build the course, submit, autograde — in a background thread."""
    pool = ThreadPoolExecutor(1)
    future = pool.submit(_grade)
    pool.shutdown(wait=False)
    return future
