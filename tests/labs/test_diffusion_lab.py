"""Notebook 04 as a lab: Exercise 1's checks accept every correct recursion (and every fair
form of part 3's number) and reject the plausible slips with a hint (never the answer); section
4's prediction accepts the right answer only; the notebook asks before it shows, names the slip
only after the check, hides its layout cells and its checks' saved verdicts from the site, and
stays within the lab's size."""
import math
import re
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from coursekit.core.data import ring_of_gaussians
from coursekit.labs import diffusion_exercises as DE
from coursekit.labs import exercises as ex
from coursekit.models.diffusion import alpha_bar_of, make_betas

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import nbtools  # noqa: E402, I001
NB_PATH = ROOT / "notebooks" / "04_diffusion.ipynb"
NB = nbformat.read(str(NB_PATH), as_version=4)


def tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def solution_namespace() -> dict:
    """The notebook's solution code cells, executed: ``var_next``, ``var_next_15``,
    ``settle_15`` (Exercise 1) and ``predict_clumps_at_25`` (section 4's prediction)."""
    sources = [c.source for c in NB.cells if c.cell_type == "code" and "solution" in tags(c)]
    assert len(sources) == 2, "two solution code cells (Exercise 1, the prediction)"
    namespace: dict = {}
    for source in sources:
        exec(compile(source, "solution", "exec"), namespace)
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


def test_the_notebooks_solutions_pass_their_checks():
    ns = solution_namespace()
    assert DE.check_var_next(DE.var_next_values(ns["var_next"]))[0]
    assert DE.check_var_next_15(DE.var_next_values(ns["var_next_15"]))[0]
    assert DE.check_settle_15(ns["settle_15"])[0]
    assert DE.check_clumps_prediction(ns["predict_clumps_at_25"]())[0]


@pytest.mark.parametrize(
    "check, wrong, word",
    [(DE.check_var_next, *w) for w in WRONG_16.values()]
    + [(DE.check_var_next_15, *w) for w in WRONG_15.values()],
    ids=[f"eq16-{k}" for k in WRONG_16] + [f"eq15-{k}" for k in WRONG_15])
def test_slips_are_rejected_with_a_hint_not_the_answer(check, wrong, word):
    ok, msg = check(DE.var_next_values(wrong))
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


# ----------------------------------------------------------------------------- part 3's number
BETA = DE.SETTLE_BETA
ALPHA = 1 - BETA
CORRECT_SETTLE = {
    "β / (1 − α²)": BETA / (1 - ALPHA ** 2),
    "1 / (1 + α)": 1 / (1 + ALPHA),
    "about ½": 0.5,
    "rounded": 0.503,
    "read off the simulation": 0.51,
    "iterated var_next_15": None,  # filled below: 2,000 steps of the recursion from 1
    "a tensor": torch.tensor(1 / 1.99),
    "a NumPy float": np.float32(0.5025),
    "a one-element array": np.array([0.5]),
}
v = 1.0
for _ in range(2000):
    v = DE.var_next_15_reference(v, ALPHA, BETA)
CORRECT_SETTLE["iterated var_next_15"] = v

WRONG_SETTLE = {  # name: (answer, a word of the hint)
    "eq. (16)'s 1": (1.0, "eq. (16)"),
    "β alone": (BETA, "one step"),
    "zero": (0.0, "cannot sink to 0"),
    "α⁴": (BETA / (1 - ALPHA ** 4), "squared once"),
    "β missing": (1 / (1 - ALPHA ** 2), "β is missing"),
    "a standard deviation": ((1 / 1.99) ** 0.5, "standard deviation"),
    "negative": (-0.5, "negative"),
    "a quarter": (0.25, "leaves it unchanged"),
    "just outside the tolerance": (0.48, "leaves it unchanged"),
    "two numbers": ([0.5, 0.5], "one number"),
    "text": ("one half", "a number"),
    "not a number": (float("nan"), "finite"),
}


@pytest.mark.parametrize("answer", CORRECT_SETTLE.values(), ids=CORRECT_SETTLE)
def test_every_fair_settle_15_passes(answer):
    ok, msg = DE.check_settle_15(answer)
    assert ok, msg


@pytest.mark.parametrize("wrong, word", WRONG_SETTLE.values(), ids=WRONG_SETTLE)
def test_settle_15_slips_are_rejected_with_a_hint_not_the_answer(wrong, word):
    ok, msg = DE.check_settle_15(wrong)
    assert not ok
    assert word in msg, msg
    assert not re.search(r"0\.50|1/\(1 ?\+ ?α\)|β ?/ ?\(1", msg), msg


def test_todo_settle_15_reads_not_attempted(capsys):
    assert ex.check("settle_15", ..., DE.check_settle_15) is None
    assert ex.NOT_ATTEMPTED in capsys.readouterr().out


# ----------------------------------------------------------------------------- the prediction
@pytest.mark.parametrize("answer", [False, "no", "False", np.bool_(False)])
def test_the_right_prediction_passes(answer):
    ok, msg = DE.check_clumps_prediction(answer)
    assert ok, msg


@pytest.mark.parametrize("answer, word", [(True, "√(1 − ᾱ)"), ("yes", "√(1 − ᾱ)"),
                                          (1, "True or False"), (0.5, "True or False")])
def test_the_wrong_prediction_is_rejected(answer, word):
    ok, msg = DE.check_clumps_prediction(answer)
    assert not ok and word in msg, msg


def sampled_gap_share(t: int, n: int = 400_000) -> float:
    """The same share, from forward-noised ring samples: points near the circle through the
    shrunk centres, counted in a narrow angle around a centre and around a halfway angle."""
    g = torch.Generator().manual_seed(t)
    x_0 = ring_of_gaussians(n, generator=g).double()
    alpha_bar = float(alpha_bar_of(make_betas(DE.TOY_T, "linear"))[t])
    x_t = math.sqrt(alpha_bar) * x_0 + math.sqrt(1 - alpha_bar) * torch.randn(n, 2, generator=g,
                                                                            dtype=torch.float64)
    radius = 2 * math.sqrt(alpha_bar)
    near = (x_t.norm(dim=1) - radius).abs() < 0.05
    angle = torch.atan2(x_t[:, 1], x_t[:, 0]) % (math.pi / 4)  # fold the 8 sectors together
    width = 0.02
    at_centre = (near & ((angle < width) | (angle > math.pi / 4 - width))).sum()
    halfway = (near & ((angle - math.pi / 8).abs() < width)).sum()
    return float(halfway / at_centre)


@pytest.mark.parametrize("t", [5, 10, 14, 18, 25, 40])
def test_the_clump_rule_matches_forward_noised_samples(t):
    separate, share = DE.clumps_separate(t)
    assert share == pytest.approx(sampled_gap_share(t), abs=0.08)
    assert separate == (share <= DE.CLUMPS_GAP_RATIO)


def test_the_prediction_is_not_trivial():
    """The clumps are separate early in the chain and gone by t = 25."""
    assert DE.clumps_separate(10)[0] and not DE.clumps_separate(DE.CLUMPS_T)[0]


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


def test_the_prediction_is_checked_before_the_toy_models_are_shown():
    exercise = first_index(lambda c: c.cell_type == "code" and "def predict_clumps_at_25" in c.source
                           and "exercises.todo()" in c.source)
    check = first_index(lambda c: c.cell_type == "code" and "check_clumps_prediction" in c.source)
    figure = first_index(lambda c: c.cell_type == "code" and "toy_paths.items()" in c.source)
    assert exercise < check < figure
    assert "nbval-check-output" in tags(NB.cells[check])


def test_the_slip_is_named_only_after_the_check():
    """The lab promises a slip hunt: nothing before Exercise 1's check says which equation."""
    check = first_index(lambda c: c.cell_type == "code" and "check_var_next" in c.source)
    named = first_index(lambda c: c.cell_type == "markdown" and "solution" not in tags(c)
                        and re.search(r"eq\. \(15\) is the slip|scales the mean", c.source))
    assert check < named


def test_check_cells_keep_their_saved_verdict_off_the_site():
    """The site drops the solutions but shows saved outputs: a check run with the solution
    present must not show "✓ correct" under an empty exercise there (myst-nb's remove-output)."""
    checks = [c for c in NB.cells if c.cell_type == "code" and "exercises.check(" in c.source]
    assert len(checks) == 2
    for cell in checks:
        assert {"nbval-check-output", "remove-output"} <= tags(cell)


def test_no_time_claims_in_the_text():
    text = "\n".join(c.source for c in NB.cells if c.cell_type == "markdown")
    assert not re.search(r"seconds|minutes|CPU-ms|a few seconds", text, re.IGNORECASE)


def student_text() -> list[str]:
    return [nbtools.student_visible_text(c) for c in NB.cells if "solution" not in tags(c)]


# Bars, vocabulary, markers, setup cell and the optional part: tests/scripts/test_lab_path.py.
def test_no_card_keys_in_visible_code():
    visible = "\n".join(c.source for c in NB.cells if c.cell_type == "code"
                         and "remove-input" not in tags(c) and "solution" not in tags(c))
    assert "seed_spread" not in visible and '["metrics"]' not in visible
    assert not re.search(r"three (sampling )?seeds|each seed|sampling seed", "\n".join(student_text()))


def test_the_summary_claims_no_bound_from_the_decoder():
    """The reconstructions are a yardstick: nothing says the decoder limits the samples."""
    summary = next(c.source for c in NB.cells if c.source.startswith("## What we saw"))
    assert not re.search(r"bound|sets how good|limit", summary)
