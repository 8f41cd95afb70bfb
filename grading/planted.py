"""Planted wrong submissions: plausible slips in each assignment's answer cell, with the
autograded points each one should get. tests/grading/ autogrades them with nbgrader and
`scripts/assignments.py calibrate` measures their trained outcomes against the bands.

Each is the reference answer with one edit (`old` → `new`), so it reads like a student's
near-miss rather than nonsense."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Planted:
    name: str
    slip: str                 # what is wrong, in the words of a hint
    old: str                  # a line (or part) of the reference answer …
    new: str                  # … and what the slip writes instead
    points: dict[str, float]  # expected autograded points per test cell (grade_id)

    def apply(self, reference: str) -> str:
        """The reference answer with this slip; the edit must change something."""
        if reference.count(self.old) != 1:
            raise ValueError(f"{self.name}: {self.old!r} must occur once in the reference answer")
        return reference.replace(self.old, self.new)


PLANTED: dict[str, list[Planted]] = {
    "hw1_autoencoders": [
        Planted("no_corruption", "the model sees the clean x, not x̃",
                "return ((model(x_tilde) - x) ** 2).sum(dim=1).mean()",
                "return ((model(x) - x) ** 2).sum(dim=1).mean()",
                {"test_corrupt": 1, "test_dae_loss": 0, "test_trained": 0}),
        Planted("noisy_target", "the target is x̃ instead of the clean x",
                "return ((model(x_tilde) - x) ** 2).sum(dim=1).mean()",
                "return ((model(x_tilde) - x_tilde) ** 2).sum(dim=1).mean()",
                {"test_corrupt": 1, "test_dae_loss": 0, "test_trained": 0}),
        Planted("keep_probability", "p used as the chance to keep a pixel",
                "keep = (torch.rand(x.shape, generator=generator) >= p).to(x.dtype)",
                "keep = (torch.rand(x.shape, generator=generator) < p).to(x.dtype)",
                {"test_corrupt": 0, "test_dae_loss": 2, "test_trained": 0}),
        Planted("mean_over_pixels", "the squared error averaged over pixels, not summed",
                "return ((model(x_tilde) - x) ** 2).sum(dim=1).mean()",
                "return ((model(x_tilde) - x) ** 2).mean()",
                {"test_corrupt": 1, "test_dae_loss": 0, "test_trained": 3}),
    ],
    "hw2_vae": [
        Planted("kl_sign", "the KL term added with the wrong sign",
                "return (kl - log_px).mean()", "return (-kl - log_px).mean()",
                {"test_negative_elbo": 0, "test_trained": 0}),
        Planted("log_sigma_as_sigma", "log σ used as σ in z = μ + σ ε",
                "z = mu + log_sigma.exp() * eps", "z = mu + log_sigma * eps",
                {"test_negative_elbo": 0, "test_trained": 0}),
        Planted("sigma_not_squared", "‖σ‖ instead of ‖σ‖² in eq. (13)",
                "kl = (0.5 * (mu ** 2 + (2 * log_sigma).exp()).sum(dim=1)",
                "kl = (0.5 * (mu ** 2 + log_sigma.exp()).sum(dim=1)",
                {"test_negative_elbo": 0, "test_trained": 3}),
        Planted("no_kl", "the KL term left out (an autoencoder with noise)",
                "return (kl - log_px).mean()", "return (-log_px).mean()",
                {"test_negative_elbo": 0, "test_trained": 0}),
    ],
    "hw3_gan": [
        Planted("saturating", "Gen minimises ln(1 − D) (the saturating loss)",
                "loss_G = F.softplus(-D(x_fake)).mean()",
                "loss_G = -F.softplus(D(x_fake)).mean()",
                {"test_gan_step": 0, "test_trained": 3}),
        Planted("labels_swapped", "Disc's labels swapped: data −1, fakes +1",
                "loss_D = 0.5 * (F.softplus(-D(x_real)).mean() + F.softplus(D(x_fake.detach())).mean())",
                "loss_D = 0.5 * (F.softplus(D(x_real)).mean() + F.softplus(-D(x_fake.detach())).mean())",
                {"test_gan_step": 0, "test_trained": 0}),
        Planted("gen_helps_disc", "Gen minimises Disc's loss on the fakes",
                "loss_G = F.softplus(-D(x_fake)).mean()",
                "loss_G = F.softplus(D(x_fake)).mean()",
                {"test_gan_step": 0, "test_trained": 0}),
        Planted("no_gen_update", "Gen's optimizer never steps",
                "    opt_G.step()\n", "",
                {"test_gan_step": 0, "test_trained": 0}),
    ],
    "hw4_diffusion": [
        Planted("mean_without_sqrt_alpha", "μ not divided by √α_t",
                "mean = (x_next - betas[t] / (1 - alpha_bar[t]).sqrt() * eps_hat) / (1 - betas[t]).sqrt()",
                "mean = x_next - betas[t] / (1 - alpha_bar[t]).sqrt() * eps_hat",
                {"test_ddpm_loss": 1, "test_p_sample": 0, "test_trained": 0}),
        Planted("noise_beta_not_sqrt", "noise β_t z instead of √β_t z",
                "return mean + betas[t].sqrt() * z", "return mean + betas[t] * z",
                {"test_ddpm_loss": 1, "test_p_sample": 0, "test_trained": 0}),
        Planted("target_x0", "the network regresses x^(0) instead of ε",
                "return F.mse_loss(eps_model(x_next, t), eps)",
                "return F.mse_loss(eps_model(x_next, t), x0)",
                {"test_ddpm_loss": 0, "test_p_sample": 2, "test_trained": 0}),
        Planted("noise_at_last_step", "noise added at t = 0 too",
                "    if t == 0:\n        return mean\n", "",
                {"test_ddpm_loss": 1, "test_p_sample": 0, "test_trained": 3}),
    ],
}
