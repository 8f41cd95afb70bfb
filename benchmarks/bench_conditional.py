"""Benchmark of notebook 06's models (issue 28): training CPU-s, class accuracy and FD / real
(median and range over sampling seeds 1–3) per model, then the verdicts against the issue's bars.

    python benchmarks/bench_conditional.py            # read the cards and the study
    python benchmarks/bench_conditional.py --train    # retrain cvae, cldm, flow into a temp
                                                      # folder first (1 thread; ~20 CPU-min)

Bars ("done when" of issue 28):
* cldm: accuracy ≥ 0.995 at the chosen w with FD / real ≤ 2.0× (medians of 3 seeds),
  latent training ≤ 600 CPU-s on 1 thread;
* flow: latent training CPU ≤ the ldm's latent loop; FD / real at 4 and 8 network calls ≤ the
  ldm's DDIM at the same calls (medians of 3 seeds, data/results/conditional_sweep.json);
* cvae: classifier agreement ≥ 0.95 over 1,000 samples (median of 3 seeds) at the chosen
  sampling temperature (τ = 1 shown too).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("COURSEKIT_THREADS", "1")

from coursekit.core.checkpoints import pretrain_main, pretrained, seed_spread  # noqa: E402
from coursekit.core.results import load_result  # noqa: E402
from coursekit.recipes.conditional import CLDM, CVAE_CONFIG  # noqa: E402

CLDM_ACC, CLDM_FD, CLDM_CPU = 0.995, 2.0, 600.0
CVAE_ACC = 0.95


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.4g} ({min(values):.4g}–{max(values):.4g})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", action="store_true", help="retrain the three models first")
    args = p.parse_args()
    directory = None
    if args.train:
        directory = tempfile.mkdtemp(prefix="bench_conditional_")
        for name in ("cvae", "cldm", "flow"):
            pretrain_main(name, directory=directory)
    cards = {n: pretrained(n, directory=directory, train_if_missing=False, verbose=False).card
             for n in ("cvae", "cldm", "flow", "ldm")}
    verdicts = []

    print("model  training CPU-s (loop)  metric                     median (range, seeds 1–3)")
    m = cards["cvae"]["metrics"]
    s = seed_spread(m)
    tau = CVAE_CONFIG.temperature
    print(f"cvae   {m['train_loop_cpu_seconds']:8.1f}")
    for label, prefix in (("τ = 1", ""), (f"τ = {tau:g}", f"tau{tau:g}_")):
        for key in ("accuracy", "fd_ratio", "recall"):
            print(f"{'':29s}{label:8s} {key:17s} {spread(s[prefix + key])}")
    verdicts.append((f"cvae: agreement ≥ {CVAE_ACC} at τ = {tau:g} (τ = 1: "
                     f"{statistics.median(s['accuracy']):.3f})",
                     statistics.median(s[f"tau{tau:g}_accuracy"]) >= CVAE_ACC))

    m = cards["cldm"]["metrics"]
    s = seed_spread(m)
    cpu = m["latent_train_loop_cpu_seconds"]
    print(f"cldm   {cpu:8.1f} (+ ae {m['ae_train_cpu_seconds']:.0f})")
    for w in CLDM.ws:
        print(f"{'':29s}w = {w:<4g} accuracy            {spread(s[f'w{w:g}_accuracy'])}")
        print(f"{'':29s}w = {w:<4g} FD / real           {spread(s[f'w{w:g}_fd_ratio'])}")
        print(f"{'':29s}w = {w:<4g} recall              {spread(s[f'w{w:g}_recall'])}")
    chosen = CLDM.w
    acc = statistics.median(s[f"w{chosen:g}_accuracy"])
    fd = statistics.median(s[f"w{chosen:g}_fd_ratio"])
    verdicts.append((f"cldm: accuracy ≥ {CLDM_ACC} and FD / real ≤ {CLDM_FD}× at w = {chosen:g}",
                     acc >= CLDM_ACC and fd <= CLDM_FD))
    verdicts.append((f"cldm: latent training ≤ {CLDM_CPU:.0f} CPU-s", cpu <= CLDM_CPU))

    m = cards["flow"]["metrics"]
    s = seed_spread(m)
    flow_cpu, ldm_cpu = (m["latent_train_loop_cpu_seconds"],
                         cards["ldm"]["metrics"]["latent_train_loop_cpu_seconds"])
    print(f"flow   {flow_cpu:8.1f} (+ ae {m['ae_train_cpu_seconds']:.0f}; ldm's latent loop "
          f"{ldm_cpu:.0f})")
    for key in sorted(k for k in s if k.endswith("fd_ratio")):
        print(f"{'':29s}{key:26s} {spread(s[key])}")
    verdicts.append(("flow: training CPU ≤ the ldm's latent loop", flow_cpu <= ldm_cpu))
    try:
        calls = load_result("conditional_sweep", verbose=False)["equal_calls"]
    except Exception as e:  # noqa: BLE001  (the study is optional for the table above)
        print(f"(no study: {e})")
    else:
        print("\nFD / real at equal network calls (data/results/conditional_sweep.json)")
        print("calls   flow (Euler)            ldm (DDIM, η = 0)")
        for i, k in enumerate(calls["calls"]):
            f, d = (calls[name]["per_seed"]["fd_ratio"][i] for name in ("flow", "ldm"))
            print(f"{k:5d}   {spread(f):22s}  {spread(d)}")
            if k in (4, 8):
                verdicts.append((f"flow ≤ ldm at {k} calls (medians)",
                                 statistics.median(f) <= statistics.median(d)))

    print("\nverdicts")
    for text, ok in verdicts:
        print(f"  {'MET    ' if ok else 'NOT MET'}  {text}")


if __name__ == "__main__":
    main()
