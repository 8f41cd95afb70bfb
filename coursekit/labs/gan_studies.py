"""Heavy studies of the gan notebook, registered in `coursekit.core.results.STUDIES`.

``gan_ring`` — mode collapse on the ring of 8 (`coursekit.labs.gan_ring`): every configuration
of `RING_STUDY` trained with every seed, each run's final modes covered and % high-quality
samples (HQ), per-mode HQ counts, and the mode metrics at every snapshot (the curves). Sizes:

* full (``python -m coursekit reproduce gan_ring``, the committed data/results/gan_ring.json):
  seeds 0, 1, 2 × 4,000 steps (snapshot every 500);
* default: seed 0 × 4,000 steps — the same runs as the full study's seed 0, so on the same
  machine the numbers are the same;
* fast (CI): seed 0 × 160 steps.

`RING_STUDY` is notebook 03's three configurations plus the control ``cosine_lr``: the learning
rates of ``noise_anneal`` (3e-3 decaying to 1e-5 along a cosine) without its instance noise,
which separates the two changes that ``noise_anneal`` makes to ``vanilla``.

Also here, for the notebook: `train_ring_config` (the live runs), `ring_record` (live `RingRun`s
→ the same JSON shape), `ring_agrees`, `format_ring`, `plot_ring_finals`, `plot_ring_curves`,
and the comparisons its text is rendered from: `coursekit.core.stats.range_verdict` (higher / lower / not
distinguishable, from the per-seed ranges), `spread` (mean ± std and range as text),
`first_step_all_covered`, `covered_from_text`, `noise_and_coverage`, `what_the_runs_separate`.
"""
from __future__ import annotations

import time
from dataclasses import asdict, replace

import matplotlib.pyplot as plt

from ..core.config import Config
from ..core.results import STUDIES, Study, paired
from ..core.stats import count, range_verdict
from ..core.style import COLORS
from .gan_ring import (
    PERFECT_HQ,
    RING,
    RING_CONFIGS,
    RingConfig,
    RingRun,
    finish_mode_axes,
    mode_metrics,
    ring_study,
)

#: The configurations of the full study: notebook 03's three and the control ``cosine_lr``
#: (``noise_anneal``'s learning rates and cosine decay, no instance noise).
RING_STUDY: dict[str, RingConfig] = {
    **RING_CONFIGS, "cosine_lr": replace(RING_CONFIGS["noise_anneal"], noise=0.0)}
#: (colour, marker) of each configuration in the figures: four Okabe–Ito colours far apart
#: (no orange next to vermillion), each with its own marker.
CONFIG_STYLE: dict[str, tuple[str, str]] = {
    "slow_disc": (COLORS["purple"], "v"), "vanilla": (COLORS["orange"], "o"),
    "noise_anneal": (COLORS["blue"], "s"), "cosine_lr": (COLORS["green"], "^")}
#: A live seed counts as "equal" to the full study's same seed when % HQ differs by at most this
#: (percentage points; the JSON keeps 6 decimals) and modes covered is the same.
EQUAL_HQ_PP = 1e-3
#: Otherwise it must lie in the full seeds' range: modes covered within [min, max], % HQ within
#: [min − HQ_SLACK_PP, max + HQ_SLACK_PP] (3 seeds give a narrow range for a stable configuration).
HQ_SLACK_PP = 2.0


def _std(values: list[float]) -> float:
    """Sample standard deviation (n − 1), as torch.std."""
    m = sum(values) / len(values)
    return (sum((v - m) ** 2 for v in values) / (len(values) - 1)) ** 0.5


def ring_record(runs: dict[str, list[RingRun]], steps: int, snapshot_every: int,
                cpu_seconds: dict[str, float] | None = None) -> dict:
    """Ring runs → JSON numbers: per configuration the seeds, final modes covered, % HQ and
    per-mode HQ counts (one entry per seed), mean and std over seeds, and per seed the curve of
    modes covered / % HQ at every snapshot. The shape of ``load_result("gan_ring")``."""
    configs = {}
    for name, rs in runs.items():
        modes = [int(r.final["modes_covered"]) for r in rs]
        hq = [100 * float(r.final["hq"]) for r in rs]
        n = len(rs)
        mean_m, mean_h = sum(modes) / n, sum(hq) / n
        configs[name] = {
            "config": asdict(rs[0].config),
            "seeds": [r.seed for r in rs], "modes": modes, "hq": hq,
            "mode_counts": [mode_metrics(r.final["samples"], std=RING["std"])["hq_counts"].tolist()
                            for r in rs],
            "modes_mean": mean_m, "hq_mean": mean_h,
            # std over seeds; -1 when there is one seed (it says nothing about the spread)
            "modes_std": _std(modes) if n > 1 else -1.0,
            "hq_std": _std(hq) if n > 1 else -1.0,
            "cpu_seconds": (cpu_seconds or {}).get(name, -1.0),
            "curves": [{"seed": r.seed, "step": [s["step"] for s in r.snapshots],
                        "modes": [int(s["modes_covered"]) for s in r.snapshots],
                        "hq": [100 * float(s["hq"]) for s in r.snapshots]} for r in rs]}
    return {"steps": steps, "snapshot_every": snapshot_every,
            "n_eval": len(next(iter(runs.values()))[0].final["samples"]), "configs": configs}


def train_ring_config(name: str, seeds=(0,), steps: int = 4000,
                      progress: bool = True) -> list[RingRun]:
    """Train configuration `name` of `RING_STUDY` with every seed, a snapshot every steps // 8
    (as the study does, so the same seed and steps give the study's numbers): [RingRun, ...]."""
    if name not in RING_STUDY:
        raise KeyError(f"unknown ring configuration {name!r}; known: {sorted(RING_STUDY)}")
    return ring_study({name: RING_STUDY[name]}, seeds=seeds, steps=steps,
                      snapshot_every=max(1, steps // 8), progress=progress)[name]


def run_ring(cfg: Config, names: tuple[str, ...] | None = None) -> dict:
    """The ``gan_ring`` study in `cfg`'s profile (see the module docstring for the sizes);
    `names`: a subset of `RING_STUDY` (default: all of it)."""
    steps = cfg.scale(4000, 160, full=4000)
    seeds = cfg.scale((0,), (0,), full=(0, 1, 2))
    runs, cpu = {}, {}
    for name in names or tuple(RING_STUDY):
        c0 = time.process_time()
        runs[name] = train_ring_config(name, seeds, steps)
        cpu[name] = time.process_time() - c0
    return ring_record(runs, steps, max(1, steps // 8), cpu)


def ring_agrees(small: dict, full: dict) -> tuple[bool, str]:
    """Does a smaller ring study agree with the full one?

    For each configuration in both and each seed of `small`: with the same number of steps, a
    seed that the full study also ran must give the same final result (same seed, same steps →
    same numbers on the same machine: "equal"); if not (another machine's floating point can
    send a GAN elsewhere), or for a seed the full study did not run, modes covered must lie in
    the full seeds' [min, max] and % HQ in their [min, max] ± HQ_SLACK_PP ("in range").
    Runs of another length are not comparable: the study's `same` key, checked first by
    `Study.check` (use ``STUDIES.get("gan_ring").check``).
    """
    ok, notes = True, []
    for name, s, f in paired(small["configs"], full["configs"], notes):
        for seed, m, h in zip(s["seeds"], s["modes"], s["hq"]):
            if seed in f["seeds"]:
                i = f["seeds"].index(seed)
                if m == f["modes"][i] and abs(h - f["hq"][i]) <= EQUAL_HQ_PP:
                    notes.append(f"{name} seed {seed}: equal ({m}/8, {h:.1f} % HQ)")
                    continue
            in_range = (min(f["modes"]) <= m <= max(f["modes"])
                        and min(f["hq"]) - HQ_SLACK_PP <= h <= max(f["hq"]) + HQ_SLACK_PP)
            ok &= in_range
            notes.append(f"{name} seed {seed}: {m}/8, {h:.1f} % HQ "
                         f"{'in' if in_range else 'OUTSIDE'} the full range "
                         f"{min(f['modes'])}–{max(f['modes'])}/8, "
                         f"{min(f['hq']):.1f}–{max(f['hq']):.1f} % HQ")
    return ok, "; ".join(notes)


def format_ring(result: dict) -> str:
    """A plain-text table: configuration, seed, modes covered, % HQ; mean ± std and the range
    over seeds when there are several (no mean row for a single seed)."""
    lines = [f"{'configuration':14s} {'seed':>4s} {'modes (of 8)':>13s} {'% HQ':>7s}"]
    for name, s in result["configs"].items():
        for seed, m, h in zip(s["seeds"], s["modes"], s["hq"]):
            lines.append(f"{name:14s} {seed:4d} {m:13d} {h:7.1f}")
        if len(s["seeds"]) > 1:
            lines.append(f"{name:14s} {'mean':>4s} {s['modes_mean']:7.1f} ± {s['modes_std']:3.1f} "
                         f"{s['hq_mean']:5.1f} ± {s['hq_std']:.1f}   (± = std over "
                         f"{len(s['seeds'])} seeds; range {min(s['modes'])}–{max(s['modes'])} "
                         f"modes)")
    return "\n".join(lines)


def spread(values: list[float], unit: str = "", digits: int = 1) -> str:
    """Per-seed values as text: "mean ± std (range lo–hi, n seeds)"; one value: just it."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}{unit} (1 seed)"
    m = sum(values) / len(values)
    return (f"{m:.{digits}f} ± {_std(values):.{digits}f}{unit} (range {min(values):.{digits}f}–"
            f"{max(values):.{digits}f}, {len(values)} seeds)")


def first_step_all_covered(curve: dict, n_modes: int = 8) -> int | None:
    """The first snapshot step from which all modes stay covered to the end (None: never)."""
    steps = [s for k, s in enumerate(curve["step"])
             if all(m == n_modes for m in curve["modes"][k:])]
    return steps[0] if steps else None


def covered_from_text(result: dict, name: str) -> str:
    """Per seed of configuration `name`, the snapshot step from which all 8 modes stay covered:
    "step 2000 (seed 0), never to the end (seed 1), …"."""
    s = result["configs"][name]
    steps = [first_step_all_covered(c) for c in s["curves"]]
    return ", ".join(f"step {st} (seed {seed})" if st is not None else f"never to the end (seed {seed})"
                     for seed, st in zip(s["seeds"], steps))


def noise_and_coverage(result: dict) -> str:
    """Markdown: when `noise_anneal` and its control `cosine_lr` come to cover all 8 modes for
    good, seed by seed, and what that says about the noise (from the per-seed numbers only)."""
    c = result["configs"]
    noisy, ctrl = c["noise_anneal"], c["cosine_lr"]
    first = {n: [first_step_all_covered(cv) for cv in c[n]["curves"]]
             for n in ("noise_anneal", "cosine_lr")}
    pairs = [(a, b) for a, b in zip(first["noise_anneal"], first["cosine_lr"])
             if a is not None and b is not None]
    only = {n: [seed for seed, st, other in zip(c[n]["seeds"], first[n], first[o])
                if st is not None and other is None]
            for n, o in (("noise_anneal", "cosine_lr"), ("cosine_lr", "noise_anneal"))}
    parts = [f"`noise_anneal` keeps all eight from {covered_from_text(result, 'noise_anneal')}; "
             f"the control `cosine_lr`, without any noise, from "
             f"{covered_from_text(result, 'cosine_lr')}."]
    if pairs:
        later = sum(a > b for a, b in pairs)
        earlier = sum(a < b for a, b in pairs)
        where = f"on the {count(len(pairs), 'seed')} where both get there"
        if later == len(pairs):
            parts.append(f"{where.capitalize()}, the noise run gets there later"
                         + ("" if only["noise_anneal"] else
                            ": the noise delays coverage rather than bringing it") + ".")
        elif earlier == len(pairs):
            parts.append(f"{where.capitalize()}, the noise run gets there earlier.")
        else:
            parts.append(f"{where.capitalize()}, neither gets there first every time.")
    for name, seeds in only.items():
        if seeds:
            verdict = range_verdict(noisy["modes"], ctrl["modes"])
            parts.append(f"Only `{name}` keeps all eight to the end on "
                         f"{'seed' if len(seeds) == 1 else 'seeds'} {', '.join(map(str, seeds))}; "
                         f"over the {count(len(noisy['modes']), 'seed')} the final modes "
                         f"covered are {verdict}"
                         + ("" if verdict in ("higher", "lower") else
                            ", so this does not show that one of them covers more") + ".")
    return " ".join(parts)


def what_the_runs_separate(result: dict) -> str:
    """Markdown: what `vanilla`, `cosine_lr` and `noise_anneal` of a ring record separate,
    each comparison computed from the per-seed numbers (`coursekit.core.stats.range_verdict`), and what they do not
    test. `result`: ``load_result("gan_ring")`` or `ring_record` output with those three."""
    c = result["configs"]
    van, sched, noisy = c["vanilla"], c["cosine_lr"], c["noise_anneal"]
    n = len(sched["seeds"])

    def verdict(x: list[float], y: list[float], xn: str, yn: str, more: str, less: str) -> str:
        v = range_verdict(x, y)
        return {"higher": f"{more} for {xn} than for {yn}",
                "lower": f"{less} for {xn} than for {yn}"}.get(v, v)

    def row(x: dict, y: dict, xn: str, yn: str) -> str:
        modes = [", ".join(str(m) for m in r["modes"]) for r in (x, y)]
        return (f"modes covered per seed {modes[0]} vs {modes[1]} — "
                f"{verdict(x['modes'], y['modes'], xn, yn, 'more', 'fewer')}; "
                f"% HQ {spread(x['hq'])} vs {spread(y['hq'])} — "
                f"{verdict(x['hq'], y['hq'], xn, yn, 'higher', 'lower')}")

    return (
        f"* **The schedule** (`cosine_lr` vs `vanilla`: only the learning rates differ — "
        f"{sched['config']['lr']:g} decaying to {sched['config']['lr_final']:g} along a cosine, "
        f"against a constant {van['config']['lr']:g}): {row(sched, van, '`cosine_lr`', '`vanilla`')}.\n"
        f"* **The noise, on top of the schedule** (`noise_anneal` vs `cosine_lr`: only the "
        f"instance noise differs, σ = {noisy['config']['noise']:g} → 0): "
        f"{row(noisy, sched, '`noise_anneal`', '`cosine_lr`')}.\n"
        f"* **Not separated by these runs**: whether the noise *alone* (with `vanilla`'s constant "
        f"learning rates) would help — no run has it; and which part of the schedule matters, "
        f"the larger start or the decay — `cosine_lr` changes both. With {count(n, 'seed')} per "
        f"configuration, \"higher\" or \"lower\" means that the seeds' ranges do not overlap; "
        f"a fourth seed could still fall inside the other range.")


def plot_ring_finals(result: dict, title: str):
    """Modes covered and % HQ at the end of training, one dot per seed, bar = mean over seeds."""
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.3))
    names = list(result["configs"])
    for ax, key, label, top in ((axes[0], "modes", "modes covered (of 8)", 8.5),
                                (axes[1], "hq", "% high-quality samples", 100)):
        ax.bar(names, [result["configs"][n][f"{key}_mean"] for n in names], color=COLORS["blue"],
               alpha=0.4, label="mean over the runs")
        for i, n in enumerate(names):
            vals = result["configs"][n][key]
            ax.scatter([i] * len(vals), vals, color="black", s=14, zorder=3,
                       label="one run" if i == 0 else None)
        ax.set_ylim(0, top)
        ax.set_ylabel(label)
        ax.tick_params(axis="x", labelsize=8)
        ax.set_xlabel("setting")
    axes[1].axhline(PERFECT_HQ, color=COLORS["vermillion"], ls="--", lw=1,
                    label=f"perfect generator ({PERFECT_HQ:.1f} %)")
    axes[1].legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_ring_curves(result: dict, title: str):
    """Modes covered and % HQ at every snapshot, one line per seed, one colour per configuration."""
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.3))
    for name, s in result["configs"].items():
        c, marker = CONFIG_STYLE.get(name, ("gray", "o"))
        for i, curve in enumerate(s["curves"]):
            kw = dict(color=c, alpha=0.8, marker=marker, ms=3, label=name if i == 0 else None)
            axes[0].plot(curve["step"], curve["modes"], **kw)
            axes[1].plot(curve["step"], curve["hq"], **kw)
    return finish_mode_axes(fig, axes, title, 7.5)


STUDIES.add("gan_ring", Study(
    "gan_ring", run_ring,
    "ring of 8 Gaussians: modes covered and % HQ of slow_disc, vanilla, noise_anneal and the "
    "control cosine_lr (noise_anneal's learning rates without instance noise), seeds 0-2, "
    "4,000 steps", "03", agrees=ring_agrees,
    same=("steps",), threads=1))
