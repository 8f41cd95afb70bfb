"""Notebook 05: every pretrained model side by side, measured with the one yardstick.

`load_for_comparison` loads the committed checkpoints, `compare_models` gives one row per model
(reconstruction error, ELBO/IWAE, sample metrics, time per sample, parameters, training
CPU-minutes) and `format_table` renders the rows as the notebook's Markdown table.
"""
from __future__ import annotations

import inspect
import math
import time
from collections.abc import Sequence

import torch
from torch import nn

from ..core.checkpoints import (
    Pretrained,
    checkpoint_path,
    fit_recipe,
    pretrained,
    recipes,
    training_cpu_minutes,
)
from ..core.config import Config, setup
from ..core.data import binarize_dynamic
from ..core.nn import count_parameters, eval_mode
from ..core.train import CheckpointError
from ..metrics import N_REFERENCE, evaluate_samples, heldout_images

#: The lecture's 2×2 table: (column, row) of each model.
LECTURE_TABLE = {"ae": ("reconstruct X", "heuristic"), "gan": ("reconstruct q(X)", "heuristic"),
                 "vae": ("reconstruct X", "probabilistic"),
                 "ddpm": ("reconstruct q(X)", "probabilistic"),
                 "ldm": ("reconstruct q(X) in an AE's code space", "probabilistic"),
                 # beyond the lecture (notebook 06): flow matching in the same code space
                 "flow": ("reconstruct q(X) in an AE's code space", "probabilistic")}


@torch.no_grad()
def sample_timed(model: nn.Module, n: int, generator: torch.Generator | None = None,
                 batch_size: int = 500, progress: str | None = None, **kw
                 ) -> tuple[torch.Tensor, float]:
    """(samples (n, 1, 28, 28), seconds per image) from one ``model.sample(n, generator=…, **kw)``
    call, so a sampling seed gives the same images as on the model's card (the pixel DDPM
    batches inside `sample`, by `batch_size`, without changing the images).

    progress: a label printed before sampling (None: silent)."""
    if progress:
        print(f"{progress} …", flush=True)
    if "batch_size" in inspect.signature(model.sample).parameters:
        kw = {**kw, "batch_size": batch_size}
    t0 = time.perf_counter()
    samples = model.sample(n, generator=generator, **kw).cpu()
    return samples, (time.perf_counter() - t0) / n


@torch.no_grad()
def model_scores(name: str, loaded: Pretrained, n: int = N_REFERENCE, iwae_k: int = 100,
                 seed: int = 0, sample_kw: dict | None = None, batch_size: int = 500,
                 progress: str | None = None, cpu_time: bool = False
                 ) -> tuple[dict, torch.Tensor]:
    """One row of the comparison table and the samples it was measured on.

    Reconstruction error L(x, f(h(x))) of eq. (1) (squared error per image, summed over the
    784 pixels) where the model has ``reconstruct``; ELBO of eq. (12) and IWAE (nats per image,
    on dynamically binarized held-out images) where it has ``elbo``/``iwae``; sample metrics of
    n samples; wall time per sample (``sec_per_sample``; with ``cpu_time=True`` also the
    process CPU time per sample, all threads, ``cpu_sec_per_sample``: on a shared machine the
    wall time says little); parameters; training CPU-minutes from the model card.
    batch_size / progress: passed to `sample_timed`.
    Every random draw comes from generators seeded with `seed` (never torch's global RNG), so a
    row does not depend on what ran before it.
    """
    model, card = loaded.model, loaded.card
    real = heldout_images(n)  # (n, 1, 28, 28)
    g = torch.Generator().manual_seed(seed)
    column, kind = LECTURE_TABLE.get(name, ("", ""))
    row = {"model": name, "cell": f"{kind}, {column}" if column else ""}
    with eval_mode(model):
        if hasattr(model, "reconstruct"):
            x_hat = torch.cat([model.reconstruct(b).cpu() for b in real.split(250)])  # (n,1,28,28)
            # eq. (1): L(x, f(h(x))) = ‖x − f(h(x))‖², averaged over the held-out images
            row["recon_mse"] = float((x_hat - real).square().sum((1, 2, 3)).mean())
        if hasattr(model, "elbo"):
            # one stream for the binarization and the Monte-Carlo ε of ELBO and IWAE
            g_vae = torch.Generator().manual_seed(seed)
            x_bin = binarize_dynamic(real, generator=g_vae)  # (n, 1, 28, 28) in {0, 1}
            # eq. (12): ELBO = E_q[ln p_θ(x|z)] − KL(q_φ(z|x) ‖ N(0, I)), computed by the VAE
            row["elbo"] = float(torch.cat([model.elbo(b, generator=g_vae)
                                           for b in x_bin.split(250)]).mean())
            if hasattr(model, "iwae") and iwae_k:
                row["iwae"] = float(torch.cat([model.iwae(b, iwae_k, generator=g_vae)
                                               for b in x_bin.split(50)]).mean())
        c0 = time.process_time()
        samples, row["sec_per_sample"] = sample_timed(model, n, generator=g, batch_size=batch_size,
                                                      progress=progress, **(sample_kw or {}))
        if cpu_time:
            row["cpu_sec_per_sample"] = (time.process_time() - c0) / n
    row.update(evaluate_samples(samples))
    row["parameters"] = count_parameters(model)
    row["train_cpu_min"] = training_cpu_minutes(card)
    row["tiny"] = bool(card.get("tiny", False))
    return row, samples


def load_for_comparison(names: Sequence[str] = ("ae", "vae", "gan", "ddpm"),
                        cfg: Config | None = None, missing: str = "skip") -> dict[str, Pretrained]:
    """Each model from its committed checkpoint (``ck.pretrained``); never writes checkpoints.

    A checkpoint that exists but does not load (`CheckpointError`: corrupt, or saved for another
    architecture) is left out with the error's message. A model whose checkpoint is missing is
    left out with a message (``missing="skip"``), or
    replaced by a tiny stand-in trained on the spot (``missing="tiny"``, for development): a
    stand-in's card says ``"tiny": True`` and its table row says so. Names without a registered
    recipe are left out with a message.
    """
    if missing not in ("skip", "tiny"):
        raise ValueError(f"missing must be 'skip' or 'tiny', got {missing!r}")
    cfg = cfg or setup(verbose=False)
    known, models = recipes(), {}
    for name in names:
        path = checkpoint_path(name)
        if name not in known:
            print(f"{name}: no recipe registered under this name: left out "
                  f"(known: {', '.join(sorted(known))})")
        elif path.exists():
            try:
                models[name] = pretrained(name, verbose=False)
            except CheckpointError as e:  # e.g. the architecture changed since it was saved
                print(f"{name}: {path} does not load: left out ({str(e).splitlines()[0]})")
        elif missing == "skip":
            print(f"{name}: {path} is missing: left out (make it with "
                  f"`python -m coursekit pretrain {name}`)")
        else:
            print(f"{name}: {path} is missing: training a tiny stand-in (its row is marked "
                  f"'tiny'; make the real one with `python -m coursekit pretrain {name}`)")
            models[name] = fit_recipe(name, cfg, tiny=True, command="")
    return models


def compare_models(names: Sequence[str] = ("ae", "vae", "gan", "ddpm"), n: int = N_REFERENCE,
                   iwae_k: int = 100, seed: int = 0, models: dict[str, Pretrained] | None = None,
                   sample_kw: dict | None = None
                   ) -> tuple[list[dict], dict[str, torch.Tensor]]:
    """Rows of the comparison table (one dict per model) and each model's samples.

    `models` maps names to already loaded models (`load_for_comparison`; default:
    ``ck.pretrained(name)``); `sample_kw` maps names to extra keyword arguments of ``sample``
    (e.g. DDIM steps).
    """
    rows, samples = [], {}
    for name in names:
        loaded = (models or {}).get(name) or pretrained(name, verbose=False)
        row, samples[name] = model_scores(name, loaded, n, iwae_k, seed,
                                          (sample_kw or {}).get(name))
        rows.append(row)
    return rows, samples


#: Columns of the table: (row key, header, format).
COLUMNS = [("model", "model", "{}"), ("cell", "2×2 table cell", "{}"),
           ("recon_mse", "recon. error", "{:.1f}"), ("elbo", "ELBO (nats)", "{:.1f}"),
           ("iwae", "IWAE (nats)", "{:.1f}"), ("fd", "FD", "{:.2f}"),
           ("fd_ratio", "FD / real", "{:.1f}×"), ("coverage", "classes", "{}/10"),
           ("kl_uniform", "KL to unif.", "{:.3f}"), ("precision", "precision", "{:.2f}"),
           ("recall", "recall", "{:.2f}"), ("sec_per_sample", "ms/sample", "{}"),
           ("parameters", "params", "{:,}"), ("train_cpu_min", "train CPU-min", "{:.1f}")]


def _cell(row: dict, key: str, fmt: str) -> str:
    """One table cell: "—" where the metric is not defined for the model."""
    v = row.get(key)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if key == "sec_per_sample":
        return f"{1000 * v:.2g}" if v < 0.01 else f"{1000 * v:.0f}"
    return fmt.format(v)


def format_table(rows: list[dict], reference_row: dict | None = None) -> str:
    """The rows as a Markdown table, plus the real-vs-real `reference_row` if given."""
    all_rows = [dict(r, model=r["model"] + " (tiny stand-in)") if r.get("tiny") else r
                for r in rows]
    if reference_row:
        all_rows.append({"model": "real train vs held-out", **reference_row, "fd_ratio": 1.0,
                         "cell": "data"})
    lines = ["| " + " | ".join(label for _, label, _ in COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cell(r, k, f) for k, _, f in COLUMNS) + " |" for r in all_rows]
    return "\n".join(lines)


__all__ = ["LECTURE_TABLE", "sample_timed", "model_scores",
           "load_for_comparison", "compare_models", "COLUMNS", "format_table"]
