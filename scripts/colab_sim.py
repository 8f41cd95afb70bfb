#!/usr/bin/env python
"""Offline simulation of a student's Colab session with the handed-out editions (`make test-colab`).

What a student does: open a notebook of the student edition (`nbtools.py student … --repo URL`)
on a Colab runtime that has torch, torchvision, numpy, matplotlib and Jupyter but not coursekit,
torchmetrics, ipywidgets or tqdm; run every cell. The first cell (the Colab bootstrap) clones
the course and installs it with `pip install --no-deps -e`, plus the packages Colab lacks.

Here, offline:

1. a venv under build/colab-sim/venv with another torch than .venv's (default 2.9.1 /
   torchvision 0.24.1, the oldest declared), numpy, matplotlib, ipykernel, nbclient, nbval and
   pytest — and none of coursekit, torchmetrics, ipywidgets, tqdm (checked);
2. a bare clone of this repository's HEAD (build/colab-sim/origin.git) stands in for the
   public URL (file://…); the student edition is built with that URL;
3. each notebook of the student edition runs in the fast profile, every cell (nbclient, as
   `jupyter nbconvert --execute`), in a fresh runtime: the venv reset to its base packages and
   an empty working directory outside the repository, so the bootstrap's clone +
   `pip install --no-deps` path is the one exercised. A probe cell appended at the end records
   what the kernel used (torch, where coursekit came from, which MNIST source);
4. the same again ("full-mnist" pass) with a clone that holds a fake full-MNIST layout
   (torchvision's raw files in data/MNIST/raw: a 60,000-image train set made from the offline
   split's train images, and the official 10k test set, which contains them): live training
   may use the 60k, the held-out set must stay the offline split's 1,000 images.

A notebook passes when every cell runs, the kernel used the venv's torch and the clone's
coursekit, torch/torchvision were left as they were, the bootstrap installed what was missing,
COURSEKIT_DOWNLOAD was never set, and the held-out set is the offline split's 1,000 images
(none of them a checkpoint's training image). Results: build/colab-sim/summary.json and the
executed notebooks in build/colab-sim/out/<pass>/.

    python scripts/colab_sim.py                       # both passes, every notebook
    python scripts/colab_sim.py --torch 2.9.1:0.24.1 --python python3.12 --pass offline \\
        --notebooks notebooks/00_start_here.ipynb
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIM = ROOT / "build" / "colab-sim"
#: What the runtime has before the bootstrap runs (besides torch/torchvision): Colab's own
#: scientific stack and what executes notebooks. Not the `jupyter` metapackage: it pulls
#: ipywidgets, which the bootstrap has to install.
BASE_PACKAGES = ["numpy", "matplotlib", "ipykernel", "nbclient", "nbformat", "nbval", "pytest"]
#: Colab lacks these; the bootstrap must install them (and coursekit itself).
MISSING = ("coursekit", "torchmetrics", "ipywidgets", "tqdm")
PASSES = ("offline", "full-mnist")
CLONE_DIR = "aegm-course"  # where the bootstrap clones to (nbtools.BOOTSTRAP)
PROBE_MARK = "COLAB-SIM-PROBE "
PROBE = '''\
# colab-sim probe (not part of the course): what did this runtime use?
import hashlib as _h, importlib.metadata as _md, json as _j, os as _o, sys as _s
import torch as _t, torchvision as _tv, coursekit as _ck
from coursekit.core import data as _D
_train, _held = _D.load_mnist("train"), _D.load_mnist("heldout")
_seen = {_h.md5(img.numpy().tobytes()).digest()
         for img in _D._offline_tensors(_D.DATA_DIR)["train_x"]}
_held_u8 = _held.x.squeeze(1).mul(255).round().byte()
def _ver(d):
    try:
        return _md.version(d)
    except _md.PackageNotFoundError:
        return None
print("COLAB-SIM-PROBE " + _j.dumps({
    "python": _s.executable, "python_version": _s.version.split()[0],
    "torch": _t.__version__, "torchvision": _tv.__version__,
    "coursekit_file": _ck.__file__, "data_dir": str(_D.DATA_DIR),
    "train_source": _train.source, "n_train": len(_train),
    "heldout_source": _held.source, "n_heldout": len(_held),
    "heldout_images_seen_in_training": sum(_h.md5(i.numpy().tobytes()).digest() in _seen
                                           for i in _held_u8),
    "COURSEKIT_DOWNLOAD": _o.environ.get("COURSEKIT_DOWNLOAD"),
    "dists": {d: _ver(d) for d in ("torchmetrics", "ipywidgets", "tqdm")}}))'''


def log(msg: str) -> None:
    print(f">> {msg}", flush=True)


def canon(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def run(cmd: list, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


# ----------------------------------------------------------------------------- the runtime (venv)
def pip_list(py: Path) -> dict[str, dict]:
    """{normalised name: pip's record (name, version, editable_project_location?)}."""
    out = run([py, "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
              capture_output=True, text=True).stdout
    return {canon(d["name"]): d for d in json.loads(out)}


def packages_to_reset(base: dict[str, str], now: dict[str, str]) -> tuple[list[str], list[str]]:
    """(to uninstall, to reinstall as `name==version`) to bring `now` back to `base`
    ({normalised name: version} both)."""
    extra = sorted(n for n in now if n not in base)
    changed = sorted(f"{n}=={v}" for n, v in base.items() if now.get(n) != v)
    return extra, changed


def ensure_runtime(venv: Path, python: str, torch: str, vision: str) -> dict[str, str]:
    """Create (or reuse) the venv; return its base packages {name: version}."""
    py, stamp = venv / "bin" / "python", venv / ".colab-sim.json"
    want = {"python": python, "torch": torch, "torchvision": vision, "packages": BASE_PACKAGES}
    if stamp.exists():
        have = json.loads(stamp.read_text())
        if {k: have.get(k) for k in want} == want and py.exists():
            log(f"reusing {venv} (torch {torch}, torchvision {vision})")
            return have["base"]
        log(f"{venv} was made for {[have.get(k) for k in want]}: recreating it")
    shutil.rmtree(venv, ignore_errors=True)
    log(f"creating {venv} with {python}: torch {torch}, torchvision {vision} and "
        f"{', '.join(BASE_PACKAGES)} (PyPI's torch brings CUDA libraries: GBs, minutes)")
    run([python, "-m", "venv", venv])
    run([py, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    run([py, "-m", "pip", "install", "--quiet", f"torch=={torch}", f"torchvision=={vision}",
         *BASE_PACKAGES])
    base = {n: d["version"] for n, d in pip_list(py).items()}
    present = [m for m in MISSING if m in base]
    if present:
        raise SystemExit(f"the simulated Colab runtime must lack {', '.join(MISSING)} (the "
                         f"bootstrap installs them) but {present} came with {BASE_PACKAGES}")
    stamp.write_text(json.dumps({**want, "base": base}, indent=1) + "\n")
    return base


def reset_runtime(py: Path, base: dict[str, str]) -> None:
    """A fresh Colab runtime: remove what an earlier bootstrap installed."""
    now = {n: d["version"] for n, d in pip_list(py).items()}
    extra, changed = packages_to_reset(base, now)
    if extra:
        run([py, "-m", "pip", "uninstall", "--quiet", "--yes", *extra])
    if changed:
        log(f"restoring {changed}")
        run([py, "-m", "pip", "install", "--quiet", "--no-deps", *changed])


# ----------------------------------------------------------------------------- the "public" repo
def fake_full_mnist(data_dir: Path, raw: Path, n_train: int = 60_000) -> dict[str, int]:
    """Write torchvision's raw MNIST layout into `raw` (data/MNIST/raw), uncompressed as
    torchvision leaves it: the official 10k test set (the offline files: it contains the 9,000
    images every checkpoint was trained on) and an `n_train`-image train set made of the
    offline split's train images shifted by up to one pixel (never a held-out image)."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from coursekit.core import data as D

    raw.mkdir(parents=True, exist_ok=True)
    images = D.read_idx(data_dir / "mnist" / D.OFFLINE_FILES["images"][0], (None, 28, 28))
    labels = D.read_idx(data_dir / "mnist" / D.OFFLINE_FILES["labels"][0], (None,))
    import torch

    train_idx, _ = D.stratified_split(torch.from_numpy(labels.astype(np.int64)), D.N_HELDOUT)
    tx, ty = images[train_idx.numpy()], labels[train_idx.numpy()]
    shifts = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1), (1, -1), (-1, 1)]
    reps = -(-n_train // len(tx))
    if reps > len(shifts):
        raise ValueError(f"n_train={n_train}: at most {len(shifts) * len(tx)} images")
    fx = np.concatenate([np.roll(tx, s, axis=(1, 2)) for s in shifts[:reps]])[:n_train]
    fy = np.concatenate([ty] * reps)[:n_train]

    def idx(path: Path, arr: np.ndarray) -> None:
        head = bytes([0, 0, 8, arr.ndim]) + b"".join(d.to_bytes(4, "big") for d in arr.shape)
        path.write_bytes(head + np.ascontiguousarray(arr, dtype=np.uint8).tobytes())

    idx(raw / "train-images-idx3-ubyte", fx)
    idx(raw / "train-labels-idx1-ubyte", fy)
    for key, name in (("images", "t10k-images-idx3-ubyte"), ("labels", "t10k-labels-idx1-ubyte")):
        with gzip.open(data_dir / "mnist" / D.OFFLINE_FILES[key][0], "rb") as f:
            (raw / name).write_bytes(f.read())
    return {"train": len(fx), "test": len(images)}


def make_origin(bare: Path, full_mnist: bool = False) -> str:
    """A bare clone of HEAD at `bare` (with `full_mnist`, plus a commit adding a fake full-MNIST
    layout); returns its file:// URL."""
    shutil.rmtree(bare, ignore_errors=True)
    if not full_mnist:
        run(["git", "clone", "--quiet", "--bare", ROOT, bare])
        return bare.resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="colab-sim-origin-") as tmp:
        work = Path(tmp) / "repo"
        run(["git", "clone", "--quiet", ROOT, work])
        n = fake_full_mnist(work / "data", work / "data" / "MNIST" / "raw")
        run(["git", "-C", work, "add", "--force", "data/MNIST/raw"])
        run(["git", "-C", work, "-c", "user.name=colab-sim", "-c", "user.email=colab-sim@localhost",
             "commit", "--quiet", "-m", f"colab-sim: fake full MNIST layout ({n['train']:,} train "
             f"images from the offline split's train set, the official {n['test']:,} test set)"])
        run(["git", "clone", "--quiet", "--bare", work, bare])
    return bare.resolve().as_uri()


def dirty_paths() -> list[str]:
    out = run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no", "--",
               "coursekit", "data", "pyproject.toml"], capture_output=True, text=True).stdout
    return [line[3:] for line in out.splitlines()]


# ----------------------------------------------------------------------------- one notebook
def run_notebook(nb_path: Path, out_path: Path, result_path: Path, timeout: int) -> int:
    """(Runs inside the simulated runtime, cwd = a fresh working directory.) Execute every
    cell of `nb_path` and the probe; write the executed notebook and a JSON result."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(str(nb_path), as_version=4)
    n_course = len(nb.cells)
    probe = nbformat.v4.new_code_cell(PROBE)
    probe.metadata["tags"] = ["colab-sim-probe"]
    nb.cells.append(probe)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": os.getcwd()}})
    result: dict = {"ok": True, "error": None, "failed_cell": None}
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as e:
        bad = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code" and any(
            o.get("output_type") == "error" for o in c.get("outputs", []))), None)
        result.update(ok=False, failed_cell=bad,
                      error=f"{getattr(e, 'ename', '')}: {getattr(e, 'evalue', '')}".strip(": "))
    except Exception as e:  # a timeout, a dead kernel
        result.update(ok=False, error=f"{type(e).__name__}: {e}")
    result["seconds"] = round(time.perf_counter() - start, 1)
    result["cells"] = n_course
    boot = next((c for c in nb.cells if "bootstrap" in c.metadata.get("tags", [])), None)
    result["bootstrap_cell"] = boot is not None
    result["bootstrap_s"] = cell_seconds(boot) if boot is not None else None
    # What the student sees under the cell: pip's red "ERROR: …" lines would alarm a class.
    result["bootstrap_errors"] = [line for o in (boot.outputs if boot is not None else [])
                                  for line in o.get("text", "").splitlines()
                                  if re.search(r"\bERROR\b|Traceback", line)]
    result["probe"] = None
    for o in probe.get("outputs", []):
        for line in o.get("text", "").splitlines():
            if line.startswith(PROBE_MARK):
                result["probe"] = json.loads(line[len(PROBE_MARK):])
    nbformat.write(nb, str(out_path))
    result_path.write_text(json.dumps(result, indent=1) + "\n")
    return 0


def cell_seconds(cell) -> float | None:
    t = cell.metadata.get("execution", {})
    a, b = t.get("iopub.execute_input"), t.get("shell.execute_reply")
    if not (a and b):
        return None
    a, b = (datetime.fromisoformat(s.replace("Z", "+00:00")) for s in (a, b))
    return round((b - a).total_seconds(), 1)


def verdict(res: dict, pass_name: str, torch: str, vision: str, workdir: Path,
            before: dict, after: dict) -> list[str]:
    """What is wrong with one notebook's run (empty: it passed)."""
    bad = [] if res["ok"] else [f"cell {res['failed_cell']}: {res['error']}"]
    if not res["bootstrap_cell"]:
        bad.append("the edition has no bootstrap cell")
    if res.get("bootstrap_errors"):
        bad.append(f"the bootstrap cell shows the student errors: {res['bootstrap_errors']}")
    if "coursekit" in before:
        bad.append("coursekit was importable before the bootstrap ran (runtime not fresh)")
    for dist, version in (("torch", torch), ("torchvision", vision)):
        if after.get(dist, {}).get("version") != version:
            bad.append(f"{dist} changed: {after.get(dist, {}).get('version')} (wanted {version})")
    ck = after.get("coursekit", {})
    clone = (workdir / CLONE_DIR).resolve()
    if Path(ck.get("editable_project_location") or "/nonexistent").resolve() != clone:
        bad.append(f"coursekit not installed (editable) from the bootstrap's clone: {ck or None}")
    for dist in MISSING[1:]:
        if dist not in after:
            bad.append(f"the bootstrap did not install {dist}")
    p = res["probe"]
    if not res["ok"]:
        return bad
    if p is None:
        return [*bad, "the probe printed nothing"]
    if not p["torch"].startswith(torch) or not p["torchvision"].startswith(vision):
        bad.append(f"the kernel used torch {p['torch']} / torchvision {p['torchvision']}")
    if not Path(p["coursekit_file"]).resolve().is_relative_to(clone):
        bad.append(f"the kernel imported coursekit from {p['coursekit_file']}, not the clone")
    if p["COURSEKIT_DOWNLOAD"] is not None:
        bad.append(f"COURSEKIT_DOWNLOAD={p['COURSEKIT_DOWNLOAD']!r} in the kernel")
    want_train = ("offline-10k", 9000) if pass_name == "offline" else ("full-60k", 60000)
    if (p["train_source"], p["n_train"]) != want_train:
        bad.append(f"train set {p['train_source']} ({p['n_train']}), wanted {want_train}")
    if (p["heldout_source"], p["n_heldout"]) != ("offline-10k", 1000):
        bad.append(f"held-out set {p['heldout_source']} ({p['n_heldout']}), wanted the offline 1,000")
    if p["heldout_images_seen_in_training"]:
        bad.append(f"{p['heldout_images_seen_in_training']} held-out images are training images")
    return bad


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--torch", default="2.9.1:0.24.1", help="TORCH:TORCHVISION of the runtime")
    p.add_argument("--python", default=sys.executable,
                   help="interpreter of the runtime's venv (Colab runs Python 3.12)")
    p.add_argument("--notebooks", nargs="+", type=Path,
                   default=sorted((ROOT / "notebooks").glob("*.ipynb")))
    p.add_argument("--pass", dest="passes", nargs="+", choices=PASSES, default=list(PASSES))
    p.add_argument("--edition", choices=("student", "lab"), default="student",
                   help="which handed-out edition to run (student: self-study, the larger one)")
    p.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    p.add_argument("--keep", action="store_true", help="keep the working directories")
    p.add_argument("--run-notebook", nargs=3, type=Path, metavar=("NB", "OUT", "RESULT"),
                   help=argparse.SUPPRESS)  # internal: runs inside the simulated runtime
    args = p.parse_args(argv)
    if args.run_notebook:
        return run_notebook(*args.run_notebook, timeout=args.timeout)

    torch, vision = args.torch.split(":")
    python = shutil.which(args.python) or args.python
    started = time.perf_counter()
    if dirty := dirty_paths():
        log(f"note: the clone is HEAD; uncommitted changes are not simulated: {dirty}")
    venv = SIM / "venv"
    base = ensure_runtime(venv, python, torch, vision)
    py = venv / "bin" / "python"

    sys.path.insert(0, str(ROOT / "scripts"))
    import nbtools

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("COURSEKIT_", "VIRTUAL_ENV", "CONDA_", "PYTHONPATH", "JUPYTER_"))}
    env.update(COURSEKIT_FAST="1", MPLBACKEND="Agg", PATH=f"{venv / 'bin'}:{env.get('PATH', '')}")
    results, failed = [], 0
    for pass_name in args.passes:
        origin = SIM / ("origin.git" if pass_name == "offline" else "origin-full-mnist.git")
        url = make_origin(origin, full_mnist=pass_name == "full-mnist")
        editions = SIM / "editions" / pass_name
        shutil.rmtree(editions, ignore_errors=True)
        with open(os.devnull, "w") as quiet:
            stdout, sys.stdout = sys.stdout, quiet
            try:
                nbtools.main(["student", *map(str, args.notebooks), "--out",
                              str(editions / "student"), "--repo", url])
            finally:
                sys.stdout = stdout
        for edition in sorted((editions / args.edition).glob("*.ipynb")):
            boot = [c.source for c in nbtools.read(edition).cells
                    if nbtools.BOOTSTRAP_TAG in nbtools.tags(c)]
            if len(boot) != 1 or "COURSEKIT_DOWNLOAD" in boot[0] or url not in boot[0]:
                raise SystemExit(f"{edition}: expected one bootstrap cell that clones {url} "
                                 "and never sets COURSEKIT_DOWNLOAD (the shipped offline split)")
        out_dir = SIM / "out" / pass_name
        shutil.rmtree(out_dir, ignore_errors=True)
        out_dir.mkdir(parents=True)
        log(f"pass '{pass_name}': the {args.edition} edition from {url} (torch {torch})")
        for nb in args.notebooks:
            reset_runtime(py, base)
            before = pip_list(py)
            workdir = Path(tempfile.mkdtemp(prefix=f"colab-sim-{pass_name}-"))  # not the repo
            shutil.copy(editions / args.edition / nb.name, workdir / nb.name)
            result_path = out_dir / f"{nb.stem}.json"
            t0 = time.perf_counter()
            log_path = out_dir / f"{nb.stem}.log"  # the kernel's and pip's own chatter
            with open(log_path, "w") as kernel_log:
                run([py, Path(__file__).resolve(), "--timeout", args.timeout, "--run-notebook",
                     nb.name, out_dir / nb.name, result_path],
                    cwd=workdir, stdout=kernel_log, stderr=subprocess.STDOUT,
                    env={**env, "JUPYTER_DATA_DIR": str(workdir / ".jupyter"),
                         "IPYTHONDIR": str(workdir / ".ipython")})
            res = json.loads(result_path.read_text())
            # A shared machine slows the kernel's threads a lot: say how loaded it was.
            res.update(wall_s=round(time.perf_counter() - t0, 1),
                       load_avg_1min=round(os.getloadavg()[0], 2))
            problems = verdict(res, pass_name, torch, vision, workdir, before, pip_list(py))
            res.update(notebook=nb.name, ok=not problems, problems=problems, workdir=str(workdir))
            failed += bool(problems)
            results.append({"pass": pass_name, **res})
            result_path.write_text(json.dumps(res, indent=1) + "\n")
            pr = res["probe"] or {}
            print(f"{'PASS' if not problems else 'FAIL'} {pass_name:10s} {nb.name:26s} "
                  f"{res['wall_s']:6.1f} s (bootstrap {res['bootstrap_s']} s, load "
                  f"{res['load_avg_1min']}) torch "
                  f"{pr.get('torch')}, train {pr.get('train_source')} ({pr.get('n_train')}), "
                  f"held-out {pr.get('heldout_source')} ({pr.get('n_heldout')})", flush=True)
            for problem in problems:
                print(f"     {problem}", flush=True)
            if problems:
                print(f"     kernel log: {log_path}; executed notebook: {out_dir / nb.name}")
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
    reset_runtime(py, base)
    wall = round(time.perf_counter() - started, 1)
    summary = {"torch": torch, "torchvision": vision, "python": results[0]["probe"]["python_version"]
               if results and results[0]["probe"] else None, "wall_s": wall, "results": results}
    (SIM / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    log(f"make test-colab: {len(results) - failed}/{len(results)} notebook runs passed, wall time "
        f"{wall} s; details in {SIM / 'summary.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
