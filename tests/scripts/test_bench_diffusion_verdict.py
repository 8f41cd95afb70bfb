"""benchmarks/bench_diffusion.py's verdict against the [sample-quality] bars reads the cards right."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_diffusion as B  # noqa: E402


def _card(ratios, cpu=700.0):
    keys = B.SEED_KEYS["ddpm"]
    return {"train_loop_cpu_seconds": cpu, **{k: r for k, r in zip(keys, ratios)}}


@pytest.mark.parametrize("ratios, cpu, says", [
    ((4.0, 6.0), 700.0, "NO VERDICT"),                  # two seeds: no median to judge
    ((6.0, 4.9, 4.0), 700.0, "median 4.90 (range 4.00-6.00)"),
    ((6.0, 4.9, 4.0), 700.0, ": met"),
    ((6.0, 5.1, 4.0), 700.0, "NOT met"),               # the median, not the best seed
    ((4.0, 4.0, 4.0), 950.0, "NOT met"),               # over the CPU budget
])
def test_ddpm_verdict_uses_the_median_of_three_seeds_and_the_cpu_budget(ratios, cpu, says):
    assert says in B.verdict_line("ddpm", _card(ratios, cpu))
