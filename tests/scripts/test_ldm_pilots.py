"""benchmarks/ldm_pilots.py: its last pilot is the committed "ldm" recipe, and a wrong name says
which names exist."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import ldm_pilots as P  # noqa: E402

from coursekit.recipes.diffusion import LDM  # noqa: E402


def test_the_last_pilot_is_the_committed_ldm_recipe():
    settings = list(P.PILOTS.values())[-1]
    assert {k: getattr(LDM, k) for k in settings} == settings


def test_every_other_pilot_differs_from_the_recipe():
    for name, settings in list(P.PILOTS.items())[:-1]:
        assert any(getattr(LDM, k) != v for k, v in settings.items()), name


def test_an_unknown_pilot_name_lists_the_known_ones():
    with pytest.raises(SystemExit, match="choose from 30k_ema999"):
        P.main(["60k"])
