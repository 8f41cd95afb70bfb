"""The README's checkpoint table is generated from the model cards (issue one-source): a card
remade or rescored without `python scripts/readme_tables.py` fails here."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import readme_tables as R  # noqa: E402


def test_readme_checkpoint_table_is_the_generated_one():
    assert R.main(["--check"]) == 0, "run `python scripts/readme_tables.py`"


def test_the_check_fails_on_a_stale_number(tmp_path, monkeypatch):
    table = R.checkpoint_table()
    first_row = table.splitlines()[2]
    stale = R.README.read_text().replace(first_row, first_row.replace(" CPU-min", "1 CPU-min"))
    assert stale != R.README.read_text()
    planted = tmp_path / "README.md"
    planted.write_text(stale)
    monkeypatch.setattr(R, "README", planted)
    assert R.main(["--check"]) == 1
    assert R.main([]) == 0 and R.main(["--check"]) == 0  # regenerating mends it


def test_every_checkpoint_has_a_row():
    from coursekit.core.checkpoints import recipes

    named = " ".join(r[0] for r in R.rows())
    assert all(f"`{name}`" in named for name in recipes()), named
