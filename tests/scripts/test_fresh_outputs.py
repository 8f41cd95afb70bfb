"""Every number a notebook's saved output quotes from a model card is the current card's
(issue one-source): retrain a checkpoint and the notebooks that print its doctor line or its
load line fail here until they are re-executed (`make execute NB=...`)."""
from __future__ import annotations

import re
import sys
from functools import cache
from pathlib import Path

import nbformat
import pytest
import torch

from coursekit.core.checkpoints import checkpoint_path, load_line, status_line

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import nbtools  # noqa: E402, I001

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
STATUS = re.compile(r"^  (\w+)\s+OK \([\d.]+ MB;")
LOADED = re.compile(r"^loaded pretrained '(\w+)'")


@cache  # one read per checkpoint, however many saved lines quote it
def current_card(name: str) -> tuple[dict, int] | None:
    path = checkpoint_path(name)
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)["card"], path.stat().st_size


def stale_lines(nb, card_of=current_card) -> list[tuple[int, str, str]]:
    """(cell, saved line, what the current card gives) for every card-quoting line that differs."""
    stale = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for text in nbtools.output_texts(cell):
            for line in text.splitlines():
                m = STATUS.match(line) or LOADED.match(line)
                if not m:
                    continue
                found = card_of(m.group(1))
                if found is None:
                    stale.append((i, line, "no such checkpoint"))
                    continue
                card, size = found
                want = status_line(m.group(1), card, size) if m.re is STATUS \
                    else load_line(m.group(1), card)
                if line.rstrip() != want:
                    stale.append((i, line, want))
    return stale


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_saved_outputs_quote_the_current_cards(path):
    stale = stale_lines(nbformat.read(str(path), as_version=4))
    assert not stale, (f"{path.name} quotes cards that changed; re-execute it "
                       f"(make execute NB=notebooks/{path.name}): {stale}")


def test_a_planted_stale_value_is_caught():
    card = {"metrics": {"steps": 9000.0, "fd_ratio": 7.56}, "parameters": 1000,
            "train_cpu_seconds": 834.0}
    old = {**card, "metrics": {"steps": 7000.0, "fd_ratio": 7.56}, "train_cpu_seconds": 956.1}
    cell = nbformat.v4.new_code_cell("ck.doctor(); ck.pretrained('gan')")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=(
        status_line("gan", old, 2**20) + "\n" + load_line("gan", old) + "\n"))]
    nb = nbformat.v4.new_notebook(cells=[cell])
    assert stale_lines(nb, lambda name: (old, 2**20)) == []
    stale = stale_lines(nb, lambda name: (card, 2**20))
    assert [s[1].split()[0] for s in stale] == ["gan", "loaded"]
    assert "13.9 CPU-min" in stale[0][2] and "13.9 CPU-min" in stale[1][2]
