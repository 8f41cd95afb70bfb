"""environment.yml and pyproject.toml must list the same dependencies."""
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _env_pip_deps():
    deps, inside = [], False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        s = line.strip()
        if s == "- pip:":
            inside = True
            continue
        if inside and s.startswith("- "):
            deps.append(s[2:].strip().strip('"'))
    return [d for d in deps if d != "-e ."]


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert sorted(_env_pip_deps()) == sorted(project["dependencies"])


def test_python_and_torch_pins():
    text = (ROOT / "environment.yml").read_text()
    assert "python=3.11" in text and "-e ." in text
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "torch>=2.14,<2.15" in deps and "torchvision>=0.29,<0.30" in deps


def test_ci_runs_make_test():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in ci and "make test" in ci
