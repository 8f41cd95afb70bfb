"""Notebook 05's exercises.

* "the Fréchet distance of two 1-D Gaussians": `verify_frechet_1d` checks a student's closed
  form on `CASES` and names the slip when it recognises one (as a hint, never the formula);
* "predict before you measure": `check_half_classes` checks a prediction for a "model" that
  draws real digits of the classes 0–4 only (its KL to uniform, and whether its precision and
  recall stay high), before the notebook measures it.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from ..metrics import gaussian_frechet_distance
from .exercises import close

#: (mu1, sigma1, mu2, sigma2): equal Gaussians, a pure shift, shift and scale, a pure scale.
CASES: tuple[tuple[float, float, float, float], ...] = (
    (0.0, 1.0, 0.0, 1.0), (1.0, 1.0, -1.0, 1.0), (0.5, 2.0, 0.0, 0.5), (0.0, 3.0, 0.0, 1.0))

#: Slips a student may make, each as (formula, hint). d² is the squared distance. A hint names
#: the slip; it does not print the 1-D formula.
SLIPS: dict[str, tuple[Callable[[float, float, float, float], float], str]] = {
    "no cross term": (lambda m1, s1, m2, s2: (m1 - m2) ** 2 + s1 ** 2 + s2 ** 2,
                      "two equal Gaussians must be at distance 0: the cross term "
                      "−2(Σ1Σ2)^{1/2} of the trace is missing"),
    "plus sign": (lambda m1, s1, m2, s2: (m1 - m2) ** 2 + (s1 + s2) ** 2,
                  "the cross term enters the trace with a minus sign"),
    "variances": (lambda m1, s1, m2, s2: (m1 - m2) ** 2 + (s1 ** 2 - s2 ** 2) ** 2,
                  "Σ = σ² in 1-D: after the square root, the trace term is in standard "
                  "deviations, not in variances"),
    "sigma read as variance": (lambda m1, s1, m2, s2: (m1 - m2) ** 2 + s1 + s2
                               - 2 * math.sqrt(s1 * s2),
                               "sigma1 and sigma2 are standard deviations: Σ = sigma²"),
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


#: What a student reads when the closed form is right (plain words, no tolerances).
MATCH_MESSAGE = (f"matches the general matrix formula on all {len(CASES)} pairs of Gaussians "
                 f"tested")


def verify_frechet_1d(got: Sequence[float]) -> tuple[bool, str]:
    """Verifier: `got` = the student's d² for each of `CASES`, in order."""
    values = [float(torch.as_tensor(v)) for v in got]
    if len(values) != len(CASES):
        return False, f"{len(values)} values for {len(CASES)} cases"
    ok, _ = close(values, expected_values(), rtol=1e-4, atol=1e-6)
    if ok:
        return True, MATCH_MESSAGE
    for formula, hint in SLIPS.values():
        if close(values, [formula(*c) for c in CASES], rtol=1e-4, atol=1e-6)[0]:
            return False, hint
    worst = max(range(len(CASES)), key=lambda i: abs(values[i] - expected_values()[i]))
    m1, s1, m2, s2 = CASES[worst]
    return False, (f"for N({m1:g}, {s1:g}²) vs N({m2:g}, {s2:g}²) you return {values[worst]:.4g}, "
                   f"the matrix formula gives {expected_values()[worst]:.4g}")


# ----------------------------------------------------------------------------- prediction
#: The prediction's keys, and the two words a student may give for precision and recall.
HALF_KEYS = ("kl_uniform", "precision", "recall")
LEVELS = ("high", "low")
#: What the "model" drawing real digits of 0–4 only does (section "predict before you
#: measure"): KL to uniform ln 2 for five equally frequent classes (nats); its samples are real
#: digits (precision high), half of the real digits have no sample near them (recall low).
HALF_EXPECTED = {"kl_uniform": math.log(2), "precision": "high", "recall": "low"}
#: Tolerance on the KL (nats): ln 2 = 0.693… to one decimal (0.7), to two (0.69) or written
#: any way passes; the plausible slips (0.5, ln 5 = 1.61, 1 bit, log10 2 = 0.30, …) stay out.
KL_ATOL = 0.01
#: Plausible wrong KL values, each with a hint.
KL_SLIPS = (
    (math.log(5), "that is the entropy of the histogram itself, not its KL to the uniform one"),
    (math.log(10), "that is the KL of a single digit (total collapse); here five digits share "
                   "the samples"),
    (1.0, "that is in bits (log base 2); KL here is in nats, with the natural log"),
    (math.log10(2), "that uses the base-10 log; KL here is in nats, with the natural log"),
    (0.5, "half of the classes missing is not half a nat: use the formula with the shares of "
          "the five classes"),
    (-math.log(2), "a KL divergence is never negative: check the ratio inside the log"),
)
HALF_HINTS = {
    "precision": "precision asks, for each sample, whether it lies near some real digit; are "
                 "these samples real digits?",
    "recall": "recall asks, for each real digit, whether some sample lies near it; what about "
              "the real 5s to 9s?",
}


def check_half_classes(got) -> tuple[bool, str]:
    """Verifier: `got` = {"kl_uniform": a number (nats), "precision": "high"/"low", "recall":
    "high"/"low"} for a "model" drawing real digits of the classes 0–4, each equally often."""
    if not isinstance(got, dict) or set(got) != set(HALF_KEYS):
        return False, (f"answer a dict with the keys {', '.join(map(repr, HALF_KEYS))}, found "
                       f"{got!r}")
    words = {}
    for key in ("precision", "recall"):
        word = str(got[key]).strip().lower() if isinstance(got[key], str) else None
        if word not in LEVELS:
            return False, f"{key}: answer \"high\" or \"low\", found {got[key]!r}"
        words[key] = word
    try:
        kl = float(torch.as_tensor(got["kl_uniform"], dtype=torch.float64))
    except (TypeError, ValueError, RuntimeError):
        return False, f"kl_uniform: a number in nats, found {got['kl_uniform']!r}"
    problems = []
    if math.isinf(kl) and kl > 0:
        problems.append("kl_uniform: that is KL(uniform ‖ h), infinite where h is 0; the "
                        "yardstick measures KL(h ‖ uniform)")
    elif abs(kl - HALF_EXPECTED["kl_uniform"]) > KL_ATOL:
        hint = next((h for v, h in KL_SLIPS if abs(kl - v) <= KL_ATOL), None)
        problems.append(f"kl_uniform: {hint}" if hint else
                        f"kl_uniform: {kl:.4g} is not it; put the five shares into "
                        f"KL(h ‖ uniform) = Σ_c h_c ln(10 h_c)")
    problems += [f"{key}: {HALF_HINTS[key]}" for key in ("precision", "recall")
                 if words[key] != HALF_EXPECTED[key]]
    if problems:
        return False, "; ".join(problems)
    return True, "KL ≈ ln 2 nats; precision and recall as measured below"
