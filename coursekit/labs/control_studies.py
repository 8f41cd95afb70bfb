"""The heavy study of notebook 06, registered in `coursekit.core.results.STUDIES`.

``conditional_sweep`` — two measurements on the committed checkpoints, scored on the course's
yardstick (`coursekit.metrics`; n samples against the first n held-out images):

* **guidance**: the "cldm" sampled with DDIM-50 (η = 0) at each guidance weight w of `WS`, n
  balanced samples (n/10 per digit) per sampling seed: class accuracy (the classifier's
  agreement with the requested digit), FD / real-vs-real, precision, recall and the within-class
  diversity (`diversity`: mean pairwise distance of the classifier's features between samples
  asked for the same digit, divided by the same for held-out digits of that class; 1 = as
  varied as real digits);
* **equal calls**: the "flow" (Euler) and the "ldm" (DDIM, η = 0) at the same number of network
  calls (`CALLS`): FD / real-vs-real and recall per sampling seed.

Sizes (``cfg.scale(default, fast, full)``): full (``python -m coursekit reproduce
conditional_sweep``, data/results/conditional_sweep.json): n = 1,000, sampling seeds 1, 2, 3
(the model cards' seeds: a seed names the same images here and on the card); default: n = 1,000,
seed 1 (the full study's first seed: the same numbers, `sweep_agrees`); fast (a few CPU-s):
n = 1,000, seed 1, w = 2 and 8 calls only, so its values equal the full study's too (FD ratios
at another n would not be comparable). Per entry: per-seed values, median, min and max.

Also here for the notebook: `guidance_row` (one w at any n), `diversity`, `verdict_w` (the
smallest w meeting an accuracy and FD bar, chosen from the numbers), and from
`coursekit.recipes.conditional` `class_accuracy` and `fit_flow_toy` (the 2-D flow of section 4).
"""
from __future__ import annotations

import statistics
from collections.abc import Sequence

import torch

from ..core.checkpoints import pretrained
from ..core.config import Config
from ..core.data import load_mnist
from ..core.results import STUDIES, Study, load_result
from ..metrics import evaluate_samples, features
from ..models.conditional import N_CLASSES, balanced_labels
from ..recipes.conditional import class_accuracy, fit_flow_toy

#: Guidance weights of the sweep and network-call counts of the flow-vs-ldm table.
WS = (0.0, 0.5, 1.0, 2.0, 4.0)
CALLS = (1, 2, 4, 8, 16, 50)
#: (default, fast, full) sizes.
N_SAMPLES = (1000, 1000, 1000)
SEEDS = ((1,), (1,), (1, 2, 3))
GUIDANCE_METRICS = ("accuracy", "fd_ratio", "precision", "recall", "diversity")
CALL_METRICS = ("fd_ratio", "recall")
#: `sweep_agrees`: a seed both runs have must give the same value to this relative tolerance.
EQUAL_REL = 1e-3


def _pairwise_mean(f: torch.Tensor) -> float:
    """Mean Euclidean distance over the pairs of rows of f (k, d), k ≥ 2."""
    d = torch.cdist(f, f)  # (k, k)
    k = len(f)
    return float(d.sum() / (k * (k - 1)))


@torch.no_grad()
def diversity(samples: torch.Tensor, labels: torch.Tensor) -> float:
    """Within-class diversity of samples relative to real digits: per requested digit, the mean
    pairwise feature distance of its samples over that of the same number of held-out digits
    of the class; averaged over the digits."""
    held = load_mnist("heldout")
    f_fake, ratios = features(samples), []
    for c in range(N_CLASSES):
        mine = labels == c
        real = held.x[held.y == c][:int(mine.sum())]
        if mine.sum() < 2 or len(real) < 2:
            continue
        ratios.append(_pairwise_mean(f_fake[mine]) / _pairwise_mean(features(real)))
    return statistics.fmean(ratios)


@torch.no_grad()
def guidance_row(cldm: torch.nn.Module, n: int, seed: int, w: float, steps: int = 50,
                 keep: bool = False) -> dict:
    """`GUIDANCE_METRICS` of n balanced samples of the "cldm" at guidance w (sampling seed
    `seed`); with keep=True also ``"samples"`` (n, 1, 28, 28)."""
    y = balanced_labels(n)
    x = cldm.sample(n, torch.Generator().manual_seed(seed), y, w=w, steps=steps)
    scores = evaluate_samples(x)
    row = {"accuracy": class_accuracy(x, y), "fd_ratio": scores["fd_ratio"],
           "precision": scores["precision"], "recall": scores["recall"],
           "diversity": diversity(x, y)}
    return row | ({"samples": x} if keep else {})


def _summarize(per_seed: dict[str, list[list[float]]]) -> dict:
    """{metric: [[seed values] per setting]} → per_seed, median, min, max (lists per setting)."""
    return {"per_seed": per_seed,
            "median": {k: [statistics.median(v) for v in rows] for k, rows in per_seed.items()},
            "min": {k: [min(v) for v in rows] for k, rows in per_seed.items()},
            "max": {k: [max(v) for v in rows] for k, rows in per_seed.items()}}


def sweep(cldm: torch.nn.Module, n: int, seeds: Sequence[int], ws: Sequence[float]) -> dict:
    """The guidance part of the study (see the module docstring)."""
    per_seed: dict[str, list[list[float]]] = {k: [] for k in GUIDANCE_METRICS}
    for w in ws:
        rows = [guidance_row(cldm, n, s, w) for s in seeds]
        for k in GUIDANCE_METRICS:
            per_seed[k].append([r[k] for r in rows])
    return {"ws": list(ws)} | _summarize(per_seed)


@torch.no_grad()
def equal_calls(flow: torch.nn.Module, ldm: torch.nn.Module, n: int, seeds: Sequence[int],
                calls: Sequence[int]) -> dict:
    """FD / real and recall of the flow (Euler) and the ldm (DDIM η = 0) at each call count."""
    out: dict = {"calls": list(calls)}
    for name, model in (("flow", flow), ("ldm", ldm)):
        per_seed: dict[str, list[list[float]]] = {k: [] for k in CALL_METRICS}
        for k_calls in calls:
            scores = [evaluate_samples(model.sample(n, torch.Generator().manual_seed(s),
                                                    steps=k_calls)) for s in seeds]
            for k in CALL_METRICS:
                per_seed[k].append([sc[k] for sc in scores])
        out[name] = _summarize(per_seed)
    return out


def run_sweep(cfg: Config) -> dict:
    """The study: guidance sweep and equal-calls table at the profile's size."""
    n, seeds = cfg.scale(*N_SAMPLES), list(cfg.scale(*SEEDS))
    ws = cfg.scale(WS, (2.0,), WS)
    calls = cfg.scale(CALLS, (8,), CALLS)
    load = {name: pretrained(name, cfg, verbose=False).model for name in ("cldm", "flow", "ldm")}
    return {"n": n, "seeds": seeds, "ddim_steps": 50,
            "guidance": sweep(load["cldm"], n, seeds, ws),
            "equal_calls": equal_calls(load["flow"], load["ldm"], n, seeds, calls)}


def sweep_agrees(small: dict, full: dict) -> tuple[bool, str]:
    """A run at the same n agrees with the full study when each (setting, seed) both ran gives
    the same value (relative tolerance `EQUAL_REL`): the same seed names the same samples."""
    bad, compared = [], 0
    for part, key in (("guidance", "ws"), ("equal_calls", "calls")):
        a, b = small[part], full[part]
        models = ("flow", "ldm") if part == "equal_calls" else (None,)
        for model in models:
            sa, sb = (a[model], b[model]) if model else (a, b)
            for i, setting in enumerate(a[key]):
                if setting not in b[key]:
                    continue
                j = b[key].index(setting)
                for metric, rows in sa["per_seed"].items():
                    for s_idx, seed in enumerate(small["seeds"]):
                        if seed not in full["seeds"]:
                            continue
                        x = rows[i][s_idx]
                        y = sb["per_seed"][metric][j][full["seeds"].index(seed)]
                        compared += 1
                        if abs(x - y) > EQUAL_REL * max(abs(y), 1e-9):
                            bad.append(f"{part} {model or ''} {key}={setting} seed {seed} "
                                       f"{metric}: {x:.4g} vs {y:.4g}")
    if not compared:
        return False, "no (setting, seed) in common with the full study"
    return (not bad), (f"{compared} values equal to the full study's" if not bad
                       else "; ".join(bad[:5]))


def verdict_w(guidance: dict, accuracy: float = 0.995, fd_ratio: float = 2.0) -> float | None:
    """The smallest w whose median accuracy ≥ `accuracy` with median FD / real ≤ `fd_ratio`
    (None: no w meets both)."""
    med = guidance["median"]
    for w, acc, fd in zip(guidance["ws"], med["accuracy"], med["fd_ratio"]):
        if acc >= accuracy and fd <= fd_ratio:
            return w
    return None


def load_sweep() -> dict:
    """The full study's results (prints where they come from)."""
    return load_result("conditional_sweep")


STUDIES.add("conditional_sweep", Study(
    "conditional_sweep", run_sweep,
    "classifier-free guidance sweep of the cldm (w = 0, 0.5, 1, 2, 4; DDIM-50, n = 1,000 "
    "balanced samples; sampling seeds 1–3): class accuracy, FD / real-vs-real, precision, recall, "
    "within-class diversity; and flow (Euler) vs ldm (DDIM η = 0) at 1, 2, 4, 8, 16, 50 network "
    "calls: FD / real-vs-real and recall",
    "06", agrees=sweep_agrees, same=("n",)))

__all__ = ["class_accuracy", "fit_flow_toy", "WS", "CALLS", "GUIDANCE_METRICS", "CALL_METRICS",
           "diversity", "guidance_row", "sweep", "equal_calls", "run_sweep", "sweep_agrees", "verdict_w", "load_sweep"]
