"""How the notebooks word a comparison: a mean with its standard error, and "lower" / "higher" /
"not distinguishable" computed from the numbers (never asserted in static text).

Three kinds of evidence, one function each:
- `paired_verdict(a, b)`: per-item values of two methods on the same items (paired differences);
- `se_verdict(x, se_x, y, se_y)`: two estimates with their standard errors;
- `range_verdict(xs, ys)`: a few values per side (e.g. sampling or training seeds): the ranges.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

NOT_DISTINGUISHABLE = "not distinguishable"


def mean_se(values: torch.Tensor) -> tuple[float, float]:
    """(mean, standard error of the mean) of per-item values (flattened)."""
    v = torch.as_tensor(values).double().flatten()
    if len(v) < 2:
        raise ValueError(f"need at least 2 values for a standard error, found {len(v)}")
    return float(v.mean()), float(v.std() / len(v) ** 0.5)


def fmt(mean: float, se: float, digits: int = 1) -> str:
    """"12.3 ± 0.4": a mean and its standard error."""
    return f"{mean:.{digits}f} ± {se:.{digits}f}"


def paired_verdict(a: torch.Tensor, b: torch.Tensor, k: float = 2.0) -> str:
    """How a per-item quantity `a` compares with `b` on the same items: "lower" / "higher" when
    the mean difference a − b is more than k standard errors from 0, else "not distinguishable
    (difference within ± k s.e.)"."""
    diff, se = mean_se(torch.as_tensor(a).double() - torch.as_tensor(b).double())
    if diff + k * se < 0:
        return "lower"
    if diff - k * se > 0:
        return "higher"
    return f"{NOT_DISTINGUISHABLE} (difference within ± {k:g} s.e.)"


def se_verdict(x: float, se_x: float, y: float, se_y: float, k: float = 2.0) -> str:
    """"lower" / "higher" when x ± k·se_x and y ± k·se_y do not overlap, else
    "not distinguishable (ranges ± k s.e. overlap)"."""
    if x + k * se_x < y - k * se_y:
        return "lower"
    if x - k * se_x > y + k * se_y:
        return "higher"
    return f"{NOT_DISTINGUISHABLE} (ranges ± {k:g} s.e. overlap)"


def range_verdict(xs: Sequence[float], ys: Sequence[float]) -> str:
    """"lower" / "higher" when the range [min, max] of xs lies wholly below / above that of ys,
    "the same on every seed" when every value is equal, else "not distinguishable (ranges
    overlap)". With 3 values a side this is rough: a fourth could fall outside a range."""
    if min(xs) == max(xs) == min(ys) == max(ys):
        return "the same on every seed"
    if max(xs) < min(ys):
        return "lower"
    if min(xs) > max(ys):
        return "higher"
    return f"{NOT_DISTINGUISHABLE} (ranges overlap)"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """"1 thread", "2 threads": a number with its noun in the right number."""
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"


def phrase(a: str, word: str, b: str) -> str:
    """A verdict as a sentence part: "a lower than b", "a higher than b", or, for any other
    `word` of the verdicts above, "a and b not distinguishable (…)"."""
    if word in ("lower", "higher"):
        return f"{a} {word} than {b}"
    return f"{a} and {b} {word}"


__all__ = ["NOT_DISTINGUISHABLE", "mean_se", "fmt", "paired_verdict", "se_verdict",
           "range_verdict", "count", "phrase"]
