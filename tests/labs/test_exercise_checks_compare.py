"""Notebook 05's exercise check: the 1-D Fréchet distance, reference passes, slips rejected."""
from __future__ import annotations

import math

import pytest

from coursekit.labs import compare_exercises as CE


def reference(m1, s1, m2, s2):
    return (m1 - m2) ** 2 + (s1 - s2) ** 2


WRONG = {  # name: (student's d², a word the message must contain)
    "no cross term": (lambda m1, s1, m2, s2: (m1 - m2) ** 2 + s1 ** 2 + s2 ** 2, "cross term"),
    "plus sign": (lambda m1, s1, m2, s2: (m1 - m2) ** 2 + (s1 + s2) ** 2, "minus sign"),
    "variances for stds": (lambda m1, s1, m2, s2: (m1 - m2) ** 2 + (s1 ** 2 - s2 ** 2) ** 2,
                           "standard deviations"),
    "d, not d²": (lambda m1, s1, m2, s2: math.sqrt(reference(m1, s1, m2, s2)), "squared"),
    "mean term not squared": (lambda m1, s1, m2, s2: abs(m1 - m2) + (s1 - s2) ** 2,
                              "‖μ1 − μ2‖²"),
    "means only": (lambda m1, s1, m2, s2: (m1 - m2) ** 2, "you return"),
    "half of it": (lambda m1, s1, m2, s2: 0.5 * reference(m1, s1, m2, s2), "you return"),
}


def answers(fn):
    return [fn(*c) for c in CE.CASES]


def test_reference_closed_form_of_the_1d_frechet_distance_passes():
    ok, detail = CE.verify_frechet_1d(answers(reference))
    assert ok and "within rtol" in detail


@pytest.mark.parametrize("name", list(WRONG))
def test_slips_in_the_1d_frechet_distance_are_rejected_with_a_hint(name):
    fn, word = WRONG[name]
    ok, detail = CE.verify_frechet_1d(answers(fn))
    assert not ok and word in detail, detail


def test_wrong_number_of_values_is_rejected():
    ok, detail = CE.verify_frechet_1d([0.0])
    assert not ok and "cases" in detail
