"""The one training loop every notebook uses.

``train(model, loss_fn, data, epochs=...)`` gives: a `tqdm.auto` progress bar with the running
loss, a `History` of metrics, an optional eval callback, a NaN/inf guard that stops with the
step number and likely cures, atomic checkpoints (model, optimizer, step, RNG states, history)
and exact resume: an interrupted run resumed from its checkpoint ends with the same parameters
as an uninterrupted one.

Two ways to define a step:

* ``loss_fn(model, *batch) -> loss`` (a scalar tensor, or a dict with key ``"loss"`` plus other
  scalars to log). The loop does ``zero_grad → backward → (clip) → optimizer.step``.
* ``step_fn(model, *batch) -> dict`` for models with several optimizers (GANs): it does its own
  updates and returns the scalars to log. Pass the optimizers as a dict so they are
  checkpointed.
"""
from __future__ import annotations

import copy
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .data import batches
from .nn import eval_mode

FORMAT = "coursekit-train-v1"


class NonFiniteLossError(FloatingPointError):
    """The loss (or another logged scalar) became NaN or infinite."""


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, corrupt, or belongs to another model."""


# ----------------------------------------------------------------------------- history
@dataclass
class History:
    """Logged metrics. Each record: {"phase": "train"|"eval", "step", "epoch", "time", ...}."""

    records: list[dict] = field(default_factory=list)
    #: CPU time (process time, all threads) spent inside `train`, summed over resumed runs.
    cpu_seconds: float = 0.0
    #: Optimisation steps done so far.
    steps: int = 0

    def log(self, phase: str, step: int, epoch: float, seconds: float, metrics: dict) -> None:
        self.records.append({"phase": phase, "step": step, "epoch": epoch, "time": seconds,
                             **{k: float(v) for k, v in metrics.items()}})

    def series(self, key: str, phase: str = "train") -> tuple[list[int], list[float]]:
        """(steps, values) of one metric, e.g. ``history.series("loss")``."""
        rows = [r for r in self.records if r["phase"] == phase and key in r]
        return [r["step"] for r in rows], [r[key] for r in rows]

    def curve(self, key: str, phase: str = "train", dtype=torch.float32) -> torch.Tensor:
        """One metric as a (2, T) tensor of [steps, values], e.g. to save as a model's extras."""
        steps, values = self.series(key, phase)
        return torch.tensor([steps, values], dtype=dtype)

    def last(self, key: str, phase: str = "train") -> float:
        """The most recent value of a metric (raises KeyError if never logged)."""
        _, values = self.series(key, phase)
        if not values:
            raise KeyError(f"metric {key!r} was never logged in phase {phase!r}; "
                           f"logged: {sorted(self.keys(phase))}")
        return values[-1]

    def keys(self, phase: str = "train") -> set[str]:
        return {k for r in self.records if r["phase"] == phase for k in r} - {
            "phase", "step", "epoch", "time"}

    @property
    def seconds(self) -> float:
        """Training wall time so far (summed over resumed runs)."""
        return self.records[-1]["time"] if self.records else 0.0

    def state_dict(self) -> dict:
        return {"records": self.records, "cpu_seconds": self.cpu_seconds, "steps": self.steps}

    @classmethod
    def from_state_dict(cls, state: dict) -> History:
        return cls(records=list(state["records"]), cpu_seconds=state.get("cpu_seconds", 0.0),
                   steps=state.get("steps", 0))


# ----------------------------------------------------------------------------- EMA
class EMA:
    """Exponential moving average of a model's parameters: θ̄ ← decay·θ̄ + (1 − decay)·θ.

    ``ema = EMA(model, 0.999)``; pass ``ema=ema`` to `train`; sample with ``ema.model``.

    With ``warmup=True`` the decay ramps up as min(decay, (1 + n) / (10 + n)) over the first
    updates n, so early averages are not dominated by the random initialisation.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, warmup: bool = False):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.warmup = warmup
        self.updates = 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def current_decay(self) -> float:
        n = self.updates
        return min(self.decay, (1 + n) / (10 + n)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        decay = self.current_decay()
        for p_ema, p in zip(self.model.parameters(), model.parameters()):
            p_ema.lerp_(p.detach(), 1.0 - decay)
        for b_ema, b in zip(self.model.buffers(), model.buffers()):
            b_ema.copy_(b)
        self.updates += 1

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.updates = int(state["updates"])


# ----------------------------------------------------------------------------- RNG state
def rng_state() -> dict:
    """Python, NumPy and torch RNG states in a `weights_only`-loadable form."""
    np_state = np.random.get_state()
    return {"python": random.getstate(), "torch": torch.get_rng_state(),
            "numpy": (np_state[0], torch.from_numpy(np_state[1].astype(np.int64)),
                      *np_state[2:])}


def set_rng_state(state: dict) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))


# ----------------------------------------------------------------------------- checkpoints
def _state(obj) -> dict:
    if isinstance(obj, dict):
        return {k: v.state_dict() for k, v in obj.items()}
    return obj.state_dict()


def _load_state(obj, state) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            v.load_state_dict(state[k])
    else:
        obj.load_state_dict(state)


def save_atomic(obj: dict, path: Path | str) -> None:
    """torch.save to a temporary file, then `os.replace`: a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path | str) -> dict:
    """Load a training checkpoint safely (`weights_only=True`) and check its format."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(e).__name__}: {e}). "
                              f"It is corrupt or truncated: delete it and train again.") from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a coursekit training checkpoint (format "
                              f"{ckpt.get('format') if isinstance(ckpt, dict) else type(ckpt)}, "
                              f"expected {FORMAT!r}).")
    return ckpt


def _restore(ckpt: dict, path: Path, model, optimizer, ema) -> None:
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise CheckpointError(f"checkpoint {path} does not fit this model (different "
                              f"architecture or size): {e}. Delete it or pass resume=False.") from e
    _load_state(optimizer, ckpt["optimizer"])
    if ema is not None:
        if ckpt.get("ema") is None:
            raise CheckpointError(f"checkpoint {path} has no EMA weights but ema= was given")
        ema.load_state_dict(ckpt["ema"])
    set_rng_state(ckpt["rng"])


# ----------------------------------------------------------------------------- schedules
def cosine_schedule(warmup: int = 0, final: float = 0.0) -> Callable[[int, int], float]:
    """The course's one learning-rate schedule: ``factor(step, total)`` multiplies each
    optimizer's initial learning rate before every step.

    Linear warm-up over the first `warmup` steps, then a cosine from 1 down to `final` at
    `total`: ``final + (1 − final)·½(1 + cos(π·progress))``. Pass it as ``train(schedule=…)``.
    """
    def factor(step: int, total: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return factor


# ----------------------------------------------------------------------------- loop
def _finite_or_raise(metrics: dict, step: int, epoch: int, lr_hint: str,
                     checkpoint: Path | None) -> None:
    for k, v in metrics.items():
        if not math.isfinite(v):
            saved = (f" The last good checkpoint is {checkpoint}; resume from it after the fix."
                     if checkpoint is not None and checkpoint.exists() else "")
            raise NonFiniteLossError(
                f"{k} became {v} at step {step} (epoch {epoch}); training stopped before the "
                f"update, so the weights are still finite. Likely cures: a smaller learning rate"
                f"{lr_hint}; gradient clipping (max_grad_norm=1.0); check the inputs for "
                f"NaN/inf and their range; compute log-probabilities from logits "
                f"(e.g. BCEWithLogits) rather than log(sigmoid).{saved}")


def _as_batches(data, batch_size: int, seed: int, epoch: int):
    tensors = data if isinstance(data, (tuple, list)) else (data,)
    # One generator per epoch, seeded by (seed, epoch): resume can rebuild the same order.
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return batches(*tensors, batch_size=batch_size, shuffle=True, generator=g,
                   drop_last=True)


def gradient_step(model: nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor,
                  max_grad_norm: float | None = None) -> None:
    """One update: zero the gradients, backpropagate `loss`, clip the global gradient norm of
    `model` to `max_grad_norm` (if given), step `optimizer`. `train` uses it, and so can a
    custom ``step_fn``."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if max_grad_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()


@dataclass
class Checkpointing:
    """Where and how often `train` writes its checkpoint.

    path: the file, written atomically every `every` steps (default: every epoch) and at the
      end. resume: an existing file is loaded and training continues from its step.
    stop_after: end at this step as if interrupted (to test resuming).
    """

    path: Path | str
    every: int | None = None
    resume: bool = True
    stop_after: int | None = None


def _steps_per_epoch(data, steps: int | None, batch_size: int) -> tuple[bool, int]:
    """(data is a sampler callable, optimisation steps per epoch)."""
    if callable(data) and not isinstance(data, torch.Tensor):
        if steps is None:
            raise ValueError("data is a sampler callable: give steps=")
        return True, steps
    n = len(data[0] if isinstance(data, (tuple, list)) else data)
    if n // batch_size == 0:
        raise ValueError(f"{n} examples give no full batch of {batch_size}; lower batch_size")
    return False, n // batch_size


def _initial_lrs(optimizers: list) -> list[list[float]]:
    """Each param group's initial learning rate (kept in the group, so a resume finds it)."""
    base = [[g.get("initial_lr", g["lr"]) for g in o.param_groups] for o in optimizers]
    for o, lrs in zip(optimizers, base):
        for g, lr0 in zip(o.param_groups, lrs):
            g["initial_lr"] = lr0
    return base


def _scale_lrs(optimizers: list, base: list[list[float]], factor: float) -> None:
    for o, lrs in zip(optimizers, base):
        for g, lr0 in zip(o.param_groups, lrs):
            g["lr"] = lr0 * factor


def _epoch_batches(data, sampler: bool, batch_size: int, seed: int, step: int, end: int,
                   steps_per_epoch: int):
    """The batches from `step` on: fresh sampler draws, or the rest of this epoch's order."""
    if sampler:
        return (data(batch_size, torch.Generator().manual_seed(seed * 1_000_003 + s))
                for s in range(step, end))
    source = _as_batches(data, batch_size, seed, step // steps_per_epoch)
    for _ in range(step % steps_per_epoch):  # resume mid-epoch: skip the batches seen
        next(source)
    return source


def _update(model: nn.Module, batch: tuple, loss_fn, step_fn, optimizer, max_grad_norm,
            guard: Callable[[dict], None]) -> dict[str, float]:
    """One optimisation step; returns the logged scalars (checked by `guard` before the update
    of a loss_fn step, so a NaN loss never reaches the weights)."""
    if step_fn is not None:
        metrics = {k: float(v) for k, v in step_fn(model, *batch).items()}
        guard(metrics)
        return metrics
    out = loss_fn(model, *batch)
    loss = out["loss"] if isinstance(out, dict) else out
    metrics = ({k: float(v.detach()) if torch.is_tensor(v) else float(v) for k, v in out.items()}
               if isinstance(out, dict) else {"loss": float(loss.detach())})
    guard(metrics)
    gradient_step(model, optimizer, loss, max_grad_norm)
    return metrics


def train(model: nn.Module, loss_fn: Callable | None, data, *,
          steps: int | None = None, epochs: int = 1, batch_size: int = 128, lr: float = 1e-3,
          optimizer: torch.optim.Optimizer | dict | None = None, step_fn: Callable | None = None,
          schedule: Callable[[int, int], float] | None = None, ema: EMA | None = None,
          max_grad_norm: float | None = None,
          eval_fn: Callable[[nn.Module, int], dict] | None = None, eval_every: int | None = None,
          log_every: int | None = None, checkpoint: Checkpointing | Path | str | None = None,
          max_seconds: float | None = None, seed: int = 0, desc: str = "train",
          progress: bool = True, show_metrics: bool = True) -> History:
    """Train `model` in place and return its `History`.

    data: a tensor, a tuple of aligned tensors (shuffled mini-batches, a new order per epoch,
      incomplete last batch dropped), or a callable ``data(batch_size, generator)`` that draws a
      fresh batch (2-D toy sets; needs `steps`).
    steps / epochs: length of training (`steps` wins).
    loss_fn(model, *batch) -> loss or {"loss": …, other scalars}: the loop does
      zero_grad → backward → clip to `max_grad_norm` → `optimizer` step (default Adam(lr)).
    step_fn(model, *batch) -> dict of scalars: a custom update (GANs), with its optimizers passed
      as a dict so they are checkpointed.
    schedule(step, total) -> factor: the learning rates are their initial values × factor
      (`cosine_schedule`). ema: an `EMA`, updated after every step.
    eval_fn(model, step) -> dict: every `eval_every` steps and at the end, in eval mode without
      gradients; its scalars are logged in phase "eval".
    checkpoint: a path or a `Checkpointing`. max_seconds: stop after this much wall time (not
      bit-reproducible).
    desc / progress / show_metrics: the progress bar's label, whether it is shown, and whether
      it shows the running metrics next to the step count (they are logged either way).
    """
    if (loss_fn is None) == (step_fn is None):
        raise ValueError("give exactly one of loss_fn (single optimizer) or step_fn (custom step)")
    if optimizer is None:
        if step_fn is not None:
            raise ValueError("step_fn needs its optimizer(s): pass optimizer={'g': ..., 'd': ...}")
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    ckpt = (checkpoint if isinstance(checkpoint, Checkpointing) or checkpoint is None
            else Checkpointing(checkpoint))
    path = Path(ckpt.path) if ckpt is not None else None
    device = next(model.parameters()).device
    sampler, steps_per_epoch = _steps_per_epoch(data, steps, batch_size)
    total = steps if steps is not None else epochs * steps_per_epoch
    log_every = log_every or max(1, min(steps_per_epoch, 100))
    checkpoint_every = (ckpt.every if ckpt is not None and ckpt.every else steps_per_epoch)
    lr_hint = ""
    if isinstance(optimizer, torch.optim.Optimizer):
        lr_hint = f" (now {optimizer.param_groups[0]['lr']:g})"

    optimizers = list(optimizer.values()) if isinstance(optimizer, dict) else [optimizer]
    base_lrs = _initial_lrs(optimizers)

    history = History()
    step, elapsed, cpu_before = 0, 0.0, 0.0
    if path is not None and ckpt.resume and path.exists():
        state = load_checkpoint(path)
        _restore(state, path, model, optimizer, ema)
        step, history = state["step"], History.from_state_dict(state["history"])
        elapsed, cpu_before = history.seconds, history.cpu_seconds

    def save() -> None:
        if path is not None:
            save_atomic({"format": FORMAT, "model": model.state_dict(),
                         "optimizer": _state(optimizer), "step": step, "rng": rng_state(),
                         "history": history.state_dict(),
                         "ema": ema.state_dict() if ema is not None else None}, path)

    def evaluate() -> None:
        if eval_fn is None:
            return
        with eval_mode(model), torch.no_grad():
            metrics = eval_fn(model, step)
        history.log("eval", step, step / steps_per_epoch, elapsed + time.perf_counter() - t0,
                    metrics)
        if show_metrics:
            bar.set_postfix({k: f"{v:.4g}" for k, v in metrics.items()} | running, refresh=False)

    def clock() -> None:
        history.steps = step
        history.cpu_seconds = cpu_before + time.process_time() - c0

    end = min(total, ckpt.stop_after) if ckpt is not None and ckpt.stop_after else total
    bar = tqdm(total=total, initial=step, desc=desc, disable=not progress, mininterval=0.5,
               unit="step")
    t0, c0 = time.perf_counter(), time.process_time()
    running: dict = {}
    sums: dict[str, float] = {}
    count = 0
    model.train()
    while step < end:
        epoch = step // steps_per_epoch
        for batch in _epoch_batches(data, sampler, batch_size, seed, step, end, steps_per_epoch):
            batch = tuple(b.to(device) for b in (batch if isinstance(batch, tuple) else (batch,)))
            if schedule is not None:
                _scale_lrs(optimizers, base_lrs, schedule(step, total))
            metrics = _update(model, batch, loss_fn, step_fn, optimizer, max_grad_norm,
                              lambda m, s=step, e=epoch: _finite_or_raise(m, s, e, lr_hint, path))
            if ema is not None:
                ema.update(model)
            step += 1
            count += 1
            for k, v in metrics.items():
                sums[k] = sums.get(k, 0.0) + v
            bar.update(1)
            if step % log_every == 0 or step == end:
                running = {k: v / count for k, v in sums.items()}
                history.log("train", step, step / steps_per_epoch,
                            elapsed + time.perf_counter() - t0, running)
                if show_metrics:
                    bar.set_postfix({k: f"{v:.4g}" for k, v in running.items()}, refresh=False)
                sums, count = {}, 0
            if eval_every and step % eval_every == 0 and step != end:
                evaluate()
            if step % checkpoint_every == 0 and step != end:
                clock()
                save()
            timed_out = max_seconds is not None and time.perf_counter() - t0 > max_seconds
            if step >= end or timed_out or step % steps_per_epoch == 0:
                break
        if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
            break
    if count:  # flush a partial logging window
        history.log("train", step, step / steps_per_epoch, elapsed + time.perf_counter() - t0,
                    {k: v / count for k, v in sums.items()})
    clock()
    evaluate()
    save()
    bar.close()
    model.eval()
    return history
