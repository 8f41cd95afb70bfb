#!/usr/bin/env python
"""The README's checkpoint table, generated from the model cards (one source per number).

    python scripts/readme_tables.py           # rewrite the table between its markers in README.md
    python scripts/readme_tables.py --check   # exit 1 when README.md differs from the cards

tests/scripts/test_readme_tables.py runs the check, so a retrained or rescored checkpoint fails
the tests until this script is run.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from functools import cache
from pathlib import Path

import torch

from coursekit.core.checkpoints import checkpoint_path, seed_spread, training_cpu_minutes

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MARKERS = ("<!-- checkpoints -->", "<!-- /checkpoints -->")


@cache  # each checkpoint file (MBs) is read once per run, not once per number quoted
def card(name: str) -> dict:
    return torch.load(checkpoint_path(name), map_location="cpu", weights_only=True)["card"]


def spread(metrics: dict, base: str) -> str:
    """'7.6× (7.0–7.8)': median and range over the card's sampling seeds of `base`."""
    values = seed_spread(metrics)[base]
    return (f"{statistics.median(values):.1f}× ({min(values):.1f}–{max(values):.1f}, "
            f"{len(values)} sampling seeds)")


def plain(metrics: dict, base: str, digits: int = 3) -> str:
    """'0.995 (0.994–0.998)': median and range over the card's sampling seeds of `base`."""
    values = seed_spread(metrics)[base]
    return (f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}–"
            f"{max(values):.{digits}f})")


def neg(x: float) -> str:
    """A number with one decimal and a true minus sign (−95.9)."""
    return f"{x:.1f}".replace("-", "−")


def minutes(*names: str) -> str:
    return " / ".join(f"{training_cpu_minutes(card(n)):.1f}" for n in names) + " CPU-min"


def rows() -> list[tuple[str, str, str, str, str]]:
    """(checkpoints, notebook, model, headline, training) of each row, read from the cards."""
    ae, vae, vae2d = card("ae")["metrics"], card("vae")["metrics"], card("vae2d")["metrics"]
    gan, ddpm, ldm = card("gan")["metrics"], card("ddpm")["metrics"], card("ldm")["metrics"]
    clf = card("classifier")["metrics"]
    cvae, cldm, flow = card("cvae")["metrics"], card("cldm")["metrics"], card("flow")["metrics"]
    return [
        ("`ae`, `ae2d`, `dae`", "01", "MLP autoencoders (m = 16, 2, 16)",
         f"`ae`: held-out squared error {ae['heldout_sq_error']:.1f} (PCA-16: "
         f"{ae['pca16_heldout_sq_error']:.1f})", minutes("ae", "ae2d", "dae")),
        ("`vae`", "02", "MLP encoder, conv decoder, m = 20",
         f"held-out ELBO {neg(vae['heldout_elbo'])}, IWAE (k = 5000) "
         f"{neg(vae['heldout_iwae_k5000'])} nats", minutes("vae")),
        ("`vae2d`", "02", "MLP VAE, m = 2", f"held-out ELBO {neg(vae2d['heldout_elbo'])} nats",
         minutes("vae2d")),
        ("`gan`", "03", f"DCGAN, EMA weights, {gan['steps']:,.0f} steps",
         f"FD {spread(gan, 'fd_ratio')}, {gan['coverage']:.0f}/10 digits", minutes("gan")),
        ("`ddpm`", "04", f"pixel U-Net DDPM, {ddpm['train_steps']:,.0f} steps",
         f"DDIM-50, η = 1: FD {spread(ddpm, 'ddim50_eta1_fd_ratio')}", minutes("ddpm")),
        ("`ldm`", "04", f"latent DDPM in the `ae` code space, {ldm['latent_train_steps']:,.0f} steps",
         f"DDIM-50, η = 0: FD {spread(ldm, 'ddim50_fd_ratio')}; ancestral, 200 steps: FD "
         f"{spread(ldm, 'ddpm200_fd_ratio')}", minutes("ldm")),
        ("`classifier`", "05", "the yardstick CNN",
         f"held-out accuracy {clf['heldout_accuracy']:.1%}", minutes("classifier")),
        ("`cvae`", "06", "conditional VAE (the label fed to encoder and decoder), m = 16",
         f"class accuracy {plain(cvae, 'accuracy')} at τ = 1, {plain(cvae, 'tau0.8_accuracy')} "
         f"at τ = 0.8; FD {spread(cvae, 'fd_ratio')} / {spread(cvae, 'tau0.8_fd_ratio')}",
         minutes("cvae")),
        ("`cldm`", "06", f"class-conditional latent DDPM, classifier-free guidance, "
         f"{cldm['latent_train_steps']:,.0f} steps",
         f"w = 0.5, DDIM-50: class accuracy {plain(cldm, 'w0.5_accuracy')}; FD "
         f"{spread(cldm, 'w0.5_fd_ratio')}", minutes("cldm")),
        ("`flow`", "06", f"flow matching in the `ae` code space, {flow['latent_train_steps']:,.0f} "
         f"steps", f"Euler, 8 steps: FD {spread(flow, 'euler8_fd_ratio')}; 50 steps: FD "
         f"{spread(flow, 'euler50_fd_ratio')}", minutes("flow")),
    ]


def checkpoint_table() -> str:
    lines = ["| checkpoint | notebook | model | headline (from its card) | training (1 thread) |",
             "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows()]
    return "\n".join(lines)


def with_table(text: str) -> str:
    start, end = text.index(MARKERS[0]), text.index(MARKERS[1])
    return text[:start + len(MARKERS[0])] + "\n" + checkpoint_table() + "\n" + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on a diff")
    args = parser.parse_args(argv)
    text = README.read_text()
    new = with_table(text)
    if args.check:
        if new != text:
            print("README.md's checkpoint table differs from the cards: run "
                  "`python scripts/readme_tables.py`")
            return 1
        return 0
    README.write_text(new)
    print("README.md: checkpoint table written from the model cards")
    return 0


if __name__ == "__main__":
    sys.exit(main())
