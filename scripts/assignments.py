"""The graded assignments, with nbgrader (docs/instructors.md, "Graded assignments").

    python scripts/assignments.py build                 # make assignments: release + grader copy
    python scripts/assignments.py grade hw2_vae         # autograde build/assignments/submitted/*
    python scripts/assignments.py calibrate             # remake grading/calibration.json (minutes)
    python scripts/assignments.py points                # points per assignment

Sources (with solutions, hidden tests and rubrics) live in grading/source/<assignment>/; `build`
copies them into an nbgrader course folder, build/assignments/, and runs nbgrader's
``generate_assignment``: build/assignments/release/<assignment>/ is what students get (no
solutions, no hidden tests, no rubrics); build/assignments/source/ and rubrics/ stay with the
instructors. `grade` runs ``autograde`` and ``generate_feedback`` and writes grades.csv.
"""
from __future__ import annotations

import argparse
import copy
import csv
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "grading" / "source"
CALIBRATION = ROOT / "grading" / "calibration.json"
COURSE = ROOT / "build" / "assignments"
COURSE_ID = "generative-models"
CONFIG = f"""\
# nbgrader course folder made by `make assignments` (scripts/assignments.py); edit grading/source/.
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "{COURSE_ID}"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
c.Execute.timeout = 600                      # seconds per cell; a submission trains for < 10 s
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Feedback pages for students: nbgrader shows the hidden tests (and their tracebacks) there;
# these stay out, the failing test's message (which names the slip) stays in.
import re  # noqa: E402

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor, Preprocessor  # noqa: E402
from nbgrader.preprocessors import GetGrades  # noqa: E402
from traitlets import Bool  # noqa: E402


class HideHiddenTests(Preprocessor):
    enabled = Bool(True)  # nbconvert's preprocessors are off unless enabled

    def preprocess_cell(self, cell, resources, index):
        cell.source = re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\\n?", "",
                             cell.source, flags=re.S)
        if cell.metadata.get("nbgrader", {{}}).get("grade") and cell.cell_type == "code":
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    out["traceback"] = [f"{{out['ename']}}: {{out['evalue']}}"]
        return cell, resources


c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
"""
SOLUTION = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


def assignments() -> list[str]:
    """The assignment names, e.g. ["hw1_autoencoders", …] (one notebook each, same name)."""
    return sorted(p.name for p in SOURCE.iterdir() if (p / f"{p.name}.ipynb").exists())


def source_notebook(name: str):
    return nbformat.read(SOURCE / name / f"{name}.ipynb", as_version=4)


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def cell_by_id(nb, gid: str):
    """The cell whose nbgrader grade_id is `gid`."""
    for cell in nb.cells:
        if grade_id(cell) == gid:
            return cell
    raise KeyError(f"no cell with grade_id {gid!r}")


def points(nb) -> dict[str, dict[str, float]]:
    """{"auto": {grade_id: points}, "manual": {grade_id: points}} of a source notebook."""
    out: dict[str, dict[str, float]] = {"auto": {}, "manual": {}}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            kind = "manual" if meta.get("solution") or meta.get("task") else "auto"
            out[kind][meta["grade_id"]] = float(meta["points"])
    return out


def solution_code(source: str) -> str:
    """The code of a solution cell without nbgrader's BEGIN/END SOLUTION marker lines."""
    return "\n".join(line for line in source.splitlines() if not SOLUTION.match(line))


def reference_answer(name: str) -> str:
    """The code of the assignment's answer cell as the solution writes it."""
    return solution_code(cell_by_id(source_notebook(name), "answer").source)


def answer_keys(name: str, hidden_only: bool = False) -> list[str]:
    """Lines of the graded references (solution regions and the hidden tests' reference
    code; only the latter with `hidden_only`) that must never reach students, leaving out lines
    that the visible cells contain too: the release notebooks, the feedback pages and the
    installed package are scanned for them (tests/grading/)."""
    keys, visible = [], []
    wanted = ("HIDDEN TESTS",) if hidden_only else ("SOLUTION", "HIDDEN TESTS")
    for cell in source_notebook(name).cells:
        region = None  # inside "### BEGIN SOLUTION" / "### BEGIN HIDDEN TESTS" … "### END …"
        for line in cell.source.splitlines():
            marker = line.strip()
            if marker.startswith("### BEGIN "):
                region = marker.removeprefix("### BEGIN ")
            elif marker.startswith("### END "):
                region = None
            elif region is None:
                visible.append(marker)
            elif region in wanted and cell.cell_type == "code":
                code = marker.split("#")[0].strip()
                if len(code) >= 24 and ("=" in code or code.startswith("return")):
                    keys.append(code)
    seen = "".join(visible).replace(" ", "")
    return [k for k in keys if k.replace(" ", "") not in seen]


# ----------------------------------------------------------------------------- nbgrader
def nbgrader(*args: str, course: Path) -> subprocess.CompletedProcess:
    """Run an nbgrader command in the course folder; raise with its output on failure."""
    course = Path(course).resolve()
    cmd = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course}"]
    # nbgrader runs `alembic` (installed next to this Python) to set up its gradebook
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(cmd, cwd=course, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[2:])} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done


def rubric(nb) -> str:
    """The model answers and rubrics of the manually graded cells, as Markdown."""
    parts = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("solution"):
            question = nb.cells[i - 1].source if i else ""
            parts += [question, solution_code(cell.source), "---"]
    return "\n\n".join(parts)


def build(course: Path = COURSE, names: list[str] | None = None) -> Path:
    """Copy the sources of `names` (default: all) into the nbgrader course folder `course`,
    generate their release notebooks (one nbgrader call) and write the rubrics."""
    names, course = names or assignments(), Path(course).resolve()
    course.mkdir(parents=True, exist_ok=True)
    (course / "nbgrader_config.py").write_text(CONFIG)
    rubrics = course / "rubrics"
    rubrics.mkdir(exist_ok=True)
    for name in names:
        target = course / "source" / name
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(SOURCE / name, target)
        (rubrics / f"{name}.md").write_text(f"# {name}: written answers\n\n"
                                            + rubric(source_notebook(name)))
    pattern = names[0] if len(names) == 1 else "*"
    nbgrader("generate_assignment", pattern, "--force", course=course)
    return course


def release_notebook(name: str, course: Path = COURSE):
    return nbformat.read(course / "release" / name / f"{name}.ipynb", as_version=4)


def submit(course: Path, name: str, student: str, nb) -> None:
    """Place `nb` where nbgrader collects it: submitted/<student>/<name>/<name>.ipynb."""
    folder = course / "submitted" / student / name
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{name}.ipynb")


def solved(name: str, course: Path = COURSE, answer: str | None = None,
           written: str | None = None):
    """The release notebook with its answer cell filled: `answer` (default: the reference
    solution) and the written answer (default: the model answer)."""
    nb = copy.deepcopy(release_notebook(name, course))
    cell_by_id(nb, "answer").source = answer if answer is not None else reference_answer(name)
    cell_by_id(nb, "written").source = (written if written is not None else solution_code(
        cell_by_id(source_notebook(name), "written").source))
    return nb


def autograde(course: Path, name: str = "*") -> dict[str, dict[str, dict[str, float | None]]]:
    """Autograde every submission of `name` (default: all assignments); {assignment: {student:
    {grade_id: score, or None for a written answer not graded by hand yet}}}."""
    from nbgrader.api import Gradebook

    nbgrader("autograde", name, "--create", "--force", course=course)
    scores: dict[str, dict[str, dict[str, float | None]]] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for assignment in gb.assignments:
            for sub in gb.assignment_submissions(assignment.name):
                grades = sub.notebooks[0].grades
                scores.setdefault(assignment.name, {})[sub.student.id] = {
                    g.name: (None if g.needs_manual_grade else g.score) for g in grades}
    return scores


def grade(name: str, course: Path = COURSE) -> Path:
    """Autograde build/assignments/submitted/*/<name>, write feedback and grades.csv."""
    scores = autograde(course, name).get(name, {})
    nbgrader("generate_feedback", name, "--force", course=course)
    out = course / f"grades_{name}.csv"
    ids = [gid for kind in points(source_notebook(name)).values() for gid in kind]
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *ids, "auto_total"])
        for student, s in sorted(scores.items()):
            writer.writerow([student, *[("manual" if s.get(i) is None else s.get(i)) for i in ids],
                             sum(v for v in s.values() if v is not None)])
    return out


# ----------------------------------------------------------------------------- calibration
def task_outcome(name: str, seed: int, answer: str | None = None) -> tuple[float, float]:
    """Run the notebook's training with `answer` in the answer cell (default: the reference)
    under `seed` and return (the hidden band test's outcome, CPU-s). No nbgrader: the cells are
    executed in order in this process, the graded test cells included (their failures ignored,
    except that the band test must compute its `_grader_outcome`)."""
    from coursekit.labs.grading import GradingError

    nb = source_notebook(name)
    os.environ["COURSEKIT_SEED"] = str(seed)
    namespace: dict = {"__name__": "__main__"}
    start = time.process_time()
    try:
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            src = cell.source
            if grade_id(cell) == "answer":
                src = answer if answer is not None else solution_code(src)
            try:
                exec(compile(src, f"<{name}:{grade_id(cell)}>", "exec"), namespace)
            except (GradingError, AssertionError, NotImplementedError):
                if grade_id(cell) == "test_trained" and "_grader_outcome" not in namespace:
                    raise
    finally:
        os.environ.pop("COURSEKIT_SEED", None)
        import matplotlib.pyplot as plt

        plt.close("all")
    return float(namespace["_grader_outcome"]), time.process_time() - start


def _load_planted():
    sys.path.insert(0, str(ROOT / "grading"))
    try:
        import planted
    finally:
        sys.path.pop(0)
    return planted


def calibrate(seeds=tuple(range(10)), wrong_seeds=(0, 1), log: Callable = print) -> dict:
    """The bands' evidence: each task's outcome for the reference on `seeds` and for each
    planted wrong answer on `wrong_seeds`; written to grading/calibration.json."""
    planted = _load_planted()
    result = {"format": "coursekit-grading-calibration-v1",
              "provenance": {"made": date.today().isoformat(), "python": platform.python_version(),
                             "machine": platform.machine(),
                             "command": "python scripts/assignments.py calibrate"},
              "tasks": {}}
    import torch
    result["provenance"]["torch"] = torch.__version__
    for name in assignments():
        task = {"reference": {}, "wrong": {}}
        for seed in seeds:
            value, cpu = task_outcome(name, seed)
            task["reference"][str(seed)] = {"outcome": value, "cpu_seconds": round(cpu, 2)}
            log(f"{name} reference seed {seed}: {value:.4g} ({cpu:.1f} CPU-s)")
        reference = reference_answer(name)
        for wrong in planted.PLANTED[name]:
            task["wrong"][wrong.name] = {}
            for seed in wrong_seeds:
                value, cpu = task_outcome(name, seed, wrong.apply(reference))
                task["wrong"][wrong.name][str(seed)] = {"outcome": value}
                log(f"{name} {wrong.name} seed {seed}: {value:.4g}")
        result["tasks"][name] = task
    CALIBRATION.write_text(json.dumps(result, indent=1) + "\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="release notebooks + grader copy in build/assignments/")
    b.add_argument("--out", type=Path, default=COURSE)
    g = sub.add_parser("grade", help="autograde build/assignments/submitted/*/NAME")
    g.add_argument("name", choices=assignments())
    g.add_argument("--out", type=Path, default=COURSE)
    sub.add_parser("calibrate", help="remake grading/calibration.json (a few minutes)")
    sub.add_parser("points", help="points per assignment")
    args = parser.parse_args()
    if args.cmd == "build":
        course = build(args.out)
        print(f">> students get {course / 'release'}/<assignment>/ (no solutions, no hidden "
              f"tests); keep {course / 'source'} and {course / 'rubrics'} to yourselves")
    elif args.cmd == "grade":
        print(f">> grades: {grade(args.name, args.out)}; feedback: {args.out / 'feedback'}")
    elif args.cmd == "calibrate":
        calibrate()
    elif args.cmd == "points":
        for name in assignments():
            p = points(source_notebook(name))
            print(f"{name}: {sum(p['auto'].values()):g} autograded + "
                  f"{sum(p['manual'].values()):g} by hand")


if __name__ == "__main__":
    main()
