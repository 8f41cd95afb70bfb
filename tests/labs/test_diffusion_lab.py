"""Notebook 04 as a lab: Exercise 1's checks accept every correct recursion and reject the
plausible slips with a hint (never the answer); the notebook asks before it shows, hides its
layout cells, and stays within the lab's size."""
import math
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from coursekit.labs import diffusion_exercises as DE
from coursekit.labs import exercises as ex

ROOT = Path(__file__).resolve().parents[2]
NB_PATH = ROOT / "notebooks" / "04_diffusion.ipynb"
NB = nbformat.read(str(NB_PATH), as_version=4)


def tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def solution_namespace() -> dict:
    """The notebook's solution code cell, executed: ``var_next`` and ``var_next_15``."""
    sources = [c.source for c in NB.cells if c.cell_type == "code" and "solution" in tags(c)]
    assert len(sources) == 1, "one solution code cell (Exercise 1)"
    namespace: dict = {}
    exec(compile(sources[0], "solution", "exec"), namespace)
    return namespace


# ----------------------------------------------------------------------------- eq. (16)
CORRECT_16 = {
    "reference": DE.var_next_reference,
    "operands swapped": lambda v, a, b: v * a + b,
    "β times ones": lambda v, a, b: a * v + b * torch.ones_like(v),
    "square roots squared": lambda v, a, b: a.sqrt() ** 2 * v + b.sqrt() ** 2,
    "math on floats": lambda v, a, b: math.sqrt(a) ** 2 * v + float(b),
    "NumPy": lambda v, a, b: np.asarray(a) * np.asarray(v) + np.asarray(b),
    "torch functions": lambda v, a, b: torch.add(b, torch.mul(a, v)),
    "written as a decay": lambda v, a, b: v - (1 - a) * v + b,
    "shape (1,) for a scalar": lambda v, a, b: (a * v + b).reshape(1, -1),
    "float32": lambda v, a, b: (a * v + b).float(),
}

WRONG_16 = {  # name: (answer, a word of the hint)
    "1 − α for β": (lambda v, a, b: a * v + (1 - a), "which parameter scales the noise"),
    "1 − β for α": (lambda v, a, b: (1 - b) * v + b, "which parameter scales x^(t)"),
    "eq. (15)'s α²": (lambda v, a, b: a ** 2 * v + b, "eq. (15)"),
    "√α": (lambda v, a, b: a.sqrt() * v + b, "c² Var(x)"),
    "β²": (lambda v, a, b: a * v + b ** 2, "not β_t²"),
    "√β": (lambda v, a, b: a * v + b.sqrt(), "not √β_t"),
    "no noise": (lambda v, a, b: a * v, "independent"),
    "noise × Var": (lambda v, a, b: (a + b) * v, "variance 1"),
    "cross term": (lambda v, a, b: a * v + b + 2 * (a * b).sqrt() * v, "no cross term"),
    "standard deviation": (lambda v, a, b: (a * v + b).sqrt(), "standard deviation"),
    "swapped": (lambda v, a, b: b * v + a, "which term"),
    "unknown": (lambda v, a, b: 0.5 * v + b, "Var(aX + bZ)"),
    "a mean over coordinates": (lambda v, a, b: (a * v + b).mean(), "element-wise"),
    "a covariance matrix": (lambda v, a, b: a * torch.diag(v.reshape(-1)) + b, "element-wise"),
}

# ----------------------------------------------------------------------------- eq. (15)
CORRECT_15 = {
    "reference": DE.var_next_15_reference,
    "α times α": lambda v, a, b: a * a * v + b,
    "(α √Var)²": lambda v, a, b: (a * v.sqrt()) ** 2 + b,
    "NumPy": lambda v, a, b: np.square(np.asarray(a)) * np.asarray(v) + np.asarray(b),
    "β times ones": lambda v, a, b: a ** 2 * v + b * torch.ones_like(v),
    "shape (1,) for a scalar": lambda v, a, b: (a ** 2 * v + b).reshape(1, -1),
}

WRONG_15 = {
    "eq. (16)'s recursion": (lambda v, a, b: a * v + b, "eq. (16)"),
    "1 − α² for β": (lambda v, a, b: a ** 2 * v + (1 - a ** 2), "α_t + β_t ≠ 1"),
    "1 − α for β": (lambda v, a, b: a ** 2 * v + (1 - a), "α_t + β_t ≠ 1"),
    "α⁴": (lambda v, a, b: a ** 4 * v + b, "squared once"),
    "β²": (lambda v, a, b: a ** 2 * v + b ** 2, "already a variance"),
    "√β": (lambda v, a, b: a ** 2 * v + b.sqrt(), "not √β_t"),
    "no noise": (lambda v, a, b: a ** 2 * v, "independent"),
    "standard deviation": (lambda v, a, b: (a ** 2 * v + b).sqrt(), "standard deviation"),
    "unknown": (lambda v, a, b: a ** 3 * v + b, "Var(aX + bZ)"),
    "a mean over coordinates": (lambda v, a, b: (a ** 2 * v + b).mean(), "element-wise"),
}

#: The answers themselves, as a hint could print them: no message may contain one.
ANSWER_TEXTS = ("α_t Var(x^(t)) + β_t", "α_t·Var", "α_t² Var(x^(t)) + β_t", "α² Var", "α_t²")


@pytest.mark.parametrize("answer", CORRECT_16.values(), ids=CORRECT_16)
def test_every_correct_eq16_recursion_passes(answer):
    ok, msg = DE.check_var_next(DE.var_next_values(answer))
    assert ok, msg


@pytest.mark.parametrize("answer", CORRECT_15.values(), ids=CORRECT_15)
def test_every_correct_eq15_recursion_passes(answer):
    ok, msg = DE.check_var_next_15(DE.var_next_values(answer))
    assert ok, msg


def test_the_notebooks_solution_passes_both_checks():
    ns = solution_namespace()
    assert DE.check_var_next(DE.var_next_values(ns["var_next"]))[0]
    assert DE.check_var_next_15(DE.var_next_values(ns["var_next_15"]))[0]


@pytest.mark.parametrize("wrong, word", WRONG_16.values(), ids=WRONG_16)
def test_eq16_slips_are_rejected_with_a_hint_not_the_answer(wrong, word):
    ok, msg = DE.check_var_next(DE.var_next_values(wrong))
    assert not ok
    assert word in msg, msg
    assert not any(a in msg for a in ANSWER_TEXTS), msg


@pytest.mark.parametrize("wrong, word", WRONG_15.values(), ids=WRONG_15)
def test_eq15_slips_are_rejected_with_a_hint_not_the_answer(wrong, word):
    ok, msg = DE.check_var_next_15(DE.var_next_values(wrong))
    assert not ok
    assert word in msg, msg
    assert not any(a in msg for a in ANSWER_TEXTS), msg


def test_each_check_rejects_the_other_equations_answer():
    """The two parts of the exercise cannot be swapped."""
    assert not DE.check_var_next(DE.var_next_values(DE.var_next_15_reference))[0]
    assert not DE.check_var_next_15(DE.var_next_values(DE.var_next_reference))[0]


def test_the_probes_include_the_lectures_case_and_others():
    sums = [a + b for _, a, b in DE.VAR_NEXT_CASES]
    assert any(abs(s - 1) < 1e-12 for s in sums) and any(abs(s - 1) > 0.1 for s in sums)
    assert any(isinstance(v, list) for v, _, _ in DE.VAR_NEXT_CASES), "a per-coordinate probe"


def test_todo_reads_not_attempted(capsys):
    def var_next_15(var_t, alpha_t, beta_t):
        return ex.todo()

    assert ex.check("eq. (15)", lambda: DE.var_next_values(var_next_15),
                    DE.check_var_next_15) is None
    assert ex.NOT_ATTEMPTED in capsys.readouterr().out
    assert DE.var_next_values(lambda v, a, b: None) is None


# ----------------------------------------------------------------------------- the notebook
def first_index(predicate) -> int:
    return next(i for i, c in enumerate(NB.cells) if predicate(c))


def test_the_exercise_is_checked_before_the_evidence_is_shown():
    check = first_index(lambda c: c.cell_type == "code" and "check_var_next" in c.source)
    evidence = first_index(lambda c: c.cell_type == "code"
                           and re.search(r"simulate_forward\(|forward_variance\(", c.source))
    exercise = first_index(lambda c: c.cell_type == "markdown" and "### Exercise 1" in c.source)
    assert exercise < check < evidence
    assert "nbval-check-output" in tags(NB.cells[check])
    solution = [c for c in NB.cells if "solution" in tags(c)]
    keys = [k for c in solution for k in c.metadata.get("answer_keys", [])]
    assert keys
    for cell in NB.cells[:check]:
        if "solution" not in tags(cell):
            squeezed = "".join(cell.source.split())
            assert not any("".join(k.split()) in squeezed for k in keys), cell.source[:80]


def test_setup_first_markers_as_tags_and_layout_cells_hidden():
    code = [c for c in NB.cells if c.cell_type == "code"]
    assert code[0].source == "import coursekit as ck\ncfg = ck.setup(seed=0)"
    for cell in NB.cells:
        assert "NBVAL" not in cell.source
        hidden = cell.get("metadata", {}).get("jupyter", {}).get("source_hidden", False)
        assert hidden == ("remove-input" in tags(cell)), cell.source[:80]
        if hidden:  # a hidden cell only lays out a figure or builds a takeaway
            assert "exercises.check" not in cell.source


def test_going_further_is_last_and_optional():
    start = first_index(lambda c: c.cell_type == "markdown" and "Going further" in c.source)
    assert all("optional" in tags(c) for c in NB.cells[start:])
    assert not any("optional" in tags(c) for c in NB.cells[:start])


def visible_words(cell) -> int:
    """Words a student reads in a cell (as /work/shared/tools/nbwords.py counts them)."""
    def count(s: str) -> int:
        return len(re.findall(r"[A-Za-z0-9α-ωΑ-Ω][\w'’.,:;=×/-]*", s))

    if cell.cell_type == "markdown":
        return count(cell.source)
    n = 0
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stdout":
            n += count(out.get("text", ""))
        elif out.get("output_type") in ("display_data", "execute_result"):
            data = out.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data:
                continue
            if "text/markdown" in data:
                n += count(data["text/markdown"])
            elif not {"text/html", "image/png", "image/svg+xml"} & set(data) and "text/plain" in data:
                n += count(data["text/plain"])
    return n


def test_the_lab_fits_a_50_minute_session():
    lab = [c for c in NB.cells if not tags(c) & {"solution", "optional"}]
    optional = [c for c in NB.cells if "optional" in tags(c)]
    visible_code = [c for c in lab if c.cell_type == "code" and "remove-input" not in tags(c)
                    and c.source.strip()]
    assert sum(map(visible_words, lab)) <= 2000
    assert len(visible_code) <= 25
    assert sum(map(visible_words, optional)) <= 1000


MAINTAINER = re.compile(r"bench|nbval|NBVAL|committed|pilot|load average|\bCI\b|profile|"
                        r"COURSEKIT_|reproducib|self-check|provenance|recipe", re.IGNORECASE)


def student_text() -> list[str]:
    texts = []
    for cell in NB.cells:
        if "solution" in tags(cell):
            continue
        if cell.cell_type == "markdown":
            texts.append(cell.source)
            continue
        if "remove-input" not in tags(cell):
            texts.append(cell.source)
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                texts.append(out.get("text", ""))
            for kind in ("text/markdown", "text/plain"):
                texts.append(out.get("data", {}).get(kind, ""))
    return texts


def test_no_maintainer_vocabulary_and_one_model_card():
    text = "\n".join(student_text())
    assert not MAINTAINER.findall(text), MAINTAINER.findall(text)
    assert text.lower().count("model card") <= 1


def test_the_summary_claims_no_bound_from_the_decoder():
    """The reconstructions are a yardstick: nothing says the decoder limits the samples."""
    summary = next(c.source for c in NB.cells if c.source.startswith("## What we saw"))
    assert not re.search(r"bound|sets how good|limit", summary)
