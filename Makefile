# Two commands: `make book` and `make test`. Both create .venv from requirements.txt
# on first use (Python 3.11 or newer on PATH as python3) and install the package into it.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test book clean

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
# outputs of cells marked NBVAL_CHECK_OUTPUT compared with the stored ones).
test: $(STAMP)
	MPLBACKEND=agg $(PY) -m pytest tests book --nbval-lax -p no:cacheprovider

# Strict HTML build: every notebook executed, any warning is an error. Each kernel logs that
# it talks to the builder over local TCP without encryption (harmless, on this machine): the
# line is dropped so that a real warning stands out.
book: $(STAMP)
	set -o pipefail; $(VENV)/bin/jupyter-book build . --path-output _build -W -n --keep-going 2>&1 \
	  | { grep -v "Kernel is running over TCP without encryption" || true; }

clean:
	rm -rf _build
