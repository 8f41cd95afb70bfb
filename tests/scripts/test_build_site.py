"""scripts/build_site.py without Sphinx (fast): the landing page's map comes from the README and
notebook 00, headings are promoted, the offline check catches network loads, nothing executes.
The real build and its pages are checked in a browser by `make test-browser` (test_site.py).
"""
from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import build_site  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_readme_map_links_every_notebook():
    table = build_site.readme_map((ROOT / "README.md").read_text(encoding="utf-8"))
    linked = re.findall(r"\]\(notebooks/(\d\d_\w+\.ipynb)\)", table)
    assert linked == [p.name for p in NOTEBOOKS]


def test_lecture_map_from_notebook_00():
    nb = nbformat.read(str(ROOT / "notebooks" / "00_start_here.ipynb"), as_version=4)
    fragment = build_site.lecture_map(nb)
    assert "heuristic" in fragment and "probabilistic" in fragment
    targets = re.findall(r"\]\(([^)]+)\)", fragment)
    assert targets and all(t.startswith("notebooks/") and (ROOT / t).exists() for t in targets)


def test_shift_headings_promotes_outside_code_only():
    md = "## Title\ntext\n### Sub\n```bash\n## not a heading\n```\n"
    assert build_site.shift_headings(md) == "# Title\ntext\n## Sub\n```bash\n## not a heading\n```\n"
    assert build_site.shift_headings("# Already\n## Sub\n") == "# Already\n## Sub\n"


def test_offline_check_catches_network_loads(tmp_path):
    (tmp_path / "ok.html").write_text('<a href="https://example.org/">a link is fine</a>'
                                      '<script src="_static/x.js"></script>')
    build_site.check_offline(tmp_path)
    (tmp_path / "bad.html").write_text('<script src="https://cdn.example.org/require.js"></script>')
    try:
        build_site.check_offline(tmp_path)
    except SystemExit as e:
        assert "cdn.example.org" in str(e)
    else:
        raise AssertionError("a CDN script was not caught")


def test_conf_never_executes_and_vendors_mathjax():
    conf = runpy.run_path(str(ROOT / "site" / "conf.py"))
    assert conf["nb_execution_mode"] == "off"
    assert conf["nb_ipywidgets_js"] == {}
    assert not conf["mathjax_path"].startswith(("http:", "https:", "//"))


def test_site_shows_no_solutions_by_default_and_gives_every_figure_alt_text():
    import nbformat

    v4 = nbformat.v4
    png = {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}
    fig1, fig2 = v4.new_code_cell("plot()"), v4.new_code_cell("plot()")
    for fig in (fig1, fig2):
        fig.outputs = [v4.new_output("display_data", data=png)]
    hidden = v4.new_code_cell("Markdown(...)")
    hidden.outputs = [v4.new_output("display_data",
                                    data={"text/markdown": "*Takeaway:* the loss falls."})]
    solution = v4.new_code_cell("answer = 42")
    solution.metadata["tags"] = ["solution"]
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("## 2 · Noise"), fig1, hidden, solution,
                                v4.new_markdown_cell("## 3 · Next"), fig2])
    check = v4.new_code_cell('ck.exercises.check("x", f, ok)')
    check.outputs = [v4.new_output("stream", name="stdout", text="✓ x: correct\n")]
    nb.cells.insert(4, check)
    out = build_site.site_edition(nb)
    assert all("solution" not in c.metadata.get("tags", []) for c in out.cells)
    assert [c.outputs for c in out.cells if "exercises.check" in c.source] == [[]]
    alts = [c.metadata["mystnb"]["image"]["alt"] for c in out.cells if "mystnb" in c.metadata]
    assert alts == ["the loss falls.", "Figure of the section: 3 · Next"]
    with_solutions = build_site.site_edition(v4.new_notebook(cells=[solution]), solutions=True)
    assert len(with_solutions.cells) == 1
