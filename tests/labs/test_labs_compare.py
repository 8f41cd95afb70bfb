"""coursekit.labs.compare: the comparison table of notebook 05."""

import pytest
import torch
from torch import nn

from coursekit import metrics as M
from coursekit.core import checkpoints as C
from coursekit.core.checkpoints import Pretrained
from coursekit.labs import compare


class _Replay(nn.Module):
    """A fake model that 'samples' real train digits and reconstructs perfectly."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(3))
        self.seen_training = []

    def sample(self, n, generator=None):
        self.seen_training.append(self.training)
        return M.train_subset(n)

    def reconstruct(self, x):
        return x

    def elbo(self, x, generator=None):  # a Monte-Carlo estimate: random per call
        return -100 + torch.randn(len(x), generator=generator)

    def iwae(self, x, k, generator=None):
        return -90 + torch.randn(len(x), generator=generator) / k


def test_model_scores_of_a_model_that_replays_real_digits():
    model = _Replay().train()
    card = {"metrics": {"train_cpu_minutes": 2.0}, "tiny": True}
    row, samples = compare.model_scores("ae", Pretrained(model, card), n=100)
    assert samples.shape == (100, 1, 28, 28)
    assert row["recon_mse"] == 0.0 and -101 < row["elbo"] < -99 and -91 < row["iwae"] < -89
    assert row["fd_ratio"] == pytest.approx(M.evaluate_samples(M.train_subset(100))["fd_ratio"])
    assert row["cell"] == "heuristic, reconstruct X" and row["parameters"] == 3
    assert row["train_cpu_min"] == 2.0 and row["tiny"]
    assert model.seen_training == [False] and model.training  # eval inside, mode restored


def test_model_scores_do_not_depend_on_the_global_rng():
    loaded = Pretrained(_Replay(), {"metrics": {}, "train_cpu_seconds": 60.0})
    rows = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        row, _ = compare.model_scores("vae", loaded, n=50, iwae_k=5, seed=3)
        rows.append({k: v for k, v in row.items() if k != "sec_per_sample"})
    assert rows[0] == rows[1]


def test_format_table_marks_undefined_metrics():
    table = compare.format_table([{"model": "gan", "fd": 1.0, "fd_ratio": 2.0, "coverage": 9}])
    assert "| gan |" in table and "—" in table and "9/10" in table
    assert len(table.splitlines()) == 3


def test_format_table_marks_tiny_stand_ins_and_adds_the_reference():
    table = compare.format_table([{"model": "vae", "tiny": True, "sec_per_sample": 0.002}],
                                 reference_row={"fd": 5.0, "coverage": 10})
    assert "vae (tiny stand-in)" in table and "| 2 |" in table
    assert "real train vs held-out" in table and "1.0×" in table


def test_comparison_leaves_out_missing_checkpoints_with_a_message(tmp_path, monkeypatch, capsys):
    loaded = compare.load_for_comparison(["classifier"])
    assert set(loaded) == {"classifier"} and isinstance(loaded["classifier"], Pretrained)
    monkeypatch.setattr(C, "CHECKPOINT_DIR", tmp_path)
    assert compare.load_for_comparison(["classifier", "no_such_model"]) == {}
    out = capsys.readouterr().out
    assert "python -m coursekit pretrain classifier" in out and "no_such_model" in out
    with pytest.raises(ValueError, match="skip"):
        compare.load_for_comparison(["classifier"], missing="never")
