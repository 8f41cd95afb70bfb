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
def test_opening_cell_states_the_recorded_default_profile_time(path):
    rec = times().get(path.stem)
    assert rec is not None, f"{path.name} has no idle-machine measurement in {B.TIMES_JSON.name}"
    assert not rec["load_per_core_before"] > B.MAX_LOAD_PER_CORE
    opening = B.opening_cell(nbformat.read(str(path), as_version=4)).source
    assert B.run_time_line(rec) in opening.splitlines(), opening[-300:]


def test_readme_table_is_the_recorded_one():
    assert B.readme_table(times()) in (ROOT / "README.md").read_text()


def test_run_time_line_is_replaced_not_repeated(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"),
                                         nbformat.v4.new_markdown_cell("# Title\nText.")])
    path = tmp_path / "t.ipynb"
    nbformat.write(nb, str(path))
    rec = {"wall_s": 61.2, "slowest_cell_s": 9.6, "date": "2026-12-02", "cores": 2}
    B.set_run_time_line(path, rec)
    B.set_run_time_line(path, {**rec, "wall_s": 58.0})
    source = nbformat.read(str(path), as_version=4).cells[1].source
    assert source.count(B.RUN_TIME_PREFIX) == 1 and "about 58 s" in source
    assert source.startswith("# Title\nText.")


def test_machine_speed_times_a_toy_step_and_a_conv_step_and_old_rows_say_not_measured():
    speed = B.machine_speed(repeats=1)
    assert set(speed) == {"mlp_step_ms", "conv_step_ms"} and all(v > 0 for v in speed.values())
    assert B.speed({"wall_s": 1.0}) == "not measured"
    assert B.speed({"mlp_step_ms": 0.5, "conv_step_ms": 12.0}) == "0.50 / 12.0 ms"
