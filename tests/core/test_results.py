"""coursekit.core.results: heavy studies saved with provenance, loaded back with one line."""
import json

import pytest
import torch

from coursekit.core import results as R
from coursekit.core.config import Config, setup


def _toy(cfg: Config) -> dict:
    n = cfg.scale(100, 10, full=1000)
    g = cfg.generator()
    x = torch.randn(n, generator=g)
    return {"n": n, "mean": float(x.mean()), "se": float(x.std() / n ** 0.5),
            "per_seed": [{"seed": s, "value": float(s)} for s in range(2)]}


def _agrees(small: dict, full: dict) -> tuple[bool, str]:
    gap = abs(small["mean"] - full["mean"])
    bound = 3 * (small["se"] ** 2 + full["se"] ** 2) ** 0.5
    return gap <= bound, f"|Δmean| {gap:.3f} vs 3 s.e. {bound:.3f}"


@pytest.fixture
def toy_study():
    R.STUDIES.add("toy_study", R.Study("toy_study", _toy, "a toy mean", "00", agrees=_agrees))
    yield "toy_study"
    R.STUDIES.items.pop("toy_study", None)


def test_result_round_trip_with_provenance(tmp_path, toy_study, capsys):
    path = R.reproduce(toy_study, profile="fast", seed=3, directory=tmp_path)
    record = json.loads(path.read_text())
    p = record["provenance"]
    assert p["profile"] == "fast" and p["seed"] == 3 and p["cpu_seconds"] >= 0
    assert p["command"] == "python -m coursekit reproduce toy_study --profile fast"
    assert {"versions", "date", "threads", "machine"} <= set(p)
    capsys.readouterr()
    got = R.load_result(toy_study, directory=tmp_path)
    line = capsys.readouterr().out.strip()
    assert got == record["results"] and got["n"] == 10
    assert len(line.splitlines()) == 1 and "not now" in line
    assert "python -m coursekit reproduce toy_study" in line and "profile" not in line


def test_provenance_records_the_threads_a_study_sets_for_itself(toy_study):
    cfg = setup(seed=0, profile="fast", verbose=False)
    assert R.run_study(toy_study, cfg)["provenance"]["threads"] == cfg.threads
    R.STUDIES.items[toy_study].threads = 1          # its runs set one thread themselves
    assert R.run_study(toy_study, cfg)["provenance"]["threads"] == 1
    assert R.STUDIES.get("gan_ring").threads == 1


def test_missing_corrupt_or_foreign_result_files_are_clear_errors(tmp_path, toy_study):
    with pytest.raises(R.ResultError, match="not found.*reproduce toy_study"):
        R.load_result(toy_study, directory=tmp_path)
    (tmp_path / "toy_study.json").write_text("{not json")
    with pytest.raises(R.ResultError, match="cannot be read"):
        R.load_result(toy_study, directory=tmp_path)
    (tmp_path / "toy_study.json").write_text(json.dumps({"format": R.FORMAT,
                                                         "provenance": {"study": "other"}}))
    with pytest.raises(R.ResultError, match="not a result of study 'toy_study'"):
        R.load_result(toy_study, directory=tmp_path)


def test_full_profile_sizes_the_study_and_agrees_with_the_small_run(toy_study):
    full = R.run_study(toy_study, setup(seed=0, profile="full", verbose=False))["results"]
    small = R.run_study(toy_study, setup(seed=1, profile="default", verbose=False))["results"]
    assert full["n"] == 1000 and small["n"] == 100
    assert R.schema(full) == R.schema(small)
    ok, why = _agrees(small, full)
    assert ok, why


def test_agrees_with_committed_checks_schema_then_the_studys_own_error(tmp_path, toy_study,
                                                                      monkeypatch):
    monkeypatch.setattr(R, "RESULTS_DIR", tmp_path)
    R.reproduce(toy_study, profile="full", directory=tmp_path)
    ok, why = R.agrees_with_committed(toy_study, setup(seed=1, profile="default", verbose=False))
    assert ok and "3 s.e." in why
    R.STUDIES.add(toy_study, R.Study(toy_study, lambda cfg: {"n": 1}, "other", "00"))
    ok, why = R.agrees_with_committed(toy_study, setup(seed=1, profile="default", verbose=False))
    assert not ok and "another schema" in why


def test_runs_that_differ_in_a_same_key_are_not_compared_and_say_so(toy_study):
    study = R.Study("t", _toy, "t", "00", agrees=_agrees, same=("n",))
    ok, why = study.check({"n": 10, "mean": 0.0, "se": 1.0}, {"n": 1000, "mean": 9.0, "se": 0.1})
    assert ok is None and "not comparable" in why and "n = 10 here, 1000" in why
    ok, why = study.check({"n": 10, "mean": 9.0, "se": 1.0}, {"n": 10, "mean": 9.0, "se": 0.1})
    assert ok is True and "3 s.e." in why


def test_paired_yields_common_entries_and_notes_the_others():
    notes: list[str] = []
    pairs = list(R.paired({"a": 1, "b": 2}, {"a": 10}, notes))
    assert pairs == [("a", 1, 10)] and notes == ["b: not in the full study"]


def test_schema_sees_a_changed_key_or_type():
    assert R.schema({"a": 1.0, "b": [{"c": 2}]}) == R.schema({"b": [{"c": 5.5}], "a": 3})
    assert R.schema({"a": 1.0}) != R.schema({"a": "x"})
    assert R.schema({"a": [1.0]}) != R.schema({"a": {"x": 1.0}})


def test_results_must_be_json_numbers():
    with pytest.raises(TypeError, match="numbers, strings"):
        R._jsonable({"x": object()})


COMMITTED = sorted(R.RESULTS_DIR.glob("*.json"))


@pytest.mark.slow
@pytest.mark.parametrize("path", COMMITTED or [None], ids=lambda p: p.stem if p else "none")
def test_every_committed_result_is_remade_by_its_command_in_the_fast_variant(path):
    """The study behind each committed file runs in the fast profile with the same schema, and a
    fast run agrees with the committed full result within its stated error (where the study
    states one)."""
    if path is None:
        pytest.skip("no committed result files yet")
    name = path.stem
    committed = R.load_result(name, verbose=False)
    record = json.loads(path.read_text())
    study = R.STUDIES.get(name)
    assert record["provenance"]["command"] == study.command
    assert record["provenance"]["profile"] == "full"
    assert committed, f"{name}: empty results"
    ok, why = R.agrees_with_committed(name, setup(seed=0, profile="fast", verbose=False))
    assert ok is not False, why
    if ok is None:  # a fast run is too small to compare: a slow test compares a default-size one
        assert name in CHECKED_AT_DEFAULT_SIZE, f"{name}: {why}, and no test compares another run"


#: Studies whose fast run differs from the full one in a `same` key (n, steps), with the test
#: that compares a default-size run with the committed file instead.
CHECKED_AT_DEFAULT_SIZE = {
    "compare_models": "tests/labs/test_compare_studies.py::"
                      "test_default_size_run_of_the_cheap_models_agrees_with_the_committed_table",
    "gan_ring": "tests/labs/test_gan_studies.py::"
                "test_default_profile_runs_equal_or_agree_with_the_committed_study"}
