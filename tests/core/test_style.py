"""coursekit.core.style: the colour cycle is the palette, backgrounds are opaque white, and the
palette stays distinguishable for colour-blind readers (simulated with Machado et al. 2009).

Distances are CIE 1976 ΔE*ab in CIELAB (D65), between colours after simulating a full
(severity 1.0) protanopia, deuteranopia or tritanopia. About 2.3 is a just-noticeable
difference; for thin lines and small markers next to each other we ask for at least 12.
Okabe–Ito's closest pair is 17.0 (orange/yellow, deuteranopia); matplotlib's default tab10 has
pairs at 4.6 (orange/green, protanopia) and 7.2 (orange/olive, deuteranopia), so it fails —
a test below checks that the threshold tells the two apart.
"""
from __future__ import annotations

import itertools

import matplotlib as mpl
import matplotlib.colors as mcolors
import numpy as np
import pytest

from coursekit.core import style

MIN_DELTA_E = 12.0

#: Machado, Oliveira & Fernandes (2009), "A physiologically-based model for simulation of color
#: vision deficiency", IEEE TVCG 15(6); severity 1.0, applied to linear RGB.
MACHADO_2009 = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868],
                            [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968],
                              [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779],
                            [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}
_SRGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                         [0.2126729, 0.7151522, 0.0721750],
                         [0.0193339, 0.1191920, 0.9503041]])
_WHITE = _SRGB_TO_XYZ @ np.ones(3)


def _linear(srgb: np.ndarray) -> np.ndarray:
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def _lab(linear_rgb: np.ndarray) -> np.ndarray:
    t = (_SRGB_TO_XYZ @ linear_rgb) / _WHITE
    d = 6 / 29
    f = np.where(t > d**3, np.cbrt(t), t / (3 * d**2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def simulate_lab(color, deficiency: str | None) -> np.ndarray:
    """CIELAB of `color` as seen with `deficiency` (None: normal vision)."""
    lin = _linear(np.array(mcolors.to_rgb(color)))
    if deficiency is not None:
        lin = np.clip(MACHADO_2009[deficiency] @ lin, 0, 1)
    return _lab(lin)


def closest_pair(colors, deficiency: str | None) -> tuple[float, tuple[str, str]]:
    return min((float(np.linalg.norm(simulate_lab(a, deficiency) - simulate_lab(b, deficiency))),
                (mcolors.to_hex(a), mcolors.to_hex(b)))
               for a, b in itertools.combinations(colors, 2))


@pytest.fixture
def styled():
    with mpl.rc_context():
        style.apply_style()
        yield mpl.rcParams


def test_cycle_is_the_palette(styled):
    cycle = [mcolors.to_hex(c) for c in styled["axes.prop_cycle"].by_key()["color"]]
    assert cycle == [mcolors.to_hex(c) for c in style.PALETTE]
    assert len(set(cycle)) == len(cycle) >= 6


def test_backgrounds_are_opaque_white(styled):
    for key in ("figure.facecolor", "axes.facecolor", "savefig.facecolor"):
        assert mcolors.to_rgba(styled[key]) == (1.0, 1.0, 1.0, 1.0), key
    assert styled["savefig.transparent"] is False


def test_colormaps_and_carried_over_defaults(styled):
    assert styled["image.cmap"] == "gray"  # MNIST digits stay grey
    for name in (style.SEQUENTIAL_CMAP, style.DIVERGING_CMAP):
        mpl.colormaps[name]  # exists
    assert styled["axes.spines.top"] is False and styled["axes.spines.right"] is False
    assert styled["axes.grid"] is True and styled["legend.frameon"] is False
    assert tuple(styled["figure.figsize"]) == (6.4, 4.0) and styled["figure.dpi"] == 90
    assert styled["font.size"] >= 10 and styled["axes.titlesize"] >= 12


def test_saved_figure_has_a_white_opaque_background(styled, tmp_path):
    import matplotlib.pyplot as plt
    from PIL import Image

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    fig.savefig(tmp_path / "f.png")
    plt.close(fig)
    rgba = np.asarray(Image.open(tmp_path / "f.png").convert("RGBA"))
    assert (rgba[0, 0] == 255).all() and rgba[..., 3].min() == 255


@pytest.mark.parametrize("deficiency", [None, *MACHADO_2009])
def test_palette_distinguishable_with_colour_vision_deficiency(deficiency):
    distance, pair = closest_pair(style.PALETTE, deficiency)
    assert distance >= MIN_DELTA_E, f"{pair} only ΔE {distance:.1f} apart ({deficiency})"


def test_threshold_rejects_matplotlib_default_tab10():
    """The check has teeth: tab10's orange and green merge for protanopes."""
    tab10 = mpl.rcParamsDefault["axes.prop_cycle"].by_key()["color"]
    worst = min(closest_pair(tab10, d)[0] for d in ("protanopia", "deuteranopia"))
    assert worst < MIN_DELTA_E


def test_simulation_is_sane():
    """Grey stays grey under every simulation; red and green merge for a deuteranope."""
    for d in MACHADO_2009:
        grey = simulate_lab("#808080", d)
        assert abs(grey[1]) < 1.5 and abs(grey[2]) < 1.5, d
    normal = np.linalg.norm(simulate_lab("#d62728", None) - simulate_lab("#2ca02c", None))
    deutan = np.linalg.norm(simulate_lab("#d62728", "deuteranopia")
                            - simulate_lab("#2ca02c", "deuteranopia"))
    assert deutan < normal / 3


def test_ten_digits_have_ten_distinguishable_styles():
    """Every digit class has its own marker, and its own colour that stays apart from the others
    under normal vision; where a deficiency merges two colours, the markers still differ."""
    styles = [style.digit_style(d) for d in range(10)]
    assert len({s["marker"] for s in styles}) == 10
    assert len({mcolors.to_hex(s["color"]) for s in styles}) == 10
    distance, pair = closest_pair(style.DIGIT_COLORS, None)
    assert distance >= MIN_DELTA_E, f"{pair} only ΔE {distance:.1f} apart"
    with pytest.raises(ValueError, match="0–9"):
        style.digit_style(10)


def test_digit_scatter_has_a_legend_entry_per_class_in_its_style():
    import matplotlib.pyplot as plt
    import torch

    from coursekit.viz import plot

    fig, ax = plt.subplots()
    labels = torch.arange(200) % 10
    plot.scatter_digits(ax, torch.randn(200, 2), labels)
    leg = ax.get_legend()
    assert [t.get_text() for t in leg.get_texts()] == [str(d) for d in range(10)]
    colours = [mcolors.to_hex(c.get_facecolor()[0]) for c in ax.collections]
    assert colours == [mcolors.to_hex(style.digit_style(d)["color"]) for d in range(10)]
    plt.close(fig)
