"""Notebook 04's exercise "prove eq. (17)": verifiers of the student's variance recursions
``var_next(var_t, alpha_t, beta_t)`` (Var(x^(t+1)) from Var(x^(t)) under eq. (16)) and
``var_next_15(var_t, alpha_t, beta_t)`` (the same under eq. (15) as printed, mean α_t x^(t)).

The checks probe the student's function at points where α_t + β_t ≠ 1 as well as = 1: on the
lecture's schedules (α_t = 1 − β_t) an answer such as ``alpha*var + (1 - alpha)`` agrees with
the right one, and only other (α, β) tell them apart. Any expression equal to the right one at
every probe point passes, whatever its form (tensor, NumPy or float arithmetic; a value of the
right size in another shape, such as (1,) for a scalar). A wrong answer that matches a known
slip gets a hint about that slip; the hints name what is wrong, never the whole recursion.

Also here: part 3's number ``settle_15`` (where eq. (15)'s variance settles for a constant β),
and the prediction of section 4 (do the ring's 8 clusters still form separate clumps at layer
25 of the toy schedule?), each with its check.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..core.data import ring_modes
from ..models.diffusion import alpha_bar_of, make_betas

#: Probe points (Var(x^(t)), α_t, β_t). The first two have α + β = 1 (the lecture's case), the
#: others not; the last holds a vector of per-coordinate variances.
VAR_NEXT_CASES: tuple[tuple[list[float] | float, float, float], ...] = (
    (1.0, 0.98, 0.02),
    (0.09, 0.9, 0.1),
    (2.0, 0.5, 0.2),
    (0.25, 0.9, 0.3),
    (1.5, 0.7, 0.05),
    ([0.09, 1.0, 4.0], 0.8, 0.1),
)

_NOISE_HINT = "the noise term is √β_t z^(t) with Var(z^(t)) = 1: what variance does it add?"

#: Plausible wrong answers for eq. (16) and what is wrong with each (the check names the first
#: match).
VAR_NEXT_SLIPS: tuple[tuple[str, Callable, str], ...] = (
    ("1 − α instead of β", lambda v, a, b: a * v + (1 - a),
     "right only when α_t + β_t = 1, and the probe points include α_t + β_t ≠ 1: which "
     "parameter scales the noise in eq. (16)?"),
    ("1 − β instead of α", lambda v, a, b: (1 - b) * v + b,
     "right only when α_t + β_t = 1, and the probe points include α_t + β_t ≠ 1: which "
     "parameter scales x^(t) in eq. (16)?"),
    ("eq. (15)'s α² instead of α", lambda v, a, b: a ** 2 * v + b,
     "that is what eq. (15)'s mean α_t x^(t) gives (your var_next_15); eq. (16) scales x^(t) "
     "by another factor"),
    ("√α instead of α", lambda v, a, b: a ** 0.5 * v + b,
     "a constant comes out of a variance squared: Var(c x) = c² Var(x)"),
    ("β² instead of β", lambda v, a, b: a * v + b ** 2,
     _NOISE_HINT + " (√β_t)², not β_t²"),
    ("√β instead of β", lambda v, a, b: a * v + b ** 0.5,
     _NOISE_HINT + " (√β_t)², not √β_t"),
    ("noise term missing", lambda v, a, b: a * v,
     "the fresh noise √β_t z^(t) is independent of x^(t) and adds a variance of its own"),
    ("noise scaled by Var(x)", lambda v, a, b: (a + b) * v,
     "z^(t) ~ N(0, I) has variance 1 whatever Var(x^(t)) is: the noise term's variance does "
     "not depend on Var(x^(t))"),
    ("cross term 2√(αβ)·Var", lambda v, a, b: a * v + b + 2 * (a * b) ** 0.5 * v,
     "x^(t) and z^(t) are independent, so the variances add with no cross term"),
    ("a standard deviation", lambda v, a, b: (a * v + b) ** 0.5,
     "the function should return the variance of x^(t+1), not its standard deviation"),
    ("α and β swapped", lambda v, a, b: b * v + a,
     "α_t multiplies x^(t)'s variance and β_t is the noise's: check which term carries which"),
)

#: Plausible wrong answers for eq. (15) (mean α_t x^(t)).
VAR_NEXT_15_SLIPS: tuple[tuple[str, Callable, str], ...] = (
    ("eq. (16)'s recursion", lambda v, a, b: a * v + b,
     "that is eq. (16)'s recursion (mean √α_t x^(t), your var_next); eq. (15)'s mean is "
     "α_t x^(t)"),
    ("1 − α² instead of β", lambda v, a, b: a ** 2 * v + (1 - a ** 2),
     "the noise term of eq. (15) has variance β_t whatever α_t is, and the probe points include "
     "α_t + β_t ≠ 1"),
    ("1 − α instead of β", lambda v, a, b: a ** 2 * v + (1 - a),
     "right only when α_t + β_t = 1, and the probe points include α_t + β_t ≠ 1: which "
     "parameter is the noise's variance in eq. (15)?"),
    ("α⁴ instead of α²", lambda v, a, b: a ** 4 * v + b,
     "eq. (15)'s mean is α_t x^(t): the constant α_t comes out of the variance squared once"),
    ("β² instead of β", lambda v, a, b: a ** 2 * v + b ** 2,
     "eq. (15)'s β_t I is already a variance (a covariance matrix), not a standard deviation"),
    ("√β instead of β", lambda v, a, b: a ** 2 * v + b ** 0.5,
     "eq. (15)'s β_t I is already a variance (a covariance matrix): it adds β_t, not √β_t"),
    ("noise term missing", lambda v, a, b: a ** 2 * v,
     "the fresh noise of variance β_t is independent of x^(t) and adds a variance of its own"),
    ("a standard deviation", lambda v, a, b: (a ** 2 * v + b) ** 0.5,
     "the function should return the variance of x^(t+1), not its standard deviation"),
)


def var_next_reference(var_t, alpha_t, beta_t):
    """eq. (16) ⇒ Var(x^(t+1)) = α_t Var(x^(t)) + β_t (per coordinate)."""
    return alpha_t * var_t + beta_t


def var_next_15_reference(var_t, alpha_t, beta_t):
    """eq. (15) as printed (mean α_t x^(t)) ⇒ Var(x^(t+1)) = α_t² Var(x^(t)) + β_t."""
    return alpha_t ** 2 * var_t + beta_t


def _case_tensors(case):
    var_t, alpha_t, beta_t = case
    return (torch.tensor(var_t, dtype=torch.float64), torch.tensor(alpha_t, dtype=torch.float64),
            torch.tensor(beta_t, dtype=torch.float64))


def var_next_values(var_next: Callable) -> list[torch.Tensor] | None:
    """The student's recursion (``var_next`` or ``var_next_15``) evaluated at every probe point
    (float64 tensors in). Raises what the student's function raises, so ``ck.exercises.check``
    reports a `todo()` as "not attempted yet"; None when the function returns None."""
    out = []
    for case in VAR_NEXT_CASES:
        got = var_next(*_case_tensors(case))
        if got is None:
            return None
        out.append(torch.as_tensor(got, dtype=torch.float64))
    return out


def _same(got: torch.Tensor, want: torch.Tensor, rtol: float = 1e-6) -> bool:
    """`got` equals `want`; a value of the same size in another shape ((1,) for a scalar,
    (1, 3) for three coordinates) counts as the same value."""
    if got.numel() != want.numel():
        return False
    return torch.allclose(got.reshape(want.shape), want, rtol=rtol, atol=1e-9)


def _matches(values: list[torch.Tensor], fn: Callable) -> bool:
    return all(_same(got, fn(*_case_tensors(case)))
               for got, case in zip(values, VAR_NEXT_CASES, strict=True))


def _check(values: list[torch.Tensor], reference: Callable, slips, equation: str
           ) -> tuple[bool, str]:
    if len(values) != len(VAR_NEXT_CASES):
        return False, f"expected {len(VAR_NEXT_CASES)} values, got {len(values)}"
    n_sum1 = sum(abs(a + b - 1) < 1e-12 for _, a, b in VAR_NEXT_CASES)
    if _matches(values, reference):
        return True, (f"at {len(VAR_NEXT_CASES)} points (Var, α, β), {len(VAR_NEXT_CASES) - n_sum1} "
                      f"of them with α + β ≠ 1")
    for name, fn, why in slips:
        if _matches(values, fn):
            return False, f"this looks like {name}: {why}"
    for got, case in zip(values, VAR_NEXT_CASES, strict=True):
        want = reference(*_case_tensors(case))
        if got.numel() != want.numel():
            return False, (f"at Var = {case[0]} your function returned shape {tuple(got.shape)}, "
                           f"expected {tuple(want.shape)}: work element-wise on tensors")
        if not _same(got, want):
            var_t, alpha_t, beta_t = case
            sum_note = "α + β = 1" if abs(alpha_t + beta_t - 1) < 1e-12 else "α + β ≠ 1"
            return False, (f"at Var(x^(t)) = {var_t}, α_t = {alpha_t}, β_t = {beta_t} ({sum_note}) "
                           f"your function gives {got.tolist()}, which is not right: recall what "
                           f"Var(aX + bZ) is for independent X and Z, and apply it to {equation}")
    return False, "no probe point differs, yet the values do not match"  # not reached


def check_var_next(values: list[torch.Tensor]) -> tuple[bool, str]:
    """Verifier of exercise 1, eq. (16): `values` from `var_next_values(var_next)`. Passes when
    they equal α_t Var(x^(t)) + β_t at every probe point, including α_t + β_t ≠ 1; otherwise
    names the slip when it is a known one, or the first probe point where the answer is off."""
    return _check(values, var_next_reference, VAR_NEXT_SLIPS, "eq. (16)")


def check_var_next_15(values: list[torch.Tensor]) -> tuple[bool, str]:
    """Verifier of exercise 1, part 3, eq. (15) as printed: `values` from
    `var_next_values(var_next_15)`. Passes when they equal α_t² Var(x^(t)) + β_t at every probe
    point; otherwise names the slip (known ones) or the first probe point where it is off."""
    return _check(values, var_next_15_reference, VAR_NEXT_15_SLIPS, "eq. (15)")


# ----------------------------------------------------------------------------- part 3: settle_15
#: Part 3 asks where eq. (15)'s variance settles for this constant β (and α = 1 − β).
SETTLE_BETA = 0.01
#: Any answer within this distance of the fixed point passes (0.5, "about ½", passes).
SETTLE_TOL = 0.01


def settle_15_reference(beta: float = SETTLE_BETA) -> float:
    """The fixed point of eq. (15)'s recursion v = α² v + β with α = 1 − β: β / (1 − α²)."""
    alpha = 1 - beta
    return beta / (1 - alpha ** 2)


def _settle_slips(beta: float = SETTLE_BETA) -> tuple[tuple[float, str], ...]:
    """(value, hint) of plausible wrong answers to part 3 at this β."""
    alpha = 1 - beta
    return (
        (1.0, "1 is where eq. (16)'s variance stays when α + β = 1; eq. (15)'s recursion (your "
              "var_next_15) settles elsewhere"),
        (beta, "that is the variance one step of noise adds; the variance settles where one "
               "more step of eq. (15) leaves it unchanged"),
        (0.0, "every step adds fresh noise of variance β, so the variance cannot sink to 0"),
        (beta / (1 - alpha ** 4), "eq. (15)'s mean is α_t x^(t): α comes out of the variance "
                                  "squared once"),
        (1 / (1 - alpha ** 2), "the noise's variance β is missing from your fixed point"),
        (settle_15_reference(beta) ** 0.5, "that is a standard deviation; give the variance"),
    )


def check_settle_15(value) -> tuple[bool, str]:
    """Verifier of part 3's number: where eq. (15)'s variance settles for β = SETTLE_BETA.
    Passes within SETTLE_TOL of β/(1 − α²) (so ½ passes); names known slips."""
    try:
        v = torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return False, f"settle_15 should be a number, got {type(value).__name__}"
    if v.numel() != 1:
        return False, f"settle_15 should be one number, got {v.numel()} values"
    v = float(v.reshape(()))
    if not math.isfinite(v):
        return False, f"settle_15 = {v} is not a finite number"
    if abs(v - settle_15_reference()) <= SETTLE_TOL:
        return True, "eq. (15)'s variance does not stay at 1"
    for wrong, hint in _settle_slips():
        if abs(v - wrong) <= 1e-3 * max(1.0, abs(wrong)):
            return False, hint
    if v < 0:
        return False, "a variance cannot be negative"
    return False, ("not where eq. (15)'s variance settles: there one more step of your "
                   "var_next_15 leaves it unchanged (or iterate var_next_15 from 1 a few "
                   "hundred times and watch)")


# ----------------------------------------------------------------------------- section 4's prediction
#: The prediction of section 4: at layer CLUMPS_T of the toy schedule (TOY_T linear steps), do
#: the ring's 8 clusters still form 8 separate clumps?
CLUMPS_T, TOY_T = 25, 100


#: Separate clumps: the density halfway between two neighbouring clusters is at most this
#: share of the density at a cluster (a visible gap).
CLUMPS_GAP_RATIO = 0.5


def clumps_separate(t: int = CLUMPS_T, T: int = TOY_T, schedule: str = "linear",
                    cluster_std: float = 0.02) -> tuple[bool, float]:
    """Whether the forward process at layer t leaves the ring's 8 clusters as separate clumps.

    At layer t the clusters are Gaussians of variance ᾱ_t s² + 1 − ᾱ_t (s: a cluster's own
    spread) around their centres shrunk by √ᾱ_t. On the circle through the shrunk centres, the
    mixture's density halfway between two neighbours, as a share of its density at a centre,
    is ≈ 0 for well separated clumps and → 1 when the noise has merged them.
    Returns (that share ≤ CLUMPS_GAP_RATIO, the share)."""
    alpha_bar = float(alpha_bar_of(make_betas(T, schedule))[t])
    centres = math.sqrt(alpha_bar) * ring_modes().double()  # (8, 2)
    radius, k = float(centres[0].norm()), len(centres)
    angles = torch.tensor([0.0, math.pi / k], dtype=torch.float64)  # a centre, halfway
    points = radius * torch.stack([angles.cos(), angles.sin()], 1)  # (2, 2)
    var = alpha_bar * cluster_std ** 2 + 1 - alpha_bar
    density = torch.exp(-torch.cdist(points, centres) ** 2 / (2 * var)).sum(1)  # (2,), unnormalised
    share = float(density[1] / density[0])
    return share <= CLUMPS_GAP_RATIO, share


def _as_bool(answer) -> bool | None:
    if isinstance(answer, str):
        return {"true": True, "yes": True, "false": False, "no": False}.get(answer.strip().lower())
    if isinstance(answer, bool) or type(answer).__name__ in ("bool_", "bool"):
        return bool(answer)
    return None


def check_clumps_prediction(answer) -> tuple[bool, str]:
    """Verifier of section 4's prediction (True: the 8 clusters still form separate clumps at
    layer CLUMPS_T). The right answer comes from `clumps_separate`."""
    got = _as_bool(answer)
    if got is None:
        return False, f"answer True or False, got {answer!r}"
    separate, share = clumps_separate()
    if got == separate:
        return True, (f"in the forward process at t = {CLUMPS_T}, the density halfway between "
                      f"two neighbouring clusters is {share:.0%} of that at a cluster")
    return False, (f"compare the noise's standard deviation at t = {CLUMPS_T}, √(1 − ᾱ), with "
                   f"the gap between neighbouring clusters, shrunk by √ᾱ")


__all__ = ["VAR_NEXT_CASES", "VAR_NEXT_SLIPS", "VAR_NEXT_15_SLIPS", "var_next_reference",
           "var_next_15_reference", "var_next_values", "check_var_next", "check_var_next_15",
           "SETTLE_BETA", "SETTLE_TOL", "settle_15_reference", "check_settle_15", "CLUMPS_T",
           "TOY_T", "CLUMPS_GAP_RATIO", "clumps_separate", "check_clumps_prediction"]
