"""The book as readers meet it: every page of the built HTML in headless Chromium, offline.

Where the HTML comes from (nothing here executes a notebook):

* ``$ABSTRACTNB_SITE_HTML`` if set (a folder with the built pages);
* else ``_build/_build/html`` when ``make book`` built it after the last change to the book's
  sources (``book/``, ``_config.yml``, ``_toc.yml``, ``references.bib``, ``abstractnb/``);
  ``.ci/run`` runs ``make book`` before ``make test``, so CI checks the published pages;
* else a copy built into ``_build/site-test`` with ``execute_notebooks: "off"`` (the
  notebooks' stored outputs), about a minute (``abstractnb._book.build_html``).

The browser is Debian's ``chromium`` (``$ABSTRACTNB_CHROMIUM`` to use another), driven by
Playwright's Python package with ``executable_path``: nothing is downloaded. Without
Chromium or Playwright the browser checks are skipped, and say so; the checks of the built
files (numbering, favicon, bibliography, API) and of the install cells still run.

Every page is opened at 1280 px (desktop) and 400 px (phone) wide with every request that
is not a ``file:`` URL blocked, and the checks are:

* **offline**: no page asks for anything outside the site (the request is blocked and listed);
* **console**: no console error and no uncaught exception;
* **math**: every ``.math`` element holds a MathJax container, and no ``\\(`` or ``\\[``
  is left in the text outside code;
* **images**: every ``<img>`` has loaded (``naturalWidth > 0``) and has an alt text that is
  not a file path;
* **widgets**: each widget on a page shows a picture: a loaded image in the widget's
  own output, or in the cell just before it (the static figure);
* **navigation**: on the phone, tapping the sidebar button opens the sidebar (on screen,
  with its links) and tapping the contents button opens the contents; on the desktop, the
  sidebar button collapses the sidebar;
* **overflow**: no element in the article column reaches outside the column, except inside
  a container that scrolls or clips horizontally (code, display math, tables, which are
  themselves checked), and the page itself never scrolls sideways.

A summary of every page is written to ``_build/site-report.json``, including what scrolls
sideways inside its own box (allowed by the overflow check, but worth fixing in the notebooks):
``wide_code`` (code blocks with lines too long for the column), ``wide_math`` (formulas wider
than the column; MathJax 3 does not break lines), ``wide_tables``, and ``shrunk_figures``
(figures shown at under 60 % of their size: made wider than ``plotting.MAX_WIDTH``).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FULL_HTML = ROOT / "_build" / "_build" / "html"
FAST_OUT = ROOT / "_build" / "site-test"
REPORT = ROOT / "_build" / "site-report.json"

CHROMIUM = os.environ.get("ABSTRACTNB_CHROMIUM") or shutil.which("chromium") or shutil.which(
    "chromium-browser")

from abstractnb import _book  # noqa: E402

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 400, "height": 800}


# ------------------------------------------------------------------ the HTML under test

def _site_dir() -> Path:
    env = os.environ.get("ABSTRACTNB_SITE_HTML")
    if env:
        path = Path(env).resolve()
        assert (path / "index.html").is_file(), f"ABSTRACTNB_SITE_HTML={env} holds no index.html"
        return path
    stamp = FULL_HTML / "searchindex.js"     # written at the end of a build
    if stamp.is_file() and stamp.stat().st_mtime >= _book.newest_source_mtime(ROOT):
        return FULL_HTML
    return _book.build_html(FAST_OUT, root=ROOT)


def _pages(site: Path) -> list[Path]:
    pages = []
    for path in sorted(site.rglob("*.html")):
        rel = path.relative_to(site)
        if rel.parts[0] in ("_static", "_sources", "_images"):
            continue
        if 'http-equiv="Refresh"' in path.read_text(encoding="utf8")[:2000]:
            continue                                  # the root redirect
        pages.append(path)
    return pages


# ------------------------------------------------------------------ what a page reports

_WAIT_JS = """async () => {
  const imgs = Array.from(document.images);
  imgs.forEach((img) => { img.loading = "eager"; });
  const loaded = imgs.map((img) => img.complete ? null :
      new Promise((res) => { img.addEventListener("load", res); img.addEventListener("error", res); }));
  const math = (window.MathJax && MathJax.startup && MathJax.startup.promise) || null;
  await Promise.race([Promise.all([...loaded, math]), new Promise((res) => setTimeout(res, 20000))]);
  // Widgets render after the page has loaded: wait (up to 10 s) until each is drawn.
  const views = Array.from(document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]'));
  const drawn = () => views.every((s) => {
    const cell = s.closest("div.cell") || s.parentElement;
    return cell.querySelector(".jupyter-widgets") &&
           Array.from(cell.querySelectorAll("img")).every((i) => i.complete);
  });
  for (let t = 0; t < 100 && !drawn(); t++) await new Promise((res) => setTimeout(res, 100));
  await new Promise((res) => setTimeout(res, 200));
}"""

_CHECK_JS = r"""() => {
  const article = document.querySelector("article.bd-article") || document.querySelector("main");
  const out = {math_total: 0, math_untypeset: [], raw_tex: [], broken_images: [], widgets: [],
               overflow: [], page_scrolls_sideways: false, wide_code: [], wide_math: [],
               wide_tables: [], shrunk_figures: [], bad_alt: [], mjx: 0};
  // ---- math
  const maths = Array.from(document.querySelectorAll("span.math, div.math"));
  out.math_total = maths.length;
  out.mjx = document.querySelectorAll("mjx-container").length;
  for (const m of maths) {
    if (!m.querySelector("mjx-container")) out.math_untypeset.push(m.textContent.trim().slice(0, 80));
  }
  if (article) {
    const clone = article.cloneNode(true);
    clone.querySelectorAll("pre, code, script, style, textarea, mjx-container, .highlight")
         .forEach((e) => e.remove());
    const text = clone.textContent;
    for (const token of ["\\(", "\\["]) {
      let i = text.indexOf(token);
      if (i >= 0) out.raw_tex.push(text.slice(Math.max(0, i - 30), i + 50).replace(/\s+/g, " "));
    }
  }
  // ---- images
  for (const img of document.images) {
    if (!(img.complete && img.naturalWidth > 0)) out.broken_images.push(img.getAttribute("src"));
    const alt = img.getAttribute("alt") || "";
    if (!alt || /_images\/|\.(png|jpe?g|svg|gif)$/i.test(alt)) out.bad_alt.push(img.getAttribute("src"));
  }
  // ---- widgets: a loaded picture in the widget's cell or in the cell before it
  const loadedImg = (el) => !!el && Array.from(el.querySelectorAll("img")).some(
      (i) => i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().width > 50);
  for (const s of document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')) {
    const cell = s.closest("div.cell") || s.parentElement;
    let prev = cell.previousElementSibling;
    while (prev && !prev.matches("div.cell")) prev = prev.previousElementSibling;
    const own = loadedImg(cell), before = loadedImg(prev);
    out.widgets.push({model: JSON.parse(s.textContent).model_id, rendered_picture: own,
                      static_figure_before: before});
  }
  // ---- overflow of the column
  if (article) {
    const col = article.getBoundingClientRect();
    const clips = (el) => ["auto", "scroll", "hidden", "clip"].includes(getComputedStyle(el).overflowX);
    const reported = [];
    for (const el of article.querySelectorAll("*")) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      const cs = getComputedStyle(el);
      if (cs.position === "fixed" || cs.visibility === "hidden") continue;
      let a = el.parentElement, contained = false;
      while (a && a !== article) { if (clips(a)) { contained = true; break; } a = a.parentElement; }
      if (contained || reported.some((p) => p.contains(el))) continue;
      const excess = Math.max(r.right - col.right, col.left - r.left);
      if (excess > 1) {
        reported.push(el);
        const where = el.closest("section[id]");
        out.overflow.push({element: el.tagName.toLowerCase() + (el.className && typeof el.className === "string"
                             ? "." + el.className.trim().split(/\s+/).join(".") : ""),
                           section: where ? where.id : null, excess_px: Math.round(excess),
                           text: (el.textContent || el.getAttribute("src") || "").trim().replace(/\s+/g, " ").slice(0, 80)});
      }
    }
    const texOf = new Map();
    try { for (const item of MathJax.startup.document.math) texOf.set(item.typesetRoot, item.math); } catch (e) {}
    for (const m of article.querySelectorAll("mjx-container")) {
      const display = m.getAttribute("display") === "true";
      const width = display ? m.scrollWidth : m.getBoundingClientRect().width;
      const room = display ? m.clientWidth : col.width;
      if (width > room + 1) {
        out.wide_math.push({display, width_px: Math.round(width), room_px: Math.round(room),
                            section: (m.closest("section[id]") || {}).id || null,
                            tex: (texOf.get(m) || "").trim().replace(/\s+/g, " ").slice(0, 120)});
      }
    }
    for (const img of article.querySelectorAll("img")) {
      const shown = img.getBoundingClientRect().width;
      if (img.naturalWidth > 0 && shown / img.naturalWidth < 0.6) {
        out.shrunk_figures.push({section: (img.closest("section[id]") || {}).id || null,
                                 shown_percent: Math.round(100 * shown / img.naturalWidth),
                                 natural_px: img.naturalWidth});
      }
    }
    for (const t of article.querySelectorAll("div.cell_output table")) {
      if (t.scrollWidth > t.clientWidth + 1) out.wide_tables.push((t.closest("section[id]") || {}).id || null);
    }
    for (const pre of article.querySelectorAll("div.highlight pre")) {
      if (pre.scrollWidth > pre.clientWidth + 1) {
        const line = pre.textContent.split("\n").reduce((a, b) => (b.length > a.length ? b : a), "");
        out.wide_code.push(line.trim().slice(0, 100));
      }
    }
  }
  out.page_scrolls_sideways = document.documentElement.scrollWidth > window.innerWidth + 1;
  return out;
}"""

_SIDEBAR_JS = """(sel) => {
  const e = document.querySelector(sel);
  if (!e) return null;
  const r = e.getBoundingClientRect(), cs = getComputedStyle(e);
  return {left: r.left, right: r.right, width: r.width, visible: cs.visibility !== "hidden" &&
          cs.display !== "none" && r.width > 100 && r.right > 0 && r.left < window.innerWidth,
          links: e.querySelectorAll("a[href]").length};
}"""


def _visit(browser, url: str, viewport: dict, *, navigation: str | None) -> dict:
    context = browser.new_context(viewport=viewport, has_touch=viewport is PHONE)
    page = context.new_page()
    errors, blocked = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))

    def route(r):
        if r.request.url.startswith("file:"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    try:
        page.goto(url, wait_until="load")
        page.evaluate(_WAIT_JS)
        result = page.evaluate(_CHECK_JS)
        result["console_errors"] = errors
        result["blocked_requests"] = blocked
        if navigation == "phone":
            result["nav"] = _phone_navigation(page)
        elif navigation == "desktop":
            result["nav"] = _desktop_navigation(page)
        return result
    finally:
        context.close()


def _tap(page, selector: str) -> bool:
    button = page.locator(selector).filter(visible=True)
    if button.count() == 0:
        return False
    if page.viewport_size["width"] < 600:
        button.first.tap()       # a phone: a touch, not a mouse click
    else:
        button.first.click()
    page.wait_for_timeout(500)
    return True


def _phone_navigation(page) -> dict:
    nav = {"primary_before": page.evaluate(_SIDEBAR_JS, ".bd-sidebar-primary")}
    nav["primary_button"] = _tap(page, "button.primary-toggle")
    nav["primary_after"] = page.evaluate(_SIDEBAR_JS, ".bd-sidebar-primary")
    page.keyboard.press("Escape")
    page.wait_for_timeout(300)
    if page.locator(".bd-sidebar-secondary a[href]").count():
        nav["secondary_button"] = _tap(page, "button.secondary-toggle")
        nav["secondary_after"] = page.evaluate(_SIDEBAR_JS, ".bd-sidebar-secondary")
    return nav


def _desktop_navigation(page) -> dict:
    nav = {"primary_before": page.evaluate(_SIDEBAR_JS, ".bd-sidebar-primary")}
    nav["primary_button"] = _tap(page, "button.primary-toggle")
    nav["primary_after"] = page.evaluate(_SIDEBAR_JS, ".bd-sidebar-primary")
    return nav


@pytest.fixture(scope="module")
def site() -> Path:
    return _site_dir()


@pytest.fixture(scope="module")
def report(site) -> dict:
    """{page: {"desktop": checks at 1280 px, "phone": checks at 400 px}} for every page."""
    if not CHROMIUM:
        pytest.skip("browser checks SKIPPED: no Chromium (apt-get install chromium, or set ABSTRACTNB_CHROMIUM)")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="browser checks SKIPPED: no playwright (pip install -r requirements.txt)")
    pages = _pages(site)
    assert pages, f"no pages under {site}"
    out = {}
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for path in pages:
                name = path.relative_to(site).as_posix()
                nav = name.startswith("book/")
                out[name] = {
                    "desktop": _visit(browser, path.as_uri(), DESKTOP, navigation="desktop" if nav else None),
                    "phone": _visit(browser, path.as_uri(), PHONE, navigation="phone" if nav else None),
                }
        finally:
            browser.close()
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps({"site": str(site), "pages": out}, indent=1))
    return out


def _failures(report: dict, key: str, views=("desktop", "phone")) -> dict:
    bad = {}
    for page, by_view in report.items():
        for view in views:
            value = by_view[view][key]
            if value:
                bad[f"{page} @{view}"] = value
    return bad


# ------------------------------------------------------------------ the checks

def test_every_page_of_the_toc_is_built(site, report):
    toc = _book.toc_files(ROOT)
    missing = [f for f in toc if f"{f}.html" not in report]
    assert not missing, f"pages of _toc.yml missing from {site}: {missing}"


def test_offline_no_request_leaves_the_site(report):
    bad = _failures(report, "blocked_requests")
    assert not bad, f"pages that ask the network for something (blocked): {json.dumps(bad, indent=1)}"


def test_no_console_errors(report):
    bad = _failures(report, "console_errors")
    assert not bad, f"console errors: {json.dumps(bad, indent=1)}"


def test_math_is_typeset(report):
    untypeset = _failures(report, "math_untypeset", views=("desktop",))
    raw = _failures(report, "raw_tex", views=("desktop",))
    assert not untypeset, f"math left untypeset: {json.dumps(untypeset, indent=1)}"
    assert not raw, f"raw TeX delimiters in the text: {json.dumps(raw, indent=1)}"
    chapters = [p for p in report if report[p]["desktop"]["math_total"]]
    assert chapters, "no page has any math: is MathJax wired at all?"
    for page in chapters:
        assert report[page]["desktop"]["mjx"] >= 1, page


def test_every_image_loads_and_has_alt_text(report):
    bad = _failures(report, "broken_images")
    assert not bad, f"images that did not load: {json.dumps(bad, indent=1)}"
    alt = _failures(report, "bad_alt", views=("desktop",))
    assert not alt, f"images whose alt text is empty or a file path: {json.dumps(alt, indent=1)}"


def test_widgets_show_a_picture(report):
    widget_pages = {p: r["desktop"]["widgets"] for p, r in report.items() if r["desktop"]["widgets"]}
    bad = {p: [w for w in ws if not (w["rendered_picture"] or w["static_figure_before"])]
           for p, ws in widget_pages.items()}
    bad = {p: ws for p, ws in bad.items() if ws}
    assert not bad, f"widgets with no picture on the page: {json.dumps(bad, indent=1)}"


def test_sidebar_opens_on_a_phone(report):
    chapters = [p for p in report if "nav" in report[p]["phone"]]
    assert chapters
    for page in chapters:
        nav = report[page]["phone"]["nav"]
        assert nav["primary_button"], f"{page}: no sidebar button at 400 px"
        assert not nav["primary_before"]["visible"], f"{page}: sidebar open before the tap: {nav}"
        assert nav["primary_after"]["visible"] and nav["primary_after"]["links"] > 0, \
            f"{page}: tapping the sidebar button did not open the sidebar: {nav}"
        if "secondary_button" in nav:
            assert nav["secondary_button"] and nav["secondary_after"]["visible"], \
                f"{page}: tapping the contents button did not open the contents: {nav}"


def test_sidebar_collapses_on_the_desktop(report):
    chapters = [p for p in report if "nav" in report[p]["desktop"]]
    assert chapters
    for page in chapters:
        nav = report[page]["desktop"]["nav"]
        assert nav["primary_before"]["visible"], f"{page}: no sidebar at 1280 px: {nav}"
        assert nav["primary_button"] and not nav["primary_after"]["visible"], \
            f"{page}: the sidebar button does not collapse the sidebar: {nav}"


@pytest.mark.parametrize("view", ["desktop", "phone"])
def test_nothing_overflows_its_column(report, view):
    bad = _failures(report, "overflow", views=(view,))
    sideways = [p for p, r in report.items() if r[view]["page_scrolls_sideways"]]
    assert not bad, f"elements wider than the text column at {view}: {json.dumps(bad, indent=1)}"
    assert not sideways, f"pages that scroll sideways at {view}: {sideways}"


def test_chapters_are_numbered_and_the_site_has_a_favicon(site):
    html = (site / "book" / "ch1_abstraction.html").read_text(encoding="utf8")
    assert 'rel="icon"' in html and "favicon" in html
    assert '<span class="section-number">1. </span>' in html


def test_bibliography_labels_are_author_year(site):
    html = (site / "book" / "references.html").read_text(encoding="utf8")
    assert "et al., 2025" in html and "[WJF25]" not in html


def test_api_reference_and_index_are_filled(site):
    api = (site / "book" / "api.html").read_text(encoding="utf8")
    for name in ("abstractnb.meanfield.solve", "abstractnb.meanfield.certify", "abstractnb.metrics.parallelism_score",
                 "abstractnb.training.train"):
        assert f'id="{name}"' in api, name
    index = (site / "genindex.html").read_text(encoding="utf8")
    assert "parallelism_score" in index


def test_print_to_pdf(site, tmp_path):
    """`make pdf`: a page printed by Chromium with the print stylesheet (no navigation)."""
    if not CHROMIUM:
        pytest.skip("PDF check SKIPPED: no Chromium")
    pypdf = pytest.importorskip("pypdf")
    out = _book.print_pdf(site, tmp_path / "preface.pdf", ROOT, chromium=CHROMIUM, docs=["book/preface"])
    reader = pypdf.PdfReader(str(out))
    text = "".join(page.extract_text() for page in reader.pages)
    assert len(reader.pages) >= 1 and "Preface" in text
    assert "Toggle primary sidebar" not in text and "Search" not in text.split("Preface")[0]


def test_install_cells_name_the_configured_repository():
    """The repository URL is one setting (_config.yml); the chapters' install cells copy it."""
    named = _book.install_cells_name_the_repository(ROOT)
    chapters = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "book").glob("ch*.ipynb"))
    missing = [c for c in chapters if c not in named]
    wrong = [c for c, ok in named.items() if not ok]
    assert not missing, f"chapters without the install cell: {missing}"
    assert not wrong, (f"install cells naming another repository than _config.yml's "
                       f"{_book.repository_url(ROOT)}: {wrong} (python -m abstractnb._book sync)")
