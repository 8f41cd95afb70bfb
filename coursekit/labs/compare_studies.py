"""Heavy studies of the compare notebook, registered in `coursekit.core.results.STUDIES`.

``compare_models`` — the comparison table of notebook 05 with its spread: every committed model
(`STUDY_MODELS`, loaded through ``ck.pretrained``; a missing checkpoint is left out with a
message) draws n samples with each of several sampling seeds (same checkpoint, same n real
held-out images), and each seed's samples are scored on the yardstick (`compare.model_scores`:
FD, FD / real-vs-real FD at the same n, classes, KL to uniform, k-NN precision and recall;
reconstruction error, ELBO and IWAE where defined; wall and CPU time per sample). Per model the
per-seed values, their median, min and max. Sizes (n, sampling seeds, DDIM steps, IWAE k):

* full (``python -m coursekit reproduce compare_models``, the committed
  data/results/compare_models.json): n = 1,000, seeds 0, 1, 2 for every model, DDIM-50,
  IWAE k = 100 — about 3 × 170 CPU-s for the pixel DDPM, ~15 CPU-s per seed for the others;
* default: n = 1,000, seed 0 (the full study's first seed: on the same machine the same numbers);
* fast (CI): n = 100, seeds 0, 1, DDIM-10, IWAE k = 10.

The range over seeds is the spread due to *sampling* only: the checkpoint (one training run)
and the real images are fixed, so it says nothing about how much another training seed would
change a row. The ``real_vs_real`` entry scores a fresh random subset of n real train images per
seed the same way (its FD / real is ≈ 1 by construction): the noise floor of the yardstick at n.

Also here, for the notebook: `measure` (the same measurement at any size, also returning the
samples), `compare_agrees`, `format_live`, `format_spread`, `verdicts`,
`reconstruction_vs_generation`, `changed_checkpoints`.
"""
from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import Sequence

import torch

from ..core.checkpoints import Pretrained, checkpoint_path
from ..core.config import Config
from ..core.data import load_mnist
from ..core.results import STUDIES, Study, paired
from ..metrics import REFERENCE_SEED, evaluate_samples, reference
from ..metrics.classifier import N_FEATURES
from .compare import load_for_comparison, model_scores

#: The models of the table, in the notebook's order (ldm: the DDPM in the ae's code space).
STUDY_MODELS = ("ae", "vae", "gan", "ddpm", "ldm")
#: Models whose sampling takes DDIM steps.
DDIM_MODELS = ("ddpm", "ldm")
#: The slow model (pixel DDPM, ~0.1–0.2 CPU-s per sample): sampled in batches of `slow_batch`
#: with a progress bar. The batches draw from one generator in turn, so the samples of a seed
#: depend on the batch size too (recorded as ``slow_batch``).
SLOW_MODELS = ("ddpm",)
#: (default, fast, full) sizes: samples per model and seed, number of sampling seeds
#: (cfg.seed, cfg.seed + 1, …), DDIM steps, IWAE importance samples.
N_SAMPLES = (1000, 100, 1000)
N_SEEDS = (1, 2, 3)
DDIM_STEPS = (50, 10, 50)
IWAE_K = (100, 10, 100)
#: The sample metrics whose spread the table shows, with the better direction (+1: higher).
SPREAD = {"fd_ratio": -1, "precision": +1, "recall": +1, "coverage": +1, "kl_uniform": -1}
LABELS = {"fd_ratio": "FD / real", "fd": "FD", "precision": "precision", "recall": "recall",
          "coverage": "classes", "kl_uniform": "KL to unif.", "recon_mse": "recon. error",
          "elbo": "ELBO", "iwae": "IWAE"}
#: `compare_agrees`: a seed the full study also ran must give the same value to this relative
#: tolerance (the JSON keeps 6 decimals; other thread counts change float sums slightly) …
EQUAL_REL = 1e-3
#: … otherwise the value must lie in the full seeds' [min − w, max + w], w = the larger of the
#: range's width and this floor (a heuristic band: 3 seeds give a narrow range).
SLACK_FLOOR = {"fd_ratio": 0.05, "fd": 0.05, "precision": 0.01, "recall": 0.01, "coverage": 1,
               "kl_uniform": 0.01, "elbo": 0.2, "iwae": 0.2, "recon_mse": 0.01}
#: keys of `SLACK_FLOOR` whose floor is relative to the median (the others are absolute)
RELATIVE_FLOOR = ("fd_ratio", "fd")


def _sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def _summary(per_seed: dict[str, list[float]]) -> dict:
    return {"median": {k: statistics.median(v) for k, v in per_seed.items()},
            "min": {k: min(v) for k, v in per_seed.items()},
            "max": {k: max(v) for k, v in per_seed.items()}}


def _real_subset(n: int, seed: int) -> torch.Tensor:
    """n real train images drawn with generator seed REFERENCE_SEED + 1 + seed: never the
    reference subset itself (seed REFERENCE_SEED), which is the denominator of FD / real."""
    train = load_mnist("train")
    idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(
        REFERENCE_SEED + 1 + seed))
    return train.x[idx[:n]]


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@torch.no_grad()
def measure(names: Sequence[str], models: dict[str, Pretrained], n: int, seeds: Sequence[int],
            ddim_steps: int = 50, iwae_k: int = 100, slow_batch: int = 100,
            progress: bool = True) -> tuple[dict, dict[str, torch.Tensor]]:
    """Score each model of `names` found in `models` with each sampling seed.

    Returns (result, samples): result is the JSON shape of ``load_result("compare_models")``
    (n, seeds, ddim_steps, iwae_k, reference = real-vs-real at n, models = per model its cell of
    the 2×2 table, checkpoint hash, parameters, training CPU-min, per_seed / median / min / max
    of every metric, CPU seconds per seed; real_vs_real = the same for fresh real subsets;
    ldm_decoder_is_ae); samples maps each model to the samples of its first seed.
    slow_batch: samples per ``sample`` call of a `SLOW_MODELS` model (progress bar per batch;
    another batch size gives other samples for the same seed); the others use batches of 500.
    progress: print a line per model and seed, and the slow model's bar.
    """
    names = [m for m in names if m in models]
    seeds = list(seeds)
    ref = reference(n)
    out: dict = {"n": n, "seeds": seeds, "ddim_steps": ddim_steps, "iwae_k": iwae_k,
                 "slow_batch": slow_batch,
                 "reference": {k: ref[k] for k in ("fd", "coverage", "kl_uniform", "precision",
                                                   "recall")},
                 "models": {}}
    samples: dict[str, torch.Tensor] = {}
    for name in names:
        loaded = models[name]
        per_seed: dict[str, list[float]] = {}
        cpu = []
        for i, seed in enumerate(seeds):
            c0 = time.process_time()
            kw = {"steps": ddim_steps} if name in DDIM_MODELS else None
            slow = name in SLOW_MODELS
            if progress and not slow:
                print(f"{name}: {n} samples, seed {seed} …", flush=True)
            row, x = model_scores(name, loaded, n, iwae_k, seed, kw,
                                  batch_size=slow_batch if slow else 500,
                                  progress=f"{name}: {n} samples, seed {seed}" if slow and progress
                                  else None, cpu_time=True)
            cpu.append(time.process_time() - c0)
            if i == 0:
                samples[name] = x
            for k, v in row.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in (
                        "parameters", "train_cpu_min"):
                    per_seed.setdefault(k, []).append(float(v))
        path = checkpoint_path(name)
        out["models"][name] = {
            "cell": row["cell"], "parameters": row["parameters"],
            "train_cpu_min": row["train_cpu_min"], "tiny": row["tiny"],
            "checkpoint": {"file": path.name, "sha256": _sha256(path) if path.exists() else "",
                           "date": str(loaded.card.get("date", ""))},
            "seeds": seeds, "per_seed": per_seed, **_summary(per_seed), "cpu_seconds": cpu}
    per_seed = {}
    for seed in seeds:
        scores = evaluate_samples(_real_subset(n, seed))
        for k in SPREAD:
            per_seed.setdefault(k, []).append(float(scores[k]))
        per_seed.setdefault("fd", []).append(float(scores["fd"]))
    out["real_vs_real"] = {"seeds": seeds, "per_seed": per_seed, **_summary(per_seed)}
    out["ldm_decoder_is_ae"] = bool("ldm" in models and "ae" in models and _same_weights(
        models["ldm"].model.ae, models["ae"].model))
    return out, samples


def run_compare(cfg: Config) -> dict:
    """The ``compare_models`` study in `cfg`'s profile (sizes in the module docstring)."""
    models = load_for_comparison(STUDY_MODELS, cfg)
    seeds = [cfg.seed + i for i in range(cfg.scale(*N_SEEDS[:2], full=N_SEEDS[2]))]
    result, _ = measure(STUDY_MODELS, models, n=cfg.scale(*N_SAMPLES[:2], full=N_SAMPLES[2]),
                        seeds=seeds, ddim_steps=cfg.scale(*DDIM_STEPS[:2], full=DDIM_STEPS[2]),
                        iwae_k=cfg.scale(*IWAE_K[:2], full=IWAE_K[2]))
    return result


# ----------------------------------------------------------------------------- agreement
def _slack(key: str, full_model: dict) -> float:
    width = full_model["max"][key] - full_model["min"][key]
    floor = SLACK_FLOOR.get(key, 0.0)
    if key in RELATIVE_FLOOR:
        floor *= abs(full_model["median"][key])
    return max(width, floor)


def compare_agrees(small: dict, full: dict) -> tuple[bool, str]:
    """Does a smaller ``compare_models`` measurement agree with the full one?

    Only runs of the same n and DDIM steps are comparable (FD / real changes with n: never
    compare ratios across n): the study's `same` keys, checked first by `Study.check`. For each model
    in both runs with the same checkpoint (hash), each seed of `small` and each metric of
    `SPREAD`, the ELBO, the IWAE (same k only) and the reconstruction error: a seed that the full
    study also ran (for the slow model: with the same `slow_batch`) must give the same value
    (relative `EQUAL_REL`: "equal"); any other value must lie in the full seeds'
    [min − w, max + w] (w: the range's width, at least `SLACK_FLOOR`; "in range"). A model
    of another checkpoint is not checked (note "other checkpoint").
    """
    ok, notes = True, []
    for name, s, f in paired(small["models"], full["models"], notes):
        if s["checkpoint"]["sha256"] != f["checkpoint"]["sha256"]:
            notes.append(f"{name}: other checkpoint than the full study's (not checked)")
            continue
        keys = [k for k in (*SPREAD, "elbo", "recon_mse") if k in s["per_seed"] and k in f["median"]]
        if small["iwae_k"] == full["iwae_k"] and "iwae" in s["per_seed"] and "iwae" in f["median"]:
            keys.append("iwae")
        bad, equal, in_range = [], 0, 0
        for i, seed in enumerate(s["seeds"]):
            same_draws = seed in f["seeds"] and (name not in SLOW_MODELS or small.get(
                "slow_batch") == full.get("slow_batch"))
            for k in keys:
                v = s["per_seed"][k][i]
                if same_draws:
                    w = f["per_seed"][k][f["seeds"].index(seed)]
                    if abs(v - w) <= EQUAL_REL * max(abs(w), 1e-9):
                        equal += 1
                        continue
                slack = _slack(k, f)
                if f["min"][k] - slack <= v <= f["max"][k] + slack:
                    in_range += 1
                else:
                    bad.append(f"{k} {v:.4g} outside {f['min'][k]:.4g}–{f['max'][k]:.4g} "
                               f"± {slack:.2g} (seed {seed})")
        ok &= not bad
        notes.append(f"{name}: {equal} equal, {in_range} in range" + (
            f", {len(bad)} OUTSIDE: " + "; ".join(bad) if bad else ""))
    return ok, "; ".join(notes)


def changed_checkpoints(result: dict) -> list[str]:
    """Models whose checkpoint file now differs from (or lacks) the one `result` was made with."""
    changed = []
    for name, m in result["models"].items():
        path = checkpoint_path(name)
        if not path.exists() or _sha256(path) != m["checkpoint"]["sha256"]:
            changed.append(name)
    return changed


# ----------------------------------------------------------------------------- text
def _fmt(key: str, v: float) -> str:
    if key == "fd_ratio":
        return f"{v:.1f}×"
    if key == "coverage":
        return f"{v:.0f}"
    if key == "kl_uniform":
        return f"{v:.3f}"
    if key in ("precision", "recall"):
        return f"{v:.2f}"
    return f"{v:.1f}"


def _spread_cell(m: dict, key: str) -> str:
    """'median [min–max]' (or the single value for one seed); '—' where undefined."""
    if key not in m["median"]:
        return "—"
    med, lo, hi = m["median"][key], m["min"][key], m["max"][key]
    if key == "coverage":
        return f"{med:.0f}/10" if lo == hi else f"{med:.0f}/10 [{lo:.0f}–{hi:.0f}]"
    if len(m["seeds"]) == 1 or _fmt(key, lo) == _fmt(key, hi):
        return _fmt(key, med)
    return f"{_fmt(key, med)} [{_span(key, lo, hi)}]"


def _span(key: str, lo: float, hi: float) -> str:
    """'lo–hi' ('lo to hi' when lo is negative, where a dash would read as a minus sign)."""
    a, b = _fmt(key, lo), _fmt(key, hi)
    if a == b:
        return a
    return f"{a} to {b}" if lo < 0 else f"{a.rstrip('×')}–{b}"


def _ms(v: float) -> str:
    ms = 1000 * v
    return f"{ms:.2g}" if ms < 10 else f"{ms:.0f}"


def format_spread(result: dict) -> str:
    """The table as Markdown: per model median [min–max] over the sampling seeds."""
    seeds = result["seeds"]
    cols = ["model", "2×2 table cell", "seeds", "FD / real", "precision", "recall", "classes",
            "KL to unif.", "recon. error", "ELBO (nats)", f"IWAE k={result['iwae_k']} (nats)",
            "CPU ms/sample", "params", "train CPU-min"]
    lines = [f"n = {result['n']} samples per model and seed against the first {result['n']} "
             f"held-out images; FD / real divides by the real-vs-real FD at the same n "
             f"({result['reference']['fd']:.2f}); DDPM and ldm: DDIM-{result['ddim_steps']}. "
             f"Cells: median [min–max] over the sampling seeds (seeds {', '.join(map(str, seeds))}"
             f"; same checkpoint); CPU time on "
             f"the machine that made the file.", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name, m in result["models"].items():
        label = name + (" (tiny stand-in)" if m.get("tiny") else "")
        lines.append("| " + " | ".join([
            label, m["cell"], str(len(m["seeds"])),
            *(_spread_cell(m, k) for k in ("fd_ratio", "precision", "recall", "coverage",
                                            "kl_uniform", "recon_mse", "elbo", "iwae")),
            _ms(m["median"]["cpu_sec_per_sample"]), f"{m['parameters']:,}",
            f"{m['train_cpu_min']:.1f}"]) + " |")
    r = result["real_vs_real"]
    lines.append("| " + " | ".join([
        "real train (a fresh subset per seed)", "data", str(len(r["seeds"])),
        *(_spread_cell(r, k) for k in ("fd_ratio", "precision", "recall", "coverage",
                                        "kl_uniform")), "—", "—", "—", "—", "—", "—"]) + " |")
    return "\n".join(lines)


def format_live(result: dict) -> str:
    """One line per model of a `measure` result (first seed), with the real-vs-real FD at the
    same n next to every ratio. With n ≤ the 128 feature dimensions the fitted covariances are
    singular and the FD says little: it is left out and the line says why."""
    n, ref = result["n"], result["reference"]
    if n > N_FEATURES:
        lines = [f"measured now, n = {n} (real-vs-real FD at n = {n}: {ref['fd']:.2f}; the ratios "
                 f"below divide by it and compare only with ratios at n = {n}):"]
    else:
        lines = [f"measured now, n = {n}: no FD — with n ≤ {N_FEATURES} (the feature dimensions) "
                 f"the fitted covariances are singular; the FD is in the loaded table (n = 1000):"]
    for name, m in result["models"].items():
        s = {k: v[0] for k, v in m["per_seed"].items()}
        fd = (f"FD {s['fd']:7.2f} = {s['fd_ratio']:5.1f}× real-vs-real | " if n > N_FEATURES
              else "")
        extra = "".join(f" | {label} {s[k]:.2f}" for k, label in (
            ("recon_mse", "recon. error"), ("elbo", "ELBO"),
            ("iwae", f"IWAE k={result['iwae_k']}")) if k in s)
        lines.append(f"  {name:5s} seed {m['seeds'][0]}: {fd}{s['coverage']:.0f}/10 digits | "
                     f"precision {s['precision']:.2f}, recall {s['recall']:.2f}{extra} | "
                     f"{_ms(s['cpu_sec_per_sample'])} CPU-ms per sample")
    return "\n".join(lines)


def _overlap(a: dict, b: dict, key: str) -> bool:
    return a["min"][key] <= b["max"][key] and b["min"][key] <= a["max"][key]


def _range(m: dict, key: str) -> str:
    return _span(key, m["min"][key], m["max"][key])


def verdicts(result: dict) -> str:
    """Markdown bullets, one per metric of `SPREAD`: the models and the real data (fresh real
    subsets, ``real_vs_real``) ordered by median, '<' / '>' between neighbours whose ranges over
    the seeds do not overlap and '≈' where they do, then every pair whose ranges overlap,
    called not distinguishable with this many seeds."""
    entries = {**result["models"], "real data": result["real_vs_real"]}
    n_seeds = min(len(m["seeds"]) for m in entries.values())
    lines = []
    for key, sign in SPREAD.items():
        order = sorted(entries, key=lambda name: -sign * entries[name]["median"][key])
        chain = f"{order[0]} {_fmt(key, entries[order[0]]['median'][key])}"
        for a, b in zip(order, order[1:]):
            rel = "≈" if _overlap(entries[a], entries[b], key) else ("<" if sign < 0 else ">")
            chain += f" {rel} {b} {_fmt(key, entries[b]['median'][key])}"
        pairs = [(a, b) for i, a in enumerate(order) for b in order[i + 1:]
                 if _overlap(entries[a], entries[b], key)]
        better = "lower" if sign < 0 else "higher"
        text = (f"- **{LABELS[key]}** (median; {better} is better, best first; '≈' where "
                f"neighbours' ranges overlap): {chain}.")
        if n_seeds < 2:
            text += " One seed each: no spread, so this run cannot say which differences are real."
        elif len(pairs) == len(order) * (len(order) - 1) // 2:
            text += " Every range overlaps every other: none of these can be told apart."
        elif pairs:
            text += (f" Not distinguishable with {n_seeds} seeds (ranges overlap): "
                     + ", ".join(f"{a} and {b}" for a, b in pairs) + ".")
        else:
            text += f" No two ranges overlap: the order held in each of the {n_seeds} seeds."
        lines.append(text)
    real = result["real_vs_real"]
    above = {name: m for name, m in result["models"].items()
             if n_seeds > 1 and m["min"]["precision"] > real["max"]["precision"]}
    if above:
        recall = "; ".join(
            f"{name} {_range(m, 'recall')} "
            + ("not distinguishable from" if _overlap(m, real, "recall") else
               "lower than" if m["max"]["recall"] < real["min"]["recall"] else "higher than")
            + f" real data's {_range(real, 'recall')}" for name, m in above.items())
        lines.append(
            f"- **Above real data.** {', '.join(above)} {'has' if len(above) == 1 else 'have'} a "
            f"higher precision than real train digits themselves (ranges do not overlap): "
            f"{'its' if len(above) == 1 else 'their'} samples fall inside the held-out digits' "
            f"manifold estimate more often than fresh real digits do, a sign of samples that keep "
            f"to typical digits. Past real data's level a higher precision is not better; read it "
            f"next to recall ({recall}).")
    if len(real["seeds"]) > 1:
        lines.append(
            f"- **The denominator is one draw too.** Every FD / real divides by one real-vs-real "
            f"FD ({result['reference']['fd']:.2f} at n = {result['n']}); fresh subsets of real "
            f"train images give {_range(real, 'fd_ratio')} of it, so each ratio carries that "
            f"uncertainty as a common factor (it rescales all rows alike and leaves their order "
            f"unchanged).")
    return "\n".join(lines)


def reconstruction_vs_generation(result: dict) -> str:
    """What the table says about 'a better reconstruction is not a better generator', from the
    numbers: the ae and the vae (reconstruction error and FD / real), and the ldm, which decodes
    with the ae's own decoder (when `ldm_decoder_is_ae`)."""
    models = result["models"]
    if not {"ae", "vae"} <= set(models):
        return "The table lacks the ae or the vae: no reconstruction-versus-FD comparison."
    ae, vae = models["ae"], models["vae"]
    rec = {"ae": ae["median"]["recon_mse"], "vae": vae["median"]["recon_mse"]}
    good, other = ("ae", "vae") if rec["ae"] < rec["vae"] else ("vae", "ae")
    g, o = models[good], models[other]
    fd = lambda m: f"{_fmt('fd_ratio', m['median']['fd_ratio'])} ({_range(m, 'fd_ratio')})"  # noqa: E731
    head = (f"The {good} reconstructs held-out digits better than the {other} (error "
            f"{rec[good]:.1f} vs {rec[other]:.1f})")
    if _overlap(g, o, "fd_ratio"):
        text = (f"{head}, but their FD / real cannot be told apart ({good} {fd(g)}, {other} "
                f"{fd(o)}): a better reconstruction did not give a measurably better generator.")
    elif g["median"]["fd_ratio"] < o["median"]["fd_ratio"]:
        text = (f"{head} *and* has the lower FD / real ({good} {fd(g)}, {other} {fd(o)}): in "
                f"this pair the better reconstruction comes with the better generator, so these "
                f"two rows do not show the two coming apart.")
    else:
        text = (f"{head}, yet it is the worse generator ({good} {fd(g)}, {other} {fd(o)}): a "
                f"better reconstruction is not a better generator.")
    if result.get("ldm_decoder_is_ae") and "ldm" in models:
        ldm = models["ldm"]
        rel = ("cannot be told apart from" if _overlap(ldm, ae, "fd_ratio") else
               "is lower than" if ldm["median"]["fd_ratio"] < ae["median"]["fd_ratio"] else
               "is higher than")
        text += (f" The ldm decodes with the ae's own decoder (identical weights, so identical "
                 f"reconstructions), and its FD / real, {fd(ldm)}, {rel} the ae's, {fd(ae)}: "
                 f"same reconstruction, different generator — what differs is how the codes are "
                 f"drawn (a diffusion model over codes instead of one Gaussian fitted to them).")
    return text


STUDIES.add("compare_models", Study(
    "compare_models", run_compare,
    "Comparison table of notebook 05 at n = 1,000: every committed model, 3 sampling seeds "
    "each (median and range of FD / real, precision, recall, classes, KL), with reconstruction "
    "error, ELBO, IWAE, CPU time per sample", "05", agrees=compare_agrees,
    same=("n", "ddim_steps")))

__all__ = ["STUDY_MODELS", "N_SAMPLES", "N_SEEDS", "DDIM_STEPS", "IWAE_K", "SPREAD", "measure",
           "run_compare", "compare_agrees", "changed_checkpoints", "format_spread", "format_live",
           "verdicts", "reconstruction_vs_generation"]
