"""Notebook 02's exercise checks (each a verifier for `ck.exercises.check`).

* "which networks, which output layers" (section 2 of the notebook): `check_networks` /
  `check_architecture` probe a student's encoder and decoder by what they compute — shapes,
  whether they are nonlinear, which values their outputs can take — so any hidden activation
  passes; the encoder may return (μ, ln σ) side by side or as a pair;
* "the gradient w.r.t. φ and θ" (section 5): `gradient_problem` sets up the inputs (one image,
  its ε, μ, ln σ, g_s, the logits) and holds no answer; `check_encoder_gradient` tests the
  student's ∇ w.r.t. (μ, ln σ), `check_decoder_gradient` pushes the student's ∇ w.r.t. the
  decoder's logits through the decoder and compares the resulting ∇_θ; both compute autograd's
  reference themselves.

A wrong answer gets a hint naming the likely slip (sign, sum instead of mean, a missing term,
∂/∂p instead of ∂/∂l, …), never the formula itself.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..core.nn import D
from ..models.vae import VAE, ImageBias, ToFeatureMap, kl_closed_form, reparameterize
from .exercises import close

# ----------------------------------------------------------------------------- section 6
#: Layers that only move values around or leave them unchanged (looked past to find the
#: output layer).
PASSTHROUGH = (nn.Flatten, nn.Unflatten, nn.PixelShuffle, nn.Identity, nn.Dropout, ToFeatureMap,
               ImageBias)
#: Output layers whose values are unbounded reals (a learned bias after them keeps them so).
UNBOUNDED_OUTPUTS = (nn.Linear, nn.Bilinear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d,
                     nn.ConvTranspose2d, nn.LeakyReLU, nn.PReLU)
#: Output activations that confine every value to a range (shown in the messages).
BOUNDED_OUTPUTS: dict[type[nn.Module], str] = {
    nn.ReLU: "[0, ∞)", nn.ReLU6: "[0, 6]", nn.Softplus: "(0, ∞)", nn.Sigmoid: "(0, 1)",
    nn.Hardsigmoid: "[0, 1]", nn.Tanh: "(−1, 1)", nn.Hardtanh: "[−1, 1]", nn.Softsign: "(−1, 1)",
    nn.ELU: "(−1, ∞)", nn.CELU: "(−1, ∞)", nn.SELU: "(−1.76, ∞)", nn.GELU: "[−0.17, ∞)",
    nn.SiLU: "[−0.28, ∞)", nn.Mish: "[−0.31, ∞)", nn.Hardswish: "[−0.375, ∞)",
    nn.LogSigmoid: "(−∞, 0)", nn.Softmax: "(0, 1), summing to 1", nn.LogSoftmax: "(−∞, 0)"}
N_PROBE = 64


def _output_layer(net: nn.Module) -> nn.Module | None:
    """The last leaf module that computes something (reshapes and per-pixel biases skipped)."""
    leaves = [mod for mod in net.modules() if not list(mod.children())]
    leaves = [mod for mod in leaves if not isinstance(mod, PASSTHROUGH)]
    return leaves[-1] if leaves else None


def _is_affine(net: nn.Module, a: torch.Tensor, b: torch.Tensor) -> bool:
    """True when net((a + b)/2) = (net(a) + net(b))/2 for every probe pair: no nonlinearity."""
    fa, fb, fm = net(a), net(b), net((a + b) / 2)
    scale = (fa - fb).abs().max().clamp_min(1e-12)
    return bool(((fm - (fa + fb) / 2).abs().max() / scale) < 1e-4)


class _SideBySide(nn.Module):
    """An encoder that returns (μ, ln σ) as a pair, seen as one (N, 2m) output."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        if isinstance(out, tuple | list) and len(out) == 2 and all(
                isinstance(t, torch.Tensor) for t in out) and out[0].shape == out[1].shape:
            return torch.cat([out[0], out[1]], dim=-1)
        return out


def _call(net: nn.Module, x: torch.Tensor, name: str, what: str) -> tuple[torch.Tensor | None, str]:
    try:
        return net(x), ""
    except Exception as e:  # a shape mismatch inside the student's network
        return None, f"the {name} raised {type(e).__name__} on {what}: {str(e).splitlines()[0]}"


def check_networks(nets, m: int) -> tuple[bool, str]:
    """Verifier for ``make_networks(m)``: `nets` must be a pair (encoder, decoder)."""
    if not (isinstance(nets, tuple | list) and len(nets) == 2
            and all(isinstance(n, nn.Module) for n in nets)):
        return False, (f"make_networks(m) must return a pair (encoder, decoder) of nn.Module, "
                       f"got {type(nets).__name__}")
    return check_architecture(nets[0], nets[1], m)


def check_architecture(encoder: nn.Module, decoder: nn.Module, m: int) -> tuple[bool, str]:
    """Verifier of the exercise "what networks, what output layer" (used by the notebook).

    Wants: encoder (N, 784) → (N, 2m) [μ and ln σ side by side, or a pair of (N, m)],
    decoder (N, m) → (N, 784) [or (N, 1, 28, 28), (N, 28, 28)], both nonlinear (any
    activation). Output layers:

    * encoder: μ and ln σ are any real numbers, so the output must be unbounded (a linear
      layer; a ReLU, softplus, sigmoid, tanh, ELU, … output is rejected);
    * decoder: either logits (a linear output, what this notebook feeds to
      `bernoulli_log_likelihood`) or Bernoulli means in (0, 1) through a sigmoid (the lecture's
      Dec_θ(z) = p_θ(z) ∈ [0, 1]^d) — accepted, with a message that the loss must then be BCE
      on probabilities. Other bounded outputs (ReLU, tanh, softmax, …) are rejected.

    The networks are probed in eval mode with a private generator (the caller's RNG and the
    networks' train/eval flags are left as they were). Returns (passed, message).
    """
    g = torch.Generator().manual_seed(0)
    x = torch.rand(N_PROBE, D, generator=g)  # (64, 784) intensities …
    x[: N_PROBE // 2] = (x[: N_PROBE // 2] > 0.5).float()  # … half of them binary images
    z = 2 * torch.randn(N_PROBE, m, generator=g)  # (64, m): codes around the prior
    modes = [(net, net.training) for net in (encoder, decoder)]
    try:
        encoder.eval(), decoder.eval()
        with torch.no_grad():
            return _check_architecture(_SideBySide(encoder), decoder, m, x, z)
    finally:
        for net, mode in modes:
            net.train(mode)


def _check_architecture(encoder, decoder, m, x, z) -> tuple[bool, str]:
    # --- encoder: shape
    h, err = _call(encoder, x, "encoder", f"flattened images of shape {tuple(x.shape)}")
    if h is None:
        if _call(encoder, x.reshape(-1, 1, 28, 28), "encoder", "")[0] is not None:
            return False, ("the encoder wants images (N, 1, 28, 28), but the VAE feeds it flattened "
                           "images (N, 784): start it with nn.Unflatten(1, (1, 28, 28))")
        return False, err + f"; it must take flattened images (N, {D})"
    if not isinstance(h, torch.Tensor) or tuple(h.shape) != (N_PROBE, 2 * m):
        if not isinstance(h, torch.Tensor):
            return False, (f"the encoder returns {type(h).__name__}; expected one tensor (N, 2m) "
                           f"with μ and ln σ side by side, or a pair (μ, ln σ) of (N, m) tensors")
        found = tuple(h.shape)
        hint = (" — only one of μ and ln σ: the encoder outputs both, side by side"
                if found == (N_PROBE, m) else "")
        return False, (f"the encoder maps {tuple(x.shape)} to {found}, expected "
                       f"{(N_PROBE, 2 * m)}: μ and ln σ, m = {m} numbers each{hint}")
    # --- decoder: shape
    out, err = _call(decoder, z, "decoder", f"codes z of shape {tuple(z.shape)}")
    if out is None:
        return False, err + f"; the decoder takes one code z ∈ R^m per image (N, m = {m})"
    if not isinstance(out, torch.Tensor) or tuple(out.shape) not in (
            (N_PROBE, D), (N_PROBE, 1, 28, 28), (N_PROBE, 28, 28)):
        if not isinstance(out, torch.Tensor):
            return False, f"the decoder returns {type(out).__name__}; expected a tensor (N, {D})"
        return False, (f"the decoder maps {tuple(z.shape)} to {tuple(out.shape)}, expected "
                       f"{(N_PROBE, D)}: one value per pixel of the 28×28 image")
    out = out.reshape(N_PROBE, D)
    # --- both: a nonlinearity somewhere
    half = N_PROBE // 2
    for name, net, probe in (("encoder", encoder, x), ("decoder", decoder, z)):
        if _is_affine(net, probe[:half], probe[half:]):
            return False, (f"the {name} has no nonlinearity: a stack of linear layers is one "
                           f"linear map; put an activation (ELU, ReLU, tanh, …) between them")
    # --- encoder output: μ and ln σ are unconstrained reals
    last = _output_layer(encoder)
    bounded = next((r for cls, r in BOUNDED_OUTPUTS.items() if isinstance(last, cls)), None)
    lowest = {"μ": h[:, :m].min().item(), "ln σ": h[:, m:].min().item()}
    if bounded is not None or min(lowest.values()) >= 0:
        why = (f"ends in {type(last).__name__}, so its outputs lie in {bounded}" if bounded
               else "never outputs a negative " + " or ".join(k for k, v in lowest.items() if v >= 0))
        return False, (f"the encoder {why}: μ is a point anywhere in R^m and ln σ must be "
                       f"negative for σ < 1 (a confident encoder). Give the encoder a linear "
                       f"output layer; σ = exp(ln σ) is positive anyway")
    # --- decoder output: logits (unbounded) or probabilities (sigmoid); the layer's type when it
    # is a known activation, else what the outputs do on the probes
    last = _output_layer(decoder)
    lo, hi = out.min().item(), out.max().item()
    in_unit = 0 <= lo and hi <= 1
    known = next((cls for cls in BOUNDED_OUTPUTS if isinstance(last, cls)), None)
    if isinstance(last, nn.Softmax) or (known is None and in_unit
                                        and torch.allclose(out.sum(-1), torch.ones(len(out)))):
        return False, ("the decoder's 784 outputs sum to 1 (a softmax): one categorical "
                       "distribution over pixel positions; but each pixel is its own Bernoulli "
                       "variable: use a linear output (logits) or an element-wise nn.Sigmoid")
    if isinstance(last, nn.Hardsigmoid) or (known is None and in_unit
                                            and ((out == 0) | (out == 1)).any()):
        return False, ("the decoder's outputs reach exactly 0 or 1 (clipped), where ln p or "
                       "ln(1 − p) is −∞; use a linear output (logits) or nn.Sigmoid")
    if isinstance(last, nn.Sigmoid) or (known is None and in_unit):
        return True, ("your decoder outputs Bernoulli means in (0, 1), the lecture's "
                      "Dec_θ(z) = p_θ(z). Then the loss is BCE on probabilities, "
                      "F.binary_cross_entropy(p, x), not bernoulli_log_likelihood (which wants "
                      "logits); the VAE here drops the sigmoid and computes the loss from logits, "
                      "which stays finite where a float32 p rounds to 0 or 1")
    if known is not None or lo >= 0:
        rng = BOUNDED_OUTPUTS[known] if known else f"[{lo:.2g}, {hi:.2g}] on our probes"
        return False, (f"the decoder's outputs lie in {rng} ({type(last).__name__} last): as "
                       f"logits they cannot say 'this pixel is almost surely 0 or 1' (that needs "
                       f"any real logit); as probabilities they leave [0, 1]. Use a linear output "
                       f"(logits, this notebook) or nn.Sigmoid (probabilities)")
    # a linear decoder output (logits): what the VAE here uses. The message says nothing more,
    # so a saved "✓ correct" does not describe the answer.
    return True, ""


# ----------------------------------------------------------------------------- section 5
@dataclass
class GradientProblem:
    """The inputs of the gradient exercise: one image, its ε, and what the two functions the
    student writes receive — no gradient of the ELBO estimate (the checks compute autograd's
    reference themselves, `_reference`, so nothing handed to the student holds the answer).

    ELBO^(x) = 1/n_ε Σ_s ln p_θ(x | z_s) − KL(μ, σ),  z_s = μ + σ ε_s   (eqs. 13–14).

    x (784,) in {0, 1}; eps, z, g (n_ε, m) with g_s = ∇_z ln p_θ(x|z) at z_s (the decoder's
    gradient w.r.t. its input); mu, log_sigma (m,); logits (n_ε, 784) = decoder logits at z_s.
    """
    model: VAE
    x: torch.Tensor
    eps: torch.Tensor
    mu: torch.Tensor
    log_sigma: torch.Tensor
    z: torch.Tensor
    g: torch.Tensor
    logits: torch.Tensor

    @property
    def n_theta(self) -> int:
        """Number of decoder parameters (the length of ∇_θ)."""
        return sum(p.numel() for p in self.model.decoder.parameters())

    def theta_gradient(self, grad_logits: torch.Tensor) -> list[torch.Tensor]:
        """Backpropagate a gradient w.r.t. the logits (n_ε, 784) through the decoder to θ."""
        logits = self.model._logits(self.z)  # (n_ε, 784), differentiable in θ
        return list(torch.autograd.grad(logits, list(self.model.decoder.parameters()),
                                        grad_outputs=grad_logits.to(logits.dtype)))


def gradient_problem(model: VAE, x: torch.Tensor, eps: torch.Tensor) -> GradientProblem:
    """The exercise's inputs for one image x (1, 1, 28, 28) and ε (n_ε, m): μ, ln σ, z_s, g_s
    and the logits l_s. It holds no gradient of the ELBO estimate."""
    with torch.no_grad():
        mu, log_sigma = (t[0] for t in model.encode(x))  # (m,), (m,)
        z = reparameterize(mu, log_sigma, eps)  # eq. (14) step 4.2: (n_ε, m)
    z_in = z.clone().requires_grad_()
    (g,) = torch.autograd.grad(model.log_likelihood(x, z_in[:, None]).sum(), z_in)  # (n_ε, m)
    with torch.no_grad():
        logits = model._logits(z)  # (n_ε, 784)
    return GradientProblem(model, x.reshape(D).float(), eps, mu, log_sigma, z, g, logits)


@dataclass
class _Reference:
    grad_mu: torch.Tensor
    grad_log_sigma: torch.Tensor
    grad_theta: list[torch.Tensor]


def _reference(p: GradientProblem) -> _Reference:
    """Autograd's ∇ of ELBO^(x) w.r.t. μ, ln σ and every decoder parameter θ (for the checks)."""
    mu_leaf = p.mu.detach().clone().requires_grad_()
    log_sigma_leaf = p.log_sigma.detach().clone().requires_grad_()
    z = reparameterize(mu_leaf, log_sigma_leaf, p.eps)  # (n_ε, m)
    theta = list(p.model.decoder.parameters())
    x = p.x.reshape(1, 1, 28, 28)
    # ELBO^ = 1/n_ε Σ_s ln p_θ(x|z_s) − KL(μ, σ)   (eqs. 14 and 13)
    elbo_hat = p.model.log_likelihood(x, z[:, None]).mean() - kl_closed_form(mu_leaf, log_sigma_leaf)
    grad_mu, grad_log_sigma, *grad_theta = torch.autograd.grad(
        elbo_hat, [mu_leaf, log_sigma_leaf, *theta])
    return _Reference(grad_mu, grad_log_sigma, grad_theta)


def _as_vector(t, m: int, name: str) -> torch.Tensor | str:
    try:
        t = torch.as_tensor(t, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as e:
        return f"{name} must be a tensor of shape ({m},), got {type(t).__name__} ({e})"
    if t.numel() == m and all(s == 1 for s in t.shape if s != m) and m in t.shape:
        return t.reshape(m)  # (m,), or (1, m) / (m, 1): the same numbers
    return f"{name} has shape {tuple(t.shape)}, expected ({m},): one value per coordinate"


def _pair(got, m: int) -> tuple[torch.Tensor, torch.Tensor] | str:
    if not (isinstance(got, tuple | list) and len(got) == 2):
        return f"return a pair (grad_mu, grad_log_sigma), got {type(got).__name__}"
    out = [_as_vector(t, m, name) for t, name in zip(got, ("grad_mu", "grad_log_sigma"))]
    bad = next((o for o in out if isinstance(o, str)), None)
    return bad if bad is not None else (out[0], out[1])


def _encoder_slips(p: GradientProblem) -> dict[str, list[tuple[torch.Tensor, str]]]:
    """Plausible wrong answers for ∇_μ and ∇_ln σ, each with a hint that names the slip (and
    never prints the right formula)."""
    g, eps, mu = p.g.double(), p.eps.double(), p.mu.double()
    sigma = p.log_sigma.double().exp()
    n = len(g)
    rec_mu, rec_ls = g.mean(0), (g * sigma * eps).mean(0)  # reconstruction parts
    kl_mu, kl_ls = mu, sigma**2 - 1  # ∂ KL / ∂μ, ∂ KL / ∂ ln σ (eq. 13)
    summed = f"the samples are summed: eq. (14) averages over the n_ε = {n} samples"
    return {
        "mu": [(-(rec_mu - kl_mu), "the sign is flipped: we want the gradient of the ELBO, which is maximized"),
               (rec_mu, "the KL part of ∇_μ is missing: the KL of eq. (13) depends on μ too"),
               (rec_mu + kl_mu, "the KL term has the wrong sign: eq. (12) subtracts the KL"),
               (n * rec_mu - kl_mu, summed),
               (rec_mu - 2 * kl_mu, "the KL part of ∇_μ has a factor 2 too many: look at the ½ in eq. (13)")],
        "log_sigma": [
            (-(rec_ls - kl_ls), "the sign is flipped: we want the gradient of the ELBO, which is maximized"),
            (rec_ls, "the KL part of ∂/∂ln σ is missing: the KL of eq. (13) depends on σ too"),
            (rec_ls + kl_ls, "the KL term has the wrong sign: eq. (12) subtracts the KL"),
            (g.mean(0) - kl_ls, "the chain-rule factor ∂z/∂ln σ is missing from the reconstruction part"),
            ((g * eps).mean(0) - kl_ls,
             "the reconstruction part uses ∂z/∂σ; the encoder outputs ln σ, so one more chain-rule "
             "factor (∂σ/∂ln σ) is needed"),
            ((g * sigma * eps).mean(0) / sigma - (sigma - 1 / sigma),
             "that is the gradient w.r.t. σ; the encoder outputs ln σ: apply the chain rule once more "
             "(∂σ/∂ln σ)"),
            (rec_ls - (sigma - 1 / sigma), "the KL part is differentiated w.r.t. σ, not ln σ"),
            (rec_ls - sigma**2, "the KL part misses the derivative of the −Σ_j ln σ_j term of eq. (13)"),
            (n * rec_ls - kl_ls, summed)]}


def _diagnose(got: torch.Tensor, slips, rtol: float, atol: float) -> str:
    for wrong, why in slips:
        if close(got, wrong, rtol=rtol, atol=atol)[0]:
            return why
    return ""


def check_encoder_gradient(got, problem: GradientProblem, rtol: float = 1e-4,
                           atol: float = 1e-4) -> tuple[bool, str]:
    """Verifier: the student's (∇_μ, ∇_ln σ) of ELBO^(x) against autograd's, computed here.

    Accepts a pair (tuple or list) of tensors, arrays or lists with m numbers each (shape (m,),
    or (1, m)). A wrong half gets a hint naming the slip, never the formula."""
    pair = _pair(got, len(problem.mu))
    if isinstance(pair, str):
        return False, pair
    ref = _reference(problem)
    slips = _encoder_slips(problem)
    parts = []
    for (name, symbol), mine, want in zip((("mu", "∇_μ"), ("log_sigma", "∇_ln σ")), pair,
                                          (ref.grad_mu, ref.grad_log_sigma)):
        ok, detail = close(mine, want, rtol=rtol, atol=atol)
        if ok:
            parts.append(f"{symbol} right")
        else:
            parts.append(f"{symbol} wrong ({detail} from autograd)"
                         + (f": {why}" if (why := _diagnose(mine, slips[name], rtol, atol)) else ""))
    if all(p.endswith("right") for p in parts):
        return True, "∇_μ and ∇_ln σ match autograd"
    return False, "; ".join(parts)


def _decoder_slips(p: GradientProblem) -> list[tuple[torch.Tensor, str]]:
    """Plausible wrong answers for ∇ of ELBO^ w.r.t. the logits, each with a hint that names
    the slip (and never prints the right formula)."""
    x, logits = p.x.double(), p.logits.double()
    prob = torch.sigmoid(logits)
    n = len(logits)
    return [((prob - x) / n, "the sign is flipped: we want the gradient of the ELBO, which is maximized"),
            (x - prob, f"the samples are summed: eq. (14) averages over the n_ε = {n} samples"),
            ((x / prob - (1 - x) / (1 - prob)) / n,
             "that is ∂/∂p; the decoder outputs logits l with p = sigmoid(l): apply the chain rule "
             "through the sigmoid"),
            ((x - prob) * prob * (1 - prob) / n,
             "one factor p(1 − p) too many: the sigmoid's derivative cancels against part of ∂/∂p"),
            ((x - logits) / n, "the sigmoid is missing: the Bernoulli mean is p = sigmoid(l), not l"),
            (x.expand_as(prob) / n,
             "only one of the two terms of x ln p + (1 − x) ln(1 − p) was differentiated: both depend on l")]


def _logit_shaped(got, n: int) -> torch.Tensor | str:
    try:
        mine = torch.as_tensor(got, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as e:
        return f"return a tensor (n_ε, 784), got {type(got).__name__} ({e})"
    if mine.dim() >= 2 and mine.shape[0] == n and mine[0].numel() == D \
            and tuple(mine.shape[1:]) in ((D,), (28, 28), (1, 28, 28), (1, D)):
        return mine.reshape(n, D)  # (n_ε, 784), or one image per sample: the same numbers
    return (f"shape {tuple(mine.shape)}, expected ({n}, {D}): one gradient per sample "
            f"z_s and pixel (the ELBO estimate depends on all n_ε = {n} decoder outputs)")


def check_decoder_gradient(got, problem: GradientProblem, rtol: float = 1e-4) -> tuple[bool, str]:
    """Verifier: the student's ∇ of ELBO^(x) w.r.t. the decoder's logits (n_ε, 784) — or
    (n_ε, 1, 28, 28), (n_ε, 28, 28) — pushed through the decoder to θ, against autograd's ∇_θ
    computed here (relative error of the whole vector). A wrong answer gets a hint naming the
    slip, never the formula."""
    n = len(problem.logits)
    mine = _logit_shaped(got, n)
    if isinstance(mine, str):
        return False, mine
    theta = torch.cat([t.flatten() for t in problem.theta_gradient(mine.float())]).double()
    ref = torch.cat([t.flatten() for t in _reference(problem).grad_theta]).double()
    rel = float((theta - ref).norm() / ref.norm().clamp_min(1e-30))
    if rel < rtol:
        return True, (f"∇_θ through the decoder matches autograd: relative error < {rtol:g} over "
                      f"{problem.n_theta:,} decoder parameters")
    why = _diagnose(mine, _decoder_slips(problem), rtol=1e-4, atol=1e-7)
    return False, (f"∇_θ differs from autograd's: relative error {rel:.2g} (‖yours − autograd‖ / ‖autograd‖)"
                   + (f": {why}" if why else ""))


__all__ = ["check_networks", "check_architecture", "GradientProblem", "gradient_problem",
           "check_encoder_gradient", "check_decoder_gradient"]
