# Two commands: `make book` and `make test`. Both create .venv from requirements.txt
# on first use (Python 3.11 or newer on PATH as python3) and install the package into it.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test book site pdf clean

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
# outputs of cells marked NBVAL_CHECK_OUTPUT compared with the stored ones), and the browser
# test of the site (tests/test_site.py: the HTML of `make book` when it is up to date, else a
# copy built without executing anything). Without Chromium its browser checks are skipped,
# and the line below and pytest's summary (-rs) say so.
test: $(STAMP)
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  echo "*** no Chromium on PATH: the browser checks of tests/test_site.py will be SKIPPED (apt-get install chromium) ***"
	MPLBACKEND=agg $(PY) -m pytest tests book --nbval-lax -p no:cacheprovider -rs

# Strict HTML build: every notebook executed, any warning is an error. Each kernel logs that
# it talks to the builder over local TCP without encryption (harmless, on this machine): the
# line is dropped so that a real warning stands out.
book: $(STAMP)
	set -o pipefail; $(VENV)/bin/jupyter-book build . --path-output _build -W -n --keep-going 2>&1 \
	  | { grep -v "Kernel is running over TCP without encryption" || true; }

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
