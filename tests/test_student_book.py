"""The student edition (``make student-book``) leaves every exercise solution out of the HTML.

Building the real book twice would take as long as two ``make book`` runs, so this builds a
small fixture book (execution off) with the same mechanism the Makefile uses: the student
configuration derived from the book's by ``_ext/student_edition.py``, passed to
``jupyter-book build --config``. The fixture has both kinds of solution the chapters use, a
plain ``{solution}`` and a gated ``{solution-start}`` ... ``{solution-end}`` run of cells,
in a Markdown page and in a notebook with a code cell inside the solution.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "_ext" / "student_edition.py"
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")

SOLUTION_TEXT = ["PLAIN_SOLUTION_TEXT", "GATED_SOLUTION_TEXT", "NOTEBOOK_SOLUTION_TEXT", "NOTEBOOK_SOLUTION_CODE"]
KEPT_TEXT = ["MD_EXERCISE_TEXT", "NB_EXERCISE_TEXT", "TEXT_AFTER_SOLUTIONS", "NOTEBOOK_TEXT_AFTER"]

PAGE = """\
# Fixture page

:::{exercise}
:label: fx-md-ex

Prove MD_EXERCISE_TEXT.
:::

:::{solution-start} fx-md-ex
:class: dropdown
:::

GATED_SOLUTION_TEXT is the answer.

```python
print("gated code")
```

:::{solution-end}
:::

:::{solution} fx-md-ex
:class: dropdown

PLAIN_SOLUTION_TEXT
:::

TEXT_AFTER_SOLUTIONS, with a reference to {ref}`the exercise <fx-md-ex>`.
"""


def _notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Fixture notebook\n\n:::{exercise}\n:label: fx-nb-ex\n\n"
                                      "Compute NB_EXERCISE_TEXT.\n:::"),
        nbformat.v4.new_markdown_cell(":::{solution-start} fx-nb-ex\n:class: dropdown\n:::\n\n"
                                      "NOTEBOOK_SOLUTION_TEXT follows."),
        nbformat.v4.new_code_cell('print("NOTEBOOK_SOLUTION_CODE")'),
        nbformat.v4.new_markdown_cell(":::{solution-end}\n:::"),
        nbformat.v4.new_markdown_cell("NOTEBOOK_TEXT_AFTER."),
    ]
    return nb


def _build(book: Path, config: Path, out: Path) -> tuple[str, str]:
    """Build ``book`` with ``config`` strictly, as the Makefile does.

    Returns the HTML of the two pages, and the text of every file of the site (sources,
    search index, ...), where solution text must not hide either."""
    cmd = [str(JUPYTER_BOOK), "build", str(book), "--config", str(config), "--path-output", str(out),
           "-W", "-n", "--keep-going"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"{' '.join(cmd)} failed:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    html = out / "_build" / "html"
    pages = "\n".join((html / name).read_text(encoding="utf8") for name in ("page.html", "notebook.html"))
    site = "\n".join(f.read_text(encoding="utf8", errors="ignore") for f in html.rglob("*") if f.is_file())
    return pages, site


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    book = tmp_path_factory.mktemp("fixture_book")
    (book / "_config.yml").write_text(yaml.safe_dump({
        "title": "Fixture",
        "only_build_toc_files": True,
        "execute": {"execute_notebooks": "off"},
        "sphinx": {"extra_extensions": ["sphinx_exercise"]},
    }), encoding="utf8")
    (book / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n  - file: page\n  - file: notebook\n",
                                   encoding="utf8")
    (book / "index.md").write_text("# Fixture\n\nA tiny book.\n", encoding="utf8")
    (book / "page.md").write_text(PAGE, encoding="utf8")
    nbformat.write(_notebook(), book / "notebook.ipynb")
    student_config = book / "_build" / "student" / "_config.yml"
    subprocess.run([sys.executable, str(SCRIPT), str(book / "_config.yml"), str(student_config)], check=True)
    normal = _build(book, book / "_config.yml", book / "_build" / "normal")
    student = _build(book, student_config, book / "_build" / "student")
    return normal, student


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def test_normal_build_has_the_solutions(builds):
    (normal, _), _ = builds
    for marker in SOLUTION_TEXT + KEPT_TEXT:
        assert marker in normal, f"{marker} missing from the normal build"
    assert "Solution to" in _text(normal)


def test_student_build_has_no_solution_text(builds):
    _, (student, site) = builds
    for marker in SOLUTION_TEXT:
        assert marker not in site, f"solution text {marker} leaked into the student build"
    assert "Solution to" not in _text(student)
    assert 'class="solution' not in student
    assert "btn-download-source-button" not in student     # no link to the notebooks' sources


def test_student_build_keeps_the_exercises_and_the_text(builds):
    _, (student, _) = builds
    for marker in KEPT_TEXT:
        assert marker in student, f"{marker} missing from the student build"
    assert "Student edition" in student   # the banner says which edition this is


def test_student_config_is_derived_from_the_book_config():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import student_edition
    finally:
        sys.path.pop(0)
    book = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf8"))
    student = student_edition.student_config(book)
    assert student["sphinx"]["config"]["student_edition"] is True
    assert Path(student["sphinx"]["local_extensions"]["student_edition"]) == SCRIPT.parent
    # Everything else is the book's own configuration, so the two builds cannot drift apart.
    for key in book:
        if key not in ("sphinx", "html", "launch_buttons"):
            assert student[key] == book[key]
    # Binder and Colab would open the repository's notebooks, solutions included.
    assert not student["launch_buttons"].get("binderhub_url") and not student["launch_buttons"].get("colab_url")
    assert student["sphinx"]["config"]["html_copy_source"] is False
    for key, value in book["sphinx"]["config"].items():
        assert student["sphinx"]["config"][key] == value
    assert student["sphinx"]["extra_extensions"] == book["sphinx"]["extra_extensions"]
    assert "student_edition" not in (book["sphinx"].get("config") or {})   # the normal build is untouched


def test_student_config_points_at_the_book_extensions(tmp_path):
    # the student configuration lives in another folder: the book's local extensions must be
    # absolute paths from the book's own _config.yml (a relative one broke the build)
    out = tmp_path / "student" / "_config.yml"
    subprocess.run([sys.executable, str(SCRIPT), str(ROOT / "_config.yml"), str(out)], check=True)
    local = yaml.safe_load(out.read_text())["sphinx"]["local_extensions"]
    assert "student_edition" in local and len(local) >= 2
    assert all(Path(p).is_absolute() and Path(p).is_dir() for p in local.values())
