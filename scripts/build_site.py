#!/usr/bin/env python
"""The course website: Sphinx + MyST-NB (+ the Furo theme) over the committed, executed notebooks.

    python scripts/build_site.py                 # build/site/index.html, works offline
    python scripts/build_site.py --out DIR       # elsewhere

Nothing is executed: the pages show the outputs saved in notebooks/*.ipynb
(``nb_execution_mode = "off"`` in site/conf.py). The Sphinx source folder is assembled in
build/site-src/ from
  site/                   conf.py, index.md, models/index.md, _static/ (hand-written)
  notebooks/*.ipynb       one page each; live widgets replaced by static stand-ins (as for slides)
  data/checkpoints/*.md   the model cards
  docs/instructors.md     the instructors' page
  README.md               the notebook table of the landing page (_map.md)
and MathJax 3 comes from the same pinned, sha512-checked npm tarball as the offline slides
(scripts/nbtools.py `vendor`, cached in build/vendor/). Files are rewritten only when their
content changes, so a second build is incremental.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nbtools  # noqa: E402  (the vendoring and the widget stand-ins shared with the slides)

ROOT = nbtools.ROOT
SITE_SRC = ROOT / "site"


def write_if_changed(path: Path, data: str | bytes) -> bool:
    data = data.encode("utf-8") if isinstance(data, str) else data
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def shift_headings(md: str) -> str:
    """A page must start with a level-1 heading: promote every heading when the first is ##."""
    lines, fence = md.splitlines(keepends=True), False
    first = next((ln for ln in lines if ln.startswith("#")), "# ")
    if not first.startswith("## "):
        return md
    out = []
    for ln in lines:
        if ln.lstrip().startswith(("```", "~~~")):
            fence = not fence
        out.append(ln[1:] if not fence and re.match(r"##+ ", ln) else ln)
    return "".join(out)


def readme_map(readme: str) -> str:
    """The README's notebook table with its first column made links to the notebook pages."""
    match = re.search(r"^\| notebook \|.*?\n(?:\|.*\n)+", readme, flags=re.M)
    if match is None:
        raise SystemExit("README.md: the notebook table ('| notebook | lecture | ...') is missing")
    link = r"| [\1](notebooks/\1.ipynb) |"
    return re.sub(r"^\| `(\d\d_\w+)` \|", link, match.group(0), flags=re.M)


def lecture_map(nb) -> str:
    """The lecture's 2 × 2 table from 00_start_here ('The map' cell), links made site-relative."""
    for cell in nb.cells:
        heading = re.search(r"^## .*\bmap\b", cell.source, flags=re.M | re.I)
        if cell.cell_type == "markdown" and heading:
            body = cell.source.split("\n", 1)[1]  # without its heading
            return re.sub(r"\]\((\d\d_\w+\.ipynb)\)", r"](notebooks/\1)", body)
    return ""


def _takeaway(cell) -> str | None:
    """The takeaway text of a cell (a markdown cell, or a hidden cell's Markdown output)."""
    texts = [cell.source] if cell.cell_type == "markdown" else \
        [t for t in nbtools.output_texts(cell) if t.strip()]
    for text in texts:
        plain = re.sub(r"[*_`$]", "", text).strip()
        if plain.lower().startswith("takeaway"):
            return plain.split(":", 1)[-1].strip()
    return None


def _has_figure(cell) -> bool:
    return cell.cell_type == "code" and any(
        "image/png" in o.get("data", {}) for o in cell.get("outputs", []))


def add_alt_texts(nb) -> int:
    """Give every figure alt text for the website (MyST-NB's ``mystnb.image.alt``): the takeaway
    under it (the next cells up to the next figure or heading), else its section's heading.
    Returns the number of figures."""
    heading, n = "", 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and nbtools.heading_level(cell.source):
            heading = cell.source.splitlines()[0].lstrip("# ").strip()
        if not _has_figure(cell):
            continue
        n += 1
        alt = None
        for later in nb.cells[i + 1:i + 4]:
            if _has_figure(later) or (later.cell_type == "markdown"
                                      and nbtools.heading_level(later.source)):
                break
            if (alt := _takeaway(later)) is not None:
                break
        alt = alt or f"Figure of the section: {heading}"
        cell.metadata.setdefault("mystnb", {}).setdefault("image", {})["alt"] = alt[:500]
    return n


def site_edition(nb, solutions: bool = False):
    """What the website shows: the executed notebook, solutions removed unless asked for,
    figures with alt text."""
    if not solutions:
        nb.cells = [c for c in nb.cells if nbtools.SOLUTION_TAG not in nbtools.tags(c)]
        nbtools.clear_check_outputs(nb)  # a saved "✓ correct" would give the answer away
    add_alt_texts(nb)
    return nb


def stage(src: Path, cache: Path, solutions: bool = False) -> list[Path]:
    """Assemble the Sphinx source folder `src`; returns the notebooks staged."""
    for f in sorted(SITE_SRC.rglob("*")):
        if f.is_file() and "__pycache__" not in f.parts:
            write_if_changed(src / f.relative_to(SITE_SRC), f.read_bytes())
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in notebooks:
        nb = nbtools.read(path)
        nbtools.static_widgets(nb)  # progress bars from their final state, explorers → a note
        site_edition(nb, solutions)  # the student edition by default, figures with alt text
        write_if_changed(src / "notebooks" / path.name, nbformat.writes(nb) + "\n")
    for card in sorted((ROOT / "data" / "checkpoints").glob("*.md")):
        write_if_changed(src / "models" / card.name, card.read_text(encoding="utf-8"))
    write_if_changed(src / "instructors.md",
                     shift_headings((ROOT / "docs" / "instructors.md").read_text(encoding="utf-8")))
    start = [p for p in notebooks if p.name.startswith("00_")]
    fragment = (lecture_map(nbtools.read(start[0])) if start else "")
    write_if_changed(src / "_map.md", fragment + "\n\n"
                     + readme_map((ROOT / "README.md").read_text(encoding="utf-8")))
    # Staged copies of sources that were removed (a deleted notebook or card) go too.
    wanted = ({src / "notebooks" / p.name for p in notebooks}
              | {src / "models" / c.name for c in (ROOT / "data" / "checkpoints").glob("*.md")}
              | {src / "models" / "index.md"})
    for f in [*(src / "notebooks").glob("*.ipynb"), *(src / "models").glob("*.md")]:
        if f not in wanted:
            f.unlink()
    # MathJax 3: the pinned npm tarball shared with the slides, served from _static/mathjax.
    nbtools.install_static(src / "_static", cache, names=["mathjax"])
    return notebooks


#: A page element that would load something from the network (links to elsewhere are fine).
EXTERNAL_LOAD = re.compile(
    r"""(?:<(?:script|img|iframe|source|video|audio)\b[^>]*\bsrc=["']|<link\b[^>]*\bhref=["']"""
    r"""|url\(\s*["']?|@import\s+["'])(?:https?:)?//[^"')\s]*""",
    re.I)


def check_offline(out: Path) -> None:
    """Fail if any built page or stylesheet would load a resource from the network."""
    bad = []
    for f in [*out.rglob("*.html"), *out.rglob("*.css")]:
        if "mathjax" in f.parts:
            continue
        text = f.read_text(encoding="utf-8", errors="replace")
        bad += [f"{f.relative_to(out)}: {m.group(0)[-100:]}" for m in EXTERNAL_LOAD.finditer(text)]
    if bad:
        raise SystemExit("the site would load from the network:\n  " + "\n  ".join(bad[:20]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    p.add_argument("--src", type=Path, default=ROOT / "build" / "site-src")
    p.add_argument("--cache", type=Path, default=ROOT / "build" / "vendor")
    p.add_argument("--clean", action="store_true", help="rebuild every page")
    p.add_argument("--with-solutions", action="store_true",
                   help="the instructors' site: keep the solution cells (default: removed)")
    args = p.parse_args(argv)
    start = time.time()
    if args.clean:
        shutil.rmtree(args.src, ignore_errors=True)
        shutil.rmtree(args.out, ignore_errors=True)
    notebooks = stage(args.src, args.cache, solutions=args.with_solutions)
    doctrees = args.out.parent / ".site-doctrees"
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", "--keep-going",
           "-d", str(doctrees), str(args.src), str(args.out)]
    if args.clean:
        cmd.insert(3, "-E")
    result = subprocess.run(cmd)
    if result.returncode:
        return result.returncode
    check_offline(args.out)
    pages = sorted(args.out.rglob("*.html"))
    pages = [pg for pg in pages if "_static" not in pg.parts]
    print(f">> {args.out}/index.html: {len(pages)} pages ({len(notebooks)} notebooks) in "
          f"{time.time() - start:.0f} s; open it from disk or copy the folder to any static host")
    return 0


if __name__ == "__main__":
    sys.exit(main())
