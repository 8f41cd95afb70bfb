"""Heavy studies of the vae notebook, registered in `coursekit.core.results.STUDIES`.

``vae_iwae`` — the importance-weighted bound IWAE_k on held-out images as k grows, for the
committed ``vae`` checkpoint (notebook 02, "Going further" B): the mean over images of IWAE_k for
k = 1, 2, 5, …, k_max with its standard error, the ELBO (eq. 12) of the same images, and the
per-image values (for the paired `iwae_agrees` check). Sizes:

* full (``python -m coursekit reproduce vae_iwae``, the committed data/results/vae_iwae.json):
  k up to 5,000 on all 1,000 held-out images;
* default (the notebook's own measurement): k up to 500 on the first 200 held-out images;
* fast (CI): k up to 20 on the first 20 images.

The curve is still rising at k_max, so every IWAE_k is a lower bound on the mean ln p_θ(x), and
IWAE_k − ELBO is a lower bound on the mean KL(q_φ(z|x) ‖ p_θ(z|x)) of eq. (9).

Also here, for the notebook: `iwae_measure` (the same measurement at any size),
`iwae_agrees`, `format_iwae`, and `checkpoint_line` (a loaded checkpoint's provenance).
"""
from __future__ import annotations

import math
import time

import torch
from tqdm.auto import tqdm

from ..core.checkpoints import pretrained
from ..core.config import Config
from ..core.results import STUDIES, Study
from ..core.stats import mean_se
from ..models.vae import VAE
from ..recipes.vae import HELDOUT_BINARIZATION_SEED, binarized_heldout
from .vae_estimators import iwae_curve

#: The k of the curve (those ≤ k_max are used).
IWAE_KS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
#: (default, fast, full) sizes of the study: largest k and number of held-out images.
IWAE_K_MAX = (500, 20, 5000)
IWAE_N_IMAGES = (200, 20, 1000)
#: Images per batch of log-weights; batch i draws its samples from generator seed + i.
BATCH = 50
#: `iwae_agrees`: the paired difference must be within this many standard errors.
AGREE_SE = 3.0


@torch.no_grad()
def iwae_measure(model: VAE, x_binary: torch.Tensor, k_max: int, seed: int = 0,
                 progress: bool = True) -> dict:
    """IWAE_k for k = 1 … k_max (`IWAE_KS`) and the ELBO on binarized images `x_binary`.

    One set of k_max log-weights per image (batches of `BATCH` images, batch i from a generator
    seeded with seed + i) gives every k (disjoint blocks, `iwae_curve`). Returns JSON numbers:
    k_max, n_images, ks, iwae_mean / iwae_se (mean over images and its standard error, nats),
    elbo / elbo_se / recon / kl (10 ε per image, closed-form KL), rise_last (IWAE at k_max minus
    IWAE at the previous k: > 0 means the curve is still rising, so it is a bound), per_image
    (IWAE_k of each image, one list per k) and cpu_seconds.
    """
    c0 = time.process_time()
    ks = [k for k in IWAE_KS if k <= k_max]
    batches = x_binary.split(BATCH)
    if progress:
        batches = tqdm(batches, desc=f"log-weights, k = {k_max}, {len(x_binary)} images")
    log_w = torch.cat([model.log_weights(xb, k_max, torch.Generator().manual_seed(seed + i))
                       for i, xb in enumerate(batches)], dim=1)  # (k_max, N)
    iwae = iwae_curve(log_w, ks)  # (len(ks), N)
    g = torch.Generator().manual_seed(seed)
    x = model._binary(x_binary)
    recon_kl = [model._elbo_terms(xb, 10, g) for xb in x.split(500)]
    recon = torch.cat([r for r, _ in recon_kl])  # (N,)
    kl = torch.cat([k for _, k in recon_kl])  # (N,)
    stats = [mean_se(row) for row in iwae]
    elbo, elbo_se = mean_se(recon - kl)
    means = [m for m, _ in stats]
    return {"k_max": k_max, "n_images": len(x_binary), "seed": seed,
            "binarization_seed": HELDOUT_BINARIZATION_SEED, "ks": ks,
            "iwae_mean": means, "iwae_se": [s for _, s in stats],
            "elbo": elbo, "elbo_se": elbo_se, "recon": float(recon.mean()),
            "kl": float(kl.mean()),
            "rise_last": means[-1] - means[-2] if len(means) > 1 else 0.0,
            "per_image": [row.tolist() for row in iwae],
            "cpu_seconds": time.process_time() - c0}


def run_iwae(cfg: Config) -> dict:
    """The ``vae_iwae`` study in `cfg`'s profile (sizes in the module docstring)."""
    k_max = cfg.scale(*IWAE_K_MAX)
    n = cfg.scale(*IWAE_N_IMAGES)
    model = pretrained("vae", cfg).model
    held_x, _ = binarized_heldout(n)
    return iwae_measure(model, held_x, k_max, seed=cfg.seed)


def iwae_agrees(small: dict, full: dict, k: int | None = None) -> tuple[bool, str]:
    """Does a smaller IWAE measurement agree with the full one at a common k?

    Both use the first images of the same fixed binarization, so the check is paired: on the
    images they share, the mean of the per-image differences IWAE_k(small) − IWAE_k(full) must
    be within `AGREE_SE` standard errors of that mean (Monte-Carlo noise only; the spread between
    images cancels). k: the largest k in both curves unless given.
    """
    common = [kk for kk in small["ks"] if kk in full["ks"]]
    if k is None:
        k = max(common)
    elif k not in common:
        return False, f"k = {k} is not in both curves (common: {common})"
    a = torch.tensor(small["per_image"][small["ks"].index(k)], dtype=torch.float64)
    b = torch.tensor(full["per_image"][full["ks"].index(k)], dtype=torch.float64)
    n = min(len(a), len(b))
    if n < 2:
        return False, "fewer than 2 common images"
    d = a[:n] - b[:n]
    mean, se = float(d.mean()), float(d.std() / math.sqrt(n))
    ok = abs(mean) <= AGREE_SE * se + 1e-6
    return ok, (f"IWAE_{k} on the {n} common images: {float(a[:n].mean()):.2f} here vs "
                f"{float(b[:n].mean()):.2f} in the full study, difference {mean:+.3f} ± {se:.3f} "
                f"nats (paired s.e.); {'within' if ok else 'OUTSIDE'} {AGREE_SE:g} s.e.")


def format_iwae(record: dict, label: str) -> str:
    """One table of IWAE_k (mean ± s.e. over images) for a record of `iwae_measure`."""
    lines = [f"{label}: {record['n_images']} held-out images, k ≤ {record['k_max']}",
             f"{'k':>6} {'IWAE_k (nats)':>14} {'± s.e.':>7}"]
    for k, m, s in zip(record["ks"], record["iwae_mean"], record["iwae_se"]):
        lines.append(f"{k:6d} {m:14.2f} {s:7.2f}")
    lines.append(f"{'ELBO':>6} {record['elbo']:14.2f} {record['elbo_se']:7.2f}")
    return "\n".join(lines)


def checkpoint_line(name: str, run) -> str:
    """One line on a loaded checkpoint, from its model card: where it comes from, what its
    training loop cost, and what the whole ``pretrain`` command (data, training loop and the
    final held-out evaluation) cost — the two times the card records, each named."""
    card, metrics = run.card, run.card.get("metrics", {})
    origin = (f"trained now (a tiny {name!r}: the checkpoint file is missing)" if card.get("tiny")
              else f"loaded pretrained {name!r} from data/checkpoints/{name}.pt, not trained now")
    loop = ""
    if "train_cpu_minutes" in metrics:
        loop = (f"; training loop: {metrics['epochs']:.0f} epochs, "
                f"{metrics['train_cpu_minutes']:.1f} CPU-min ({metrics['train_wall_minutes']:.1f} "
                f"min wall, {card['threads']} thread{'s' if card['threads'] != 1 else ''})")
    return (f"{origin}{loop}; the whole `{card['command']}` (data, training loop, final held-out "
            f"evaluation): {card['train_seconds']:.0f} s wall, {card['train_cpu_seconds']:.0f} CPU-s")


STUDIES.add("vae_iwae", Study(
    "vae_iwae", run_iwae,
    "IWAE_k lower bounds on ln p(x) for k = 1 … 5,000 on the 1,000 held-out images (committed "
    "vae checkpoint), with the ELBO and per-image values", "02", agrees=iwae_agrees))

__all__ = ["IWAE_KS", "IWAE_K_MAX", "IWAE_N_IMAGES", "iwae_measure", "run_iwae", "iwae_agrees",
           "format_iwae", "checkpoint_line"]

