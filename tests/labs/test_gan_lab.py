"""Notebook 03 as a lab: its exercise check accepts every correct D* and rejects the slips
with a hint (never the formula), nothing before the check gives the answer away, and the
figures it draws tell their series apart."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch

from coursekit.core.data import ring_modes
from coursekit.core.style import COLORS
from coursekit.labs import gan_exercises as GE
from coursekit.labs import gan_ring, gan_studies

matplotlib.use("Agg")
NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "03_gan.ipynb"


def check(fn):
    return GE.check_optimal_discriminator(GE.optimal_discriminator_values(fn))


# ----------------------------------------------------------------------------- correct answers
def reference(p_data, p_g):  # the notebook's solution cell
    return p_data / (p_data + p_g)


# (id, a correct D*(p_data, p_g) written another way)
CORRECT = [
    ("reference", reference),
    ("sigmoid_of_log_odds", lambda a, b: torch.sigmoid(torch.log(a) - torch.log(b))),
    ("sigmoid_of_log_ratio", lambda a, b: torch.sigmoid(torch.log(a / b))),
    ("one_over_one_plus_ratio", lambda a, b: 1 / (1 + b / a)),
    ("reciprocal", lambda a, b: torch.reciprocal(1 + b / a)),
    ("one_minus_fake_share", lambda a, b: 1 - b / (a + b)),
    ("logsumexp", lambda a, b: torch.exp(torch.log(a) - torch.logsumexp(
        torch.stack([torch.log(a), torch.log(b)]), 0))),
    ("numpy_arrays", lambda a, b: np.asarray(a) / (np.asarray(a) + np.asarray(b))),
    ("float32", lambda a, b: (a / (a + b)).float()),
    ("list_of_floats", lambda a, b: [float(x) / (float(x) + float(y)) for x, y in zip(a, b)]),
    ("list_of_tensors", lambda a, b: [x / (x + y) for x, y in zip(a, b)]),
    ("tiny_epsilon", lambda a, b: a / (a + b + 1e-8)),
    ("clamped_away_from_0_and_1", lambda a, b: (a / (a + b)).clamp(1e-7, 1 - 1e-7)),
    ("guarded_where", lambda a, b: torch.where(a + b > 0, a / (a + b), torch.full_like(a, 0.5))),
    ("in_place_division", lambda a, b: a.div_(a + b)),
    ("with_grad", lambda a, b: (a.requires_grad_() / (a + b))),
]


@pytest.mark.parametrize("fn", [c[1] for c in CORRECT], ids=[c[0] for c in CORRECT])
def test_every_correct_form_of_d_star_passes(fn):
    ok, msg = check(fn)
    assert ok, msg


# The wrong answers (each with its hint, none printing the answer): tests/test_exercise_checks.py.


# ----------------------------------------------------------------------------- the notebook
def _cells():
    return json.loads(NOTEBOOK.read_text())["cells"]


def _src(cell) -> str:
    return "".join(cell["source"])


def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def test_nothing_before_the_check_gives_the_answer_away():
    cells = _cells()
    check_at = next(i for i, c in enumerate(cells) if "check_optimal_discriminator" in _src(c))
    assert "nbval-check-output" in _tags(cells[check_at])
    solutions = [c for c in cells[:check_at] if "solution" in _tags(c) and c["cell_type"] == "code"]
    assert solutions, "the solution cell sits before the check"
    key_lines = {line.strip() for c in solutions for line in _src(c).splitlines()
                 if line.strip() and not line.strip().startswith(("def ", "#"))}
    for c in cells[:check_at]:
        if "solution" in _tags(c):
            continue
        text = _src(c)
        for line in key_lines:
            assert line not in text, f"the answer line {line!r} appears before the check"
        # the library's D* lives in coursekit.models.gan under the exercise's own name: the
        # module is not imported whole (nor reached as ck.gan) before the check
        assert not re.search(r"import\s+gan\b|models\s+import\s+gan\b|ck\.gan\b", text), text
        if c["cell_type"] == "code" and "def optimal_discriminator" not in text:
            assert "optimal_discriminator" not in text.replace("optimal_discriminator_values", ""), text


# ----------------------------------------------------------------------------- figures
def _run_with(counts, std=0.02):
    g = torch.Generator().manual_seed(0)
    modes = ring_modes()
    idx = torch.cat([torch.full((c,), k) for k, c in enumerate(counts)])
    samples = modes[idx] + std * torch.randn(len(idx), 2, generator=g)
    return gan_ring.RingRun("vanilla", 1, gan_ring.RING_CONFIGS["vanilla"], None, None,
                            [{"step": 4000, "samples": samples}])


def test_mode_collapse_figure_marks_covered_and_missed_modes():
    import matplotlib.colors as mcolors
    import matplotlib.pyplot as plt

    fig = gan_ring.plot_mode_collapse(_run_with([600, 700, 0, 500, 10, 400, 0, 290]))
    bars_ax = fig.axes[1]
    bars = bars_ax.patches[:8]
    covered = [mcolors.to_hex(b.get_facecolor()) == COLORS["blue"].lower() for b in bars]
    assert covered == [True, True, False, True, False, True, False, True]
    assert bars_ax.get_title().startswith("5/8 modes covered")
    assert bars_ax.get_xlabel() and bars_ax.get_ylabel() and bars_ax.get_legend() is not None
    plt.close(fig)


def test_ring_settings_have_distinct_colours_far_from_each_other():
    colours = [c for c, _ in gan_studies.CONFIG_STYLE.values()]
    markers = [m for _, m in gan_studies.CONFIG_STYLE.values()]
    assert len(set(colours)) == len(colours) and len(set(markers)) == len(markers)
    assert set(gan_studies.CONFIG_STYLE) == set(gan_studies.RING_STUDY)
    # orange and vermillion look alike: never both in one figure
    assert not {COLORS["orange"], COLORS["vermillion"]} <= set(colours)


# ----------------------------------------------------------------------------- §2 prediction
@pytest.mark.parametrize("answer", [False, "no", "No", " false ", np.bool_(False), torch.tensor(False)],
                         ids=["False", "no", "No", "false_padded", "numpy_bool", "tensor_bool"])
def test_the_ring_prediction_accepts_every_way_of_saying_no(answer):
    assert GE.check_ring_prediction(answer) == (True, "")


@pytest.mark.parametrize("answer", [True, "yes", np.bool_(True)], ids=["True", "yes", "numpy_true"])
def test_the_ring_prediction_rejects_yes_with_what_the_stored_runs_did(answer):
    ok, msg = GE.check_ring_prediction(answer)
    assert not ok and "never all 8" in msg and "earlier runs of this same setting" in msg, msg


@pytest.mark.parametrize("answer", ["maybe", 0, 1, None, 8], ids=["maybe", "0", "1", "None", "8"])
def test_the_ring_prediction_asks_for_true_or_false(answer):
    ok, msg = GE.check_ring_prediction(answer)
    assert not ok and "True or False" in msg, msg


def test_the_ring_prediction_follows_the_stored_runs():
    modes = GE.stored_ring_modes()
    assert len(modes) == 3 and max(modes) < 8            # §2's setting never covered all 8
    assert GE.check_ring_prediction(True, modes=[8, 8, 8]) == (True, "")
    ok, msg = GE.check_ring_prediction(False, modes=[8, 8, 8])
    assert not ok and "covered 8 of the 8 modes" in msg, msg


def test_the_prediction_is_checked_before_the_run_and_nothing_before_names_the_answer():
    cells = _cells()
    check_at = next(i for i, c in enumerate(cells) if "check_ring_prediction" in _src(c))
    run_at = next(i for i, c in enumerate(cells) if "train_ring_gan(" in _src(c))
    assert check_at < run_at and "nbval-check-output" in _tags(cells[check_at])
    before = "\n".join(_src(c) for c in cells[:check_at] if "solution" not in _tags(c)).lower()
    assert "collapse" not in before and "return false" not in before


# ----------------------------------------------------------------------------- §4 L(D*)
CORRECT_LOSS = {
    "math.log(2)": math.log(2), "-log(1/2)": -math.log(0.5), "two halves": 0.5 * math.log(2) * 2,
    "numpy": np.log(2), "tensor": torch.log(torch.tensor(2.0)), "float64 tensor":
    torch.tensor(2.0, dtype=torch.float64).log(), "rounded 0.693": 0.693, "rounded 0.69": 0.69,
    "one-element list": [math.log(2)],
}


@pytest.mark.parametrize("value", CORRECT_LOSS.values(), ids=CORRECT_LOSS.keys())
def test_every_correct_form_of_the_loss_at_the_optimum_passes(value):
    assert GE.check_loss_at_optimum(value) == (True, "")


WRONG_LOSS = {
    "V convention, −log 4": (-math.log(4), "Goodfellow"),
    "½ weights dropped, log 4": (math.log(4), "½ weights"),
    "sign flipped": (-math.log(2), "sign is flipped"),
    "D* instead of L(D*)": (0.5, "not the loss"),
    "zero": (0.0, "always right"),
    "bits": (1.0, "natural logarithm"),
    "one half of L only": (math.log(2) / 2, "add the real and the fake term"),
    "rounded too far, 0.7": (0.7, "is not it"),
    "nan": (float("nan"), "finite"),
    "a string": ("log 2", "one number"),
    "two numbers": ([0.69, 0.69], "one number"),
}


@pytest.mark.parametrize("value, says", WRONG_LOSS.values(), ids=WRONG_LOSS.keys())
def test_a_wrong_loss_at_the_optimum_is_rejected_without_the_value(value, says):
    ok, msg = GE.check_loss_at_optimum(value)
    assert not ok and says in msg, msg
    for answer in ("0.693", "0.6931", "log 2", "log(2)", "ln 2", "log2"):
        assert answer not in msg, msg


def test_the_check_cells_print_only_a_plain_correct():
    """A saved "✓ … correct" output does not describe the answer."""
    assert GE.check_optimal_discriminator(GE.optimal_discriminator_values(reference)) == (
        True, "at every probe point")


# ----------------------------------------------------------------------------- §3 figure
def test_vanishing_figure_has_one_legend_for_all_panels_and_a_log_step_axis():
    import matplotlib.pyplot as plt

    from coursekit.labs import gan_vanishing

    n = 5
    out = {"step": [0, 1, 10, 100, 1000], "d_acc": [0.5, 0.6, 0.9, 1.0, 1.0], "d_fake": [0.5] * n}
    for kind in ("saturating", "nonsaturating"):
        for key in ("grad", "cos", "gradmin", "gradmax"):
            out[f"{key}_{kind}"] = [0.5] * n
    fig = gan_vanishing.plot_vanishing({"blob": out, "spread": out})
    assert len(fig.legends) == 1 and all(ax.get_legend() is None for ax in fig.axes)
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("saturating" in t for t in texts) and "Gen: blob" in texts and "Gen: spread" in texts
    assert all(ax.get_xscale() == "log" for ax in fig.axes)
    assert "$" in fig.axes[1].get_ylabel() and "_Gen" not in fig.axes[1].get_ylabel().replace("mathrm{Gen}", "")
    plt.close(fig)
