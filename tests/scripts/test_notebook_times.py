"""The run times the bundle states come from one place: benchmarks/bench_notebooks.py --record.

benchmarks/notebook_times.json (idle-machine measurements), the "Run time" line of every
notebook's opening cell and the README's table must say the same thing.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_notebooks as B  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def times() -> dict:
    assert B.TIMES_JSON.exists(), "run `make execute` on an idle machine (bench_notebooks --record)"
    return json.loads(B.TIMES_JSON.read_text())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_an_idle_machine_time(path):
    rec = times().get(path.stem)
    assert rec is not None, f"{path.name} has no idle-machine measurement in {B.TIMES_JSON.name}"
    assert not rec["load_per_core_before"] > B.MAX_LOAD_PER_CORE


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_students_see_no_run_time_banner(path):
    """Run times are for instructors (the README's table), not a line in the student's text."""
    opening = B.opening_cell(nbformat.read(str(path), as_version=4)).source
    assert "Run time" not in opening and "bench_notebooks" not in opening, opening[-300:]


def test_readme_table_is_the_recorded_one():
    assert B.readme_table(times()) in (ROOT / "README.md").read_text()
