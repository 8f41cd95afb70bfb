"""Results of the heavy studies, saved with their provenance and loaded back by the notebooks.

A study is a function ``run(cfg) -> dict`` of JSON-serialisable numbers that sizes itself with
``cfg.scale(default, fast, full)``. Its ``full``-profile result is committed as
``data/results/NAME.json`` together with how it was made (command, seed, profile, versions,
date, CPU time); a notebook in the default profile shows that file — saying so in one printed
line that names the command to remake it — next to its own smaller measurement.

    python -m coursekit reproduce NAME          # full profile, writes data/results/NAME.json
    python -m coursekit reproduce --all         # every study (make reproduce)
"""
from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .._version import __version__
from .config import DATA_DIR, ROOT, Config, setup
from .registry import Registry

FORMAT = "coursekit-result-v1"
RESULTS_DIR = DATA_DIR / "results"
#: Modules whose import registers studies (loaded by name on first use, like the recipes).
STUDY_MODULES: tuple[str, ...] = ("coursekit.labs.vae_studies", "coursekit.labs.gan_studies",
                                   "coursekit.labs.diffusion_studies",
                                   "coursekit.labs.compare_studies",
                                   "coursekit.labs.control_studies")


class ResultError(RuntimeError):
    """A result file is missing, unreadable or of another study."""


@dataclass
class Study:
    """A heavy measurement a notebook shows.

    run(cfg) -> dict: the measurement, sized by the profile (cfg.scale(default, fast, full)).
    agrees(small, full) -> (ok, why): whether a smaller run's result agrees with the full one
      within its stated error (tests check it on a fast run); None when no such check applies.
    same: result keys whose values two runs must share to be compared at all (e.g. the sample
      size n: FD ratios at different n are not comparable).
    threads: the intra-op threads its runs use when they set their own (the 2-D toys run on one,
      `coursekit.labs.gan_ring.small_net_cpu`); None: the process's (``cfg.threads``).
    """

    name: str
    run: Callable[[Config], dict]
    description: str
    notebook: str
    agrees: Callable[[dict, dict], tuple[bool, str]] | None = None
    same: tuple[str, ...] = ()
    threads: int | None = None

    @property
    def command(self) -> str:
        return f"python -m coursekit reproduce {self.name}"

    def check(self, small: dict, full: dict) -> tuple[bool | None, str]:
        """(True | False, why) from `agrees`; (None, why) when the runs differ in a key of `same`
        — nothing is checked then, and the reason says so (never a silent pass)."""
        differ = [k for k in self.same if small.get(k) != full.get(k)]
        if differ:
            return None, ("not comparable, nothing checked: "
                          + ", ".join(f"{k} = {small.get(k)} here, {full.get(k)} in the full study"
                                      for k in differ))
        if self.agrees is None:
            return True, "no stated error to compare within"
        return self.agrees(small, full)


def paired(small: dict, full: dict, notes: list[str]):
    """(name, small entry, full entry) for every entry of `small` that `full` also has; the
    others get a note "NAME: not in the full study"."""
    for name, entry in small.items():
        if name not in full:
            notes.append(f"{name}: not in the full study")
            continue
        yield name, entry, full[name]


#: The studies: ``STUDIES.add(name, Study(...))`` in a lab module listed in STUDY_MODULES;
#: ``STUDIES.all()``, ``STUDIES.get(name)``.
STUDIES: Registry[Study] = Registry("study", STUDY_MODULES)


def result_path(name: str, directory: Path | str | None = None) -> Path:
    return Path(directory or RESULTS_DIR) / f"{name}.json"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if torch.is_tensor(value):
        return _jsonable(value.tolist())
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, float):
        return round(value, 6)
    raise TypeError(f"a study result must hold numbers, strings, lists and dicts; got "
                    f"{type(value).__name__}")


def run_study(name: str, cfg: Config) -> dict:
    """Run study `name` in `cfg`'s profile; return {"provenance": …, "results": …}."""
    study = STUDIES.get(name)
    t0, c0 = time.perf_counter(), time.process_time()
    results = _jsonable(study.run(cfg))
    provenance = {
        "study": name, "description": study.description, "notebook": study.notebook,
        "command": study.command + ("" if cfg.profile == "full" else f" --profile {cfg.profile}"),
        "profile": cfg.profile, "seed": cfg.seed, "threads": study.threads or cfg.threads,
        "device": str(cfg.device), "wall_seconds": round(time.perf_counter() - t0, 1),
        "cpu_seconds": round(time.process_time() - c0, 1),
        "versions": {"coursekit": __version__, "torch": str(torch.__version__),
                     "python": platform.python_version()},
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "date": time.strftime("%Y-%m-%d")}
    return {"format": FORMAT, "provenance": provenance, "results": results}


def save_result(record: dict, directory: Path | str | None = None) -> Path:
    """Write a `run_study` record to data/results/NAME.json (atomically)."""
    path = result_path(record["provenance"]["study"], directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


def load_result(name: str, directory: Path | str | None = None, verbose: bool = True) -> dict:
    """The committed full-profile results of study `name`; prints where they come from."""
    path = result_path(name, directory)
    remake = f"python -m coursekit reproduce {name}"
    if not path.exists():
        raise ResultError(f"{path} not found: make it with `{remake}` (or restore it with "
                          f"`git checkout -- {path}`)")
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ResultError(f"{path} cannot be read ({e}); restore it with `git checkout -- "
                          f"{path}` or remake it with `{remake}`") from e
    if record.get("format") != FORMAT or record.get("provenance", {}).get("study") != name:
        raise ResultError(f"{path} is not a result of study {name!r}; remake it with `{remake}`")
    if verbose:
        p = record["provenance"]
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        # What a student needs: these numbers were measured earlier, and how long a remake takes.
        print(f"results loaded from {shown}: measured {p['date']}, not now (remaking them takes "
              f"about {p['cpu_seconds'] / 60:.0f} CPU-min: {remake})")
    return record["results"]


def schema(value: Any) -> Any:
    """The shape of a result: dict keys and value types, lists by their element schema."""
    if isinstance(value, dict):
        return {k: schema(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return ["list", schema(value[0]) if value else None]
    return "number" if isinstance(value, (int, float)) and not isinstance(value, bool) else (
        type(value).__name__)


def agrees_with_committed(name: str, cfg: Config) -> tuple[bool | None, str]:
    """Run study `name` in `cfg`'s profile and compare it with its committed full result: the
    same schema, then `Study.check` (None: the runs are not comparable, nothing checked)."""
    committed = load_result(name, verbose=False)
    small = run_study(name, cfg)["results"]
    if schema(small) != schema(committed):
        return False, f"{name}: a {cfg.profile} run has another schema than the committed file"
    return STUDIES.get(name).check(small, committed)


def reproduce(name: str, profile: str = "full", seed: int = 0,
              directory: Path | str | None = None) -> Path:
    """Entry point of ``python -m coursekit reproduce NAME``: run the study, save it."""
    cfg = setup(seed=seed, profile=profile)
    path = save_result(run_study(name, cfg), directory)
    print(f"saved {path}")
    return path
