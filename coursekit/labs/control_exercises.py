"""Notebook 06's exercises: verifiers of the student's

* ``guided_eps(eps_cond, eps_uncond, w)`` — classifier-free guidance,
  ε̂ = (1 + w) ε(x, c) − w ε(x, ∅);
* ``velocity_target(x_0, eps, t)`` — the flow-matching target d x_t / dt on the path
  x_t = (1 − t) x_0 + t ε, i.e. ε − x_0 (any form equal to it passes, e.g. one written through
  x_t: (ε − x_t) / (1 − t) or (x_t − x_0) / t);
* ``euler_step(x_t, v, t, t_next)`` — one Euler step of dx/dt = v from t to t_next < t,
  x_t + (t_next − t) v.

Each answer is evaluated at fixed probe points (`values`) — random tensors, several w, several
(t, t_next) — and passes when it equals the reference at every one, whatever its form. A wrong
answer that matches a known slip gets a hint naming that slip, never the formula.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

Probe = tuple[torch.Tensor, ...]


def _tensors(seed: int, n: int, shape=(4, 3)) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g, dtype=torch.float64) for _ in range(n)]


# ----------------------------------------------------------------------------- probe points
def _cfg_probes() -> list[tuple]:
    """(eps_cond, eps_uncond, w): w = 0, ½, 1, 2.5 and 4 (w = 0 alone cannot tell the
    guidance term's sign)."""
    out = []
    for i, w in enumerate((0.0, 0.5, 1.0, 2.5, 4.0)):
        cond, uncond = _tensors(100 + i, 2)
        out.append((cond, uncond, w))
    return out


def _target_probes() -> list[tuple]:
    """(x_0, eps, t) with t a (B,)-broadcastable column in (0, 1), away from 0 and 1."""
    out = []
    for i, t in enumerate((0.2, 0.5, 0.9)):
        x_0, eps = _tensors(200 + i, 2)
        out.append((x_0, eps, torch.full((4, 1), t, dtype=torch.float64)))
    return out


def _euler_probes() -> list[tuple]:
    """(x_t, v, t, t_next) with t_next < t: a step from the noise end, a middle one, the last."""
    out = []
    for i, (t, t_next) in enumerate(((1.0, 0.75), (0.6, 0.5), (0.25, 0.0), (0.5, 0.1))):
        x_t, v = _tensors(300 + i, 2)
        out.append((x_t, v, t, t_next))
    return out


# ----------------------------------------------------------------------------- references
def guided_eps_reference(eps_cond, eps_uncond, w):
    """ε̂ = (1 + w) ε(x, c) − w ε(x, ∅)."""
    return (1 + w) * eps_cond - w * eps_uncond


def velocity_target_reference(x_0, eps, t):
    """v = d/dt [(1 − t) x_0 + t ε] = ε − x_0 (the same for every t)."""
    return eps - x_0


def euler_step_reference(x_t, v, t, t_next):
    """x_{t'} = x_t + (t' − t) v."""
    return x_t + (t_next - t) * v


# ----------------------------------------------------------------------------- slips
#: (name, wrong answer, hint) — the check names the first match.
CFG_SLIPS: tuple[tuple[str, Callable, str], ...] = (
    ("a sign slip in the weights", lambda c, u, w: (1 - w) * c + w * u,
     "the signs are flipped: guidance pushes *away* from the unconditional prediction, so the "
     "conditional one gets the larger weight"),
    ("w as the total weight", lambda c, u, w: w * c + (1 - w) * u,
     "you used w as the weight of the conditional term; here w is the extra guidance on top of "
     "the conditional model (w = 0 must give ε(x, c) alone)"),
    ("w times the conditional term alone", lambda c, u, w: w * c,
     "the unconditional prediction ε(x, ∅) is missing, and w = 0 must give ε(x, c), not 0"),
    ("the conditional term alone", lambda c, u, w: (1 + w) * c,
     "the unconditional prediction ε(x, ∅) is missing: guidance is a difference of two "
     "predictions"),
    ("plus w · unconditional", lambda c, u, w: (1 + w) * c + w * u,
     "the unconditional term enters with the wrong sign: guidance moves away from it"),
    ("conditional and unconditional swapped", lambda c, u, w: (1 + w) * u - w * c,
     "the conditional and unconditional predictions are swapped"),
    ("the plain average", lambda c, u, w: (c + u) / 2,
     "your answer does not depend on w: the guidance weight sets how far to extrapolate"),
)

TARGET_SLIPS: tuple[tuple[str, Callable, str], ...] = (
    ("a velocity pointing the wrong way", lambda x0, e, t: x0 - e,
     "the sign is flipped: differentiate x_t in t — which end does the path reach at t = 1?"),
    ("ε alone", lambda x0, e, t: e,
     "that is the noise a DDPM regresses on; the path's velocity also involves x_0"),
    ("x_0 alone", lambda x0, e, t: x0,
     "that is the path's end at t = 0, not its velocity"),
    ("x_t itself", lambda x0, e, t: (1 - t) * x0 + t * e,
     "that is the point x_t on the path; the target is its derivative d x_t / dt"),
    ("a speed growing with t", lambda x0, e, t: t * (e - x0),
     "the path is straight with constant speed: its velocity does not depend on t"),
    ("a speed shrinking with t", lambda x0, e, t: (1 - t) * (e - x0),
     "the path is straight with constant speed: its velocity does not depend on t"),
    ("the wrong sign on x_0", lambda x0, e, t: e + x0,
     "d/dt (1 − t) is −1: the x_0 term enters with a minus sign"),
)

EULER_SLIPS: tuple[tuple[str, Callable, str], ...] = (
    ("step towards the noise", lambda x, v, t, tn: x + (t - tn) * v,
     "the step has the wrong sign: t decreases (t_next < t), so which way along v does x move?"),
    ("step size missing", lambda x, v, t, tn: x - v,
     "a step of dx/dt = v over a time interval moves by the interval's length times v"),
    ("t instead of the step size", lambda x, v, t, tn: x - t * v,
     "the step size is the time between t and t_next, not t itself"),
    ("t_next instead of the step size", lambda x, v, t, tn: x - tn * v,
     "the step size is the time between t and t_next, not t_next itself"),
    ("v alone", lambda x, v, t, tn: (tn - t) * v,
     "a step starts from the current point x_t"),
    ("velocity and position swapped", lambda x, v, t, tn: v + (tn - t) * x,
     "x_t is the point and v its velocity: the step moves the point along v"),
)


# ----------------------------------------------------------------------------- evaluate / check
def values(fn: Callable, probes: list[tuple]) -> list[torch.Tensor] | None:
    """The student's function at every probe point (float64 tensors in); None if it returns
    None. Raises what the student's function raises (``ck.exercises.check`` reports it)."""
    out = []
    for probe in probes:
        got = fn(*probe)
        if got is None:
            return None
        out.append(torch.as_tensor(got, dtype=torch.float64))
    return out


def _same(got: torch.Tensor, want: torch.Tensor) -> bool:
    if got.numel() != want.numel():
        return False
    return torch.allclose(got.reshape(want.shape), want, rtol=1e-6, atol=1e-9)


def _check(got: list[torch.Tensor], probes: list[tuple], reference: Callable, slips,
           what: str) -> tuple[bool, str]:
    if len(got) != len(probes):
        return False, f"expected {len(probes)} values, got {len(got)}"
    want = [reference(*p) for p in probes]
    if all(_same(a, b) for a, b in zip(got, want)):
        return True, f"equal to {what} at {len(probes)} probe points"
    for name, fn, why in slips:
        if all(_same(a, fn(*p)) for a, p in zip(got, probes)):
            return False, f"this looks like {name}: {why}"
    for a, b in zip(got, want):
        if a.numel() != b.numel():
            return False, (f"your function returned shape {tuple(a.shape)}, expected "
                           f"{tuple(b.shape)}: work element-wise on the tensors")
    return False, f"not equal to {what} at every probe point; check each term and its sign"


def cfg_values(guided_eps: Callable) -> list[torch.Tensor] | None:
    """``guided_eps(eps_cond, eps_uncond, w)`` at the guidance probes."""
    return values(guided_eps, _cfg_probes())


def check_cfg(got: list[torch.Tensor]) -> tuple[bool, str]:
    """Verifier of exercise 1 (classifier-free guidance): `got` from `cfg_values`."""
    return _check(got, _cfg_probes(), guided_eps_reference, CFG_SLIPS,
                  "the guided prediction (w = 0 … 4)")


def target_values(velocity_target: Callable) -> list[torch.Tensor] | None:
    """``velocity_target(x_0, eps, t)`` at the flow-matching probes."""
    return values(velocity_target, _target_probes())


def check_target(got: list[torch.Tensor]) -> tuple[bool, str]:
    """Verifier of exercise 2 (the flow-matching target): `got` from `target_values`."""
    return _check(got, _target_probes(), velocity_target_reference, TARGET_SLIPS,
                  "the path's velocity (t = 0.2, 0.5, 0.9)")


def euler_values(euler_step: Callable) -> list[torch.Tensor] | None:
    """``euler_step(x_t, v, t, t_next)`` at the Euler probes."""
    return values(euler_step, _euler_probes())


def check_euler(got: list[torch.Tensor]) -> tuple[bool, str]:
    """Verifier of exercise 3 (one Euler step): `got` from `euler_values`."""
    return _check(got, _euler_probes(), euler_step_reference, EULER_SLIPS,
                  "the Euler step (4 steps from t to t_next < t)")


__all__ = ["guided_eps_reference", "velocity_target_reference", "euler_step_reference",
           "CFG_SLIPS", "TARGET_SLIPS", "EULER_SLIPS", "values", "cfg_values", "check_cfg",
           "target_values", "check_target", "euler_values", "check_euler"]
