"""How long each notebook takes a student: executes it in the default profile and prints ratios.

    python benchmarks/bench_notebooks.py                      # every notebook, one at a time
    python benchmarks/bench_notebooks.py notebooks/02_vae.ipynb --profile fast
    python benchmarks/bench_notebooks.py --json build/notebook_times.json

For each notebook: wall time, the slowest cell (wall), the kernel's CPU time (all threads,
measured from its process), the load average before and after, and the ratio of the wall time
to the class budget (120 s per notebook) and of the slowest cell to 30 s. Last line: the worst
ratio. A wall time measured while other jobs share the cores says nothing about a student's
laptop: when the load before a run is above 0.5 per core, or other processes used more than
0.25 of each core during it (system CPU time minus the kernel's and this process's; the load
average after a run counts the notebook itself), the verdict is refused and the row is marked
"LOADED". With ``--inplace`` the executed notebook is saved over the original (what
`make execute` does), so the committed outputs and the timing come from one run.

With ``--record`` (and only for rows that are not LOADED) the measurement becomes what the
bundle states: ``benchmarks/notebook_times.json``, the "Run time" line of each notebook's
opening cell, and the README's table between ``<!-- notebook-times -->`` markers
(tests/scripts/test_notebook_times.py checks the three agree).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import nbtools  # noqa: E402  (the progress bars' text from their saved final state)

#: The class budget of issue [classroom-time]: per notebook and per cell, seconds of wall time.
NOTEBOOK_BUDGET_S = 120.0
CELL_BUDGET_S = 30.0
#: Above this load average per core a timing is not a measurement of the notebook.
MAX_LOAD_PER_CORE = 0.5
#: Above this share of each core used by other processes during a run, ditto.
MAX_FOREIGN_PER_CORE = 0.25
#: Where --record keeps the idle-machine measurements the bundle states.
TIMES_JSON = ROOT / "benchmarks" / "notebook_times.json"
README = ROOT / "README.md"
MARKERS = ("<!-- notebook-times -->", "<!-- /notebook-times -->")
#: The committed full-profile study each notebook loads (its CPU-s is the "full" column).
STUDY_OF = {"02_vae": "vae_iwae", "03_gan": "gan_ring",
            "05_compare": "compare_models"}


def busy_cpu_s() -> float:
    """CPU seconds the whole machine has spent busy (all cores) since boot."""
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0)


def load_per_core() -> float:
    """The 1-minute load average divided by the usable cores."""
    return os.getloadavg()[0] / max(1, len(os.sched_getaffinity(0)))


def wait_until_quiet(limit_s: float = 120.0) -> None:
    """Wait (at most `limit_s`) for the load average to fall to MAX_LOAD_PER_CORE: the previous
    notebook of this benchmark raises the 1-minute average for a while after it ends."""
    t0 = time.perf_counter()
    while load_per_core() > MAX_LOAD_PER_CORE and time.perf_counter() - t0 < limit_s:
        time.sleep(5)


def machine_speed(repeats: int = 3) -> dict[str, float]:
    """How fast this machine runs the bundle's two kinds of work, in ms per training step (best
    of `repeats` timings, after a warm-up): a toy MLP step on one thread (notebook 03's GANs) and a
    small conv-net step on every core (the MNIST models). Two machines' notebook times compare
    through these: one whose steps take k× longer takes about k× longer for a notebook."""
    import torch
    from torch import nn

    def best_ms(model, x, steps: int) -> float:
        opt = torch.optim.Adam(model.parameters())
        times = []
        for r in range(repeats + 1):
            t0 = time.perf_counter()
            for _ in range(steps):
                opt.zero_grad()
                model(x).square().mean().backward()
                opt.step()
            if r:                                   # the first round warms up
                times.append((time.perf_counter() - t0) / steps * 1e3)
        return min(times)

    threads = torch.get_num_threads()
    g = torch.Generator().manual_seed(0)
    try:
        torch.manual_seed(0)
        torch.set_num_threads(1)
        mlp = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                            nn.Linear(64, 1))
        mlp_ms = best_ms(mlp, torch.randn(128, 2, generator=g), 300)
        torch.set_num_threads(len(os.sched_getaffinity(0)))
        conv = nn.Sequential(nn.Conv2d(1, 32, 3, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 2, 1),
                             nn.ReLU(), nn.Flatten(), nn.Linear(64 * 7 * 7, 10))
        conv_ms = best_ms(conv, torch.randn(128, 1, 28, 28, generator=g), 20)
    finally:
        torch.set_num_threads(threads)
    return {"mlp_step_ms": round(mlp_ms, 3), "conv_step_ms": round(conv_ms, 2)}


def run_notebook(path: Path, profile: str, timeout: int = 600, inplace: bool = False) -> dict:
    """Execute `path` (not in place) and time every code cell: wall and kernel CPU seconds."""
    nb = nbformat.read(str(path), as_version=4)
    env_before = dict(os.environ)
    os.environ["COURSEKIT_PROFILE"] = profile
    os.environ.pop("COURSEKIT_FAST", None)
    cells: list[dict] = []
    state: dict = {}

    def kernel_cpu(client) -> float:
        proc = psutil.Process(client.km.provisioner.process.pid)
        times = proc.cpu_times()
        return times.user + times.system

    def on_start(cell, cell_index):
        state.update(t=time.perf_counter(), cpu=kernel_cpu(client))

    def on_done(cell, cell_index, execute_reply):
        cells.append({"index": cell_index, "wall_s": time.perf_counter() - state["t"],
                      "cpu_s": kernel_cpu(client) - state["cpu"],
                      "first_line": cell.source.splitlines()[0][:60] if cell.source else ""})

    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            on_cell_execute=on_start, on_cell_executed=on_done)
    load0 = load_per_core()
    busy0, own0 = busy_cpu_s(), time.process_time()
    t0 = time.perf_counter()
    try:
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    wall = time.perf_counter() - t0
    load1 = load_per_core()
    if inplace:
        nbtools.final_progress_text(nb)  # text/plain of each progress bar: its final state
        nbformat.write(nb, str(path))
    kernel_total = sum(c["cpu_s"] for c in cells)
    foreign = busy_cpu_s() - busy0 - kernel_total - (time.process_time() - own0)
    cores = len(os.sched_getaffinity(0))
    slowest = max(cells, key=lambda c: c["wall_s"]) if cells else {"wall_s": 0.0, "index": -1}
    return {"notebook": path.name, "profile": profile, "wall_s": wall,
            "kernel_cpu_s": kernel_total, "slowest_cell": slowest,
            "load_per_core_before": load0, "load_per_core_after": load1,
            "foreign_per_core": max(0.0, foreign) / wall / cores,
            "notebook_ratio": wall / NOTEBOOK_BUDGET_S,
            "cell_ratio": slowest["wall_s"] / CELL_BUDGET_S, "cells": cells}


def opening_cell(nb) -> nbformat.NotebookNode:
    """The first markdown cell (the title)."""
    return next(c for c in nb.cells if c.cell_type == "markdown")


def full_cpu_s(stem: str) -> float | None:
    """CPU seconds of the full-profile study the notebook loads (from its provenance)."""
    study = STUDY_OF.get(stem)
    path = ROOT / "data" / "results" / f"{study}.json"
    if not study or not path.exists():
        return None
    return float(json.loads(path.read_text())["provenance"]["cpu_seconds"])


def speed(rec: dict) -> str:
    """The machine-speed cell of a recorded row ("not measured" for rows from before it was)."""
    if "mlp_step_ms" not in rec:
        return "not measured"
    return f"{rec['mlp_step_ms']:.2f} / {rec['conv_step_ms']:.1f} ms"


def readme_table(times: dict) -> str:
    lines = ["| notebook | default profile (wall) | slowest cell | kernel CPU | load/core before | "
             "others' use of each core | measured | machine: MLP / conv step | "
             "full-profile study it loads |",
             "|---|---|---|---|---|---|---|---|---|"]
    for stem, r in sorted(times.items()):
        full = full_cpu_s(stem)
        study = (f"`{STUDY_OF[stem]}`: {full:,.0f} CPU-s (1 thread)" if full is not None
                 else "—")
        lines.append(f"| `{stem}` | {r['wall_s']:.0f} s | #{r['slowest_cell_index']}: "
                     f"{r['slowest_cell_s']:.0f} s | {r['kernel_cpu_s']:.0f} s | "
                     f"{r['load_per_core_before']:.2f} | {r['foreign_per_core']:.2f} | {r['date']} | "
                     f"{speed(r)} | {study} |")
    return "\n".join(lines)


def set_readme_table(times: dict) -> None:
    text = README.read_text()
    start, end = (text.index(m) for m in MARKERS)
    README.write_text(text[:start + len(MARKERS[0])] + "\n" + readme_table(times) + "\n"
                      + text[end:])


def record(rows: list[dict], paths: list[Path]) -> None:
    """Keep the rows measured on an idle machine as the bundle's stated times."""
    times = json.loads(TIMES_JSON.read_text()) if TIMES_JSON.exists() else {}
    import torch

    for row, path in zip(rows, paths):
        if row["loaded"]:
            print(f"{path.name}: LOADED, not recorded (the stated time stays "
                  f"{times.get(path.stem, {}).get('wall_s', 'unmeasured')})")
            continue
        times[path.stem] = {
            "wall_s": round(row["wall_s"], 1), "slowest_cell_s": round(row["slowest_cell"]["wall_s"], 1),
            "slowest_cell_index": row["slowest_cell"]["index"],
            "kernel_cpu_s": round(row["kernel_cpu_s"], 1),
            "load_per_core_before": round(row["load_per_core_before"], 2),
            "load_per_core_after": round(row["load_per_core_after"], 2),
            "foreign_per_core": round(row["foreign_per_core"], 2),
            "cores": len(os.sched_getaffinity(0)), "date": time.strftime("%Y-%m-%d"),
            "machine": f"{platform.machine()}, {platform.python_version()}, torch {torch.__version__}",
            **row["speed"]}
    TIMES_JSON.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")
    set_readme_table(times)
    print(f"recorded in {TIMES_JSON.relative_to(ROOT)} and README.md (students see no run times: "
          f"the README's table is for instructors)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--profile", default="default", choices=("fast", "default", "full"))
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    parser.add_argument("--inplace", action="store_true",
                        help="save the executed notebook over the original")
    parser.add_argument("--record", action="store_true",
                        help="idle rows become the stated times (json, opening cells, README)")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    print(f"{len(os.sched_getaffinity(0))} cores | profile {args.profile} | budget "
          f"{NOTEBOOK_BUDGET_S:.0f} s per notebook, {CELL_BUDGET_S:.0f} s per cell | refuse a "
          f"verdict above load {MAX_LOAD_PER_CORE} per core before a run or "
          f"{MAX_FOREIGN_PER_CORE} per core used by others during it")
    rows = []
    for path in paths:
        wait_until_quiet()
        machine = machine_speed()   # just before the notebook: a shared host's speed drifts
        row = run_notebook(path, args.profile, inplace=args.inplace)
        rows.append(row)
        loaded = (row["load_per_core_before"] > MAX_LOAD_PER_CORE
                  or row["foreign_per_core"] > MAX_FOREIGN_PER_CORE)
        s = row["slowest_cell"]
        print(f"{row['notebook']:22s} wall {row['wall_s']:6.1f} s (ratio {row['notebook_ratio']:.2f})"
              f" | slowest cell #{s['index']} {s['wall_s']:5.1f} s (ratio {row['cell_ratio']:.2f})"
              f" | kernel CPU {row['kernel_cpu_s']:6.1f} s | load/core "
              f"{row['load_per_core_before']:.2f} → {row['load_per_core_after']:.2f}, others "
              f"{row['foreign_per_core']:.2f} | machine: MLP step {machine['mlp_step_ms']:.2f} ms, "
              f"conv step {machine['conv_step_ms']:.1f} ms"
              + ("  LOADED: not a measurement" if loaded else ""), flush=True)
        row["loaded"] = loaded
        row["speed"] = machine
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    if args.record:
        if args.profile != "default":
            print("--record keeps default-profile times only: nothing recorded")
        else:
            record(rows, paths)
    worst = max(max(r["notebook_ratio"], r["cell_ratio"]) for r in rows)
    if any(r["loaded"] for r in rows):
        print(f"worst ratio {worst:.2f} — NO VERDICT: the machine was loaded during some runs "
              f"by other jobs; rerun on an idle machine")
        return 0
    print(f"worst ratio {worst:.2f} ({'within' if worst <= 1.0 else 'OVER'} the class budget)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
