"""What a student sees in a real browser: each notebook runs in JupyterLab (fast profile), its
math is typeset by MathJax, its widgets render and answer their sliders, nothing errs — and the
offline slides render their math without touching the network.

nbval cannot see any of this: it checks the kernel's outputs, not what the page makes of them.
"""
from __future__ import annotations

import glob
import os
import re
import time
from pathlib import Path

import nbformat
import pytest

from conftest import close_notebook_page

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"

RUN_TIMEOUT_S = 600
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# Text left in rendered markdown once code and typeset math are taken out: raw TeX shows as
# `$$...$$` or `$x$` when MathJax did not run.
RAW_MATH_JS = """(root) => [...root.querySelectorAll('.jp-RenderedMarkdown, .jp-RenderedHTMLCommon')]
  .map(el => { const c = el.cloneNode(true);
               c.querySelectorAll('code, pre, mjx-container, script, style').forEach(n => n.remove());
               return c.textContent; })
  .filter(t => /\\$\\$|\\$[^$\\s][^$]*\\$/.test(t))"""


def section_notebooks() -> list[Path]:
    spec = os.environ.get("COURSEKIT_BROWSER_NOTEBOOKS")
    if spec:
        paths = [Path(p) for pat in spec.split() for p in sorted(glob.glob(pat))]
    else:
        paths = sorted((ROOT / "notebooks").glob("*.ipynb"))
    return [p.resolve() for p in paths]


class PageWatch:
    """Console errors, uncaught exceptions and any request that would leave this machine."""

    def __init__(self, context, page):
        self.errors: list[str] = []
        self.external: list[str] = []
        page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        context.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        if url.startswith(("file:", "data:", "blob:", "http://127.0.0.1", "ws://127.0.0.1")):
            route.continue_()
        else:
            self.external.append(url)
            route.abort()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def notebook_state(page) -> dict:
    """Kernel status, code cells run so far, error outputs (read from JupyterLab's model)."""
    return page.evaluate("""() => {
      const w = window.jupyterapp.shell.currentWidget;
      if (!w || !w.content || !w.content.model) return {ready: false};
      const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
      const cells = [...w.content.model.cells].filter(c => c.type === 'code'
                                                      && c.sharedModel.getSource().trim());
      const busy = [...w.node.querySelectorAll('.jp-InputPrompt')].some(p => p.textContent.includes('*'));
      const errors = cells.filter(c => c.outputs.toJSON().some(o => o.output_type === 'error')).length;
      return {ready: true, status: kernel ? kernel.status : 'none', busy: busy,
              ran: cells.filter(c => c.executionCount !== null).length, total: cells.length,
              errors: errors};
    }""")


def open_notebook(page, lab, name: str) -> None:
    # a workspace of its own, reset: the default one would restore the notebooks of earlier tests
    workspace = Path(name).stem.replace("_", "-")
    page.goto(f"{lab.url}/lab/workspaces/{workspace}/tree/{name}?reset&token={lab.token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    # "Select Kernel" appears when a notebook names no kernel JupyterLab knows: take the default.
    dialog = page.locator(".jp-Dialog")
    try:
        dialog.wait_for(timeout=3_000)
        dialog.locator("button.jp-mod-accept").click()
    except Exception:
        pass
    page.wait_for_function("""() => { const w = window.jupyterapp.shell.currentWidget;
        const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
        return k && k.status === 'idle'; }""", timeout=120_000)
    # More room for the notebook in screenshots: close the file browser.
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")


def run_all(page) -> dict:
    """Run ▸ Run All Cells, as a student would; wait until every cell ran or one failed."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
    deadline, stable, state = time.time() + RUN_TIMEOUT_S, 0, {}
    while time.time() < deadline:
        time.sleep(1.0)
        state = notebook_state(page)
        done = state["status"] == "idle" and not state["busy"] and (
            state["ran"] == state["total"] or state["errors"])
        stable = stable + 1 if done else 0
        if stable >= 3:
            return state
    raise AssertionError(f"notebook still running after {RUN_TIMEOUT_S} s: {state}")


def move_sliders(page, stem: str) -> list[str]:
    """Move every slider one step; return the sliders whose output did not change."""
    failures = []
    sliders = page.locator(".jp-Notebook .widget-slider")
    for i in range(sliders.count()):
        slider = sliders.nth(i)
        area = slider.locator("xpath=ancestor::div[contains(@class,'jp-OutputArea')][1]")
        outputs = area.locator(".widget-output")
        watched = outputs if outputs.count() else area.locator("img")
        slider.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        before = watched.first.inner_html() if watched.count() else ""
        readout = slider.locator(".widget-readout").inner_text()
        shot(page, f"{stem}-slider{i}-before")
        handle = slider.locator(".noUi-handle").first
        handle.focus()
        handle.press("ArrowRight")
        if slider.locator(".widget-readout").inner_text() == readout:  # it was at its maximum
            handle.press("ArrowLeft")
        try:
            page.wait_for_function(
                """([el, before]) => el && el.innerHTML !== before""",
                arg=[watched.first.element_handle(), before], timeout=60_000)
        except Exception:
            failures.append(f"slider {i} ({readout} → "
                            f"{slider.locator('.widget-readout').inner_text()}): output unchanged")
        page.wait_for_timeout(500)
        shot(page, f"{stem}-slider{i}-after")
    return failures


@pytest.mark.parametrize("notebook", section_notebooks(), ids=lambda p: p.stem)
def test_notebook_runs_and_renders_in_jupyterlab(notebook, lab, browser):
    """Run all (fast profile); math typeset, widgets live, no error output, no console error."""
    nb = nbformat.read(str(notebook), as_version=4)
    fresh = nb  # solutions stay: this is the instructor's notebook, run from a clean state
    for cell in fresh.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    fresh.metadata.pop("widgets", None)
    nbformat.write(fresh, str(lab.root / notebook.name))
    stem = notebook.stem

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    watch = PageWatch(context, page)
    try:
        open_notebook(page, lab, notebook.name)
        shot(page, f"{stem}-0-opened")
        state = run_all(page)
        page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        page.wait_for_timeout(1500)
        saved = nbformat.read(str(lab.root / notebook.name), as_version=4)
        errors = [f"cell {i}: {o.get('ename')}: {o.get('evalue')}"
                  for i, c in enumerate(saved.cells) for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert not errors, f"error outputs: {errors}"
        assert state["ran"] == state["total"], f"not every cell ran: {state}"

        # Math: every markdown cell with TeX is typeset; no raw $…$ is left on the page.
        has_math = any(c.cell_type == "markdown" and "$" in c.source for c in saved.cells)
        page.wait_for_timeout(1000)
        n_math = page.locator(".jp-Notebook mjx-container").count()
        if has_math:
            assert n_math > 0, "markdown has $…$ but MathJax typeset nothing"
            # back to the top first: after "run all" the view is at the last cell, and JupyterLab's
            # windowed notebook hides cells far outside the view (the first formula among them)
            page.evaluate("() => document.querySelectorAll('.jp-WindowedPanel-outer')"
                          ".forEach(el => el.scrollTo(0, 0))")
            page.wait_for_timeout(500)
            # scrolled by the DOM: MathJax re-typesets while the windowed notebook re-renders, so
            # Playwright's wait for a "stable" element can time out on a long notebook
            page.locator(".jp-Notebook mjx-container").first.evaluate("el => el.scrollIntoView()")
            page.wait_for_timeout(300)
            shot(page, f"{stem}-1-math")
        raw = page.evaluate(RAW_MATH_JS, page.locator(".jp-Notebook").element_handle())
        assert not raw, f"raw TeX left in rendered markdown: {[t[:120] for t in raw]}"

        # Widgets: each widget output of the saved notebook has a live view; sliders answer.
        n_widget_outputs = sum(WIDGET_VIEW in o.get("data", {}) for c in saved.cells
                               for o in c.get("outputs", []))
        rendered = page.locator(".jp-OutputArea-output > .jupyter-widgets").count()
        assert rendered == n_widget_outputs, \
            f"{n_widget_outputs} widget outputs in the notebook, {rendered} rendered on the page"
        page_text = page.locator(".jp-Notebook").inner_text()
        assert "Error displaying widget" not in page_text
        assert "Loading widget" not in page_text
        failures = move_sliders(page, stem)
        assert not failures, failures

        page.locator(".jp-Notebook .jp-Cell").last.scroll_into_view_if_needed()
        shot(page, f"{stem}-9-end")
        assert not watch.external, f"requests leaving the machine: {watch.external}"
        assert not watch.errors, f"JavaScript console errors: {watch.errors}"
        print(f"{stem}: {state['total']} code cells, {n_math} typeset formulas, "
              f"{n_widget_outputs} widget outputs, {page.locator('.widget-slider').count()} sliders")
    finally:
        close_notebook_page(page, context)


def slides_file() -> Path:
    spec = os.environ.get("COURSEKIT_BROWSER_SLIDES")
    if spec:
        return Path(spec).resolve()
    found = sorted((ROOT / "build" / "slides").glob("*.slides.html"))
    if not found:
        pytest.fail("no build/slides/*.slides.html: run `make slides` first")
    return found[0]


def test_slides_render_offline(browser):
    """The reveal.js deck: reveal starts, MathJax typesets, nothing is fetched from outside."""
    path = slides_file()
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    watch = PageWatch(context, page)
    stem = path.name.replace(".slides.html", "") + "-slides"
    try:
        page.goto(path.as_uri())
        page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=60_000)
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise"
                               " && MathJax.startup.document", timeout=60_000)
        page.evaluate("() => MathJax.startup.promise")
        n_slides = page.evaluate("() => Reveal.getTotalSlides()")
        assert n_slides >= 3, f"only {n_slides} slides"
        shot(page, f"{stem}-0-title")
        text = page.locator(".reveal .slides").inner_text()
        assert "children=" not in text, "a widget's repr leaked into the slides"
        source = ROOT / "notebooks" / (path.name.replace(".slides.html", ".ipynb"))
        if source.exists() and any(c.cell_type == "markdown" and "$" in c.source
                                   for c in nbformat.read(str(source), as_version=4).cells):
            assert page.locator(".reveal mjx-container").count() > 0, "no typeset math"
        # Go to the first slide with a formula, and to the first with a figure.
        for kind, selector in (("math", "mjx-container"), ("figure", "img")):
            idx = page.evaluate("""(sel) => { const el = document.querySelector('.reveal .slides ' + sel);
                if (!el) return null; const r = Reveal.getIndices(el.closest('section'));
                return [r.h, r.v || 0]; }""", selector)
            if idx:
                page.evaluate(f"() => Reveal.slide({idx[0]}, {idx[1]}, 99)")
                page.wait_for_timeout(500)
                shot(page, f"{stem}-1-{kind}")
        raw = page.evaluate(RAW_MATH_JS, page.locator(".reveal .slides").element_handle())
        assert not raw, f"raw TeX in slides: {[t[:120] for t in raw]}"
        assert not watch.external, f"slides fetched from the network: {watch.external}"
        assert not watch.errors, f"JavaScript console errors: {watch.errors}"
    finally:
        context.close()
