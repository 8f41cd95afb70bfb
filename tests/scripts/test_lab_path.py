"""Each section notebook is a 50-minute lab a student can follow (issue lab-first).

- the lab path (cells without `solution` / `optional`) holds at most 2,000 visible words and 25
  visible code cells; the "Going further" part brings all visible words to at most 3,000;
- nothing a student sees talks like a maintainer (benchmarks, nbval, CI, profiles, pilots …);
- nbval markers are cell tags, not comments; a cell that only writes a takeaway is hidden;
- no line of a solution appears in a student-visible cell before its check;
- the lab edition (`make student`) drops the "Going further" cells as well as the solutions.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import nbtools  # noqa: E402, I001

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

#: Words a student never reads (issue lab-first's list and the reviewers' examples). Matched
#: case-insensitively except where the pattern says otherwise.
MAINTAINER_WORDS = {
    "bench": r"\bbench",
    "nbval": r"nbval",
    "committed": r"\bcommitted\b",
    "pilot": r"\bpilots?\b",
    "load average": r"load average",
    "CI": r"(?-i:\bCI\b)",
    "profile": r"\bprofiles?\b",
    "COURSEKIT_": r"COURSEKIT_",
    "provenance": r"\bprovenance\b",
    "self-check": r"self-checks?",
    "reproducible": r"reproducib",
    "recipe": r"\brecipes?\b",
    "run-time banner": r"(?-i:\bRun time\b)",
}


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def student_cells(nb):
    """(index, cell) of every cell a student sees (solutions excluded)."""
    return [(i, c) for i, c in enumerate(nb.cells) if nbtools.SOLUTION_TAG not in nbtools.tags(c)]


def maintainer_words(text: str) -> list[str]:
    return [name for name, pattern in MAINTAINER_WORDS.items()
            if re.search(pattern, text, flags=re.IGNORECASE)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_lab_path_fits_a_50_minute_lab(path):
    m = nbtools.visible_counts(read(path))
    assert m["lab_words"] <= nbtools.LAB_MAX_WORDS, m
    assert m["all_words"] <= nbtools.ALL_MAX_WORDS, m
    assert m["all_words"] - m["lab_words"] <= nbtools.OPTIONAL_MAX_WORDS, m
    assert m["lab_code_cells"] <= nbtools.LAB_MAX_CODE_CELLS, m


def test_counts_follow_the_reviewers_rules():
    """Markdown and printed outputs count, solutions and hidden code do not, optional cells
    count only in the whole."""
    v4 = nbformat.v4
    hidden = v4.new_code_cell("x = 1  # a long helper nobody reads")
    hidden.metadata.update({"jupyter": {"source_hidden": True}, "tags": ["remove-input"]})
    hidden.outputs = [v4.new_output("display_data", data={"text/markdown": "three words here"})]
    solution = v4.new_markdown_cell("many words of a solution that do not count")
    solution.metadata["tags"] = ["solution"]
    extra = v4.new_markdown_cell("two more")
    extra.metadata["tags"] = ["optional"]
    shown = v4.new_code_cell("print('a b')")
    shown.outputs = [v4.new_output("stream", name="stdout", text="a b\n"),
                     v4.new_output("stream", name="stderr", text="100% 10/10 progress")]
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("# One two"), hidden, solution, extra, shown])
    assert nbtools.visible_counts(nb) == {"lab_words": 7, "all_words": 9, "lab_code_cells": 1}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_maintainer_talk_in_what_a_student_sees(path):
    found = {i: words for i, c in student_cells(read(path))
             if (words := maintainer_words(nbtools.student_visible_text(c)))}
    assert not found, f"{path.name}: cells with maintainer vocabulary {found}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_model_card_is_named_at_most_once(path):
    text = "\n".join(nbtools.student_visible_text(c) for _, c in student_cells(read(path)))
    assert len(re.findall(r"\bcards?\b", text, flags=re.IGNORECASE)) <= 1, path.name


def test_the_vocabulary_scan_has_teeth():
    for text in ("*Run time: about 9 s, measured by `benchmarks/bench_notebooks.py`.*",
                 "# NBVAL_CHECK_OUTPUT", "the committed study", "pilot runs", "in CI",
                 "the default profile", "set COURSEKIT_FAST=1", "a reproducible run",
                 "the recipe's settings", "*Run time: about 9 s*"):
        assert maintainer_words(text), text
    for text in ("Circle", "a CIFAR image", "a precise image", "commit to it"):
        assert not maintainer_words(text), text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_nbval_markers_are_tags_not_comments(path):
    commented = [i for i, c in enumerate(read(path).cells)
                 if c.cell_type == "code" and re.search(r"#\s*NBVAL_", c.source)]
    assert not commented, f"{path.name}: cells {commented} carry an NBVAL comment; use the tags " \
                          f"nbval-check-output / nbval-ignore-output"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_check_cells_are_visible_and_their_output_is_checked(path):
    """The student sees the check they run, and nbval compares its verdict."""
    for i, c in enumerate(read(path).cells):
        if nbtools.is_check_cell(c) and nbtools.SOLUTION_TAG not in nbtools.tags(c):
            assert not nbtools.hidden_input(c), f"{path.name} cell {i}: a check is hidden"
            assert "nbval-check-output" in nbtools.tags(c), f"{path.name} cell {i}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_cells_that_only_write_a_takeaway_are_hidden(path):
    shown = [i for i, c in student_cells(read(path))
             if c.cell_type == "code" and "display(Markdown(" in c.source
             and not nbtools.hidden_input(c)]
    assert not shown, f"{path.name}: takeaway cells {shown} show their code"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_hidden_cells_are_hidden_for_jupyterlab_and_for_the_site(path):
    """JupyterLab reads metadata.jupyter.source_hidden, the site and slides the tag."""
    for i, c in enumerate(read(path).cells):
        lab = bool(c.metadata.get("jupyter", {}).get("source_hidden"))
        site = "remove-input" in nbtools.tags(c)
        assert lab == site, f"{path.name} cell {i}: source_hidden {lab} but remove-input {site}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_code_cell_is_the_setup(path):
    first = next(c for c in read(path).cells if c.cell_type == "code"
                 and "bootstrap" not in nbtools.tags(c))
    assert first.source.strip() == nbtools.SETUP_SOURCE, first.source


def solution_lines(source: str) -> list[str]:
    """The lines of a solution cell that carry its answer: not the signature, docstring,
    comments or blank lines, and long enough to be specific."""
    body = re.sub(r'("""|\'\'\')[\s\S]*?\1', "", source)
    lines = []
    for line in body.splitlines():
        code = line.split("  #")[0].strip()
        if len(code) >= 12 and not code.startswith(("def ", "#")):
            lines.append(" ".join(code.split()))
    return lines


def answer_keys_before_checks(nb) -> list[tuple[int, int, str]]:
    """(solution cell, earlier cell, line) for every solution line that a non-solution cell
    holds before the solution's check: in what it shows, or in its code even when hidden (a
    student can expand it)."""
    found = []
    for s, cell in enumerate(nb.cells):
        if nbtools.SOLUTION_TAG not in nbtools.tags(cell) or cell.cell_type != "code":
            continue
        stub = nb.cells[s - 1].source if s else ""
        check = next((j for j in range(s + 1, len(nb.cells)) if nbtools.is_check_cell(nb.cells[j])),
                     len(nb.cells))
        for line in solution_lines(cell.source):
            if line in " ".join(stub.split()):
                continue  # given in the exercise cell itself (e.g. a signature line)
            for i, other in student_cells(nb):
                if i >= check:
                    break
                if line in " ".join(f"{nbtools.student_visible_text(other)} {other.source}".split()):
                    found.append((s, i, line))
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_answer_key_before_its_check(path):
    found = answer_keys_before_checks(read(path))
    assert not found, f"{path.name}: (solution cell, earlier cell, line) {found}"


def test_the_answer_key_scan_finds_a_helper_that_is_the_solution():
    v4 = nbformat.v4
    helper = v4.new_code_cell("def fit(x):\n    return x.T @ x / len(x)  # covariance")
    stub = v4.new_code_cell("def cov(x):\n    return ck.exercises.todo()")
    solution = v4.new_code_cell('def cov(x):\n    """Covariance."""\n    return x.T @ x / len(x)')
    solution.metadata["tags"] = ["solution"]
    check = v4.new_code_cell('ck.exercises.check("cov", cov, ok)')
    nb = v4.new_notebook(cells=[helper, stub, solution, check])
    assert answer_keys_before_checks(nb) == [(2, 0, "return x.T @ x / len(x)")]
    nb.cells = [stub, solution, check, helper]
    assert answer_keys_before_checks(nb) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_optional_part_comes_last(path):
    """"Going further" is the notebook's end: the lab path is one run from the top."""
    cells = read(path).cells
    opt = [nbtools.OPTIONAL_TAG in nbtools.tags(c) for c in cells]
    if any(opt):
        first = opt.index(True)
        assert all(opt[first:]), f"{path.name}: a lab cell follows the optional part"
    headings = [i for i, c in enumerate(cells) if c.cell_type == "markdown"
                and nbtools.heading_level(c.source) and "Going further" in c.source.splitlines()[0]]
    assert all(opt[i] for i in headings), f"{path.name}: the 'Going further' heading is not optional"


def test_lab_edition_drops_going_further_and_solutions():
    v4 = nbformat.v4
    cells = [v4.new_markdown_cell("# T"), v4.new_code_cell(nbtools.SETUP_SOURCE),
             v4.new_code_cell("answer = 42"), v4.new_markdown_cell("## Going further")]
    cells[2].metadata["tags"] = ["solution"]
    cells[3].metadata["tags"] = ["optional"]
    nb = v4.new_notebook(cells=cells)
    assert [c.source for c in nbtools.student_edition(nb).cells] == \
        ["# T", nbtools.SETUP_SOURCE, "## Going further"]
    assert [c.source for c in nbtools.student_edition(nb, lab=True).cells] == \
        ["# T", nbtools.SETUP_SOURCE]


def test_slides_hide_helper_code_and_leave_out_solutions_by_default():
    v4 = nbformat.v4
    helper = v4.new_code_cell("HELPER_CODE_1234 = 1\nprint('TAKEAWAY_TEXT')")
    helper.metadata.update({"jupyter": {"source_hidden": True}, "tags": ["remove-input"]})
    helper.outputs = [v4.new_output("stream", name="stdout", text="TAKEAWAY_TEXT\n")]
    solution = v4.new_code_cell("ANSWER_5678 = 2")
    solution.metadata["tags"] = ["solution"]
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("# T"), helper, solution])
    students, _ = nbtools.slides_exporter().from_notebook_node(nb)
    assert "TAKEAWAY_TEXT" in students and "HELPER_CODE_1234" not in students
    assert "ANSWER_5678" not in students
    instructors, _ = nbtools.slides_exporter(solutions=True).from_notebook_node(nb)
    assert "ANSWER_5678" in instructors


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_printed_paths_are_relative_to_the_project(path):
    """A saved output shows `data/checkpoints/…`, never the build machine's absolute path."""
    absolute = re.compile(r"(?<![\w.])(/home/|/root/|/work/|/tmp/|/Users/|[A-Z]:\\\\)")
    found = {i: absolute.findall(nbtools.student_visible_text(c))
             for i, c in student_cells(read(path))}
    assert not {i: f for i, f in found.items() if f}, f"{path.name}: {found}"
