"""One matplotlib style for notebooks, slides and the course website: `apply_style()`.

- a colour-blind-safe colour cycle, the Okabe–Ito palette (`PALETTE`), ordered so that the
  first colours are the most distinct under deuteranopia, protanopia and tritanopia and the
  pale yellow, weakest against white, comes last;
- perceptually uniform colormaps that read in grey and under colour-vision deficiencies
  (`SEQUENTIAL_CMAP`, `DIVERGING_CMAP`); MNIST images stay grey (``image.cmap`` = gray);
- an opaque WHITE figure, axes and savefig background, so figures stay readable on
  JupyterLab's dark theme and on the website's dark mode;
- readable font sizes, titles, no top/right spines, a light grid.

`setup()` applies it. `tests/core/test_style.py` checks the cycle, the backgrounds, and that every pair of palette
colours stays distinguishable under simulated colour-vision deficiencies.
"""
from __future__ import annotations

import matplotlib as mpl
from cycler import cycler

#: Okabe & Ito (2008), "Color Universal Design": blue, orange, bluish green, vermillion,
#: reddish purple, sky blue, black, yellow.
PALETTE: tuple[str, ...] = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442",
)
#: The palette by name, for code that needs a fixed colour (e.g. "reference line = vermillion").
COLORS: dict[str, str] = dict(zip(("blue", "orange", "green", "vermillion", "purple", "sky",
                                   "black", "yellow"), PALETTE))
#: One style per digit class 0–9, the same in every notebook: a colour (Okabe–Ito's first seven,
#: a dark yellow instead of its pale one, which vanishes on white as small dots, then grey and
#: indigo) *and* a marker of its own, so all ten classes stay apart in grey print and under
#: colour-vision deficiencies (where two colours merge, their markers still differ).
DIGIT_COLORS: tuple[str, ...] = PALETTE[:7] + ("#A08C00", "#888888", "#332288")
DIGIT_MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "*", "<", "h")


def digit_style(d: int) -> dict[str, str]:
    """matplotlib keyword arguments (color, marker) for digit class `d` in 0–9."""
    if not 0 <= int(d) <= 9:
        raise ValueError(f"digit_style takes a class 0–9, got {d!r}")
    return {"color": DIGIT_COLORS[int(d)], "marker": DIGIT_MARKERS[int(d)]}


#: For values on one scale (densities, errors): viridis (cividis is an equally safe choice).
SEQUENTIAL_CMAP = "viridis"
#: For signed values around 0 (weights, differences): blue–white–orange, no red–green axis.
DIVERGING_CMAP = "PuOr_r"
#: For MNIST digits and other images: plain grey.
IMAGE_CMAP = "gray"
BACKGROUND = "white"

#: Everything `apply_style` sets (exposed so tests and other tools can read it).
RC: dict[str, object] = {
    # layout and text
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 90,
    "savefig.dpi": 90,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "image.cmap": IMAGE_CMAP,
    "legend.frameon": False,
    # readable text
    "font.size": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "figure.titlesize": 13,
    # opaque white backgrounds, also when saved (dark themes, slides, the website)
    "figure.facecolor": BACKGROUND,
    "figure.edgecolor": BACKGROUND,
    "axes.facecolor": BACKGROUND,
    "savefig.facecolor": BACKGROUND,
    "savefig.edgecolor": BACKGROUND,
    "savefig.transparent": False,
    "axes.edgecolor": "#333333",
    "text.color": "black",
    "axes.labelcolor": "black",
    "xtick.color": "#333333",
    "ytick.color": "#333333",
}


def apply_style() -> None:
    """Set matplotlib's rcParams to the course style (idempotent; call after importing)."""
    mpl.rcParams.update(RC)
    mpl.rcParams["axes.prop_cycle"] = cycler(color=list(PALETTE))
