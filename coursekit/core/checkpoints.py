"""Pretrained models: a registry of recipes, one file format, model cards.

Each module of `coursekit.recipes` registers its models with `register`:

    register(Recipe("vae", VAEConfig(), build=build, fit=fit, description="..."))

A recipe's config is a dataclass whose ``tiny()`` gives the seconds-long variant (tests, fast
profile).
``python -m coursekit pretrain vae`` builds the model, trains it with the recipe, and writes
``data/checkpoints/vae.pt`` (state dict + card) and ``data/checkpoints/vae.md`` (the model card:
command, seed, data source + MD5, wall time, metrics, versions). ``pretrained("vae")`` loads
that file (``weights_only=True``) when it is present and valid, and otherwise trains: the full
recipe in the default profile (and saves it), a tiny one in the fast profile (not saved).
"""
from __future__ import annotations

import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._version import __version__
from .config import DATA_DIR, Config, setup
from .data import OFFLINE_FILES, mnist_source
from .nn import count_parameters
from .registry import Registry
from .train import CheckpointError, save_atomic

FORMAT = "coursekit-pretrained-v1"
CHECKPOINT_DIR = DATA_DIR / "checkpoints"
#: The package whose modules register the recipes: loaded by name on first use (a plugin
#: registry), so `import coursekit` stays fast and core never imports the models.
RECIPE_PACKAGE = "coursekit.recipes"
MAX_FILE_MB = 10.0


@dataclass
class Recipe:
    """How to make one pretrained model.

    config: a dataclass of settings with a ``tiny()`` method (the seconds-long variant).
    build(config): a fresh, untrained model.
    fit(model, cfg, config): trains `model` in place; returns a dict of metrics for the card,
      or (metrics, extras) where extras is a dict of tensors/numbers saved next to the weights
      (e.g. GAN snapshots).
    """

    name: str
    config: Any
    build: Callable[[Any], nn.Module]
    fit: Callable[[nn.Module, Config, Any], dict | tuple[dict, dict]]
    description: str = ""

    def settings(self, tiny: bool = False) -> Any:
        """The recipe's config, or its tiny variant."""
        return self.config.tiny() if tiny else self.config


@dataclass
class Pretrained:
    """What `pretrained` returns: the model (eval mode), its card and its extras."""

    model: nn.Module
    card: dict
    extras: dict = field(default_factory=dict)


RECIPES: Registry[Recipe] = Registry("pretrained recipe", (RECIPE_PACKAGE,))
#: name → Recipe, as registered so far (`recipes()` also imports the recipe modules).
REGISTRY = RECIPES.items


def register(recipe: Recipe) -> Recipe:
    """Add a recipe to the registry (a later registration with the same name replaces it)."""
    if not callable(getattr(recipe.config, "tiny", None)):
        raise TypeError(f"recipe {recipe.name!r}: its config needs a tiny() method")
    return RECIPES.add(recipe.name, recipe)


def recipes() -> dict[str, Recipe]:
    """All registered recipes (imports `coursekit.recipes`, which registers them)."""
    return RECIPES.all()


def get_recipe(name: str) -> Recipe:
    """The recipe called `name` (KeyError listing the known ones otherwise)."""
    return RECIPES.get(name)


def checkpoint_path(name: str, directory: Path | str | None = None) -> Path:
    return Path(directory or CHECKPOINT_DIR) / f"{name}.pt"


def _data_provenance() -> dict:
    source = mnist_source()
    if source == "offline-10k":
        return {"source": source, "md5": {name: md5 for name, md5 in OFFLINE_FILES.values()}}
    return {"source": source}


def make_card(name: str, model: nn.Module, cfg: Config, tiny: bool, seconds: float,
              cpu_seconds: float, metrics: dict, command: str) -> dict:
    """The model card as a dict (stored in the checkpoint and rendered to NAME.md)."""
    return {"name": name, "description": REGISTRY[name].description if name in REGISTRY else "",
            "command": command, "seed": cfg.seed, "tiny": tiny, "data": _data_provenance(),
            "train_seconds": round(seconds, 1), "train_cpu_seconds": round(cpu_seconds, 1),
            "threads": cfg.threads,
            "device": str(cfg.device), "parameters": count_parameters(model),
            "metrics": {k: float(v) for k, v in metrics.items()},
            "versions": {"coursekit": __version__, "torch": str(torch.__version__),
                         "python": platform.python_version()},
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
            "date": time.strftime("%Y-%m-%d")}


def training_cpu_minutes(card: dict) -> float:
    """CPU-minutes of a model card's training loop (process time summed over threads).

    Recipes that score their model after training (IWAE k = 5000, 1,000 DDIM samples, ...) report
    the loop alone in their metrics (``train_loop_cpu_seconds`` or ``train_cpu_minutes``); the
    card's ``train_cpu_seconds`` covers the whole recipe, evaluation included, and is the
    fallback for recipes that do not separate the two.
    """
    metrics = card.get("metrics", {}) or {}
    if "train_loop_cpu_seconds" in metrics:
        return float(metrics["train_loop_cpu_seconds"]) / 60
    if "train_cpu_minutes" in metrics:
        return float(metrics["train_cpu_minutes"])
    return float(card.get("train_cpu_seconds", card.get("train_seconds", float("nan")))) / 60


def seed_spread(metrics: dict) -> dict[str, list[float]]:
    """Per-seed values of each card metric scored with several sampling seeds: ``{base: [seed 1,
    seed 2, …]}`` from the keys ``seedK_base`` (K ≥ 2) and ``seed1_base``, or the unprefixed
    ``base`` where a card keeps seed 1 there. Timings (``*cpu_seconds``) are left out."""
    seeds: dict[str, dict[int, float]] = {}
    for key, value in metrics.items():
        m = re.fullmatch(r"seed(\d+)_(.+)", key)
        if m and not m.group(2).endswith("cpu_seconds"):
            seeds.setdefault(m.group(2), {})[int(m.group(1))] = float(value)
    out = {}
    for base, by_seed in seeds.items():
        if 1 not in by_seed and base in metrics:
            by_seed[1] = float(metrics[base])
        if len(by_seed) >= 2:
            out[base] = [by_seed[k] for k in sorted(by_seed)]
    return out


def card_markdown(card: dict) -> str:
    """Render a card dict as a short Markdown model card."""
    lines = [f"# Model card: `{card['name']}`", "", card.get("description", ""), "",
             "| field | value |", "| --- | --- |",
             f"| reproduce | `{card['command']}` |",
             f"| seed | {card['seed']} |",
             f"| data | {card['data']['source']} "
             + (f"(MD5 {', '.join(f'{k}: {v}' for k, v in card['data']['md5'].items())})"
                if 'md5' in card['data'] else "") + " |",
             f"| training time | {card['train_seconds']} s wall, "
             f"{card.get('train_cpu_seconds', float('nan'))} CPU-s (all threads) on "
             f"{card['threads']} thread{'s' if card['threads'] != 1 else ''} "
             f"({card['device']}, {card['machine']}) |",
             f"| parameters | {card['parameters']:,} |",
             f"| versions | coursekit {card['versions']['coursekit']}, torch "
             f"{card['versions']['torch']}, Python {card['versions']['python']} |",
             f"| made | {card['date']} |",
             *([f"| samples scored again | {card['scored']} (`python -m coursekit rescore "
                f"{card['name']}`, same weights) |"] if card.get("scored") else []),
             "", "## Metrics (measured at the end of training)",
             "", "| metric | value |", "| --- | --- |"]
    lines += [f"| {k} | {v:.4g} |" for k, v in card["metrics"].items()]
    spread = seed_spread(card["metrics"])
    if spread:  # the same checkpoint sampled with several seeds: median and range per metric
        lines += ["", "## Over the sampling seeds (same checkpoint)", "",
                  "| metric | seeds | median | range |", "| --- | --- | --- | --- |"]
        lines += [f"| {base} | {len(v)} | {statistics.median(v):.4g} | {min(v):.4g}–{max(v):.4g} |"
                  for base, v in spread.items()]
    return "\n".join(lines) + "\n"


def save_pretrained(name: str, model: nn.Module, card: dict, extras: dict | None = None,
                    directory: Path | str | None = None) -> Path:
    """Write NAME.pt (atomic) and NAME.md; refuses files over 10 MB."""
    path = checkpoint_path(name, directory)
    save_atomic({"format": FORMAT, "name": name, "state_dict": model.state_dict(),
                 "card": card, "extras": extras or {}}, path)
    size_mb = path.stat().st_size / 2**20
    if size_mb > MAX_FILE_MB:
        path.unlink()
        raise ValueError(f"checkpoint {name} is {size_mb:.1f} MB (> {MAX_FILE_MB} MB); "
                         f"make the model or its extras smaller")
    path.with_suffix(".md").write_text(card_markdown(card))
    return path


def load_pretrained_file(name: str, model: nn.Module, path: Path | str) -> Pretrained:
    """Load weights from `path` into `model`; clear errors for corrupt or mismatched files."""
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(
            f"pretrained checkpoint {path} cannot be read ({type(e).__name__}: {e}). It is "
            f"corrupt or truncated: restore it with `git checkout -- {path}` or rebuild it with "
            f"`python -m coursekit pretrain {name}`.") from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a coursekit pretrained checkpoint (expected "
                              f"format {FORMAT!r}). Rebuild: `python -m coursekit pretrain {name}`.")
    if ckpt.get("name") != name:
        raise CheckpointError(f"{path} holds model {ckpt.get('name')!r}, not {name!r}. "
                              f"Rebuild: `python -m coursekit pretrain {name}`.")
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:
        raise CheckpointError(
            f"{path} does not match the current {name!r} architecture (the code changed since "
            f"it was made): {str(e).splitlines()[0]} … Rebuild it with "
            f"`python -m coursekit pretrain {name}`.") from e
    return Pretrained(model.eval(), ckpt["card"], ckpt.get("extras", {}))


def fit_recipe(name: str, cfg: Config, tiny: bool, command: str) -> Pretrained:
    """Build and train a model with its recipe; return it with its card and extras."""
    recipe = get_recipe(name)
    settings = recipe.settings(tiny)
    model = recipe.build(settings).to(cfg.device)
    t0, c0 = time.perf_counter(), time.process_time()
    out = recipe.fit(model, cfg, settings)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    metrics, extras = out if isinstance(out, tuple) else (out, {})
    model = model.cpu().eval()
    card = make_card(name, model, cfg, tiny, seconds, cpu_seconds, metrics, command)
    return Pretrained(model, card, extras)


def load_line(name: str, card: dict) -> str:
    """What loading a checkpoint prints: read from its card, so a notebook's saved output can be
    compared with the current card (tests/scripts/test_fresh_outputs.py)."""
    return (f"loaded pretrained {name!r} (training {training_cpu_minutes(card):.1f} CPU-min, "
            f"{card['parameters']:,} parameters; model card: data/checkpoints/{name}.md)")


def status_line(name: str, card: dict, size_bytes: int) -> str:
    """What `doctor` prints for a checkpoint that loads: its size and its training time (what it
    saves a student); the metrics are on its card (data/checkpoints/NAME.md)."""
    return (f"  {name:12s} OK ({size_bytes / 2**20:.1f} MB; saves "
            f"{training_cpu_minutes(card):.1f} CPU-min of training)")


def pretrained(name: str, cfg: Config | None = None, directory: Path | str | None = None,
               train_if_missing: bool = True, verbose: bool = True) -> Pretrained:
    """The pretrained model `name`: ``.model`` (eval mode), ``.card`` (metrics, provenance),
    ``.extras`` (curves, snapshots).

    Loads ``data/checkpoints/NAME.pt`` when present. A corrupt or mismatched file raises
    `CheckpointError` (never a silently wrong model). When the file is missing: in the fast
    profile trains a tiny model (not saved); in the default profile trains the full recipe
    and saves it, so the next call loads it.
    """
    recipe = get_recipe(name)
    path = checkpoint_path(name, directory)
    if path.exists():
        loaded = load_pretrained_file(name, recipe.build(recipe.config), path)
        if verbose:
            print(load_line(name, loaded.card))
        return loaded
    if not train_if_missing:
        raise CheckpointError(f"{path} not found; make it with `python -m coursekit pretrain {name}`")
    cfg = cfg or Config.current()  # no setup(): loading a model must not reseed the caller
    tiny = cfg.fast
    if verbose:
        print(f"{path} not found: training {'a tiny' if tiny else 'the full'} {name!r} now")
    made = fit_recipe(name, cfg, tiny, f"python -m coursekit pretrain {name}")
    if not tiny:
        save_pretrained(name, made.model, made.card, made.extras, directory)
    return made


def pretrain_main(name: str, seed: int = 0, tiny: bool = False,
                  directory: Path | str | None = None) -> Path:
    """Entry point of ``python -m coursekit pretrain NAME``: train, save, print the card."""
    cfg = setup(seed=seed)
    command = f"python -m coursekit pretrain {name}" + (f" --seed {seed}" if seed else "") + (
        " --tiny" if tiny else "")
    made = fit_recipe(name, cfg, tiny, command)
    path = save_pretrained(name, made.model, made.card, made.extras, directory)
    print(card_markdown(made.card))
    print(f"saved {path} ({path.stat().st_size / 2**20:.2f} MB)", file=sys.stderr)
    return path


__all__ = ["Recipe", "Pretrained", "training_cpu_minutes", "register", "recipes", "pretrained", "pretrain_main",
           "save_pretrained", "load_pretrained_file", "checkpoint_path", "seed_spread", "card_markdown"]
