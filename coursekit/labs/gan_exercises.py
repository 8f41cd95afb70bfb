"""Notebook 03's exercise checks.

* §2, "predict before you train": `check_ring_prediction` checks the student's prediction
  (True/False) of whether the ring GAN's fakes will cover all 8 modes, against the three stored
  runs of that setting (``gan_ring`` result), so the check holds before the run is on screen;
* §4, "Could Disc be very good when Gen is good?": `optimal_discriminator_values(fn)` evaluates
  the student's ``fn(p_data, p_g)`` at the probe densities `PROBES` (equal densities, one of
  them zero, densities above 1, ...); `check_optimal_discriminator(values)` compares the result
  with the minimiser of Disc's expected loss and, for the usual slips, says which slip it looks
  like; `check_loss_at_optimum` checks the student's L(D*) for a perfect Gen (log 2 nats).
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

# ----------------------------------------------------------------------------- §2 prediction
#: Words accepted for a yes/no prediction (lower-cased), besides the booleans themselves.
_YES, _NO = {"true", "yes", "y"}, {"false", "no", "n"}


def _as_bool(got) -> bool | None:
    """True/False from a bool, a numpy/torch boolean or a yes/no word; None otherwise."""
    if isinstance(got, str):
        word = got.strip().lower()
        return True if word in _YES else False if word in _NO else None
    if isinstance(got, bool) or type(got).__name__ in ("bool_", "bool"):
        return bool(got)
    if isinstance(got, torch.Tensor) and got.dtype == torch.bool and got.numel() == 1:
        return bool(got)
    return None


def stored_ring_modes(setting: str = "vanilla") -> list[int]:
    """Modes covered (of 8) at the end of each stored run of a ring setting (``gan_ring``)."""
    from ..core.results import load_result
    return [int(m) for m in load_result("gan_ring", verbose=False)["configs"][setting]["modes"]]


def check_ring_prediction(got, modes: list[int] | None = None) -> tuple[bool, str]:
    """Verifier of "will the high-quality fakes cover all 8 modes?" (True/False, or yes/no).

    The answer is what the stored runs of §2's setting did (`modes`: modes covered per run,
    default `stored_ring_modes()`): False when no run covered all 8. A wrong prediction is told
    what those runs did, not why (the run below shows it)."""
    modes = stored_ring_modes() if modes is None else list(modes)
    said = _as_bool(got)
    if said is None:
        return False, f"answer True or False (or \"yes\" / \"no\"), got {got!r}"
    truth = all(m == 8 for m in modes)
    if said == truth:
        return True, ""
    spread = f"{min(modes)}–{max(modes)}" if min(modes) != max(modes) else f"{modes[0]}"
    return False, (f"in {len(modes)} earlier runs of this same setting the fakes covered "
                   f"{spread} of the 8 modes" + ("" if truth else ", never all 8")
                   + ": watch where the fakes go in the run below")


# ----------------------------------------------------------------------------- §4 D*

#: (p_data(x), p_g(x)) at probe points x: equal densities (Gen perfect there), one density zero
#: (disjoint supports there), densities above 1 (a density is not a probability), general ones.
PROBES: tuple[tuple[float, float], ...] = (
    (0.10, 0.30), (0.40, 0.40), (1.00, 0.10), (2.50, 2.50), (3.00, 0.50),
    (0.20, 0.00), (0.00, 0.70), (0.05, 1.60), (1.20, 0.90), (0.60, 2.40))


def probe_densities() -> tuple[torch.Tensor, torch.Tensor]:
    """The probe densities as two float64 tensors (p_data, p_g), shape (len(PROBES),)."""
    p = torch.tensor(PROBES, dtype=torch.float64)                # (K, 2)
    return p[:, 0].clone(), p[:, 1].clone()


def _reference(p_data: torch.Tensor, p_g: torch.Tensor) -> torch.Tensor:
    # argmin over D of −p_data log D − p_g log(1 − D), point by point
    return p_data / (p_data + p_g)


def optimal_discriminator_values(fn: Callable) -> torch.Tensor | None:
    """The student's ``fn(p_data, p_g)`` at `PROBES` (fresh tensors, so an in-place edit of
    the inputs cannot change the verdict), as float64; None when fn returned None."""
    p_data, p_g = probe_densities()
    got = fn(p_data, p_g)
    if got is None:
        return None
    return torch.as_tensor(got, dtype=torch.float64).detach()


def _matches(got: torch.Tensor, candidate: torch.Tensor) -> bool:
    finite = torch.isfinite(candidate)
    return (got.shape == candidate.shape and bool(finite.any())
            and bool((torch.isfinite(got) == finite).all())
            and torch.allclose(got[finite], candidate[finite], rtol=1e-4, atol=1e-6))


def check_optimal_discriminator(got: torch.Tensor) -> tuple[bool, str]:
    """Verifier: does `got` (see `optimal_discriminator_values`) minimise Disc's expected loss
    ½ E_data[−log D] + ½ E_g[−log(1 − D)] at every probe point? (passed, message); a wrong
    answer's message names the slip it looks like."""
    p_data, p_g = probe_densities()
    expected = _reference(p_data, p_g)
    if got.shape != expected.shape:
        return False, (f"got shape {tuple(got.shape)} for inputs of shape {tuple(p_data.shape)}: "
                       f"D*(x) is one number per point x, computed element-wise (no sum or mean)")
    slips = [
        (p_g / (p_data + p_g), "real and fake are swapped: this is the probability that x "
         "is FAKE, while D(x) is Disc's probability that x is real"),
        (p_data / p_g, "the likelihood ratio p_data/p_g is not a probability (above 1, "
         "infinite where p_g = 0): minimise −a log D − b log(1 − D) over D in (0, 1)"),
        (torch.log(p_data / p_g), "this looks like the optimal logit (the log-odds, before "
         "the sigmoid), not a probability: D(x) must lie in [0, 1]"),
        (torch.full_like(p_data, 0.5), "a constant 1/2 is optimal only where p_g = p_data; "
         "for a fixed, imperfect Gen the best D depends on x"),
        (p_data, "a density is not a probability (it can exceed 1) and this ignores p_g: "
         "D* must weigh p_data against p_g at each x"),
        (1 - p_g, "p_g is a density, not a probability: 1 − p_g ignores p_data"),
        (p_data / (p_data + p_g) / 2, "off by a factor 1/2: with real and fake equally "
         "likely the two ½ weights cancel"),
        (2 * p_data / (p_data + p_g), "off by a factor 2: with real and fake equally likely "
         "the two ½ weights cancel"),
        (torch.sigmoid(p_data - p_g), "σ of the difference of the densities is not the "
         "minimiser; set the derivative of −a log D − b log(1 − D) to zero"),
        (p_data / (p_data + p_g).sum(), "normalised over all points x: the minimisation is "
         "point by point, so each x is normalised by its own p_data(x) + p_g(x)"),
    ]
    if torch.allclose(got, expected, rtol=1e-4, atol=1e-6):
        return True, "at every probe point"
    for candidate, why in slips:
        if _matches(got, candidate):
            return False, why
    if not torch.isfinite(got).all():
        i = int((~torch.isfinite(got)).nonzero()[0])
        return False, (f"not finite at p_data = {p_data[i]:.2f}, p_g = {p_g[i]:.2f} (a 0/0 or "
                       f"∞/∞ in your expression?): where one density is 0 (disjoint supports) "
                       f"the best D is still a number in [0, 1]")
    if (got < 0).any() or (got > 1).any():
        return False, "values outside [0, 1]: D(x) is a probability (that x is real)"
    i = int((got - expected).abs().argmax())
    if torch.allclose(got, expected, rtol=1e-2, atol=1e-3):
        return False, (f"close, but off by up to {float((got - expected).abs().max()):.1e} (at "
                       f"p_data = {p_data[i]:.2f}, p_g = {p_g[i]:.2f}): is there a small constant "
                       f"in your expression, e.g. an ε added for safety? Keep it below 1e-6, or "
                       f"leave it out")
    return False, (f"at p_data = {p_data[i]:.2f}, p_g = {p_g[i]:.2f} your D is {got[i]:.4f}, "
                   f"which does not minimise −p_data·log D − p_g·log(1 − D) there: write the "
                   f"loss as one integral over x and set the integrand's derivative in D to 0")


#: The loss at the optimum for a perfect Gen, in nats: L(D*) = log 2 (D* = ½ everywhere).
LOSS_AT_OPTIMUM = math.log(2)


def check_loss_at_optimum(got) -> tuple[bool, str]:
    """Verifier of "what is L(D*) when p_g = p_data?" (one number, in nats): log 2 ≈ 0.6931,
    within 0.5 % (so 0.69 and 0.693 pass, 0.7 does not). The usual slips get a hint, never the
    value."""
    try:
        value = float(torch.as_tensor(got, dtype=torch.float64).reshape(()))
    except (TypeError, ValueError, RuntimeError):
        return False, f"give one number (a float), got {type(got).__name__}"
    if not math.isfinite(value):
        return False, f"got {value}: the loss at the optimum is a finite number"
    if math.isclose(value, LOSS_AT_OPTIMUM, rel_tol=5e-3):
        return True, ""
    slips = [
        (-math.log(4), "that is the value of Goodfellow et al.'s V = E log D + E log(1 − D), "
         "which Disc maximises; L here is a loss, with a minus sign and the weights ½"),
        (math.log(4), "the ½ weights of L are missing: real and fake points each come half of "
         "the time"),
        (-math.log(2), "the sign is flipped: L is a loss, −log of a probability, so it is ≥ 0"),
        (0.5, "that is D*(x) for a perfect Gen, not the loss L(D*): put D* back into L"),
        (0.0, "a loss of 0 would need a Disc that is always right; against a perfect Gen the "
         "best Disc cannot tell real from fake"),
        (1.0, "in bits? L uses the natural logarithm (nats): convert"),
        (math.log(2) / 2, "each half of L contributes; add the real and the fake term"),
    ]
    for wrong, why in slips:
        if math.isclose(value, wrong, rel_tol=1e-3, abs_tol=1e-9):
            return False, why
    return False, (f"{value:.4g} is not it: with p_g = p_data, first find D*(x), then put it "
                   f"into both expectations of L")
