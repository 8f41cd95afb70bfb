"""Notebook 05's exercise "the Fréchet distance of two 1-D Gaussians": `verify_frechet_1d`
checks a student's closed form on `CASES` and names the slip when it recognises one."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from ..metrics import gaussian_frechet_distance
from .exercises import close

#: (mu1, sigma1, mu2, sigma2): equal Gaussians, a pure shift, shift and scale, a pure scale.
CASES: tuple[tuple[float, float, float, float], ...] = (
    (0.0, 1.0, 0.0, 1.0), (1.0, 1.0, -1.0, 1.0), (0.5, 2.0, 0.0, 0.5), (0.0, 3.0, 0.0, 1.0))

#: Slips a student may make, each as (formula, what to say). d² is the squared distance.
SLIPS: dict[str, tuple[Callable[[float, float, float, float], float], str]] = {
    "no cross term": (lambda m1, s1, m2, s2: (m1 - m2) ** 2 + s1 ** 2 + s2 ** 2,
                      "two equal Gaussians must be at distance 0: the trace term is "
                      "σ1² + σ2² − 2(σ1²σ2²)^{1/2}, the cross term is missing"),
    "plus sign": (lambda m1, s1, m2, s2: (m1 - m2) ** 2 + (s1 + s2) ** 2,
                  "the cross term enters with a minus sign: Tr(Σ1 + Σ2 − 2(Σ1Σ2)^{1/2})"),
    "variances": (lambda m1, s1, m2, s2: (m1 - m2) ** 2 + (s1 ** 2 - s2 ** 2) ** 2,
                  "(Σ1Σ2)^{1/2} = σ1σ2 in 1-D, so the trace term is (σ1 − σ2)², "
                  "in standard deviations, not (σ1² − σ2²)²"),
    "not squared": (lambda m1, s1, m2, s2: math.sqrt((m1 - m2) ** 2 + (s1 - s2) ** 2),
                    "that is d; the formula (and the function) gives d², the squared distance"),
    "mean not squared": (lambda m1, s1, m2, s2: abs(m1 - m2) + (s1 - s2) ** 2,
                         "the mean term is ‖μ1 − μ2‖², squared"),
}


def expected_values(cases: Sequence[tuple[float, float, float, float]] = CASES) -> list[float]:
    """d² of each case from the general matrix formula (`ck.metrics.gaussian_frechet_distance`)."""
    return [float(gaussian_frechet_distance(torch.tensor([m1]), torch.tensor([[s1 ** 2]]),
                                            torch.tensor([m2]), torch.tensor([[s2 ** 2]])))
            for m1, s1, m2, s2 in cases]


def verify_frechet_1d(got: Sequence[float]) -> tuple[bool, str]:
    """Verifier: `got` = the student's d² for each of `CASES`, in order."""
    values = [float(torch.as_tensor(v)) for v in got]
    if len(values) != len(CASES):
        return False, f"{len(values)} values for {len(CASES)} cases"
    ok, detail = close(values, expected_values(), rtol=1e-4, atol=1e-6)
    if ok:
        return True, detail
    for formula, hint in SLIPS.values():
        if close(values, [formula(*c) for c in CASES], rtol=1e-4, atol=1e-6)[0]:
            return False, hint
    worst = max(range(len(CASES)), key=lambda i: abs(values[i] - expected_values()[i]))
    m1, s1, m2, s2 = CASES[worst]
    return False, (f"for N({m1:g}, {s1:g}²) vs N({m2:g}, {s2:g}²) you return {values[worst]:.4g}, "
                   f"the matrix formula gives {expected_values()[worst]:.4g}")
