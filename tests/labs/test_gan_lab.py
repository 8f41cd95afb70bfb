"""Notebook 03 as a lab: its exercise check accepts every correct D* and rejects the slips
with a hint (never the formula), nothing before the check gives the answer away, and the
figures it draws tell their series apart."""
from __future__ import annotations

import json
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


# ----------------------------------------------------------------------------- wrong answers
# (id, wrong D*, a phrase of the hint)
WRONG = [
    ("real_and_fake_swapped", lambda a, b: b / (a + b), "swapped"),
    ("likelihood_ratio", lambda a, b: a / b, "likelihood ratio"),
    ("log_odds", lambda a, b: torch.log(a / b), "optimal logit"),
    ("constant_half", lambda a, b: torch.full_like(a, 0.5), "only where p_g = p_data"),
    ("p_data_alone", lambda a, b: a, "a density is not a probability"),
    ("factor_one_half", lambda a, b: 0.5 * a / (a + b), "factor 1/2"),
    ("normalised_over_all_points", lambda a, b: a / (a + b).sum(), "point by point"),
    ("mean_instead_of_elementwise", lambda a, b: (a / (a + b)).mean(), "element-wise"),
    # correct where both densities are positive, NaN where p_g = 0 (∞/∞): the exercise asks for
    # disjoint supports too
    ("ratio_form_nan_on_disjoint_support", lambda a, b: (a / b) / (1 + a / b), "not finite"),
    ("large_epsilon", lambda a, b: a / (a + b + 1e-3), "small constant"),
    ("squared_densities", lambda a, b: a ** 2 / (a ** 2 + b ** 2), "does not minimise"),
]


@pytest.mark.parametrize("fn, phrase", [w[1:] for w in WRONG], ids=[w[0] for w in WRONG])
def test_a_wrong_d_star_is_rejected_with_a_hint_that_does_not_print_the_answer(fn, phrase):
    ok, msg = check(fn)
    assert not ok
    assert phrase in msg, msg
    squeezed = msg.replace(" ", "")
    for answer in ("p_data/(p_data+p_g)", "p_data/(p_g+p_data)", "a/(a+b)",
                   "σ(log(p_data/p_g))", "1−D*", "1-D*"):
        assert answer not in squeezed, msg


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


def test_hidden_cells_carry_both_markers_and_markers_are_tags_not_comments():
    for c in _cells():
        if c["cell_type"] != "code":
            continue
        hidden = c.get("metadata", {}).get("jupyter", {}).get("source_hidden", False)
        assert hidden == ("remove-input" in _tags(c)), _src(c)[:80]
        assert "NBVAL" not in _src(c)


def test_the_optional_part_is_at_the_end():
    flags = ["optional" in _tags(c) for c in _cells()]
    first = flags.index(True)
    assert all(flags[first:]), "every cell after 'Going further' is tagged optional"


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
