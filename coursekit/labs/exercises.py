"""Exercise checks that never crash.

Pattern in a notebook (three cells):

1. exercise cell — the student fills in a function or a value::

       def kl_closed_form(mu, log_sigma):
           return ck.exercises.todo()          # your code here

2. solution cell, tagged ``solution`` (removed from the student edition)::

       def kl_closed_form(mu, log_sigma):
           return 0.5 * (mu**2 + ...).sum(-1)

3. check cell::

       ck.exercises.check("KL closed form", lambda: kl_closed_form(mu, log_sigma),
                          lambda got: ck.exercises.close(got, reference))

A `todo()` or `None` answer prints "not attempted yet"; an exception in the student's code
prints what was raised; otherwise the verifier decides.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

NOT_ATTEMPTED = "not attempted yet"


class NotAttempted(NotImplementedError):
    """Raised by `todo()`: the exercise has not been filled in yet."""


def todo() -> Any:
    """Placeholder for the student's answer; `check` reports "not attempted yet"."""
    raise NotAttempted("replace ck.exercises.todo() with your answer")


def close(got, expected, rtol: float = 1e-4, atol: float = 1e-6) -> tuple[bool, str]:
    """Verifier: `got` matches `expected` numerically (tensors or numbers).

    A match is reported by its tolerance (the same text for any seed and machine, so a checked
    notebook output stays stable); a mismatch by the largest difference found."""
    got_t = torch.as_tensor(got, dtype=torch.float64)
    exp_t = torch.as_tensor(expected, dtype=torch.float64)
    if got_t.shape != exp_t.shape:
        return False, f"shape {tuple(got_t.shape)}, expected {tuple(exp_t.shape)}"
    err = (got_t - exp_t).abs().max().item() if got_t.numel() else 0.0
    ok = torch.allclose(got_t, exp_t, rtol=rtol, atol=atol)
    if ok:
        return True, "matches the expected values"
    return False, f"max abs difference {err:.2e}"


def check(name: str, answer: Callable[[], Any] | Any,
          verify: Callable[[Any], bool | tuple[bool, str]]) -> bool | None:
    """Run the student's answer (a value or a zero-argument callable) and verify it.

    Prints one line and returns True (correct), False (wrong) or None (not attempted).
    """
    try:
        got = answer() if callable(answer) else answer
    except NotImplementedError:
        got = None
    except Exception as e:  # the student's code failed: say how, do not crash the notebook
        print(f"✗ {name}: your code raised {type(e).__name__}: {e}")
        return False
    if got is None or got is Ellipsis:
        print(f"○ {name}: {NOT_ATTEMPTED}")
        return None
    try:
        verdict = verify(got)
    except Exception as e:
        print(f"✗ {name}: the answer could not be checked ({type(e).__name__}: {e})")
        return False
    ok, detail = verdict if isinstance(verdict, tuple) else (bool(verdict), "")
    print(f"{'✓' if ok else '✗'} {name}: {'correct' if ok else 'not yet right'}"
          + (f" ({detail})" if detail else ""))
    return bool(ok)
