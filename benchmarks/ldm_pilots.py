"""Pilots of the "ldm" recipe: `fit_ldm` with some settings changed, scored like its card
(1,000 DDIM-50 samples with sampling seeds 1, 2, 3 and all T ancestral steps with seed 1,
FD as a multiple of real-vs-real at n = 1,000), against the [sample-quality] bars of
`bench_diffusion.BARS` (latent loop + the autoencoder's loop ≤ 900 CPU-s, median FD ≤ 3×).

    COURSEKIT_THREADS=1 python benchmarks/ldm_pilots.py              # the pilot names
    COURSEKIT_THREADS=1 python benchmarks/ldm_pilots.py 60k_ema999   # one pilot (minutes)

The 2026-12-02 results are in the docstring of `coursekit.recipes.diffusion.LDMConfig`.
"""
from __future__ import annotations

import sys
from dataclasses import replace

import bench_diffusion as B

import coursekit as ck
from coursekit.recipes.diffusion import LDM, build_ldm, fit_ldm

#: name → settings changed from `LDM` (the last one is the committed recipe).
PILOTS = {
    "30k_ema999": dict(steps=30_000, ema_decay=0.999),
    "h512_12k": dict(hidden=512, steps=12_000, ema_decay=0.995),
    "h512_24k_ema999": dict(hidden=512, steps=24_000, ema_decay=0.999),
    "60k_ema999": dict(steps=60_000, ema_decay=0.999),
}
#: The card's samplers less the ancestral ones with seeds 2 and 3.
SAMPLERS = tuple(s for s in LDM.samplers if s.steps is not None or s.seed_offset == 1)


def run(name: str) -> dict:
    """Train and score one pilot (seed 0, the profile's threads); returns its metrics."""
    config = replace(LDM, samplers=SAMPLERS, **PILOTS[name])
    cfg = ck.setup(seed=0, profile="default")
    return fit_ldm(build_ldm(config), cfg, config)


def main(names: list[str]) -> None:
    if not names:
        print("pilots:", ", ".join(PILOTS), "— name one or more (each takes minutes)")
        return
    for name in names:
        if name not in PILOTS:
            raise SystemExit(f"unknown pilot {name!r}; choose from {', '.join(PILOTS)}")
        m = run(name)
        print(f"{name} {PILOTS[name]}: latent loop {m['latent_train_loop_cpu_seconds']:.0f} CPU-s; "
              f"ancestral FD / real {m[f'ddpm{LDM.T}_fd_ratio']:.2f}")
        print(B.verdict_line("ldm", m))


if __name__ == "__main__":
    main(sys.argv[1:])
