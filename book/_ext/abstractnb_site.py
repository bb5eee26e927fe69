"""The site's own Sphinx extension: the few fixes to the HTML book that need code.

Loaded through ``sphinx: local_extensions`` in ``_config.yml``. It does three things:

* **One copy of each inline script.** With Sphinx 7.4, sphinx-thebe and sphinx-togglebutton
  add their inline configuration scripts twice (once with filename ``None``, once with
  ``''``), and the second ``const THEBE_JS_URL`` is a JavaScript error on every page. The
  duplicates are dropped when a page is written.
* **Alt text for output images.** myst-nb gives a notebook's output image its file path as
  ``alt``; a screen reader then reads a hash. Such an image gets the caption of its figure
  when it has one, else a plain description.
* **Author–year bibliography labels.** A pybtex style ``authoryear`` (``bibtex_default_style``)
  labels entries "Wang et al., 2025", as the citations in the text read, instead of the
  default alpha labels "[WJF25]", and sorts them by author and year.
"""
from __future__ import annotations

import re

from docutils import nodes

_PATHLIKE = re.compile(r"^(\.\./)*_images/|\.(png|jpe?g|svg|gif)$", re.IGNORECASE)


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        key = (js.filename or "", tuple(sorted(js.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique   # the builder restores its own list after each page


def _alt_text(app, doctree, docname):
    for image in doctree.findall(nodes.image):
        alt = image.get("alt", "")
        if alt and not _PATHLIKE.search(alt) and alt != image.get("uri"):
            continue
        figure = image.parent if isinstance(image.parent, nodes.figure) else None
        caption = next(iter(figure.findall(nodes.caption)), None) if figure is not None else None
        if caption is not None:
            image["alt"] = caption.astext()
        else:
            image["alt"] = "Figure made by the code cell above"


def _register_bibliography_style():
    from pybtex.plugin import register_plugin
    from pybtex.style.formatting.unsrt import Style as UnsrtStyle
    from pybtex.style.labels import BaseLabelStyle

    def _last_names(entry):
        persons = entry.persons.get("author") or entry.persons.get("editor") or []
        return [" ".join(p.last_names) for p in persons]

    class AuthorYearLabelStyle(BaseLabelStyle):
        """'Wang et al., 2025', 'Boyd and Vandenberghe, 2004', 'Rigotti, 2013'."""

        def format_labels(self, sorted_entries):
            for entry in sorted_entries:
                names = [n.replace("{", "").replace("}", "") for n in _last_names(entry)]
                year = entry.fields.get("year", "n.d.")
                if not names:
                    who = entry.fields.get("title", entry.key)[:20]
                elif len(names) == 1:
                    who = names[0]
                elif len(names) == 2:
                    who = f"{names[0]} and {names[1]}"
                else:
                    who = f"{names[0]} et al."
                yield f"{who}, {year}"

    class AuthorYearStyle(UnsrtStyle):
        default_label_style = AuthorYearLabelStyle
        default_sorting_style = "author_year_title"

    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)


def setup(app):
    _register_bibliography_style()
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("doctree-resolved", _alt_text)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
