"""coursekit.labs.diffusion_toys: notebook 04's forward-chain simulation and animation."""
import pytest
import torch

from coursekit.labs import diffusion_toys as L
from coursekit.models import diffusion as D


def test_simulation_follows_the_variance_recursion():
    betas = D.make_betas(50, "linear")
    x_0 = 3.0 * torch.randn(20_000, 1, generator=torch.Generator().manual_seed(0))
    for coef in ("sqrt", "alpha"):
        xs = L.simulate_forward(x_0, betas, coef, generator=torch.Generator().manual_seed(1))
        assert xs.shape == (51, 20_000, 1) and torch.equal(xs[0], x_0)
        predicted = D.forward_variance(float(x_0.var()), betas, coef)
        torch.testing.assert_close(xs.var(dim=(1, 2)).double(), predicted, rtol=0.05, atol=0)
    with pytest.raises(ValueError, match="eq. 16"):
        L.simulate_forward(x_0, betas, "alpha_bar")


def test_reverse_animation_has_one_frame_per_trajectory_point():
    traj = [(t, torch.randn(30, 2, generator=torch.Generator().manual_seed(t)))
            for t in (10, 5, 0)]
    anim = L.reverse_animation(traj, "toy")
    assert len(list(anim.new_frame_seq())) == 3
    assert anim.to_jshtml().count("data:image/png") == 3  # renders offline, one PNG a frame


def test_train_toy_runs_the_shared_loop_on_a_toy_set():
    toy = D.toy_diffusion(T=10, hidden=16)
    hist = L.train_toy(toy, "ring", steps=5, seed=0, progress=False)
    losses = hist.series("loss")[1]
    assert hist.steps == 5 and len(losses) == 5 and all(v > 0 for v in losses)


def test_image_table_labels_every_column_and_row():
    images = torch.rand(3, 4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    fig = L.image_table(images, [f"t = {t}" for t in (30, 20, 10, 0)], "a table",
                        row_labels=["a", "b", "c"])
    axes = fig.axes
    assert len(axes) == 12
    assert [ax.get_title() for ax in axes[:4]] == ["t = 30", "t = 20", "t = 10", "t = 0"]
    assert [axes[4 * r].get_ylabel() for r in range(3)] == ["a", "b", "c"]
    assert fig._suptitle.get_text() == "a table"
    with pytest.raises(ValueError, match="column labels"):
        L.image_table(images, ["only one"], "bad")
