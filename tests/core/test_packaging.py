"""Packaging: one version, the declared Python range parses, environment.yml = the students' part of pyproject."""
import ast
import os
import re
import sys
from pathlib import Path

import pytest

import coursekit as ck

ROOT = Path(__file__).resolve().parents[2]
# tomllib is Python ≥ 3.11; the project declares 3.10, where this module must still collect.
tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python >= 3.11")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _env_pip_deps() -> list[str]:
    deps, inside = [], False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        s = line.strip()
        if s == "- pip:":
            inside = True
            continue
        if inside and s.startswith("- "):
            deps.append(s[2:].strip().strip('"'))
    return [d for d in deps if d != "-e ."]


def test_environment_yml_lists_what_a_student_needs_and_nothing_else():
    """Binder and conda users get the students' dependencies; the extras (tests, website,
    browser) stay in pyproject.toml for instructors."""
    declared = list(_pyproject()["project"]["dependencies"])
    assert sorted(_env_pip_deps()) == sorted(declared)


def test_students_do_not_install_the_test_tools():
    names = {re.split(r"[<>=!~ \[]", d, maxsplit=1)[0] for d in
             _pyproject()["project"]["dependencies"]}
    assert not names & {"pytest", "nbval", "nbconvert", "ruff", "playwright"}
    extras = _pyproject()["project"]["optional-dependencies"]
    assert {"test", "dev"} <= set(extras)


def test_python_and_torch_pins():
    text = (ROOT / "environment.yml").read_text()
    assert "python=3.11" in text and "-e ." in text
    deps = _pyproject()["project"]["dependencies"]
    # the range `make test-compat` runs: oldest 2.9.1 / 0.24.1, newest 2.14.1 / 0.29.1 (no
    # torchvision for torch 2.15 exists yet)
    assert "torch>=2.9,<2.15" in deps and "torchvision>=0.24,<0.30" in deps
    assert _pyproject()["project"]["requires-python"] == ">=3.10"  # no cap below torch's


def test_the_version_is_written_once():
    project = _pyproject()
    assert "version" in project["project"]["dynamic"] and "version" not in project["project"]
    assert project["tool"]["setuptools"]["dynamic"]["version"]["attr"] == (
        "coursekit._version.__version__")
    assert ck.__version__ == re.search(r'__version__ = "(.+)"',
                                       (ROOT / "coursekit" / "_version.py").read_text())[1]


def test_license_file_exists_and_is_declared():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert _pyproject()["project"]["license-files"] == ["LICENSE"]
    build = _pyproject()["build-system"]["requires"]
    assert any(re.fullmatch(r"setuptools>=(\d+)", r) and int(r.split(">=")[1]) >= 77
               for r in build), "an SPDX license string needs setuptools >= 77"


def test_every_source_file_parses_with_the_oldest_declared_python():
    low = re.search(r">=\s*3\.(\d+)", _pyproject()["project"]["requires-python"])
    oldest = (3, int(low[1]))
    files = [p for folder in ("coursekit", "tests", "benchmarks", "scripts")
             for p in (ROOT / folder).rglob("*.py")]
    assert len(files) > 20
    for path in files:
        ast.parse(path.read_text(), filename=str(path), feature_version=oldest)
    # modules that exist only in newer Pythons must be guarded (importorskip or try/except)
    for path in files:
        text = path.read_text()
        assert not re.search(r"^import tomllib", text, re.M), (
            f"{path}: a top-level `import tomllib` breaks Python {oldest[0]}.{oldest[1]}")
    assert sys.version_info >= oldest


def test_ci_runs_make_test():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in ci and "make test" in ci


@pytest.mark.slow
def test_a_plain_install_finds_the_course_data_through_coursekit_data(tmp_path):
    """A JupyterHub image installs the course with `pip install .` (no -e): the installed package
    then finds MNIST and the checkpoints through COURSEKIT_DATA, from a copy of data/ whose
    cache folder cannot be written (the decoded cache goes to the user's cache folder)."""
    import shutil
    import subprocess

    wheels, site, data = tmp_path / "wheels", tmp_path / "site", tmp_path / "course-data"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "-w", str(wheels), str(ROOT)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                    str(site), *map(str, wheels.glob("coursekit-*.whl"))], check=True)
    shutil.copytree(ROOT / "data" / "mnist", data / "mnist")
    (data / "checkpoints").mkdir()
    for f in ("ae.pt", "ae.md"):
        shutil.copy(ROOT / "data" / "checkpoints" / f, data / "checkpoints" / f)
    (data / "cache").write_text("a file where the cache folder would go: not writable as a folder")
    script = ("import coursekit as ck, torch; print(ck.__file__); "
              "print(len(ck.load_mnist('train')), len(ck.load_mnist('heldout'))); "
              "print(type(ck.pretrained('ae', verbose=False).model).__name__)")
    env = {**os.environ, "PYTHONPATH": str(site), "COURSEKIT_DATA": str(data),
           "XDG_CACHE_HOME": str(tmp_path / "usercache")}
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, check=True,
                         capture_output=True, text=True).stdout.splitlines()
    assert out[0].startswith(str(site)), out  # the installed copy, not the source tree
    assert out[1] == "9000 1000" and out[2] == "Autoencoder", out
    assert (tmp_path / "usercache" / "coursekit" / "mnist_offline.pt").exists()
