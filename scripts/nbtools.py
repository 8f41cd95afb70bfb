#!/usr/bin/env python
"""Instructor tools for the course notebooks: slide metadata, Colab bootstrap, student edition, slides.

    python scripts/nbtools.py slides-metadata notebooks/*.ipynb   # add `slideshow` metadata (in place)
    python scripts/nbtools.py colab notebooks/*.ipynb --repo URL  # add/refresh the Colab bootstrap cell
    python scripts/nbtools.py student notebooks/*.ipynb           # build/student/ (no solutions, no outputs)
                                                                  # and build/lab/ (also no "Going further")
    python scripts/nbtools.py words notebooks/*.ipynb             # visible words and code cells of the lab path
    python scripts/nbtools.py slides notebooks/*.ipynb            # build/slides/*.slides.html, offline
    python scripts/nbtools.py vendor                              # fetch reveal.js + MathJax (npm) only

Every command is idempotent: running it twice gives the same files, and the in-place commands
(`slides-metadata`, `colab`) rewrite a notebook only when something changed.
"""
from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import html
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "templates"

SOLUTION_TAG = "solution"
OPTIONAL_TAG = "optional"   # the "Going further" part: in the self-study edition, not the lab one
#: What a section notebook's lab path may hold (issue lab-first): a 50-minute lab.
LAB_MAX_WORDS, ALL_MAX_WORDS, LAB_MAX_CODE_CELLS = 2000, 3000, 25
#: … and its "Going further" part at most this many more (issue lab-first).
OPTIONAL_MAX_WORDS = 1000
BOOTSTRAP_TAG = "bootstrap"
SETUP_SOURCE = "import coursekit as ck\ncfg = ck.setup(seed=0)"


# ----------------------------------------------------------------------------- helpers
def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def write_if_changed(nb: nbformat.NotebookNode, path: Path) -> bool:
    """Write `nb` to `path` only when its serialisation differs; True when written."""
    new = nbformat.writes(nb) + "\n"
    old = path.read_text(encoding="utf-8") if path.exists() else None
    if old is not None and json.loads(old) == json.loads(new):
        return False
    path.write_text(new, encoding="utf-8")
    return True


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def heading_level(source: str) -> int:
    """Markdown heading level of the cell's first line (0 when it is not a heading)."""
    m = re.match(r"\s*(#{1,6})\s", source)
    return len(m.group(1)) if m else 0


def is_check_cell(cell) -> bool:
    return cell.cell_type == "code" and re.search(r"\bexercises\.check\(", cell.source) is not None


def is_setup_cell(cell) -> bool:
    return cell.cell_type == "code" and cell.source.strip().startswith("import coursekit as ck") \
        and "ck.setup(" in cell.source


# ----------------------------------------------------------------------------- slides metadata
def auto_slide_type(cells, i: int, first_markdown: int) -> str:
    """The slide type the rules give cell `i` (see `slides_metadata`); cells before `i` are done."""
    cell, prev = cells[i], (cells[i - 1] if i else None)
    prev_type = prev.metadata.get("slideshow", {}).get("slide_type") if prev is not None else None
    src = cell.source.strip()
    if not src or BOOTSTRAP_TAG in tags(cell):
        return "skip"
    if SOLUTION_TAG in tags(cell):
        return "fragment"
    if cell.cell_type == "markdown":
        level = heading_level(src)
        if i == first_markdown or level in (1, 2):
            return "slide"
        if level >= 3 or re.match(r"\*\*Exercise", src):
            return "subslide"
        if prev is not None and prev.cell_type == "code":
            return "fragment"          # the takeaway under a figure appears on the next click
        return "-"
    if cell.cell_type == "code":
        if is_setup_cell(cell):
            return "skip"              # ck.setup's one-line report is not slide material
        if is_check_cell(cell):
            return "-"                 # stays with its exercise (and with a solution fragment)
        if prev is not None and prev.cell_type == "markdown" and prev_type in ("slide", "subslide") \
                and SOLUTION_TAG not in tags(prev) \
                and len([ln for ln in prev.source.splitlines() if ln.strip()]) <= 6:
            return "-"                 # a short heading/introduction and its code share a slide
        return "subslide"              # otherwise one code cell (one figure) per slide
    return "skip"                      # raw cells


def slides_metadata(nb, force: bool = False) -> int:
    """Give every cell a ``slideshow.slide_type``; keep the ones authors set unless `force`.

    Rules: the title cell and every `#`/`##` heading start a slide, `###` headings and
    "**Exercise…" paragraphs a subslide; code cells start a subslide (one figure per slide)
    unless they follow a short heading cell; the takeaway under a figure is a fragment; solutions (tag ``solution``)
    are fragments, so the instructor reveals them on a click; check cells stay with their
    exercise; the setup cell, the Colab bootstrap cell and empty cells are skipped.
    Returns the number of cells changed.
    """
    first_markdown = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), -1)
    changed = 0
    for i, cell in enumerate(nb.cells):
        show = cell.metadata.setdefault("slideshow", {})
        if "slide_type" in show and not force:
            continue
        new = auto_slide_type(nb.cells, i, first_markdown)
        if show.get("slide_type") != new:
            show["slide_type"] = new
            changed += 1
    return changed


# ----------------------------------------------------------------------------- Colab bootstrap
BOOTSTRAP = '''\
# Colab / fresh-kernel bootstrap: installs the course package `coursekit` when it is missing.
# On your laptop, on Binder and in CI coursekit is installed, so this cell does nothing.
import importlib.util, os, subprocess, sys
if importlib.util.find_spec("coursekit") is None:
    repo, here = "{repo}", os.path.abspath("aegm-course")
    if not os.path.isdir(here):
        subprocess.run(["git", "clone", "--depth", "1", repo, here], check=True)
    # --no-deps keeps Colab's own torch/torchvision; only the missing packages are added.
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-warn-conflicts", "-e", here],
                   check=True)
    missing = [pkg for mod, pkg in {colab_pins} if importlib.util.find_spec(mod) is None]
    if missing:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-warn-conflicts", *missing],
                       check=True)
    sys.path.insert(0, here)
    # The clone brings the course's own MNIST split (data/mnist/): the same 9,000 / 1,000 images
    # as on a laptop, so the held-out scores mean the same and the live cells take the same time.'''


#: Packages Colab lacks (import name → distribution); their pins come from pyproject.toml.
COLAB_MISSING = {"torchmetrics": "torchmetrics", "ipywidgets": "ipywidgets", "tqdm": "tqdm"}


def colab_pins() -> list[tuple[str, str]]:
    """[(module, "dist>=a,<b"), …] for COLAB_MISSING, read from pyproject.toml's dependencies
    (the one place the pins are written)."""
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    by_name = {re.split(r"[<>=!~ \[]", d, maxsplit=1)[0].lower(): d for d in deps}
    return [(mod, by_name[dist]) for mod, dist in COLAB_MISSING.items()]


def default_repo() -> str | None:
    """The public clone URL: `git remote get-url origin` when it is an https URL."""
    try:
        url = subprocess.run(["git", "-C", str(ROOT), "remote", "get-url", "origin"],
                             capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return url if url.startswith("https://") else None


def colab_bootstrap(nb, repo: str, remove: bool = False) -> bool:
    """Insert (or refresh, or with `remove` delete) the bootstrap cell before the setup cell.

    The cell is tagged ``bootstrap``, collapsed in JupyterLab and skipped in slides; the setup
    cell ``import coursekit as ck / cfg = ck.setup(seed=0)`` is left exactly as it is.
    Returns True when the notebook changed.
    """
    idx = [i for i, c in enumerate(nb.cells) if BOOTSTRAP_TAG in tags(c)]
    if remove:
        for i in reversed(idx):
            del nb.cells[i]
        return bool(idx)
    source = BOOTSTRAP.format(repo=repo, colab_pins=colab_pins())
    if idx:
        cell = nb.cells[idx[0]]
        before = (cell.source, copy.deepcopy(dict(cell.metadata)))
        cell.source = source
    else:
        setup = next((i for i, c in enumerate(nb.cells) if is_setup_cell(c)), None)
        if setup is None:
            raise SystemExit(f"no setup cell ({SETUP_SOURCE!r}) found: where should the "
                             "bootstrap go? Add the setup cell first.")
        cell = nbformat.v4.new_code_cell(source)
        nb.cells.insert(setup, cell)
        before = None
    cell.metadata["tags"] = [BOOTSTRAP_TAG]
    cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
    cell.metadata["slideshow"] = {"slide_type": "skip"}
    return before is None or before != (cell.source, dict(cell.metadata))


# ----------------------------------------------------------------------------- student edition
def student_edition(nb, lab: bool = False) -> nbformat.NotebookNode:
    """Solution cells removed, outputs and execution counts cleared, widget state dropped;
    with `lab`, the "Going further" cells (tag ``optional``) removed too (the lab edition).

    Same result as ``jupyter nbconvert --to notebook --ClearOutputPreprocessor.enabled=True
    --TagRemovePreprocessor.enabled=True --TagRemovePreprocessor.remove_cell_tags solution``,
    which this function runs through nbconvert's own preprocessors.
    """
    from nbconvert.preprocessors import ClearOutputPreprocessor, TagRemovePreprocessor

    nb = copy.deepcopy(nb)
    removed = {SOLUTION_TAG, OPTIONAL_TAG} if lab else {SOLUTION_TAG}
    nb, _ = TagRemovePreprocessor(enabled=True, remove_cell_tags=removed).preprocess(nb, {})
    nb, _ = ClearOutputPreprocessor(enabled=True).preprocess(nb, {})
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    leaks = [i for i, c in enumerate(nb.cells) if SOLUTION_TAG in tags(c)]
    if leaks:  # cannot happen unless nbconvert changes: never ship a solution silently
        raise RuntimeError(f"solution cells survived at indices {leaks}")
    return nb


def clear_check_outputs(nb) -> int:
    """Empty the saved outputs of the check cells (a "✓ correct" under an exercise whose
    solution is not shown would give the answer away); returns how many were cleared."""
    cleared = 0
    for cell in nb.cells:
        if is_check_cell(cell) and cell.get("outputs"):
            cell.outputs = []
            cleared += 1
    return cleared


def solution_sources(nb) -> list[str]:
    return [c.source for c in nb.cells if SOLUTION_TAG in tags(c)]


# ----------------------------------------------------------------------------- the lab path
# Counted as ../shared/tools/nbwords.py counts (the reviewers' tool): visible words are markdown
# cells and the outputs a student reads; code is counted in cells, not words.
_WORD = re.compile(r"[A-Za-z0-9α-ωΑ-Ω][\w'’.,:;=×/-]*")


def hidden_input(cell) -> bool:
    """A cell whose code the student does not see (only its output)."""
    return (bool(cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"))
            or bool(set(tags(cell)) & {"remove-input", "hide-input", "remove-cell"}))


def output_texts(cell, stderr: bool = False) -> list[str]:
    """The texts of a code cell's outputs that a reader sees (stderr, e.g. progress bars, only
    when asked); figures and widgets are not text."""
    texts = []
    for o in cell.get("outputs", []):
        kind = o.get("output_type")
        if kind == "stream" and (o.get("name") == "stdout" or stderr):
            texts.append("".join(o.get("text", "")))
        elif kind in ("display_data", "execute_result"):
            d = o.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in d:
                continue
            if "text/markdown" in d:
                texts.append("".join(d["text/markdown"]))
            elif not {"text/html", "image/png", "image/svg+xml"} & set(d) and "text/plain" in d:
                texts.append("".join(d["text/plain"]))
        elif kind == "error":
            texts.append(f"{o.get('ename')}: {o.get('evalue')}")
    return texts


def visible_counts(nb) -> dict[str, int]:
    """lab_words / all_words: visible words on the lab path / with the optional part;
    lab_code_cells: code cells on the lab path whose code the student sees. Solutions excluded."""
    lab = all_ = code = 0
    for c in nb.cells:
        t = set(tags(c))
        if SOLUTION_TAG in t or "remove-cell" in t:
            continue
        text = c.source if c.cell_type == "markdown" else "".join(output_texts(c))
        n = len(_WORD.findall(text))
        all_ += n
        if OPTIONAL_TAG not in t:
            lab += n
            code += c.cell_type == "code" and not hidden_input(c) and bool(c.source.strip())
    return {"lab_words": lab, "all_words": all_, "lab_code_cells": code}


def student_visible_text(cell) -> str:
    """Everything of a (non-solution) cell a student reads: markdown, visible code with its
    comments, outputs (progress bars included)."""
    if cell.cell_type == "markdown":
        return cell.source
    parts = [] if hidden_input(cell) else [cell.source]
    return "\n".join(parts + output_texts(cell, stderr=True))


# ----------------------------------------------------------------------------- vendored assets
#: npm packages served next to the slides (exact versions, checked against their sha512).
VENDOR = {
    "reveal.js": ("4.6.0", "sha512-QC80rYsZldAe95bW9VImucIPTjfsKhI0jRQrIOXU4P92ZyXb/dfw9L3EE96bN6i7"
                           "UmeUl1qBieH4UNTr25erYw=="),
    "mathjax": ("3.2.2", "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjK"
                         "PZGJvtRZM1vO+geW0OhGw=="),
}
#: What to copy from each package into the slides' _static/ folder.
VENDOR_KEEP = {"reveal.js": ["dist", "plugin/notes", "LICENSE"],
               "mathjax": ["es5/tex-chtml-full.js", "es5/output/chtml", "es5/input/tex/extensions",
                           "es5/ui", "es5/a11y", "es5/sre", "es5/adaptors", "LICENSE"]}


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def vendor(cache: Path) -> dict[str, Path]:
    """Fetch the pinned npm tarballs once (``npm pack``) into `cache`, check, unpack.

    Returns package name → unpacked folder. Needs `npm` only the first time.
    """
    cache.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, (version, integrity) in VENDOR.items():
        folder = cache / f"{name}-{version}"
        if (folder / "package.json").exists():
            out[name] = folder
            continue
        tarball = cache / f"{name}-{version}.tgz"
        if not tarball.exists():
            npm = shutil.which("npm")
            if npm is None:
                raise SystemExit(f"npm is needed once to fetch {name}@{version} for offline slides "
                                 "(install Node.js/npm, e.g. `apt-get install npm`, then rerun).")
            print(f">> npm pack {name}@{version}")
            subprocess.run([npm, "pack", "--silent", f"{name}@{version}"], cwd=cache, check=True,
                           stdout=subprocess.DEVNULL)
        found = _integrity(tarball)
        if found != integrity:
            tarball.unlink()
            raise SystemExit(f"{tarball.name}: integrity {found[:30]}…, expected {integrity[:30]}…; "
                             "deleted it, rerun to fetch it again.")
        tmp = Path(tempfile.mkdtemp(dir=cache))
        with tarfile.open(tarball) as tf:
            tf.extractall(tmp, filter="data")
        (tmp / "package").rename(folder)
        tmp.rmdir()
        out[name] = folder
    return out


def install_static(static: Path, cache: Path, names: list[str] | None = None) -> None:
    """Copy the needed parts of the vendored packages (or only `names`) into `static`."""
    for name, folder in vendor(cache).items():
        if names is not None and name not in names:
            continue
        dest = static / name
        stamp = dest / ".version"
        if stamp.exists() and stamp.read_text() == VENDOR[name][0]:
            continue
        shutil.rmtree(dest, ignore_errors=True)
        for part in VENDOR_KEEP[name]:
            src = folder / part
            if src.is_dir():
                shutil.copytree(src, dest / part)
            elif src.exists():
                (dest / part).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / part)
        stamp.write_text(VENDOR[name][0])


# ----------------------------------------------------------------------------- slides
WIDGET_NOTE = ('<div class="ck-live-widget"><em>Live explorer: run this notebook in JupyterLab to '
               'move the sliders (the static view is shown above).</em></div>')


def _progress_parts(state: dict, model_id: str) -> tuple[dict, dict, dict] | None:
    """The final states (left text, bar, right text) of a tqdm bar: an HBox of HTML,
    FloatProgress, HTML; None for any other widget."""
    box = state.get(model_id, {}).get("state", {})
    kids = [state.get(str(c).removeprefix("IPY_MODEL_"), {}) for c in box.get("children", [])]
    if [k.get("model_name") for k in kids] != ["HTMLModel", "FloatProgressModel", "HTMLModel"]:
        return None
    left, bar, right = (k.get("state", {}) for k in kids)
    return left, bar, right


def _progress_text(state: dict, model_id: str, width: int = 10) -> str | None:
    """A tqdm bar's final state as the text tqdm prints: "name: 100%|██████████| 450/450 […]"."""
    parts = _progress_parts(state, model_id)
    if parts is None:
        return None
    left, bar, right = parts
    text = lambda v: html.unescape(str(v or "")).replace("\u2007", " ")  # noqa: E731
    filled = round(width * float(bar.get("value") or 0) / max(float(bar.get("max") or 1), 1e-12))
    filled = min(max(filled, 0), width)
    return f"{text(left.get('value'))}|{'█' * filled}{' ' * (width - filled)}|{text(right.get('value'))}"


def _saved_widgets(nb, drop: bool = False) -> tuple[dict, list[tuple[dict, str]]]:
    """The notebook's saved widget state (removed from its metadata if `drop`) and its widget
    outputs as (output, model id)."""
    meta = nb.metadata.pop("widgets", {}) if drop else nb.metadata.get("widgets", {})
    state = meta.get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    views = [(out, view.get("model_id", "")) for cell in nb.cells
             for out in cell.get("outputs", [])
             if (view := out.get("data", {}).get("application/vnd.jupyter.widget-view+json"))
             is not None]
    return state, views


def final_progress_text(nb) -> int:
    """Set the text/plain of each saved tqdm bar to its final state (tqdm writes its first, 0 %
    state there; viewers without the widget state, e.g. GitHub, show that text). The widget view
    and the saved state stay. Returns the number of bars rewritten."""
    state, views = _saved_widgets(nb)
    n = 0
    for out, model_id in views:
        final = _progress_text(state, model_id)
        if final:
            out["data"]["text/plain"] = final
            n += 1
    return n


def _progress_html(state: dict, model_id: str) -> str | None:
    """A tqdm bar (HBox of HTML, FloatProgress, HTML) as static HTML, from its final state."""
    parts = _progress_parts(state, model_id)
    if parts is None:
        return None
    left, bar, right = parts
    return (f'<div class="ck-progress">{left.get("value", "")} <progress value="{bar.get("value", 0)}" '
            f'max="{bar.get("max", 1)}"></progress> {right.get("value", "")}</div>')


def static_widgets(nb) -> int:
    """Replace live-widget outputs by static stand-ins; drop the saved widget state.

    A widget needs a kernel. In slides a progress bar is drawn from its final saved state
    (tqdm's text/plain holds only its first, 0 % state) and any other widget, such as an
    explorer's slider, becomes a one-line note. Returns the number replaced.
    """
    state, views = _saved_widgets(nb, drop=True)
    for out, model_id in views:
        out["data"] = {"text/html": _progress_html(state, model_id) or WIDGET_NOTE}
    return len(views)


def slides_exporter(solutions: bool = False):
    """nbconvert's SlidesExporter with the course's offline template; hidden-input cells
    (tag ``remove-input``) show only their output, and solution cells are left out unless
    `solutions` (the instructors' deck)."""
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    c = Config()
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_input_tags = {"remove-input"}
    c.TagRemovePreprocessor.remove_cell_tags = set() if solutions else {SOLUTION_TAG}
    c.TemplateExporter.extra_template_basedirs = [str(TEMPLATES)]
    c.SlidesExporter.template_name = "reveal_offline"
    c.SlidesExporter.reveal_url_prefix = "_static/reveal.js"
    c.SlidesExporter.reveal_scroll = True
    c.SlidesExporter.reveal_theme = "white"
    c.SlidesExporter.reveal_transition = "none"
    c.SlidesExporter.reveal_number = "c/t"
    c.HTMLExporter.mathjax_url = "_static/mathjax/es5/tex-chtml-full.js"
    return SlidesExporter(config=c)


def build_slides(notebooks: list[Path], out: Path, cache: Path, solutions: bool = False
                 ) -> list[Path]:
    """``jupyter nbconvert --to slides`` with reveal.js and MathJax served from out/_static:
    the students' deck (no solutions) unless `solutions`."""
    install_static(out / "_static", cache)
    exporter = slides_exporter(solutions)
    written = []
    for path in notebooks:
        nb = read(path)
        slides_metadata(nb)        # notebooks without metadata still get sensible slides
        static_widgets(nb)
        if not solutions:
            clear_check_outputs(nb)  # the students' deck: no "✓ correct" without its solution
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
        external = sorted(set(re.findall(r'(?:src|href)=["\'](https?://[^"\']+)', body)))
        if external:
            raise SystemExit(f"{path.name}: slides would load {external} from the network")
        dest = out / f"{path.stem}.slides.html"
        dest.write_text(body, encoding="utf-8")
        written.append(dest)
        print(f">> {dest} ({len(body) / 1e6:.1f} MB)")
    return written


# ----------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("slides-metadata", help="add slideshow metadata in place")
    a.add_argument("notebooks", nargs="+", type=Path)
    a.add_argument("--force", action="store_true", help="recompute even author-set slide types")
    a = sub.add_parser("colab", help="add/refresh the Colab bootstrap cell in place")
    a.add_argument("notebooks", nargs="+", type=Path)
    a.add_argument("--repo", default=None, help="public git URL of this repository")
    a.add_argument("--remove", action="store_true", help="remove the bootstrap cell instead")
    a = sub.add_parser("student", help="write the student (self-study) and lab editions")
    a.add_argument("notebooks", nargs="+", type=Path)
    a.add_argument("--out", type=Path, default=ROOT / "build" / "student",
                   help="self-study edition; the lab edition goes to its sibling lab/")
    a.add_argument("--repo", default=None,
                   help="public clone URL: the editions get the Colab bootstrap cell "
                        "(default: git remote origin when it is an https URL)")
    a = sub.add_parser("words", help="visible words and code cells of each lab path")
    a.add_argument("notebooks", nargs="+", type=Path)
    a = sub.add_parser("slides", help="write offline reveal.js slides")
    a.add_argument("notebooks", nargs="+", type=Path)
    a.add_argument("--out", type=Path, default=ROOT / "build" / "slides")
    a.add_argument("--cache", type=Path, default=ROOT / "build" / "vendor")
    a.add_argument("--with-solutions", action="store_true",
                   help="the instructors' deck: keep the solution cells (default: left out)")
    a = sub.add_parser("vendor", help="fetch the pinned reveal.js and MathJax npm packages")
    a.add_argument("--cache", type=Path, default=ROOT / "build" / "vendor")
    args = p.parse_args(argv)

    if args.cmd == "vendor":
        for name, folder in vendor(args.cache).items():
            print(f"{name}: {folder}")
        return 0
    missing = [str(nb) for nb in args.notebooks if not nb.exists()]
    if missing:
        raise SystemExit(f"no such notebook(s): {', '.join(missing)}")
    if args.cmd == "slides-metadata":
        for path in args.notebooks:
            nb = read(path)
            n = slides_metadata(nb, force=args.force)
            print(f"{path}: {n} cell(s) given a slide type"
                  + (" (written)" if write_if_changed(nb, path) else " (unchanged)"))
    elif args.cmd == "colab":
        repo = args.repo or default_repo()
        if repo is None and not args.remove:
            raise SystemExit("pass --repo https://…/REPO.git (the public clone URL students can "
                             "reach from Colab); `git remote get-url origin` gave none.")
        for path in args.notebooks:
            nb = read(path)
            colab_bootstrap(nb, repo or "", remove=args.remove)
            print(f"{path}: " + ("written" if write_if_changed(nb, path) else "unchanged"))
    elif args.cmd == "student":
        lab_out = args.out.parent / "lab"
        for out in (args.out, lab_out):
            out.mkdir(parents=True, exist_ok=True)
        repo = args.repo or default_repo()
        if repo is None:
            print(">> no Colab cell in the editions: pass --repo https://…/REPO.git (make student "
                  "REPO=…) to let them install the course on Colab")
        for path in args.notebooks:
            nb = read(path)
            if repo:  # what students are handed runs on Colab too
                colab_bootstrap(nb, repo)
            student, lab = student_edition(nb), student_edition(nb, lab=True)
            write_if_changed(student, args.out / path.name)
            write_if_changed(lab, lab_out / path.name)
            print(f">> {args.out / path.name}: {len(nb.cells) - len(student.cells)} solution cell(s) "
                  f"removed; {lab_out / path.name}: {len(student.cells) - len(lab.cells)} "
                  f"'Going further' cell(s) removed as well")
    elif args.cmd == "words":
        over = 0
        for path in args.notebooks:
            m = visible_counts(read(path))
            bad = (m["lab_words"] > LAB_MAX_WORDS or m["all_words"] > ALL_MAX_WORDS
                   or m["all_words"] - m["lab_words"] > OPTIONAL_MAX_WORDS
                   or m["lab_code_cells"] > LAB_MAX_CODE_CELLS)
            over += bad
            print(f"{'OVER' if bad else 'ok  '} {path.name}: lab path {m['lab_words']} words, "
                  f"{m['lab_code_cells']} code cells; with 'Going further' {m['all_words']} words")
        return 1 if over else 0
    elif args.cmd == "slides":
        args.out.mkdir(parents=True, exist_ok=True)
        build_slides(args.notebooks, args.out, args.cache, solutions=args.with_solutions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
