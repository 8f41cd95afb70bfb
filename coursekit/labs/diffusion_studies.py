"""Heavy studies of the diffusion notebook, registered in `coursekit.core.results.STUDIES`.

``ddpm_samplers`` — a sampler table on the committed ``ddpm`` checkpoint (instructors'
material: notebook 04's lab names DDIM and η in a sentence and no longer shows this table):
DDIM with few steps and η = 0 / η = 1, and ancestral DDPM with all T = 1000 steps.
Each row: the Fréchet distance (FD, classifier features, `coursekit.metrics`) of n samples
against the first n held-out images, the real-vs-real FD at the same n and their ratio, an
approximate standard error of the FD (bootstrap over the generated samples; the held-out set is
the same for every row), coverage, precision, recall and the CPU time of sampling. The FD of n
samples is biased upwards, the more so the smaller n (the real-vs-real FD grows as n shrinks
too), so a table only compares rows at the same n.

Sizes (``cfg.scale(default, fast, full)``; sampling seed ``cfg.seed + 1``, as the model card):

* full (``python -m coursekit reproduce ddpm_samplers``, the committed
  data/results/ddpm_samplers.json): DDIM with 10, 20, 50 steps × η = 0, 1 at n = 1,000, and
  the ancestral DDPM with 256 chains, scored next to the first 256 samples of every DDIM row
  (a second table at n = 256). The committed run took 1,021 CPU-s on 1 thread (≈ 17 CPU-min,
  2.4 ms of CPU per network call per sample on a loaded machine; about 2 ms idle): 1,000
  ancestral chains would cost ≈ 35–40 CPU-minutes on their own, so the
  ancestral row uses 256 — twice the 128 feature dimensions, so that the covariance it fits has
  full rank — and is only compared at n = 256;
* default (a quick live measurement): DDIM-10 with η = 0 and 1 at n = 200, no ancestral
  row (≥ 128 chains cost ≥ 4 CPU-minutes);
* fast (CI): the same two rows at n = 20.

For `samplers_agree`, each row of a large run also carries the FD of disjoint subsets of its
samples at the default and fast sizes (mean and standard deviation over the subsets, against
the same first held-out images as a run of that size): a smaller run's FD must lie within
`AGREE_SD` of them.

Also here: `sampler_table` (the same measurement at any size), `score_images` (the same
scores for any images), `format_samplers`, `plot_samplers`, `eta_comparison`, and
`pretrained_fd_ratios` (notebook 04's *Going further* A).
"""
from __future__ import annotations

import math
import time

import matplotlib.pyplot as plt
import torch
from tqdm.auto import tqdm

from ..core.checkpoints import pretrained
from ..core.config import Config
from ..core.data import from_pm1
from ..core.nn import eval_mode
from ..core.results import STUDIES, Study
from ..metrics import (
    N_FEATURES,
    class_coverage,
    class_histogram,
    features,
    frechet_distance_features,
    gaussian_frechet_distance,
    heldout_images,
    kl_to_uniform,
    precision_recall_features,
    reference,
)
from ..metrics.samples import N_REFERENCE

#: (default, fast, full) sizes: samples per DDIM row, DDIM step counts, ancestral chains.
N_SAMPLES = (200, 20, 1000)
STEPS = ((10,), (10,), (10, 20, 50))
ETAS = (0.0, 1.0)
N_DDPM = (0, 0, 256)
#: Bootstrap resamples of the generated features for the FD's standard error.
N_BOOT = (50, 20, 200)
#: Subset sizes whose FD spread each row records (the default and fast n) for `samplers_agree`.
SUBSET_NS = (N_SAMPLES[0], N_SAMPLES[1])
#: `samplers_agree`: a smaller run's FD must be within this many subset standard deviations.
AGREE_SD = 3.0
#: Images per sampling batch (as `ImageDiffusion.sample`).
BATCH = 500


def _mean_sd(values: list[float]) -> tuple[float, float]:
    m = sum(values) / len(values)
    if len(values) < 2:
        return m, 0.0
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


@torch.no_grad()
def draw(model, n: int, generator: torch.Generator, steps: int | None, eta: float = 1.0,
         progress: bool = False) -> torch.Tensor:
    """n images (n, 1, 28, 28) in [0, 1] from the ``ddpm`` model: DDIM with `steps` steps and
    noise level `eta`, or ancestral DDPM with all T steps (``steps=None``; a progress bar over
    the T steps when `progress`). The same numbers as ``model.sample`` with the same generator."""
    if steps is not None:
        return model.sample(n, generator, steps=steps, eta=eta, batch_size=BATCH)
    out = []
    with eval_mode(model):
        for start in range(0, n, BATCH):
            x = model.ddpm_sample(min(BATCH, n - start), generator, progress=progress)
            out.append(from_pm1(x))  # (k, 1, 28, 28)
    return torch.cat(out)


@torch.no_grad()
def _score(f_fake: torch.Tensor, images: torch.Tensor, n_boot: int, seed: int,
           subset_ns: tuple[int, ...]) -> dict:
    """Scores of the first len(f_fake) samples against as many held-out images."""
    n = len(f_fake)
    f_real = features(heldout_images(n))  # (n, 128)
    fd = frechet_distance_features(f_real, f_fake)
    ref = reference(n)["fd"]
    hist = class_histogram(images[:n])
    precision, recall = precision_recall_features(f_real, f_fake, 5)
    # bootstrap of the generated side: resample the n feature vectors with replacement
    r64 = f_real.double()
    mu_r, sig_r = r64.mean(0), torch.cov(r64.T)
    g = torch.Generator().manual_seed(seed)
    boot = []
    for _ in range(n_boot):
        fb = f_fake.double()[torch.randint(n, (n,), generator=g)]
        boot.append(gaussian_frechet_distance(mu_r, sig_r, fb.mean(0), torch.cov(fb.T)))
    _, boot_sd = _mean_sd(boot) if boot else (fd, 0.0)
    subsets = []
    for m in subset_ns:
        if m > n or m < 2:
            continue
        k = n // m
        f_real_m = features(heldout_images(m))
        fds = [frechet_distance_features(f_real_m, f_fake[i * m:(i + 1) * m]) for i in range(k)]
        mean, sd = _mean_sd(fds)
        subsets.append({"n": m, "k": k, "fd_mean": mean, "fd_sd": sd})
    return {"n": n, "fd": fd, "fd_real": ref, "fd_ratio": fd / ref, "fd_se": boot_sd,
            "fd_ratio_se": boot_sd / ref, "coverage": class_coverage(hist),
            "kl_uniform": kl_to_uniform(hist), "precision": precision, "recall": recall,
            "subsets": subsets}


def score_images(images: torch.Tensor, n_boot: int = 50, seed: int = 0) -> dict:
    """The scores of a `sampler_table` row for any n images (n, 1, 28, 28) in [0, 1]: FD
    against the first n held-out images, real-vs-real FD at n, their ratio, bootstrap s.e.,
    coverage, KL to uniform, precision, recall."""
    return _score(features(images), images, n_boot, seed, ())


def sampler_table(model, n: int, steps: tuple[int, ...] = (10,), etas: tuple[float, ...] = ETAS,
                  n_ddpm: int = 0, seed: int = 1, n_boot: int = 50,
                  subset_ns: tuple[int, ...] = SUBSET_NS, progress: bool = True,
                  verbose: bool = True) -> dict:
    """Score DDIM-`s` for every s in `steps` and η in `etas` with n samples each, and (if
    n_ddpm > 0) ancestral DDPM with n_ddpm chains next to the first n_ddpm samples of every
    DDIM row. Every sampler draws from ``Generator().manual_seed(seed)``.

    Returns JSON numbers: n, n_ddpm, seed, T, cpu_ms_per_call (CPU per network call per sample,
    over all rows), rows (one dict per sampler and n: sampler, family, steps, eta, net_calls,
    n, fd, fd_real, fd_ratio, fd_se, fd_ratio_se, coverage, kl_uniform, precision, recall,
    cpu_ms_per_sample, subsets), cpu_seconds. verbose: print each row as it is measured.
    """
    if n > N_REFERENCE or (n_ddpm and not 2 <= n_ddpm <= min(n, N_REFERENCE)):
        raise ValueError(f"n ≤ {N_REFERENCE} held-out images and 2 ≤ n_ddpm ≤ n; got n = {n}, "
                         f"n_ddpm = {n_ddpm}")
    c_all = time.process_time()
    jobs = [(s, eta) for eta in etas for s in steps] + ([(None, 1.0)] if n_ddpm else [])
    rows, calls, call_cpu = [], 0, 0.0
    bar = tqdm(jobs, desc=f"sampler table (n = {n})", disable=not progress)
    for s, eta in bar:
        label = f"DDIM-{s} η={eta:g}" if s is not None else f"DDPM-{model.T} (ancestral)"
        bar.set_postfix_str(label)
        k = n if s is not None else n_ddpm
        c0 = time.process_time()
        images = draw(model, k, torch.Generator().manual_seed(seed), s, eta, progress=progress)
        cpu = time.process_time() - c0
        net_calls = s if s is not None else model.T
        calls, call_cpu = calls + net_calls * k, call_cpu + cpu
        f_fake = features(images)  # (k, 128)
        family = f"DDIM η={eta:g}" if s is not None else "DDPM (ancestral, η = 1, all steps)"
        base = {"sampler": label, "family": family, "steps": net_calls, "eta": eta,
                "net_calls": net_calls, "cpu_ms_per_sample": 1e3 * cpu / k}
        sizes = [k] + ([n_ddpm] if s is not None and n_ddpm and n_ddpm < k else [])
        for m in sizes:
            row = base | _score(f_fake[:m], images, n_boot, seed, subset_ns)
            rows.append(row)
            if verbose:
                tqdm.write(_line(row))
    return {"n": n, "n_ddpm": n_ddpm, "seed": seed, "T": model.T,
            "cpu_ms_per_call": 1e3 * call_cpu / max(calls, 1), "rows": rows,
            "cpu_seconds": time.process_time() - c_all}


def _line(row: dict) -> str:
    return (f"{row['sampler']:24s} n = {row['n']:4d}  {row['net_calls']:4d} net calls  "
            f"{row['cpu_ms_per_sample']:7.1f} CPU-ms/sample  FD {row['fd']:6.2f} ± "
            f"{row['fd_se']:4.2f}  real vs real {row['fd_real']:6.2f}  ratio "
            f"{row['fd_ratio']:5.2f}×  coverage {row['coverage']}/10")


def run_samplers(cfg: Config) -> dict:
    """The ``ddpm_samplers`` study in `cfg`'s profile (sizes in the module docstring)."""
    model = pretrained("ddpm", cfg, verbose=False).model
    return sampler_table(model, cfg.scale(*N_SAMPLES), steps=cfg.scale(*STEPS), etas=ETAS,
                         n_ddpm=cfg.scale(*N_DDPM), seed=cfg.seed + 1,
                         n_boot=cfg.scale(*N_BOOT))


def samplers_agree(small: dict, full: dict) -> tuple[bool, str]:
    """Does a smaller sampler table agree with the full one?

    For every row of `small` whose sampler the full study has, with a recorded subset size
    equal to the row's n: |FD(small) − mean subset FD| must be ≤ `AGREE_SD` × sd·sqrt(1 + 1/k)
    (sd: standard deviation of the FD over the k disjoint subsets of the full study's samples,
    scored against the same first held-out images as the small run)."""
    lines, ok = [], True
    for row in small["rows"]:
        sub = next((s for r in full["rows"] if r["sampler"] == row["sampler"]
                    for s in r["subsets"] if s["n"] == row["n"] and s["k"] >= 2), None)
        if sub is None:
            continue
        se = sub["fd_sd"] * math.sqrt(1 + 1 / sub["k"])
        z = (row["fd"] - sub["fd_mean"]) / se if se > 0 else math.inf
        ok &= abs(z) <= AGREE_SD
        lines.append(f"{row['sampler']} n = {row['n']}: FD {row['fd']:.2f} here vs "
                     f"{sub['fd_mean']:.2f} ± {sub['fd_sd']:.2f} over {sub['k']} subsets of "
                     f"the full study ({z:+.1f} sd)")
    if not lines:
        return False, "no row of this run has a sampler and size recorded by the full study"
    return bool(ok), "; ".join(lines) + f" — {'all within' if ok else 'NOT all within'} " \
                                        f"{AGREE_SD:g} sd"


def format_samplers(record: dict, n: int | None = None, label: str = "") -> str:
    """The rows of `record` at sample size n (default: the largest) as a table, headed by the
    real-vs-real FD at that n. Below `N_FEATURES` samples the fitted covariance is
    rank-deficient: the table then prints the FD but no ratio, and says why. A row without
    ``net_calls`` / ``cpu_ms_per_sample`` (None: not a sampler) prints "—" there."""
    n = n or max(r["n"] for r in record["rows"])
    rows = [r for r in record["rows"] if r["n"] == n]
    if not rows:
        return f"{label}: no rows at n = {n}"
    ratios = n >= N_FEATURES
    head = (f"{label + ': ' if label else ''}n = {n} samples per row; real vs real FD at "
            f"n = {n}: {rows[0]['fd_real']:.2f} "
            + ("(FD/real = FD / that)" if ratios else
               f"— n is below the {N_FEATURES} feature dimensions, so the covariances are "
               f"rank-deficient: FDs for the record only, no ratios"))
    lines = [head, f"{'sampler':24s} {'net calls':>9s} {'CPU-ms/sample':>13s} {'FD':>7s} "
             f"{'± s.e.':>6s} {'FD/real':>7s} {'coverage':>8s} {'precision':>9s} {'recall':>6s}"]
    for r in rows:
        calls = "—" if r.get("net_calls") is None else str(r["net_calls"])
        cpu = "—" if r.get("cpu_ms_per_sample") is None else f"{r['cpu_ms_per_sample']:.1f}"
        ratio = f"{r['fd_ratio']:6.2f}×" if ratios else f"{'—':>7s}"
        lines.append(f"{r['sampler']:24s} {calls:>9s} {cpu:>13s} "
                     f"{r['fd']:7.2f} {r['fd_se']:6.2f} {ratio} "
                     f"{r['coverage']:5d}/10 {r['precision']:9.2f} {r['recall']:6.2f}")
    return "\n".join(lines)


def eta_comparison(record: dict, n: int | None = None) -> list[dict]:
    """η = 0 against η = 1 at each DDIM step count, at sample size n (default: the largest):
    ratios, their difference and its approximate s.e. (bootstrap s.e. of the two rows combined;
    the two rows start from the same x^(T), so this overstates the s.e. of the difference)."""
    n = n or max(r["n"] for r in record["rows"])
    at_n = {(r["steps"], r["eta"]): r for r in record["rows"] if r["n"] == n
            and r["sampler"].startswith("DDIM")}
    out = []
    for s in sorted({s for s, _ in at_n}):
        if (s, 0.0) in at_n and (s, 1.0) in at_n:
            r0, r1 = at_n[s, 0.0], at_n[s, 1.0]
            out.append({"steps": s, "n": n, "ratio_eta0": r0["fd_ratio"],
                        "ratio_eta1": r1["fd_ratio"],
                        "diff": r0["fd_ratio"] - r1["fd_ratio"],
                        "diff_se": math.hypot(r0["fd_ratio_se"], r1["fd_ratio_se"])})
    return out


def plot_samplers(record: dict, title: str = "Quality vs sampling cost"):
    """One panel per sample size n: FD / real-vs-real against CPU-ms per sample (log), a line
    per sampler family, labels = network calls; error bars = bootstrap s.e."""
    sizes = sorted({r["n"] for r in record["rows"]}, reverse=True)
    fig, axes = plt.subplots(1, len(sizes), figsize=(5.2 * len(sizes), 3.8), squeeze=False)
    for ax, n in zip(axes[0], sizes):
        rows = [r for r in record["rows"] if r["n"] == n]
        for i, family in enumerate(dict.fromkeys(r["family"] for r in rows)):
            fam = [r for r in rows if r["family"] == family]
            ax.errorbar([r["cpu_ms_per_sample"] for r in fam], [r["fd_ratio"] for r in fam],
                        yerr=[r["fd_ratio_se"] for r in fam], fmt="o-" if len(fam) > 1 else "s",
                        color=f"C{i}", capsize=2, label=family)
            for r in fam:
                ax.annotate(str(r["net_calls"]), (r["cpu_ms_per_sample"], r["fd_ratio"]),
                            fontsize=7, xytext=(4, 3), textcoords="offset points")
        ax.axhline(1, color="gray", ls="--", lw=0.8, label="real vs real")
        ax.set(xscale="log", xlabel="CPU-ms per sample (1 thread, log scale)",
               ylabel="FD / real-vs-real at the same n", title=f"n = {n} samples per row")
        ax.legend(fontsize=7)
    fig.suptitle(title + " (labels: network calls; compare within a panel only)")
    fig.tight_layout()
    return fig


#: Labels of `pretrained_fd_ratios`, as the notebook's bar chart shows them.
FD_LABELS = ("pixel DDPM\n(DDIM-50, η = 1)", "latent DDPM\n(DDIM-50, η = 0)",
             "autoencoder\nreconstructions")


def pretrained_fd_ratios(ldm, train_x: torch.Tensor, n_sets: int = 3
                         ) -> tuple[dict[str, list[float]], int]:
    """Notebook 04, *Going further* A: Fréchet distance / real-vs-real of each pretrained
    model's default sampler (DDIM-50; η = 1 for ``ddpm``, η = 0 for ``ldm``), one value per set
    of samples, read from notebook 05's study (``compare_models``: the same sets, so the two
    notebooks show the same numbers), and of the autoencoder's reconstructions of `n_sets`
    disjoint sets of n training images, scored now (`train_x` in [0, 1], at least n_sets · n
    images). n is the study's sample size.

    Returns ({label: [ratio per set]}, n) with the labels of `FD_LABELS`."""
    from ..core.results import load_result
    from ..metrics import evaluate_samples

    table = load_result("compare_models", verbose=False)
    n = int(table["n"])
    if len(train_x) < n_sets * n:
        raise ValueError(f"need {n_sets} × {n} training images, got {len(train_x)}")
    pixel, latent = (table["models"][name]["per_seed"]["fd_ratio"] for name in ("ddpm", "ldm"))
    with torch.no_grad():  # n_sets disjoint sets of n training digits, encoded and decoded
        recon = [evaluate_samples(ldm.ae.decode(ldm.ae.encode(train_x[k * n:(k + 1) * n])))["fd_ratio"]
                 for k in range(n_sets)]
    return dict(zip(FD_LABELS, (pixel, latent, recon), strict=True)), n


STUDIES.add("ddpm_samplers", Study(
    "ddpm_samplers", run_samplers,
    "DDIM-10/20/50 with η = 0 and 1 on the committed ddpm checkpoint at n = 1,000 samples, and "
    "ancestral DDPM-1000 (256 chains) next to the first 256 samples of each DDIM row: FD / "
    "real-vs-real at the same n with bootstrap s.e., coverage, precision, recall, CPU per sample",
    "04", agrees=samplers_agree))

__all__ = ["N_SAMPLES", "STEPS", "ETAS", "N_DDPM", "draw", "score_images", "sampler_table",
           "run_samplers", "samplers_agree", "format_samplers", "eta_comparison", "plot_samplers",
           "FD_LABELS", "pretrained_fd_ratios"]
