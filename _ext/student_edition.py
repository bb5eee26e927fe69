"""The student edition of the book: every exercise solution left out of the HTML.

Used by ``make student-book``. sphinx-exercise's own ``hide_solutions`` option cannot do it
for this book: in sphinx-exercise 1.2.1 it drops ``{solution}`` directives but not the gated
``{solution-start}`` ... ``{solution-end}`` pairs the chapters use (their solutions contain
code cells), whose content stays on the page while the orphaned end marker fails the build.
This extension removes every solution node, plain or gated, once sphinx-exercise has merged
the gated ones; it acts only when the Sphinx option ``student_edition`` is true. The student
configuration also keeps the notebook sources (which hold the solutions) out of the site.

Run as a script, it writes the configuration of the student build, derived from the book's
own ``_config.yml`` so that the two never drift apart::

    python _ext/student_edition.py _config.yml _build/student/_config.yml
    jupyter-book build . --config _build/student/_config.yml --path-output _build/student
"""
from __future__ import annotations

import sys
from pathlib import Path

#: The banner of every page of the student edition.
ANNOUNCEMENT = "Student edition: the solutions of the exercises are not included."


def setup(app):
    from sphinx.transforms import SphinxTransform
    from sphinx_exercise.nodes import solution_node

    class RemoveSolutions(SphinxTransform):
        # After sphinx-exercise's MergeGatedSolutions (priority 10) has turned each
        # solution-start ... solution-end run of cells into one solution node.
        default_priority = 50

        def apply(self):
            if not self.config.student_edition:
                return
            for node in list(self.document.findall(solution_node)):
                node.parent.remove(node)

    def no_source_downloads(app, config):
        # Jupyter Book 1 does not pass html.use_download_button on to the theme; without the
        # copied sources the button would only link to missing files.
        if config.student_edition:
            config.html_theme_options = {**config.html_theme_options, "use_download_button": False}
            config.html_copy_source = False

    app.setup_extension("sphinx_exercise")
    app.add_config_value("student_edition", False, "env")
    app.add_transform(RemoveSolutions)
    app.connect("config-inited", no_source_downloads)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def student_config(config: dict, book_dir: Path | None = None) -> dict:
    """The book configuration ``config`` (a loaded _config.yml) turned into the student edition's.

    ``book_dir`` is the folder of the book's _config.yml: the student configuration lives
    elsewhere, so the book's local extensions are given as absolute paths from there.
    """
    out = dict(config)
    sphinx = dict(out.get("sphinx") or {})
    base = Path(book_dir) if book_dir is not None else Path.cwd()
    local = {name: str((base / path).resolve()) for name, path in (sphinx.get("local_extensions") or {}).items()}
    local["student_edition"] = str(Path(__file__).resolve().parent)
    sphinx["local_extensions"] = local
    # The sources (notebooks with their solutions) are not copied into the site, and nothing
    # links to them: no download button, no launch buttons (Binder and Colab would open the
    # repository's notebooks, solutions included).
    sphinx["config"] = {**(sphinx.get("config") or {}), "student_edition": True, "html_copy_source": False}
    out["sphinx"] = sphinx
    html = dict(out.get("html") or {})
    html["announcement"] = ANNOUNCEMENT
    html["use_download_button"] = False
    out["html"] = html
    out["launch_buttons"] = {**(out.get("launch_buttons") or {}), "binderhub_url": "", "colab_url": "",
                             "jupyterhub_url": "", "thebe": False}
    return out


def main(argv: list[str]) -> int:
    import yaml

    if len(argv) != 2:
        print("usage: python _ext/student_edition.py BOOK_CONFIG.yml STUDENT_CONFIG.yml", file=sys.stderr)
        return 2
    src, dst = Path(argv[0]), Path(argv[1])
    config = yaml.safe_load(src.read_text(encoding="utf8")) or {}
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(f"# Generated from {src} by _ext/student_edition.py: do not edit.\n"
                   + yaml.safe_dump(student_config(config, src.resolve().parent), sort_keys=False),
                   encoding="utf8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
