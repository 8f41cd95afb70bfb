"""The README's checkpoint table quotes the committed model cards: a card remade without the
README (or a README edited without a card) fails here, with the row and the numbers."""
from __future__ import annotations

import re
import statistics
import sys
from pathlib import Path

import pytest
import torch

from coursekit.core.checkpoints import checkpoint_path, seed_spread, training_cpu_minutes

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_diffusion as B  # noqa: E402


def checkpoint_rows(readme: str) -> list[tuple[list[str], str, str]]:
    """(checkpoint names, headline, training) of each row of the README's checkpoint table."""
    rows, inside = [], False
    for line in readme.splitlines():
        if line.startswith("| checkpoint | notebook |"):
            inside = True
        elif inside and line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows.append((re.findall(r"`(\w+)`", cells[0]), cells[3], cells[4]))
        elif inside and not line.startswith("|"):
            break
    return rows


def fd_phrase(metrics: dict, name: str) -> str | None:
    """How the README states a sampling model's FD: median and range over 3 sampling seeds of
    the card's headline sampler (`bench_diffusion.SEED_KEYS`; the gan card's plain fd_ratio)."""
    base = B.SEED_KEYS[name][0] if name in B.SEED_KEYS else "fd_ratio"
    ratios = seed_spread(metrics).get(base)
    if ratios is None:
        return None
    assert len(ratios) == 3, f"{name}: {len(ratios)} sampling seeds of {base} on the card"
    return (f"FD {statistics.median(ratios):.1f}× ({min(ratios):.1f}–{max(ratios):.1f}, "
            f"3 sampling seeds)")


def mismatches(readme: str, cards: dict[str, dict]) -> list[str]:
    """What the table says that its cards do not (training CPU-minutes, FD median and range)."""
    problems = []
    for names, headline, training in checkpoint_rows(readme):
        quoted = re.match(r"([\d.]+(?: / [\d.]+)*) CPU-min", training)
        if not quoted:
            problems.append(f"{names}: no 'N CPU-min' at the start of {training!r}")
            continue
        minutes = quoted.group(1).split(" / ")
        for name, said in zip(names, minutes):
            card = f"{training_cpu_minutes(cards[name]):.1f}"
            if said != card:
                problems.append(f"{name}: README says {said} CPU-min of training, its card {card}")
        for name in names:
            want = fd_phrase(cards[name]["metrics"], name)
            if want is not None and want not in headline:
                problems.append(f"{name}: README headline {headline!r} lacks {want!r}")
    return problems


def committed_cards(names) -> dict[str, dict]:
    cards = {}
    for name in names:
        path = checkpoint_path(name)
        if not path.exists():
            pytest.skip(f"{path} not made yet: python -m coursekit pretrain {name}")
        cards[name] = torch.load(path, map_location="cpu", weights_only=True)["card"]
    return cards


README = (ROOT / "README.md").read_text()


def test_readme_table_names_every_sampling_model():
    names = {n for row in checkpoint_rows(README) for n in row[0]}
    assert {"ae", "vae", "gan", "ddpm", "ldm", "classifier"} <= names


def test_readme_checkpoint_table_quotes_the_committed_cards():
    cards = committed_cards({n for row in checkpoint_rows(README) for n in row[0]})
    assert mismatches(README, cards) == []


@pytest.mark.parametrize("old, new", [
    ("FD {fd}× (", "FD 9.9× ("),          # a stale median
    ("{minutes} CPU-min", "99.9 CPU-min"),  # a stale training time
])
def test_a_stale_number_in_the_table_is_caught(old, new):
    cards = committed_cards({n for row in checkpoint_rows(README) for n in row[0]})
    m = cards["ldm"]["metrics"]
    fd = f"{sorted(m[k] for k in B.SEED_KEYS['ldm'])[1]:.1f}"
    minutes = f"{training_cpu_minutes(cards['ldm']):.1f}"
    row = next(line for line in README.splitlines() if line.startswith("| `ldm` |"))
    stale_row = row.replace(old.format(fd=fd, minutes=minutes), new, 1)
    assert stale_row != row
    found = mismatches(README.replace(row, stale_row), cards)
    assert len(found) == 1 and found[0].startswith("ldm:")
