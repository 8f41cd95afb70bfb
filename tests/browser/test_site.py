"""The course website (build/site/, `make site`) in headless Chromium, and figures in
JupyterLab's dark theme.

- Every page, opened from file:// and from `python -m http.server` on 127.0.0.1: it loads,
  MathJax typesets every formula (no raw TeX left), every image loads (naturalWidth > 0), every
  local link (and its #anchor) resolves, no request fails or leaves the machine, no console error.
- Search finds a notebook page.
- Light and dark scheme: text keeps a WCAG contrast of at least 4.5:1 and figures keep their
  white background (pixels sampled from the screenshot).
- JupyterLab Dark: a notebook's committed figures sit on an opaque white background.
Screenshots: build/screenshots/site-*.png and lab-dark-*.png.
"""
from __future__ import annotations

import io
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from test_jupyterlab import PageWatch, open_notebook, section_notebooks, shot

from conftest import LAB_SETTINGS, Lab, _free_port, close_notebook_page

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "build" / "site"
SCREENSHOTS = ROOT / "build" / "screenshots"
#: A notebook page with formulas, figures and widget stand-ins.
SAMPLE_PAGE = "notebooks/02_vae.html"

RAW_TEX_JS = """() => { const c = document.querySelector('article').cloneNode(true);
  c.querySelectorAll('code, pre, mjx-container, script, style, .math').forEach(n => n.remove());
  const t = c.textContent;
  return (t.match(/\\$\\$|\\$[^$\\s][^$]*\\$|\\\\\\(|\\\\\\[/g) || []).slice(0, 5); }"""

PAGE_FACTS_JS = """() => ({
  math: document.querySelectorAll('span.math, div.math').length,
  untypeset: [...document.querySelectorAll('span.math, div.math')]
      .filter(el => !el.querySelector('mjx-container')).map(el => el.textContent.slice(0, 60)),
  images: [...document.images].filter(i => i.getAttribute('src'))
      .map(i => ({src: i.src, ok: i.complete && i.naturalWidth > 0})),
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  ids: [...document.querySelectorAll('[id]')].map(e => e.id),
  widgetNotes: document.querySelectorAll('.ck-live-widget').length,
  widgetViews: document.querySelectorAll('.jupyter-widgets, [data-jupyter-widgets-cdn]').length,
})"""

# Effective text and background colours of an element (the background of the first ancestor
# that has one), for a WCAG contrast ratio.
CONTRAST_JS = """(sel) => { const el = document.querySelector(sel); if (!el) return null;
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  let bg = null;
  for (let n = el; n; n = n.parentElement) { const c = rgb(getComputedStyle(n).backgroundColor);
    if (c.length < 4 || c[3] > 0.5) { bg = c.slice(0, 3); break; } }
  return {fg: rgb(getComputedStyle(el).color).slice(0, 3), bg: bg || [255, 255, 255]}; }"""
CONTRAST_SELECTORS = {
    "prose": "article p",
    "heading": "article h1",
    "link": ".related-pages a",
    "code cell": "div.cell_input pre",
    "text output": "div.cell_output pre",
    "sidebar": ".sidebar-tree a",
}


def pages() -> list[Path]:
    if not (SITE / "index.html").exists():
        pytest.fail("no build/site/index.html: run `make site` first")
    return sorted(p for p in SITE.rglob("*.html") if "_static" not in p.relative_to(SITE).parts)


@pytest.fixture(scope="module")
def http_site():
    """`python -m http.server` serving build/site on 127.0.0.1 (a random free port)."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                             "127.0.0.1", "--directory", str(SITE)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(50):
        try:
            urllib.request.urlopen(url, timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def _luminance(rgb) -> float:
    c = [v / 255 for v in rgb]
    c = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]


def contrast(fg, bg) -> float:
    hi, lo = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _wait_for_math(page) -> None:
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                           timeout=60_000)
    page.evaluate("() => MathJax.startup.promise")


@pytest.mark.parametrize("mode", ["file", "http"])
def test_every_page_offline(mode, browser, request):
    """Loads, math typeset, images loaded, links resolve, nothing external, no console error."""
    base = SITE.as_uri() + "/" if mode == "file" else request.getfixturevalue("http_site")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch = PageWatch(context, page)
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
    page.on("response", lambda r: failed.append(f"{r.url}: HTTP {r.status}")
            if r.status >= 400 else None)
    ids: dict[str, set[str]] = {}
    links: dict[str, set[str]] = {}
    problems: list[str] = []
    n_math = n_images = 0
    try:
        for path in pages():
            rel = path.relative_to(SITE).as_posix()
            url = base + rel
            page.goto(url, wait_until="load")
            if page.locator("span.math, div.math").count():
                _wait_for_math(page)
            page.wait_for_function("() => [...document.images].every(i => i.complete)",
                                   timeout=30_000)
            facts = page.evaluate(PAGE_FACTS_JS)
            n_math += facts["math"]
            n_images += len(facts["images"])
            problems += [f"{rel}: formula not typeset: {t!r}" for t in facts["untypeset"]]
            problems += [f"{rel}: raw TeX in the text: {t!r}" for t in page.evaluate(RAW_TEX_JS)]
            problems += [f"{rel}: image did not load: {i['src'][:100]}"
                         for i in facts["images"] if not i["ok"]]
            if facts["widgetViews"]:
                problems.append(f"{rel}: {facts['widgetViews']} live-widget views (no kernel here)")
            ids[url] = set(facts["ids"])
            for href in facts["links"]:
                if href.startswith(base):
                    links.setdefault(href, set()).add(rel)
            if rel == "index.html" or rel == SAMPLE_PAGE:
                shot(page, f"site-{Path(rel).stem}-{mode}")
        # Every local link: its file exists (HTTP 200 when served), its #anchor is on that page.
        for href, sources in sorted(links.items()):
            target, _, fragment = href.partition("#")
            target = urllib.parse.unquote(target.split("?")[0])
            where = f"{href[len(base):]} (linked from {sorted(sources)[0]})"
            if mode == "file":
                exists = Path(urllib.parse.urlparse(target).path).exists()
            else:
                exists = context.request.get(target).status == 200
            if not exists:
                problems.append(f"broken link {where}")
            elif fragment and target in ids and fragment not in ids[target]:
                problems.append(f"missing anchor {where}")
        assert n_math > 50 and n_images > 20, f"only {n_math} formulas, {n_images} images"
        assert not problems, "\n".join(problems[:30])
        assert not failed, f"failed requests: {failed[:10]}"
        assert not watch.external, f"requests leaving the machine: {watch.external[:10]}"
        assert not watch.errors, f"JavaScript console errors: {watch.errors[:10]}"
        print(f"{mode}: {len(ids)} pages, {n_math} formulas, {n_images} images, "
              f"{len(links)} local links checked")
    finally:
        context.close()


@pytest.mark.parametrize("mode", ["file", "http"])
def test_search_finds_a_notebook(mode, browser, request):
    """Sphinx's search: from disk titles only (browsers forbid fetch() there), served with
    a text summary of each hit."""
    base = SITE.as_uri() + "/" if mode == "file" else request.getfixturevalue("http_site")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch = PageWatch(context, page)
    try:
        page.goto(base + "search.html?q=reparameterization", wait_until="load")
        page.wait_for_selector("#search-results ul.search li a", timeout=60_000)
        page.wait_for_function("() => !document.querySelector('#search-progress')"
                               " || !document.querySelector('#search-progress').textContent"
                               ".includes('Preparing')", timeout=30_000)
        page.wait_for_timeout(1000)  # summaries arrive after the titles
        hits = page.locator("#search-results ul.search li a").evaluate_all(
            "els => els.map(a => a.getAttribute('href'))")
        summaries = page.locator("#search-results ul.search li p.context").count()
        shot(page, f"site-search-{mode}")
        assert any("notebooks/02_vae.html" in h for h in hits), hits
        if mode == "http":
            assert summaries > 0, "no search summaries when served"
        assert not watch.external and not watch.errors, (watch.external, watch.errors)
    finally:
        context.close()


def _pixels(png: bytes):
    from PIL import Image

    return Image.open(io.BytesIO(png)).convert("RGB")


def _figure_samples(page, img_selector: str) -> tuple[list, list, dict]:
    """Scroll the first figure into view; return (pixels just inside its corners, pixels just
    outside it on the page, its box) from a screenshot."""
    img = page.locator(img_selector).first
    img.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    box = img.bounding_box()
    im = _pixels(page.screenshot())
    x0, y0, x1, y1 = box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"]
    inside = [im.getpixel((int(x), int(y))) for x, y in
              [(x0 + 3, y0 + 3), (x1 - 4, y0 + 3), (x0 + 3, y1 - 4), (x1 - 4, y1 - 4),
               ((x0 + x1) / 2, y0 + 2)]]
    outside = [im.getpixel((int(x), int(y))) for x, y in [(x1 + 12, (y0 + y1) / 2),
                                                          (x0 - 12, (y0 + y1) / 2)]
               if 0 <= x < im.width and 0 <= y < im.height]
    return inside, outside, box


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_readable_in_light_and_dark(scheme, browser):
    """Furo follows the reader's scheme: text contrast ≥ 4.5:1, figures on white."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    watch = PageWatch(context, page)
    try:
        page.goto((SITE / SAMPLE_PAGE).as_uri(), wait_until="load")
        _wait_for_math(page)
        body_bg = page.evaluate(CONTRAST_JS, "body")["bg"]
        assert (_luminance(body_bg) < 0.1) == (scheme == "dark"), f"{scheme}: body {body_bg}"
        low = {}
        for name, sel in CONTRAST_SELECTORS.items():
            c = page.evaluate(CONTRAST_JS, sel)
            assert c is not None, f"{sel} not on {SAMPLE_PAGE}"
            ratio = contrast(c["fg"], c["bg"])
            if ratio < 4.5:
                low[name] = (round(ratio, 2), c)
        assert not low, f"{scheme}: contrast below 4.5:1: {low}"
        shot(page, f"site-{Path(SAMPLE_PAGE).stem}-{scheme}-top")
        inside, outside, _ = _figure_samples(page, "div.cell_output img")
        shot(page, f"site-{Path(SAMPLE_PAGE).stem}-{scheme}-figure")
        assert all(min(p) >= 240 for p in inside), f"{scheme}: figure corners {inside}"
        if scheme == "dark":
            assert all(max(p) < 80 for p in outside), f"page around the figure: {outside}"
        assert not watch.external and not watch.errors, (watch.external, watch.errors)
    finally:
        context.close()


THEME_SETTINGS = "@jupyterlab/apputils-extension/themes.jupyterlab-settings"


def test_figures_on_white_in_jupyterlab_dark(browser):
    """A notebook with its committed outputs in JupyterLab Dark: figures stay on opaque white."""
    notebook = section_notebooks()[0]
    work = ROOT / "build" / "browser-dark"
    shutil.rmtree(work, ignore_errors=True)
    (work / "notebooks").mkdir(parents=True)
    shutil.copy(notebook, work / "notebooks" / notebook.name)
    lab = Lab(work / "notebooks", work=work,
              settings={**LAB_SETTINGS, THEME_SETTINGS: '{"theme": "JupyterLab Dark"}'}).start()
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    watch = PageWatch(context, page)
    try:
        open_notebook(page, lab, notebook.name)
        page.wait_for_function("() => document.body.dataset.jpThemeName === 'JupyterLab Dark'",
                               timeout=30_000)
        img = ".jp-Notebook .jp-OutputArea-output img"
        assert page.locator(img).count() > 0, f"{notebook.name}: no figure"
        page.wait_for_function(f"() => [...document.querySelectorAll('{img}')]"
                               ".every(i => i.complete && i.naturalWidth > 0)", timeout=30_000)
        inside, outside, box = _figure_samples(page, img)
        shot(page, f"lab-dark-{notebook.stem}-figure")
        print(f"JupyterLab Dark, {notebook.name}: first figure {box['width']:.0f}×"
              f"{box['height']:.0f} px; inside its corners {inside}; page beside it {outside}")
        assert all(max(p) < 80 for p in outside), f"not a dark page around the figure: {outside}"
        assert all(min(p) >= 240 for p in inside), f"figure background not white: {inside}"
        assert not watch.external, f"requests leaving the machine: {watch.external}"
    finally:
        close_notebook_page(page, context)
        lab.stop()
