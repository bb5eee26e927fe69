r"""The book's site settings, read from the repository's own files, and the tools built on them.

Not part of the package's API (the leading underscore): it serves the book, its tests and its
build. Everything is read from the repository checkout that holds this package (the folder
above ``abstractnb/``); an installed copy without one has no book settings.

**The repository URL is one setting**, ``repository: url`` in ``_config.yml``: the launch and
repository buttons read it, and so does :data:`REPOSITORY_URL`. A notebook opened alone (Colab)
cannot read either before the package is installed, so its hidden install cell carries a
copy; ``python -m abstractnb._book sync`` rewrites every chapter's install cell from
``_config.yml`` (:func:`install_cell_source`), ``python -m abstractnb._book check`` lists the
cells that differ, and ``tests/test_site.py`` fails when a cell names another repository.

Command line (``python -m abstractnb._book ...``)::

    url                     print the repository URL
    check                   list the notebooks whose install cell differs from the canonical one
    sync                    rewrite those install cells (the only code that edits notebooks)
    html OUT                build the HTML into OUT without executing a notebook (stored outputs)
    pdf [HTML_DIR] [OUT]    print the built book to one PDF with headless Chromium
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The repository checkout that holds this package."""

INSTALL_CELL_FIRST_LINE = "# Make abstractnb importable on Colab or Binder (a no-op where it is installed)."
"""How a chapter's install cell starts: the cell is found by this line."""

SOURCES = ("book", "abstractnb", "_config.yml", "_toc.yml", "references.bib")
"""What the built HTML is made from (a build older than any of them is stale)."""


def config(root: Path | str = ROOT) -> dict:
    """The Jupyter Book configuration ``_config.yml`` of the checkout at ``root``."""
    import yaml

    path = Path(root) / "_config.yml"
    if not path.is_file():
        raise FileNotFoundError(f"no _config.yml in {root}: book settings need the repository checkout")
    return yaml.safe_load(path.read_text(encoding="utf8"))


def repository_url(root: Path | str = ROOT) -> str:
    """``repository: url`` of ``_config.yml``, without a trailing slash or ``.git``."""
    url = str(config(root)["repository"]["url"]).rstrip("/")
    return url[:-4] if url.endswith(".git") else url


def __getattr__(name):
    # REPOSITORY_URL is read when asked for, so that importing this module needs no file.
    if name == "REPOSITORY_URL":
        return repository_url()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def install_cell_source(url: str | None = None) -> str:
    """The source of a chapter's hidden install cell (tagged ``remove-cell``).

    Where ``abstractnb`` is importable (a local checkout, Binder) it does nothing; a
    notebook in ``book/`` of a checkout uses the package next to it; a notebook opened alone
    (Colab) installs the package from the repository **without** its pinned torch, then the
    package's other dependencies, and torch only when none is installed: Colab's own torch
    (and its GPU build) stays.
    """
    url = repository_url() if url is None else url.rstrip("/")
    return f'''{INSTALL_CELL_FIRST_LINE}
import importlib.util
import os
import subprocess
import sys

# = repository.url in _config.yml (python -m abstractnb._book sync)
REPOSITORY_URL = "{url}"

if importlib.util.find_spec("abstractnb") is None:
    if os.path.isdir(os.path.join(os.pardir, "abstractnb")):
        sys.path.insert(0, os.path.abspath(os.pardir))
    else:
        from importlib.metadata import requires

        pip = [sys.executable, "-m", "pip", "install", "--quiet"]
        subprocess.check_call(pip + ["--no-deps", f"abstractnb @ git+{{REPOSITORY_URL}}"])
        deps = [r for r in requires("abstractnb") if "extra ==" not in r]
        if importlib.util.find_spec("torch") is not None:  # keep the torch there
            deps = [r for r in deps if not r.replace(" ", "").startswith("torch")]
        subprocess.check_call(pip + deps)'''


def toc_files(root: Path | str = ROOT) -> list[str]:
    """The documents of ``_toc.yml`` in reading order (``book/preface``, ``book/ch1_...``, ...)."""
    import yaml

    toc = yaml.safe_load((Path(root) / "_toc.yml").read_text(encoding="utf8"))
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("parts"))
    walk(toc.get("chapters"))
    return [f.removesuffix(".md").removesuffix(".ipynb") for f in files]


def _install_cells(root: Path) -> dict[Path, tuple[int, str]]:
    cells = {}
    for nb_path in sorted((root / "book").glob("*.ipynb")):
        nb = json.loads(nb_path.read_text(encoding="utf8"))
        for i, cell in enumerate(nb["cells"]):
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            if cell["cell_type"] == "code" and src.startswith(INSTALL_CELL_FIRST_LINE):
                cells[nb_path] = (i, src)
                break
    return cells


def check_install_cells(root: Path | str = ROOT) -> dict[str, str]:
    """``{notebook: problem}`` for every chapter whose install cell is missing or differs.

    A cell that differs but already names the configured URL is reported as ``"stale"``; one
    naming another URL (or none) as ``"wrong URL"``.
    """
    root = Path(root)
    url = repository_url(root)
    want = install_cell_source(url)
    found = _install_cells(root)
    problems = {}
    for nb_path in sorted((root / "book").glob("ch*.ipynb")):
        name = nb_path.relative_to(root).as_posix()
        if nb_path not in found:
            problems[name] = "no install cell"
        elif found[nb_path][1] != want:
            problems[name] = "stale" if f"git+{url}\"" in found[nb_path][1] or \
                f'"{url}"' in found[nb_path][1] else "wrong URL"
    return problems


def install_cells_name_the_repository(root: Path | str = ROOT) -> dict[str, bool]:
    """``{notebook: True}`` when the chapter's install cell names the configured URL."""
    root = Path(root)
    url = repository_url(root)
    return {p.relative_to(root).as_posix(): (f"git+{url}\"" in src or f'"{url}"' in src)
            for p, (_, src) in _install_cells(root).items()}


def sync_install_cells(root: Path | str = ROOT) -> list[str]:
    """Rewrite every chapter's install cell to :func:`install_cell_source`; return those changed.

    The cell keeps its id, tags and other metadata; its outputs are cleared (it prints
    nothing). The rest of the notebook is written back as it was read.
    """
    import nbformat

    root = Path(root)
    want = install_cell_source(repository_url(root))
    changed = []
    for nb_path, (i, src) in _install_cells(root).items():
        if src == want:
            continue
        nb = nbformat.read(nb_path, as_version=nbformat.NO_CONVERT)
        nb.cells[i].source = want
        nb.cells[i].outputs = []
        nbformat.write(nb, nb_path)
        changed.append(nb_path.relative_to(root).as_posix())
    return changed


def newest_source_mtime(root: Path | str = ROOT) -> float:
    """Modification time of the newest file the HTML is built from (see :data:`SOURCES`)."""
    root = Path(root)
    newest = 0.0
    for name in SOURCES:
        path = root / name
        paths = [path] if path.is_file() else path.rglob("*") if path.is_dir() else []
        for p in paths:
            if p.is_file() and "_build" not in p.parts and "__pycache__" not in p.parts \
                    and ".ipynb_checkpoints" not in p.parts:
                newest = max(newest, p.stat().st_mtime)
    return newest


def write_noexec_config(path: Path | str, root: Path | str = ROOT) -> Path:
    """Write ``_config.yml`` with ``execute_notebooks: "off"`` to ``path`` (for ``--config``).

    ``jupyter-book build --config`` *replaces* ``_config.yml`` (it is not merged), so the
    override is the whole configuration with one change; local extension folders are made
    absolute because they are resolved relative to the configuration file.
    """
    import yaml

    root = Path(root).resolve()
    cfg = config(root)
    cfg.setdefault("execute", {})["execute_notebooks"] = "off"
    local = (cfg.get("sphinx") or {}).get("local_extensions") or {}
    for name, folder in local.items():
        local[name] = str((root / folder).resolve())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf8")
    return path


def _jupyter_book() -> str:
    exe = Path(sys.executable).with_name("jupyter-book")
    return str(exe) if exe.exists() else (shutil.which("jupyter-book") or "jupyter-book")


def build_html(out: Path | str, root: Path | str = ROOT, *, builder: str = "html") -> Path:
    """Build the book into ``out`` from the notebooks' stored outputs (no execution).

    Returns the folder of the HTML pages (``out/_build/html``). Raises ``RuntimeError`` with the
    end of the log when the build fails; warnings do not fail it (``make book`` is the strict
    build).
    """
    root, out = Path(root).resolve(), Path(out).resolve()
    cfg = write_noexec_config(out / "_config.noexec.yml", root)
    cmd = [_jupyter_book(), "build", str(root), "--path-output", str(out), "--config", str(cfg),
           "--builder", builder, "--keep-going", "--all"]   # --all: static files are copied
    # only when some page is written, so a change to the site's CSS alone needs it
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    run = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    html = out / "_build" / builder
    if run.returncode != 0 or not (html / "index.html").is_file():
        raise RuntimeError(f"{' '.join(cmd)} failed ({run.returncode}):\n{(run.stdout + run.stderr)[-4000:]}")
    return html


def print_pdf(html: Path | str, out: Path | str, root: Path | str = ROOT, *,
              chromium: str | None = None, docs: list[str] | None = None) -> Path:
    """Print every page of ``_toc.yml`` (or ``docs``), in order, from the built HTML to one PDF ``out``.

    Headless Chromium (Debian's ``chromium``, or ``chromium``) prints each page with the
    print stylesheet of the site (no navigation, code wrapped, nothing clipped) once MathJax
    has typeset it; the pages are joined with pypdf, one bookmark per chapter.
    """
    from playwright.sync_api import sync_playwright
    from pypdf import PdfWriter

    html, out = Path(html).resolve(), Path(out).resolve()
    chromium = chromium or os.environ.get("ABSTRACTNB_CHROMIUM") or shutil.which("chromium") or \
        shutil.which("chromium-browser")
    if not chromium:
        raise RuntimeError("no Chromium found: apt-get install chromium (or set ABSTRACTNB_CHROMIUM)")
    parts = []
    tmp = out.parent / (out.stem + "-pages")
    tmp.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
            for doc in (toc_files(root) if docs is None else docs):
                src = html / f"{doc}.html"
                if not src.is_file():
                    continue
                page.goto(src.as_uri(), wait_until="load")
                page.evaluate("""async () => {
                    const m = window.MathJax && MathJax.startup && MathJax.startup.promise;
                    if (m) await m;
                    document.querySelectorAll("details").forEach((d) => { d.open = false; });
                }""")
                page.emulate_media(media="print")
                target = tmp / (doc.replace("/", "_") + ".pdf")
                page.pdf(path=str(target), format="A4", print_background=True,
                         margin={"top": "16mm", "bottom": "16mm", "left": "14mm", "right": "14mm"})
                parts.append((page.title().split("—")[0].split(" - ")[0].strip(), target))
        finally:
            browser.close()
    writer = PdfWriter()
    for title, target in parts:
        start = len(writer.pages)
        writer.append(str(target))
        writer.add_outline_item(title=title, page_number=start)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as fh:
        writer.write(fh)
    shutil.rmtree(tmp, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    cmd, args = argv[0], argv[1:]
    if cmd == "url":
        print(repository_url())
    elif cmd == "check":
        problems = check_install_cells()
        for nb, problem in problems.items():
            print(f"{nb}: install cell {problem} (python -m abstractnb._book sync)")
        return 1 if problems else 0
    elif cmd == "sync":
        for nb in sync_install_cells():
            print(f"rewrote the install cell of {nb}")
    elif cmd == "html":
        print(build_html(args[0] if args else ROOT / "_build" / "site-test"))
    elif cmd == "pdf":
        html = Path(args[0]) if args else ROOT / "_build" / "_build" / "html"
        out = Path(args[1]) if len(args) > 1 else ROOT / "_build" / "book.pdf"
        print(print_pdf(html, out))
    else:
        print(f"unknown command {cmd!r}; see python -m abstractnb._book --help", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
