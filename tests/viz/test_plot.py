"""coursekit.plot: every figure is drawn, titled and labelled."""
import torch

import coursekit as ck


def _title(fig):
    return fig._suptitle.get_text() if fig._suptitle else fig.axes[0].get_title()


def test_image_grid_and_compare():
    imgs = torch.rand(20, 1, 28, 28)
    assert "digits" in _title(ck.plot.image_grid(imgs, "digits"))
    fig = ck.plot.compare_grids({"clean": imgs, "noisy": imgs}, "compare")
    assert _title(fig) == "compare" and fig.axes[1].get_ylabel() == "noisy"


def test_image_grid_rejects_wrong_shape():
    import pytest

    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        ck.plot.to_image_grid(torch.rand(28))


def test_curves_scatter_density_bars():
    h = ck.History()
    for s in range(5):
        h.log("train", s, s, s, {"loss": 1.0 / (s + 1)})
    h.log("eval", 4, 4, 4, {"loss": 0.3})
    fig = ck.plot.curves(h, title="curves")
    ax = fig.axes[0]
    assert ax.get_title() == "curves" and ax.get_xlabel() == "step" and len(ax.lines) == 2
    pts = torch.randn(100, 2)
    ax = ck.plot.scatter2d(pts, "s", labels=torch.arange(100) % 3).axes[0]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title() == "s"
    assert ck.plot.density2d(pts, "d").axes[0].get_title() == "d"
    assert ck.plot.bars([1, 2, 3], "b", "class", "count", reference=2).axes[0].get_ylabel()
    assert _title(ck.plot.small_multiples([("t=0", pts), ("t=1", pts)], "traj")) == "traj"


def test_widget_explorer_draws_a_static_figure(capsys):
    import ipywidgets as W

    calls = []

    def draw(ax, v):
        calls.append(v)
        ax.plot([0, v])

    box = ck.widgets.explorer(draw, {"v": W.FloatSlider(value=1, min=0, max=2)}, "demo")
    assert calls[:3] == [0, 1, 2]          # static panels at min, middle, max
    assert box is not None


def test_explorer_labels_sliders_and_snaps_static_midpoint():
    import ipywidgets as W

    seen = []
    slider = W.FloatSlider(value=1.0, min=0.5, max=1.75, step=0.25)
    ck.widgets.explorer(lambda ax, sigma: seen.append(sigma), {"sigma": slider}, "demo")
    assert slider.description == "sigma"
    assert seen[:3] == [0.5, 1.0, 1.75]  # the midpoint 1.125 snaps to the 0.25 grid


def test_animation_html_plays_offline():
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation

    fig, ax = plt.subplots()
    (line,) = ax.plot([0, 1], [0, 1])
    anim = FuncAnimation(fig, lambda i: line.set_ydata([0, i]), frames=3)
    html = ck.plot.animation_html(anim).data
    plt.close(fig)
    assert "<img" in html or "data:image" in html  # frames are embedded
    assert "http://" not in html and "https://" not in html  # nothing fetched from the network
    assert "▶" in html and 'class="fa ' not in html
