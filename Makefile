# Two commands: `make book` and `make test` (and, for courses, `make assignments` and
# `make student-book`). Both create .venv from requirements.txt
# on first use (Python 3.11 or newer on PATH as python3) and install the package into it.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test book student-book assignments site pdf clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Small dense problems: one BLAS/torch thread avoids the thread contention that slows
# them down many times over on a 2-core machine.
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

# Package tests and every notebook under nbval (checks inside the notebooks, and the
# outputs of cells marked NBVAL_CHECK_OUTPUT compared with the stored ones), on every core
# (pytest-xdist; --dist loadfile keeps each notebook's cells together on one worker), and the
# browser test of the site (tests/test_site.py: the HTML of `make book` when it is up to
# date, else a copy built without executing anything). Without Chromium its browser checks
# are skipped, and the line below and pytest's summary (-rs) say so.
test: $(STAMP)
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  echo "*** no Chromium on PATH: the browser checks of tests/test_site.py will be SKIPPED (apt-get install chromium) ***"
	MPLBACKEND=agg $(PY) -m pytest -n auto --dist loadfile tests book --nbval-lax -p no:cacheprovider -rs

# Strict HTML build: every notebook executed, any warning is an error. Each kernel logs that
# it talks to the builder over local TCP without encryption (harmless, on this machine): the
# line is dropped so that a real warning stands out.
book: $(STAMP)
	set -o pipefail; $(VENV)/bin/jupyter-book build . --path-output _build -W -n --keep-going 2>&1 \
	  | { grep -v "Kernel is running over TCP without encryption" || true; }

# The student edition: the same strict build with every exercise solution left out of the
# HTML (the configuration is derived from _config.yml by _ext/student_edition.py).
STUDENT_BOOK := _build/student
student-book: $(STAMP)
	$(PY) _ext/student_edition.py _config.yml $(STUDENT_BOOK)/_config.yml
	set -o pipefail; $(VENV)/bin/jupyter-book build . --config $(STUDENT_BOOK)/_config.yml \
	  --path-output $(STUDENT_BOOK) -W -n --keep-going 2>&1 \
	  | { grep -v "Kernel is running over TCP without encryption" || true; }

# Otter-grader assignments: each master notebook in assignments/ becomes
# _build/assignments/<name>/student/ (the notebook to hand out) and
# _build/assignments/<name>/autograder/ (autograder zip for `otter run`). otter assign also
# runs the reference solutions against every test, public and hidden, and fails if one fails.
ASSIGNMENTS := $(wildcard assignments/hw*.ipynb)
assignments: $(STAMP)
	rm -rf _build/assignments
	set -e; for nb in $(ASSIGNMENTS); do \
	  name=$$(basename $$nb .ipynb); \
	  echo "otter assign $$nb -> _build/assignments/$$name"; \
	  MPLBACKEND=agg $(VENV)/bin/otter assign $$nb _build/assignments/$$name; \
	done

# The HTML from the notebooks' stored outputs, nothing executed (about a minute), into
# _build/site-test/_build/html: for work on the site itself (CSS, configuration, API pages).
site: $(STAMP)
	$(PY) -m abstractnb._book html _build/site-test

# The whole book as one PDF, _build/book.pdf: every page of _toc.yml printed by headless
# Chromium with the site's print stylesheet, from the HTML of `make book` (or of `make site`:
# make pdf PDF_FROM=_build/site-test/_build/html).
PDF_FROM ?= _build/_build/html
pdf: $(STAMP)
	@test -f $(PDF_FROM)/index.html || { echo "no HTML in $(PDF_FROM): run make book (or make site) first"; exit 1; }
	$(PY) -m abstractnb._book pdf $(PDF_FROM) _build/book.pdf

clean:
	rm -rf _build
