"""Heavy studies of the compare notebook, registered in `coursekit.core.results.STUDIES`.

``compare_models`` — the comparison table of notebook 05 with its spread: every committed model
(`STUDY_MODELS`, loaded through ``ck.pretrained``; a missing checkpoint is left out with a
message) draws n samples with each of several sampling seeds (same checkpoint, same n real
held-out images), and each seed's samples are scored on the yardstick (`compare.model_scores`:
FD, FD / real-vs-real FD at the same n, classes, KL to uniform, k-NN precision and recall;
reconstruction error, ELBO and IWAE where defined; wall and CPU time per sample). Per model the
per-seed values, their median, min and max. Sizes (n, sampling seeds, DDIM steps, IWAE k):

* full (``python -m coursekit reproduce compare_models``, data/results/compare_models.json):
  n = 1,000, sampling seeds 1–5 for every model (seeds 1, 2, 3 are the model cards' seeds: a
  seed names the same images here and on the card), DDIM-50, IWAE k = 100 — about 5 × 110 CPU-s
  for the pixel DDPM, ~15 CPU-s per seed for the others;
* default: n = 1,000, seed 1 (the full study's first seed: on the same machine the same numbers);
* fast: n = 100, seeds 1, 2, DDIM-10, IWAE k = 10.

The range over seeds is the spread due to *sampling* only: the checkpoint (one training run)
and the real images are fixed, so it says nothing about how much another training seed would
change a row. The ``real_vs_real`` entry scores a fresh random subset of n real train images per
seed the same way: the noise floor of the yardstick at n. The real-data row of the table
(`real_row`) adds the reference draw (``reference``, the denominator of every FD / real).

**Verdicts** (`rank_pairs`, `verdicts`): "A is better than B" on a metric only when Welch's
t-test on the per-seed values (log scale for FD / real and KL) rejects "same mean" after Holm's
correction over *every* comparison the table shows (all pairs of rows, the real data included,
× the `SPREAD` metrics) at family-wise level `ALPHA` = 5 %: on a table of equally good rows the
chance of any "better" verdict is at most 5 % (tests/labs/test_compare_lab.py simulates it).
Otherwise the two are "not distinguishable" — which does not mean equal.

Also here, for the notebook: `measure` (the same measurement at any size, also returning the
samples), `compare_agrees`, `format_live`, `format_spread`, `format_cells`, `sampler`,
`reconstruction_vs_generation`, `changed_checkpoints`, `load_table`; its texts chosen by the
verdicts (no verdict written by hand): `describe_pair` (the notebook's ``ask``),
`pair_takeaway`, `axes_takeaway`, `what_we_saw`.
"""
from __future__ import annotations

import hashlib
import inspect
import itertools
import math
import statistics
import time
from collections.abc import Sequence

import torch

from ..core.checkpoints import Pretrained, checkpoint_path
from ..core.config import Config
from ..core.data import load_mnist
from ..core.results import STUDIES, Study, load_result, paired
from ..metrics import REFERENCE_SEED, evaluate_samples, reference
from ..metrics.classifier import N_FEATURES
from .compare import load_for_comparison, model_scores

#: The models of the table, in the notebook's order (ldm: the DDPM in the ae's code space;
#: flow: flow matching in the same code space, notebook 06).
STUDY_MODELS = ("ae", "vae", "gan", "ddpm", "ldm", "flow")
#: Models whose sampling takes a number of steps (DDIM steps; the flow's Euler steps).
STEP_MODELS = ("ddpm", "ldm", "flow")
#: The slow model (pixel DDPM, ~0.1–0.2 CPU-s per sample): sampled in batches of `slow_batch`
#: inside its `sample`; each sample draws from its own generator, so the batch size changes
#: memory and speed, never the images (recorded as ``slow_batch``).
SLOW_MODELS = ("ddpm",)
#: (default, fast, full) sizes: samples per model and seed, number of sampling seeds
#: (cfg.seed, cfg.seed + 1, …), DDIM steps, IWAE importance samples.
N_SAMPLES = (1000, 100, 1000)
N_SEEDS = (1, 2, 5)
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
    slow_batch: the batch size a `SLOW_MODELS` model samples in (memory and speed only: each
    sample draws its own noise, so the images are those of any other batch size); the others
    use batches of 500.
    progress: print a line per model and seed.
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
            kw = {"steps": ddim_steps} if name in STEP_MODELS else None
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
    out["samplers"] = {name: sampler(name, out) for name in names}
    out["ldm_decoder_is_ae"] = bool("ldm" in models and "ae" in models and _same_weights(
        models["ldm"].model.ae, models["ae"].model))
    return out, samples


def run_compare(cfg: Config) -> dict:
    """The ``compare_models`` study in `cfg`'s profile (sizes in the module docstring)."""
    models = load_for_comparison(STUDY_MODELS, cfg)
    # Sampling seeds 1, 2, … (with cfg.seed 0): 1, 2, 3 are the model cards' seeds, so those
    # seeds' numbers here are the card's (tests/labs/test_compare_studies.py checks it).
    seeds = [cfg.seed + 1 + i for i in range(cfg.scale(*N_SEEDS[:2], full=N_SEEDS[2]))]
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
    study also ran must give the same value (a seed names the same samples whatever the batch size)
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
            same_draws = seed in f["seeds"]
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


def load_table(verbose: bool = True) -> dict:
    """The ``compare_models`` result (data/results/compare_models.json). verbose: one plain
    line for the student (samples per model, number of sets, scored earlier), and a line naming
    any model whose checkpoint changed since the file was made (its rows describe the old
    checkpoint)."""
    result = load_result("compare_models", verbose=False)
    if verbose:
        sets = sorted({len(m["seeds"]) for m in result["models"].values()})
        print(f"loaded: {result['n']:,} samples per model in each of "
              f"{' to '.join(map(str, sets))} sets, scored earlier (several minutes of CPU)")
        if changed := changed_checkpoints(result):
            print(f"checkpoint changed since the file was made: {', '.join(changed)} (remake: "
                  f"python -m coursekit reproduce compare_models)")
    return result


# ----------------------------------------------------------------------------- rows of the table
REAL = "real data"


def real_row(result: dict) -> dict:
    """The real-data row: the fresh real subsets of ``real_vs_real`` *and* the reference draw
    (``reference``, the 1,000 train images whose FD is the denominator of every FD / real; its
    own ratio is 1 by construction). Same shape as a model's entry; ``seeds`` lists the draws
    ("reference" first)."""
    fresh, ref = result["real_vs_real"], result["reference"]
    per_seed = {k: [float(ref[k]) if k != "fd_ratio" else 1.0, *(float(v) for v in vals)]
                for k, vals in fresh["per_seed"].items() if k == "fd_ratio" or k in ref}
    return {"seeds": ["reference", *fresh["seeds"]], "per_seed": per_seed, **_summary(per_seed)}


def table_rows(result: dict) -> dict[str, dict]:
    """Every row the table shows and the verdicts compare: the models, then the real data."""
    return {**result["models"], REAL: real_row(result)}


def _default(fn, name: str):
    return inspect.signature(fn).parameters[name].default


def sampler(name: str, result: dict) -> str:
    """How row `name` drew its samples, e.g. "DDIM-50, η = 1" (the ddpm) or "DDIM-50, η = 0,
    in code space" (the ldm). A result that records ``samplers`` is taken at its word; otherwise
    η is the default of the code that sampled (`ImageDiffusion.sample`; the ldm calls
    `Diffusion.ddim_sample` without η)."""
    recorded = result.get("samplers", {}).get(name)
    if recorded:
        return recorded
    from ..models.diffusion import Diffusion, ImageDiffusion
    steps = result["ddim_steps"]
    if name == "ddpm":
        return f"DDIM-{steps}, η = {_default(ImageDiffusion.sample, 'eta'):g}"
    if name == "ldm":
        return f"DDIM-{steps}, η = {_default(Diffusion.ddim_sample, 'eta'):g}, in code space"
    if name == "flow":
        return f"Euler ODE, {steps} steps, in code space"
    return {"ae": "Gaussian fitted to its codes", "vae": "z ~ N(0, I)", "gan": "z ~ N(0, I)",
            REAL: "train images"}.get(name, "its `sample`")


# ----------------------------------------------------------------------------- verdicts
#: Family-wise error rate of the verdicts: on a table of equally good rows, the chance that any
#: "better" verdict appears at all is at most ALPHA (Holm's correction over every comparison).
ALPHA = 0.05
#: Metrics tested on a log scale: positive, and their seed-to-seed spread grows with the value.
LOG_SCALE = ("fd_ratio", "kl_uniform")
#: Per-seed values lie on a grid of this step (coverage: whole classes; precision and recall:
#: shares of n, step 1/n, filled in by `tested_values`): a row whose seeds all agree gets the
#: variance of rounding to the grid, step²/12, instead of 0, so an identical repeat never makes
#: a gap certain.
GRID = {"coverage": 1.0}
_FPMIN = 1e-300


def _betacf(a: torch.Tensor, b: torch.Tensor, x: torch.Tensor, max_iter: int = 500,
            eps: float = 1e-15) -> torch.Tensor:
    """Continued fraction of the incomplete beta function (modified Lentz; Numerical Recipes,
    § 6.4), elementwise; stops when every element has converged to `eps`."""
    def fix(v):
        return torch.where(v.abs() < _FPMIN, torch.full_like(v, _FPMIN), v)

    qab, qap, qam = a + b, a + 1, a - 1
    c = torch.ones_like(x)
    d = 1 / fix(1 - qab * x / qap)
    h = d
    for m in range(1, max_iter + 1):
        for aa in (m * (b - m) * x / ((qam + 2 * m) * (a + 2 * m)),
                   -(a + m) * (qab + m) * x / ((a + 2 * m) * (qap + 2 * m))):
            d = 1 / fix(1 + aa * d)
            c = fix(1 + aa / c)
            step = d * c
            h = h * step
        if bool(((step - 1).abs() <= eps).all()):
            return h
    raise ArithmeticError(f"incomplete beta: no convergence in {max_iter} terms")


def betainc(a, b, x) -> torch.Tensor:
    """Regularized incomplete beta function I_x(a, b), elementwise (float64)."""
    a, b, x = torch.broadcast_tensors(*(torch.as_tensor(v, dtype=torch.float64) for v in (a, b, x)))
    xc = x.clamp(1e-300, 1 - 1e-16)
    front = (torch.lgamma(a + b) - torch.lgamma(a) - torch.lgamma(b) + a * xc.log()
             + b * torch.log1p(-xc)).exp()
    # the fraction converges fast for x < (a + 1)/(a + b + 2); else I_x(a, b) = 1 − I_{1−x}(b, a)
    direct = xc < (a + 1) / (a + b + 2)
    fa, fb, fx = torch.where(direct, a, b), torch.where(direct, b, a), torch.where(direct, xc, 1 - xc)
    frac = front * _betacf(fa, fb, fx) / fa
    out = torch.where(direct, frac, 1 - frac)
    return torch.where(x <= 0, torch.zeros_like(out), torch.where(x >= 1, torch.ones_like(out), out))


def t_p_value(t, df) -> torch.Tensor:
    """Two-sided p-value of Student's t with `df` degrees of freedom (any real df > 0):
    P(|T| ≥ |t|) = I_{df/(df + t²)}(df/2, 1/2)."""
    t, df = torch.broadcast_tensors(torch.as_tensor(t, dtype=torch.float64),
                                    torch.as_tensor(df, dtype=torch.float64))
    x = torch.where(torch.isinf(t), torch.zeros_like(t), df / (df + t * t))
    return betainc(df / 2, torch.full_like(df, 0.5), x)


def welch_t(a: torch.Tensor, b: torch.Tensor, var_floor: float = 0.0
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean(a) − mean(b), t, df) of Welch's t-test over the last dimension: a (..., n_a),
    b (..., n_b) per-seed values, each side's variance at least `var_floor`. A side with fewer
    than 2 values has no spread: t = 0 (nothing can be told apart)."""
    a, b = a.double(), b.double()
    na, nb = a.shape[-1], b.shape[-1]
    diff = a.mean(-1) - b.mean(-1)
    if na < 2 or nb < 2:
        return diff, torch.zeros_like(diff), torch.ones_like(diff)
    va = a.var(-1).clamp(min=var_floor) / na
    vb = b.var(-1).clamp(min=var_floor) / nb
    se2 = va + vb
    df = se2 ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1)).clamp(min=_FPMIN)
    t = torch.where(se2 > 0, diff / se2.clamp(min=_FPMIN).sqrt(),
                    torch.where(diff == 0, 0.0, torch.inf).double())
    return diff, t, df.clamp(min=1.0)


def welch(a: torch.Tensor, b: torch.Tensor, var_floor: float = 0.0
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean(a) − mean(b), two-sided p-value) of Welch's t-test (`welch_t`)."""
    diff, t, df = welch_t(a, b, var_floor)
    return diff, t_p_value(t, df)


def holm(p: torch.Tensor, alpha: float = ALPHA) -> torch.Tensor:
    """Holm's step-down procedure over the last dimension of `p` (..., m): the k-th smallest
    p-value is rejected when it and every smaller one satisfy p_(j) ≤ alpha / (m − j), j = 0, 1,
    …; the family-wise error rate is at most `alpha` whatever the dependence between tests.
    Returns the rejections, bool (..., m)."""
    m = p.shape[-1]
    order = p.argsort(-1)
    limits = alpha / torch.arange(m, 0, -1, dtype=torch.float64)  # alpha/m, …, alpha/1
    passed = (p.gather(-1, order) <= limits).long().cumprod(-1).bool()
    return torch.zeros_like(passed).scatter(-1, order, passed)


def family_verdicts(values: dict[str, Sequence[torch.Tensor]], signs: dict[str, int],
                    alpha: float = ALPHA, var_floor: dict[str, float] | None = None
                    ) -> tuple[list[tuple[str, int, int]], torch.Tensor, torch.Tensor]:
    """The verdict procedure on a whole table (or a batch of simulated tables).

    values[metric][r]: the per-seed values of row r on the tested scale, (..., n_r) (any
    leading batch shape, the same for every row). For every metric and every pair of rows i < j
    Welch's t-test on the seed means; Holm's correction over all of them together (pairs ×
    metrics: the comparisons the table shows) at family-wise level `alpha`.
    Returns (comparisons, better, p): comparisons lists (metric, i, j); better (..., m) is +1
    where row i is better than row j (lower or higher by ``signs[metric]``), −1 where j is
    better than i, 0 where the two are not distinguishable; p (..., m) the p-values."""
    comparisons, diffs, ts, dfs = [], [], [], []
    for metric, rows in values.items():
        floor = (var_floor or {}).get(metric, 0.0)
        for i, j in itertools.combinations(range(len(rows)), 2):
            d, t, df = welch_t(torch.as_tensor(rows[i]), torch.as_tensor(rows[j]), floor)
            comparisons.append((metric, i, j))
            diffs.append(d * signs[metric])
            ts.append(t)
            dfs.append(df)
    diff = torch.stack(diffs, -1)
    p = t_p_value(torch.stack(ts, -1), torch.stack(dfs, -1))  # one call: fast for big batches
    better = torch.where(holm(p, alpha), diff.sign(), torch.zeros_like(diff)).long()
    return comparisons, better, p


def tested_metrics(result: dict) -> dict[str, int]:
    """The `SPREAD` metrics the table compares (with their better direction): a metric whose
    every per-seed value is the same in every row (e.g. 10/10 classes everywhere) carries no
    comparison and is shown once in words, not as a column, so it is not in the family."""
    rows = table_rows(result)
    return {key: sign for key, sign in SPREAD.items()
            if len({v for m in rows.values() for v in m["per_seed"][key]}) > 1}


def tested_values(result: dict) -> tuple[list[str], dict[str, list[torch.Tensor]],
                                         dict[str, float]]:
    """(row names, per-metric per-row values on the tested scale, variance floors) of a result:
    every row of `table_rows`, every metric of `tested_metrics`; log scale for `LOG_SCALE`."""
    rows = table_rows(result)
    values = {}
    for key in tested_metrics(result):
        v = [torch.tensor(m["per_seed"][key], dtype=torch.float64) for m in rows.values()]
        values[key] = [x.clamp(min=1e-12).log() for x in v] if key in LOG_SCALE else v
    grid = {**GRID, "precision": 1 / result["n"], "recall": 1 / result["n"]}
    return list(rows), values, {k: step ** 2 / 12 for k, step in grid.items()}


def rank_pairs(result: dict, alpha: float = ALPHA) -> list[dict]:
    """The verdict of every comparison the table shows: one dict per (metric, pair of rows)
    with keys metric, a, b, better (the better row's name, or None: not distinguishable), p.
    Procedure: `family_verdicts` on `tested_values` (Welch's t-test per pair, Holm over all)."""
    names, values, floors = tested_values(result)
    comparisons, better, p = family_verdicts(values, tested_metrics(result), alpha, floors)
    out = []
    for (metric, i, j), b, pv in zip(comparisons, better.tolist(), p.tolist()):
        out.append({"metric": metric, "a": names[i], "b": names[j], "p": pv,
                    "better": names[i] if b > 0 else names[j] if b < 0 else None})
    return out


def verdict(verdicts: list[dict], metric: str, a: str, b: str) -> str | None:
    """The better of rows a and b on `metric` (None: not distinguishable)."""
    for v in verdicts:
        if v["metric"] == metric and {v["a"], v["b"]} == {a, b}:
            return v["better"]
    raise KeyError(f"no comparison of {a} and {b} on {metric}")


def relation(result: dict, metric: str, a: str, b: str) -> str:
    """How row `a` compares with row `b` on `metric`, as words for a sentence "a's … is {} b's":
    "higher than" / "lower than" (the verdict says they differ; the direction of the seed
    means) or "not distinguishable from"."""
    if verdict(rank_pairs(result), metric, a, b) is None:
        return "not distinguishable from"
    rows = table_rows(result)
    mean = {name: statistics.fmean(rows[name]["per_seed"][metric]) for name in (a, b)}
    return "higher than" if mean[a] > mean[b] else "lower than"


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


#: `verdicts` names the pairs that are not distinguishable when there are at most this many.
MAX_LISTED = 4


def verdicts(result: dict, alpha: float = ALPHA) -> str:
    """Markdown: how many comparisons the table makes and how many it tells apart, then one
    bullet per metric: who is better than whom, and the pairs not distinguishable (when every
    pair is told apart, the rows best first)."""
    ranked = rank_pairs(result, alpha)
    rows = list(table_rows(result))
    n_models = len(rows) - 1
    told = sum(v["better"] is not None for v in ranked)
    metrics = tested_metrics(result)
    lines = [f"{len(ranked)} comparisons ({len(rows) * (len(rows) - 1) // 2} pairs of rows × "
             f"{len(metrics)} metrics); {told} of them told apart."]
    for key, sign in metrics.items():
        mine = [v for v in ranked if v["metric"] == key]
        wins: dict[str, list[str]] = {}
        for v in mine:
            if v["better"]:
                wins.setdefault(v["better"], []).append(v["b"] if v["better"] == v["a"] else v["a"])
        parts = []
        for winner in sorted(wins, key=lambda w: (-len(wins[w]), rows.index(w))):
            losers = sorted(wins[winner], key=rows.index)
            everyone = winner == REAL and len(losers) == n_models > 1
            parts.append(f"{winner} better than {'every model' if everyone else _join(losers)}")
        same = [f"{v['a']} and {v['b']}" for v in mine if v["better"] is None]
        text = f"- **{LABELS[key]}** ({'lower' if sign < 0 else 'higher'} is better): "
        order = sorted(rows, key=lambda r: -len(wins.get(r, [])))
        if not same and [len(wins.get(r, [])) for r in order] == list(range(len(rows) - 1, -1, -1)):
            lines.append(text + "Every pair told apart; best first: " + ", ".join(order) + ".")
            continue
        if parts:
            text += "; ".join(parts) + ". "
        if not same:
            text += "Every pair told apart."
        elif not parts:
            text += "No pair told apart."
        elif len(same) <= MAX_LISTED:
            text += "Not distinguishable: " + "; ".join(same) + "."
        else:
            text += f"The other {len(same)} pairs are not distinguishable."
        lines.append(text)
    return "\n".join(lines[:1] + [""] + lines[1:])


# ----------------------------------------------------------------------------- texts
def _the(name: str) -> str:
    """'the ldm', but 'real data'."""
    return name if name == REAL else f"the {name}"


def _metric_key(metric: str) -> str:
    """A key of `SPREAD` from the key itself or its table label ("FD / real" → "fd_ratio")."""
    if metric in SPREAD:
        return metric
    for key, label in LABELS.items():
        if key in SPREAD and metric.strip().lower() == label.lower():
            return key
    raise KeyError(f"no column {metric!r}: use one of {', '.join(map(repr, SPREAD))}")


def describe_pair(result: dict, metric: str, a: str, b: str) -> str:
    """One line on rows `a` and `b` for a column (key or label): both cells, median (lowest–
    highest) over the sets, and the verdict of `rank_pairs` in words."""
    key = _metric_key(metric)
    rows = table_rows(result)
    for name in (a, b):
        if name not in rows:
            raise KeyError(f"no row {name!r}: the rows are {', '.join(map(repr, rows))}")
    better = verdict(rank_pairs(result), key, a, b)
    words = ("not distinguishable" if better is None else
             f"{better} better ({'lower' if SPREAD[key] < 0 else 'higher'} is better)")
    return (f"{LABELS[key]}: {a} {_spread_cell(rows[a], key)} vs {b} "
            f"{_spread_cell(rows[b], key)} → {words}")


def _gap(med: dict[str, float], key: str, v: dict) -> float:
    """How far apart the medians of a comparison's two rows are (as a ratio for `LOG_SCALE`)."""
    x, y = med[v["a"]], med[v["b"]]
    if key in LOG_SCALE:
        return abs(math.log(max(x, 1e-12) / max(y, 1e-12)))
    return abs(x - y)


#: Columns `pair_takeaway` searches for a pair the test cannot tell apart when every pair of its
#: own column is told apart (shares of n: gaps on one scale).
CONTRAST = ("recall", "precision")


def pair_takeaway(result: dict, metric: str = "fd_ratio") -> str:
    """The takeaway of the verdicts, chosen by them: on `metric`, the closest pair of rows the
    test tells apart and the widest pair it cannot. When every pair of `metric` is told apart,
    the widest pair it cannot tell apart in a `CONTRAST` column instead (if any); when none is,
    the widest pair. Medians in parentheses."""
    key = _metric_key(metric)
    rows = table_rows(result)
    ranked = rank_pairs(result)
    med = {k: {name: m["median"][k] for name, m in rows.items()} for k in SPREAD}

    def pair(v: dict, joint: str = "and") -> str:  # "the ae and the vae (26.0× vs 19.4×)"
        k = v["metric"]
        return (f"{_the(v['a'])} {joint} {_the(v['b'])} ({_fmt(k, med[k][v['a']])} vs "
                f"{_fmt(k, med[k][v['b']])})")

    def widest(k: str) -> dict | None:
        untold = [v for v in ranked if v["metric"] == k and v["better"] is None]
        return max(untold, key=lambda v: _gap(med[k], k, v)) if untold else None

    told = [v for v in ranked if v["metric"] == key and v["better"] is not None]
    close = min(told, key=lambda v: _gap(med[key], key, v)) if told else None
    wide = widest(key)
    rule = "a gap counts only when it is large next to the rows' set-to-set movement."
    label = LABELS[key]
    if close and wide:
        return f"on {label} the test tells apart {pair(close)} but not {pair(wide)}: {rule}"
    if close:
        text = f"on {label} the test tells every pair apart, even {pair(close)}"
        other = next((w for k in CONTRAST if k != key and (w := widest(k))), None)
        if other:
            return (f"{text}; on {LABELS[other['metric']]} it cannot tell "
                    f"{pair(other, 'from')}: {rule}")
        return f"{text}: next to these gaps, each row moves little from one set to the next."
    return (f"on {label} the test tells no pair of rows apart, not even {pair(wide)}: next to "
            f"how much the rows move from one set of samples to the next, every gap could be "
            f"noise.")


def axes_takeaway(result: dict) -> str:
    """Takeaway of the precision–recall plot: the ldm's precision against real data's (where it
    sits in the plot, then the verdict) and its recall against the ddpm's (the verdict)."""
    rows = table_rows(result)
    med = {name: m["median"] for name, m in rows.items()}
    p_ldm, p_real = med["ldm"]["precision"], med[REAL]["precision"]
    r_ldm, r_ddpm = med["ldm"]["recall"], med["ddpm"]["recall"]
    shown = round(p_ldm, 2) - round(p_real, 2)  # as the two numbers are printed
    rel_p = relation(result, "precision", "ldm", REAL)
    rel_r = relation(result, "recall", "ldm", "ddpm")
    recall = f"its recall is {rel_r} the ddpm's ({r_ldm:.2f} vs {r_ddpm:.2f})"
    if shown >= 0 and rel_p != "lower than":
        text = (f"In the plot the ldm's precision sits {'above' if shown > 0 else 'level with'} "
                f"real data's ({p_ldm:.2f} vs {p_real:.2f}"
                + ("; the test cannot tell them apart)" if rel_p.startswith("not") else
                   "; the test finds it higher)"))
        if rel_r == "lower than":
            text += f", yet {recall}: possibly a sign that it favours typical digits."
        else:
            text += f": possibly a sign that it favours typical digits. {recall.capitalize()}."
    else:
        text = f"The ldm's precision is {rel_p} real data's ({p_ldm:.2f} vs {p_real:.2f}); {recall}."
    return "fidelity and diversity are separate axes. " + text


def what_we_saw(result: dict) -> list[str]:
    """The summary's bullets on the table (Markdown), from the numbers and the verdicts: who
    leads on FD / real, precision and recall; how many comparisons the test tells apart; what
    only some cells of the 2×2 table have, and the cost of a sample."""
    models = result["models"]
    med = {name: m["median"] for name, m in models.items()}
    best = {key: (min if SPREAD[key] < 0 else max)(med, key=lambda n: med[n][key])
            for key in ("fd_ratio", "precision", "recall")}
    what = {"fd_ratio": "the lowest FD / real", "precision": "the highest precision",
            "recall": "the highest recall"}
    leaders: dict[str, list[str]] = {}
    for key, name in best.items():
        leaders.setdefault(name, []).append(f"{what[key]} ({_fmt(key, med[name][key])})")
    parts = [f"{_the(name)} {'has ' if i == 0 else ''}{_join(feats)}"
             for i, (name, feats) in enumerate(leaders.items())]
    lead = "Of the models, " + (", and ".join(parts) if len(parts) <= 2 else
                                   ", ".join(parts[:-1]) + " and " + parts[-1])
    lead += (": no model leads on all three." if len(leaders) > 1 else ".")
    ranked = rank_pairs(result)
    told = sum(v["better"] is not None for v in ranked)
    tested = (f"The test tells {told} of the table's {len(ranked)} comparisons apart; the other "
              f"{len(ranked) - told} are not distinguishable (not the same as equal).")
    recon = [f"{name} {med[name]['recon_mse']:.1f}" for name in models if "recon_mse" in med[name]]
    bound = [name for name in models if "iwae" in med[name] and "elbo" in med[name]]
    cost = {name: med[name]["cpu_sec_per_sample"] for name in models}
    cheap, dear = min(cost, key=cost.get), max(cost, key=cost.get)
    cells = []
    if recon:
        cells.append(f"Reconstruction error only in the left column ({', '.join(recon)})")
    if bound:
        b = bound[0]
        cells.append(f"likelihood bounds only for {_the(b)} (IWAE {med[b]['iwae']:.1f} nats, "
                     f"ELBO {med[b]['elbo']:.1f})")
    cells.append(f"a sample costs {_ms(cost[cheap])} ({cheap}) to {_ms(cost[dear])} CPU-ms "
                 f"({dear})" if cheap != dear else f"a sample costs {_ms(cost[cheap])} CPU-ms")
    cells = "; ".join(cells) + "."
    cells = cells[0].upper() + cells[1:]
    return [lead, tested, cells]


# ----------------------------------------------------------------------------- tables
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


def _span(key: str, lo: float, hi: float) -> str:
    """'lo–hi' ('lo to hi' when lo is negative, where a dash would read as a minus sign)."""
    a, b = _fmt(key, lo), _fmt(key, hi)
    if a == b:
        return a
    return f"{a} to {b}" if lo < 0 else f"{a.rstrip('×')}–{b}"


def _spread_cell(m: dict, key: str) -> str:
    """'median (min–max)' (or the single value where the range rounds to one); '—' where
    undefined."""
    if key not in m["median"]:
        return "—"
    med, lo, hi = m["median"][key], m["min"][key], m["max"][key]
    if key == "coverage":
        return f"{med:.0f}/10" if lo == hi else f"{med:.0f}/10 ({lo:.0f}–{hi:.0f})"
    if len(m["seeds"]) == 1 or _fmt(key, lo) == _fmt(key, hi):
        return _fmt(key, med)
    return f"{_fmt(key, med)} ({_span(key, lo, hi)})"


def _ms(v: float) -> str:
    ms = 1000 * v
    return f"{ms:.2g}" if ms < 10 else f"{ms:.0f}"


def _n(n: int) -> str:
    return f"{n:,}"


def format_spread(result: dict, drop_constant: bool = False) -> str:
    """The sample-quality table as Markdown: one row per model and the real data, each naming
    its sampler and n; cells median (min–max) over the sampling seeds (real data: over its
    draws, the reference draw included).

    drop_constant: leave out the n column and every metric column whose cell reads the same in
    every row, and say those values once in a line under the table."""
    rows = table_rows(result)
    cols = {"row": [], "sampler": [], "n": []} | {LABELS[k]: [] for k in SPREAD}
    for name, m in rows.items():
        cols["row"].append(name + (" (tiny stand-in)" if m.get("tiny") else ""))
        cols["sampler"].append(sampler(name, result))
        cols["n"].append(_n(result["n"]))
        for k in SPREAD:
            cols[LABELS[k]].append(_spread_cell(m, k))
    same = {}
    if drop_constant:
        same = {label: cells[0] for label, cells in cols.items()
                if label not in ("row", "sampler") and len(set(cells)) == 1}
        cols = {label: cells for label, cells in cols.items() if label not in same}
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(row) + " |" for row in zip(*cols.values())]
    if same:
        what = "; ".join(f"{result['n']:,} images per set" if label == "n" else
                         f"{label} {cell}" for label, cell in same.items())
        lines += ["", f"Same in every row, so not shown as a column: {what}."]
    return "\n".join(lines)


def format_cells(result: dict) -> str:
    """The other columns as Markdown: per model its reconstruction error, ELBO and IWAE (where
    defined: '—' elsewhere), CPU time per sample, parameters, training CPU-minutes."""
    cols = ["model", "recon. error", "ELBO (nats)",
            f"IWAE k = {result['iwae_k']} (nats)", "CPU ms / sample", "params", "train CPU-min"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name, m in result["models"].items():
        lines.append("| " + " | ".join([
            name, *(_spread_cell(m, k) for k in ("recon_mse", "elbo", "iwae")),
            _ms(m["median"]["cpu_sec_per_sample"]), f"{m['parameters']:,}",
            f"{m['train_cpu_min']:.1f}"]) + " |")
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
                 f"the fitted covariances are singular:"]
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


def reconstruction_vs_generation(result: dict) -> str:
    """One sentence on "a good reconstruction is not a good generator", from the numbers and
    the verdicts on FD / real: the ldm against the ae when the ldm decodes with the ae's own
    decoder (`ldm_decoder_is_ae`: same reconstructions, another way to draw codes), otherwise
    the vae against the ae."""
    models = result["models"]
    fd = lambda name: _fmt("fd_ratio", models[name]["median"]["fd_ratio"])  # noqa: E731
    rel = lambda a, b: relation(result, "fd_ratio", a, b)  # noqa: E731
    if result.get("ldm_decoder_is_ae") and {"ldm", "ae"} <= set(models):
        error = models["ae"]["median"]["recon_mse"]
        return (f"The ldm decodes with the ae's own decoder, so its reconstructions would be the "
                f"ae's (error {error:.1f}), yet its FD / real is {rel('ldm', 'ae')} the ae's "
                f"({fd('ldm')} vs {fd('ae')}): what differs is how the codes are drawn (a "
                f"diffusion model instead of one Gaussian).")
    if not {"ae", "vae"} <= set(models):
        return "The table lacks the ae or the vae: no reconstruction-versus-FD comparison."
    rec = {name: models[name]["median"]["recon_mse"] for name in ("ae", "vae")}
    good, other = ("ae", "vae") if rec["ae"] < rec["vae"] else ("vae", "ae")
    return (f"The {good} reconstructs held-out digits better than the {other} (error "
            f"{rec[good]:.1f} vs {rec[other]:.1f}); its FD / real is {rel(good, other)} the "
            f"{other}'s ({fd(good)} vs {fd(other)}).")


STUDIES.add("compare_models", Study(
    "compare_models", run_compare,
    "Comparison table of notebook 05 at n = 1,000: every committed model, 5 sampling seeds "
    "each (median and range of FD / real, precision, recall, classes, KL), with reconstruction "
    "error, ELBO, IWAE, CPU time per sample", "05", agrees=compare_agrees,
    same=("n", "ddim_steps")))

__all__ = ["STUDY_MODELS", "N_SAMPLES", "N_SEEDS", "DDIM_STEPS", "IWAE_K", "SPREAD", "ALPHA",
           "LOG_SCALE", "REAL", "measure", "run_compare", "compare_agrees", "changed_checkpoints",
           "load_table", "real_row", "table_rows", "tested_metrics", "sampler", "betainc", "t_p_value", "welch",
           "welch_t", "holm", "family_verdicts", "tested_values", "rank_pairs", "verdict", "relation", "verdicts",
           "describe_pair", "pair_takeaway", "axes_takeaway", "what_we_saw", "format_spread",
           "format_cells", "format_live", "reconstruction_vs_generation"]
