"""Notebook 04's exercise "prove eq. (17)": the verifier of the student's variance recursion
``var_next(var_t, alpha_t, beta_t)`` (Var(x^(t+1)) from Var(x^(t)) under eq. (16)).

The check probes the student's function at points where α_t + β_t ≠ 1 as well as = 1: on the
lecture's schedules (α_t = 1 − β_t) an answer such as ``alpha*var + (1 - alpha)`` agrees with
the right one, and only other (α, β) tell them apart. A wrong answer that matches a known
slip gets a message about that slip.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

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

#: Plausible wrong recursions and what is wrong with each (the check names the first match).
VAR_NEXT_SLIPS: tuple[tuple[str, Callable, str], ...] = (
    ("1 − α instead of β", lambda v, a, b: a * v + (1 - a),
     "right only when α_t + β_t = 1: the noise term of eq. (16) is √β_t z, so it adds β_t, "
     "whatever α_t is — the probe points include α_t + β_t ≠ 1"),
    ("eq. (15)'s α² instead of α", lambda v, a, b: a ** 2 * v + b,
     "that is the recursion of eq. (15)'s mean α_t x^(t); eq. (16) scales x^(t) by √α_t, "
     "and Var(√α_t x) = α_t Var(x)"),
    ("√α instead of α", lambda v, a, b: a ** 0.5 * v + b,
     "a constant comes out of a variance squared: Var(c x) = c² Var(x), so √α_t x^(t) has "
     "variance α_t Var(x^(t)), not √α_t Var(x^(t))"),
    ("β² instead of β", lambda v, a, b: a * v + b ** 2,
     "the noise term is √β_t z with Var(z) = 1, so it adds (√β_t)² = β_t, not β_t²"),
    ("√β instead of β", lambda v, a, b: a * v + b ** 0.5,
     "the noise term is √β_t z with Var(z) = 1, so it adds (√β_t)² = β_t, not √β_t"),
    ("noise term missing", lambda v, a, b: a * v,
     "the fresh noise √β_t z^(t) is independent of x^(t) and adds its own variance"),
    ("noise scaled by Var(x)", lambda v, a, b: (a + b) * v,
     "z^(t) ~ N(0, I) has variance 1 whatever Var(x^(t)) is: the noise term adds β_t, not "
     "β_t Var(x^(t))"),
    ("cross term 2√(αβ)·Var", lambda v, a, b: a * v + b + 2 * (a * b) ** 0.5 * v,
     "x^(t) and z^(t) are independent, so the variances add with no cross term"),
    ("a standard deviation", lambda v, a, b: (a * v + b) ** 0.5,
     "the function should return the variance of x^(t+1), not its standard deviation"),
    ("α and β swapped", lambda v, a, b: b * v + a,
     "α_t multiplies x^(t)'s variance and β_t is the noise's: check which term carries which"),
)


def var_next_reference(var_t, alpha_t, beta_t):
    """eq. (16) ⇒ Var(x^(t+1)) = α_t Var(x^(t)) + β_t (per coordinate)."""
    return alpha_t * var_t + beta_t


def _case_tensors(case):
    var_t, alpha_t, beta_t = case
    return (torch.tensor(var_t, dtype=torch.float64), torch.tensor(alpha_t, dtype=torch.float64),
            torch.tensor(beta_t, dtype=torch.float64))


def var_next_values(var_next: Callable) -> list[torch.Tensor]:
    """The student's ``var_next`` evaluated at every probe point (float64 tensors in, as the
    notebook's iteration passes them). Raises what the student's function raises, so
    ``ck.exercises.check`` reports a `todo()` as "not attempted yet"."""
    out = []
    for case in VAR_NEXT_CASES:
        got = var_next(*_case_tensors(case))
        if got is None:
            return None
        out.append(torch.as_tensor(got, dtype=torch.float64))
    return out


def _matches(values: list[torch.Tensor], fn: Callable, rtol: float = 1e-6) -> bool:
    for got, case in zip(values, VAR_NEXT_CASES, strict=True):
        want = fn(*_case_tensors(case))
        if got.shape != want.shape or not torch.allclose(got, want, rtol=rtol, atol=1e-9):
            return False
    return True


def check_var_next(values: list[torch.Tensor]) -> tuple[bool, str]:
    """Verifier of exercise 1 (eq. 17): `values` from `var_next_values`. Passes when they equal
    α_t Var(x^(t)) + β_t at every probe point, including α_t + β_t ≠ 1; otherwise names the
    slip when it is a known one, or the first probe point where the answer is off."""
    if len(values) != len(VAR_NEXT_CASES):
        return False, f"expected {len(VAR_NEXT_CASES)} values, got {len(values)}"
    n_sum1 = sum(abs(a + b - 1) < 1e-12 for _, a, b in VAR_NEXT_CASES)
    if _matches(values, var_next_reference):
        return True, (f"at {len(VAR_NEXT_CASES)} points (Var, α, β), {len(VAR_NEXT_CASES) - n_sum1} "
                      f"of them with α + β ≠ 1")
    for name, fn, why in VAR_NEXT_SLIPS:
        if _matches(values, fn):
            return False, f"this looks like {name}: {why}"
    for got, case in zip(values, VAR_NEXT_CASES, strict=True):
        want = var_next_reference(*_case_tensors(case))
        if got.shape != want.shape:
            return False, (f"at Var = {case[0]} your function returned shape {tuple(got.shape)}, "
                           f"expected {tuple(want.shape)}: work element-wise on tensors")
        if not torch.allclose(got, want, rtol=1e-6, atol=1e-9):
            var_t, alpha_t, beta_t = case
            sum_note = "α + β = 1" if abs(alpha_t + beta_t - 1) < 1e-12 else "α + β ≠ 1"
            return False, (f"at Var(x^(t)) = {var_t}, α_t = {alpha_t}, β_t = {beta_t} ({sum_note}) "
                           f"your function gives {got.tolist()}; use Var(aX + bZ) = a² Var(X) + "
                           f"b² Var(Z) for independent X and Z")
    return False, "no probe point differs, yet the values do not match"  # not reached


__all__ = ["VAR_NEXT_CASES", "VAR_NEXT_SLIPS", "var_next_reference", "var_next_values",
           "check_var_next"]
