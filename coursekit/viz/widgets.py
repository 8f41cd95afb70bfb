"""ipywidgets explorers, each with a static-figure fallback.

A widget only lives in a running kernel: committed notebooks, nbval, slides and the student
edition show the static figure instead. So every explorer draws both: first a static row of
panels at chosen slider values, then (when ipywidgets is available) the live version.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt


def static_panels(draw: Callable, settings: Sequence[dict], title: str,
                  panel_size: float = 2.4, label: Callable[[dict], str] | None = None):
    """One panel per dict of keyword arguments: ``draw(ax=ax, **kwargs)`` fills each panel."""
    fig, axes = plt.subplots(1, len(settings), figsize=(panel_size * len(settings),
                                                       panel_size + 0.5), squeeze=False)
    for ax, kw in zip(axes[0], settings):
        draw(ax=ax, **kw)
        ax.set_title(label(kw) if label else ", ".join(f"{k}={v:.3g}" if isinstance(v, float)
                                                       else f"{k}={v}" for k, v in kw.items()),
                     fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def explorer(draw: Callable, sliders: dict, title: str, static: Sequence[dict] | None = None,
             figsize: tuple[float, float] = (4.0, 4.0), show_static: bool = True,
             panel_size: float = 2.4, label: Callable[[dict], str] | None = None):
    """Live slider explorer of ``draw(ax=ax, **slider_values)`` plus a static figure.

    sliders: name → ipywidgets widget (e.g. ``FloatSlider``). `static`: slider settings for the
    static row (default: each slider's min, middle and max, others at their value).
    `panel_size` and `label` go to `static_panels`. Returns the widget box (or None when
    ipywidgets is missing).
    """
    from IPython.display import display

    if show_static:
        if static is None:
            static = _default_static(sliders)
        display(static_panels(draw, static, title + " (static view)", panel_size, label))
        plt.close("all")
    try:
        import ipywidgets as W
    except ImportError:  # pragma: no cover - ipywidgets is a dependency
        print("ipywidgets is not installed: only the static figure is shown.")
        return None

    out = W.Output()

    def render(**values):
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=figsize)
            draw(ax=ax, **values)
            ax.set_title(title, fontsize=10)
            plt.show()

    for name, w in sliders.items():
        w.continuous_update = False
        if not getattr(w, "description", "x"):
            w.description = name  # an unlabelled slider is a puzzle on a projector
    W.interactive_output(render, sliders)
    box = W.VBox([W.HBox(list(sliders.values())), out])
    display(box)
    return box


def _default_static(sliders: dict) -> list[dict]:
    base = {k: w.value for k, w in sliders.items()}
    settings = []
    for k, w in sliders.items():
        if hasattr(w, "min") and hasattr(w, "max"):
            step = getattr(w, "step", None) or 1
            middle = w.min + round((w.max - w.min) / 2 / step) * step  # snapped to the slider
            for v in (w.min, middle, w.max):
                v = type(w.value)(v) if isinstance(w.value, int) else round(v, 10)
                settings.append({**base, k: v})
            break
    return settings or [base]
