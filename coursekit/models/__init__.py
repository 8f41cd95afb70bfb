"""The lecture's maths and networks, one module per section: `autoencoders` (eqs. 1–3), `vae`
(eqs. 4–14), `gan` (the ±1 game), `diffusion` (eqs. 15–19), `conditional` (notebook 06:
conditional VAE, classifier-free guidance, flow matching). No training recipes, experiments or
figures here: those live in `coursekit.recipes` and `coursekit.labs`."""
