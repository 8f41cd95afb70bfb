"""Helpers for the graded assignments' test cells (grading/source/*): the assertions they make,
with feedback that names the slip. They hold no answer: each reference implementation lives in
its assignment's hidden tests, which only the instructors' copy has.

    ck.grading.own_code(dae_loss)                 # no call into coursekit's own models
    ck.grading.assert_close(got, expected, "the loss of eq. (2)", hint="…")
    ck.grading.assert_band(value, upper=16.8, what="held-out error")
"""
from __future__ import annotations

import inspect
import re
import types
from collections.abc import Callable

import torch

__all__ = ["GradingError", "own_code", "assert_close", "assert_band", "energy_distance"]


class GradingError(AssertionError):
    """A graded test failed; the message says what to look at."""


def _from_coursekit(value) -> bool:
    """A coursekit module, function or class (not an object like `cfg`, which students may use)."""
    if isinstance(value, types.ModuleType):
        return value.__name__.split(".")[0] == "coursekit"
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, type)):
        return str(getattr(value, "__module__", "")).split(".")[0] == "coursekit"
    return False


#: `ck.…`, `coursekit.…` or an import of coursekit written inside the function's own source
_SOURCE_USE = re.compile(r"\b(ck|coursekit)\s*\.|\bimport\s+coursekit|\bfrom\s+coursekit")


def _coursekit_names(fn: Callable, seen: set[int]) -> list[str]:
    """Names of coursekit objects that `fn` (or a notebook function it calls) refers to."""
    if id(fn) in seen or not isinstance(fn, types.FunctionType):
        return []
    seen.add(id(fn))
    found = []
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):  # defined where no source is kept
        source = ""
    code = "\n".join(line.split("#")[0] for line in source.splitlines())
    found += [m.group(0).strip() for m in _SOURCE_USE.finditer(code)]
    closure = inspect.getclosurevars(fn)
    defaults = [v for v in (fn.__defaults__ or ()) if _from_coursekit(v)]
    found += [getattr(v, "__name__", repr(v)) for v in defaults]
    for name, value in {**closure.globals, **closure.nonlocals}.items():
        if _from_coursekit(value):
            found.append(name)
        elif isinstance(value, types.FunctionType) and value.__module__ == fn.__module__:
            found += _coursekit_names(value, seen)  # a helper the student wrote
    return found


def own_code(fn: Callable, what: str = "") -> None:
    """The graded function computes its result itself: it uses no coursekit module, function or
    class (coursekit's models implement the lecture's losses) — torch only. Objects such as
    `cfg` may be used."""
    if not callable(fn):
        raise GradingError(f"{what or 'the answer'} must be a function, got {type(fn).__name__}")
    names = _coursekit_names(fn, set())
    if names:
        raise GradingError(f"{getattr(fn, '__name__', what)} uses {', '.join(sorted(set(names)))} "
                           f"from coursekit: write the computation with torch yourself")


def assert_close(got, expected, what: str, hint: str = "", rtol: float = 1e-4,
                 atol: float = 1e-5) -> None:
    """`got` equals `expected` (numbers or tensors of the same shape) within tolerance."""
    got_t = torch.as_tensor(got, dtype=torch.float64).detach()
    exp_t = torch.as_tensor(expected, dtype=torch.float64).detach()
    if got_t.shape != exp_t.shape:
        raise GradingError(f"{what}: expected shape {tuple(exp_t.shape)}, got {tuple(got_t.shape)}")
    if not torch.isfinite(got_t).all():
        raise GradingError(f"{what}: got NaN or inf")
    if not torch.allclose(got_t, exp_t, rtol=rtol, atol=atol):
        raise GradingError(f"{what} is not right" + (f": {hint}" if hint else ""))


def assert_band(value: float, what: str, lower: float | None = None,
                upper: float | None = None) -> None:
    """A trained model's outcome lies in the band a correct answer reaches on any seed."""
    value = float(value)
    ok = value == value and (lower is None or value >= lower) and (upper is None or value <= upper)
    if not ok:
        band = (f"≥ {lower:g}" if upper is None else f"≤ {upper:g}" if lower is None
                else f"in [{lower:g}, {upper:g}]")
        raise GradingError(f"{what} is {value:.4g}; a correct answer gives {band}")


def energy_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Energy distance between two point sets (N, d), (M, d): 2 E‖a−b‖ − E‖a−a'‖ − E‖b−b'‖
    (0 for equal distributions; sample-size bias aside)."""
    return (2 * torch.cdist(a, b).mean() - torch.cdist(a, a).mean()
            - torch.cdist(b, b).mean()).item()
