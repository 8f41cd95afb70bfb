"""coursekit.core.stats: a comparison is worded from its numbers and their spread."""
import pytest
import torch

from coursekit.core import stats


def test_mean_se_is_the_standard_error_of_the_mean_and_needs_two_values():
    m, se = stats.mean_se(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert m == pytest.approx(2.5) and se == pytest.approx(torch.tensor([1.0, 2, 3, 4]).std().item() / 2)
    with pytest.raises(ValueError, match="at least 2"):
        stats.mean_se(torch.tensor([1.0]))


def test_paired_verdict_uses_the_paired_differences_not_the_two_spreads():
    g = torch.Generator().manual_seed(0)
    base = 10 * torch.randn(400, generator=g)          # large spread between items
    a = base + 0.1 + 0.01 * torch.randn(400, generator=g)  # small, consistent offset
    assert stats.paired_verdict(a, base) == "higher"
    assert stats.paired_verdict(base, a) == "lower"
    assert stats.paired_verdict(base + 0.01 * torch.randn(400, generator=g), base).startswith(
        "not distinguishable")


def test_se_verdict_overlapping_intervals_are_not_distinguishable():
    assert stats.se_verdict(1.0, 0.1, 2.0, 0.1) == "lower"
    assert stats.se_verdict(2.0, 0.1, 1.0, 0.1) == "higher"
    assert stats.se_verdict(1.0, 0.3, 1.5, 0.3).startswith("not distinguishable")


def test_range_verdict_orders_only_disjoint_ranges():
    assert stats.range_verdict([8, 8, 8], [7, 3, 7]) == "higher"
    assert stats.range_verdict([92.0, 92.3], [93.4, 95.5]) == "lower"
    assert stats.range_verdict([8, 8], [8, 8]) == "the same on every seed"
    assert stats.range_verdict([90, 95], [93, 96]).startswith("not distinguishable")


def test_fmt_prints_mean_and_se():
    assert stats.fmt(12.345, 0.42) == "12.3 ± 0.4" and stats.fmt(1.0, 0.05, 2) == "1.00 ± 0.05"


def test_phrase_turns_a_verdict_into_a_sentence_part():
    assert stats.phrase("η = 1", "lower", "η = 0") == "η = 1 lower than η = 0"
    assert stats.phrase("a", stats.se_verdict(1, 1, 2, 1), "b").startswith("a and b not distinguishable")


def test_count_puts_the_noun_in_the_right_number():
    assert stats.count(1, "thread") == "1 thread" and stats.count(2, "thread") == "2 threads"
    assert stats.count(3, "seed") == "3 seeds" and stats.count(1, "epoch") == "1 epoch"
