"""How long nbgrader takes to grade one submission of each assignment (the budget: 2 CPU-minutes).

    python benchmarks/bench_grading.py

Builds the assignments in a temporary nbgrader course folder, submits the reference solution
of each, and times `nbgrader autograde` for it alone: wall time and CPU time of the grader and
its kernel (children of this process). Prints the ratio to the budget; run it on an idle machine.
"""
from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import assignments as A  # noqa: E402

BUDGET_CPU_S = 120.0


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores; > 0.5 means the machine is busy)")
    with tempfile.TemporaryDirectory() as tmp:
        course = A.build(Path(tmp) / "course")
        rows = []
        for name in A.assignments():
            A.submit(course, name, "solution", A.solved(name, course))
            wall, cpu = time.perf_counter(), children_cpu()
            scores = A.autograde(course, name)[name]["solution"]
            wall, cpu = time.perf_counter() - wall, children_cpu() - cpu
            auto = sum(v for v in scores.values() if v is not None)
            rows.append((name, wall, cpu, auto))
    print(f"{'assignment':<18} {'wall s':>7} {'CPU s':>7} {'CPU / budget':>12} {'points':>6}")
    for name, wall, cpu, auto in rows:
        print(f"{name:<18} {wall:7.1f} {cpu:7.1f} {cpu / BUDGET_CPU_S:12.2f} {auto:6g}")
    worst = max(r[2] for r in rows)
    verdict = "within" if worst <= BUDGET_CPU_S else "OVER"
    print(f"verdict: grading one submission takes at most {worst:.0f} CPU-s, {verdict} the "
          f"budget of {BUDGET_CPU_S:.0f} CPU-s ({worst / BUDGET_CPU_S:.2f}×)")


if __name__ == "__main__":
    main()
