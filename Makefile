# The README's two commands:  `make run` (the studies, quick mode)  and  `make test`.
# Both create .venv and install the project from pyproject.toml first, so they work on a
# fresh clone. Use PYTHON=python3.11 to pick an interpreter (3.10-3.12).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
MODE ?= quick
# studies at once (one torch thread each, ~1.6 GB each): faster on 2 cores, if memory allows
JOBS ?= 1
OUT ?= results

.PHONY: setup browser dft run test test-fast test-binder lab work info bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

run: setup
	$(PY) -m toolkit info
	$(PY) -m toolkit run all --mode $(MODE) --out $(OUT) --jobs $(JOBS)

# The browser tests drive Debian's Chromium (never a browser Playwright downloads itself).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "make: no chromium (install Debian's chromium as root); the browser tests will be skipped"

# DFT (GPAW), optional: Debian's libxc and OpenBLAS (as root), then a serial GPAW build from the package index
# (a build config without MPI: without one, the build picks up an MPI compiler wrapper and fails) and the
# PAW setups of gpaw-data. The DFT tests are skipped, with this command named, where it did not work.
dft: setup
	@$(PY) -c "import gpaw, gpaw_data" 2>/dev/null || { \
	  { [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libxc-dev libopenblas-dev >/dev/null; }; } && \
	  printf "mpi = False\ncompiler = 'gcc'\nlibraries = ['xc', 'openblas']\n" > $(VENV)/gpaw-siteconfig.py && \
	  GPAW_CONFIG=$(abspath $(VENV))/gpaw-siteconfig.py $(PY) -m pip install --quiet -e '.[dft]'; } || \
	  echo "make: GPAW did not install (it needs libxc-dev and libopenblas-dev); the DFT tests will be skipped"

test: setup browser dft
	$(PY) -m pytest -q -m "not binder"

# Binder's pip build in a fresh virtual environment, then postBuild's offline steps (minutes, about 2 GB).
test-binder: setup
	$(PY) -m pytest -q -m binder

# The inner loop: everything but the study runs and the browser tests (a few minutes). CI runs `make test`.
test-fast: setup
	$(PY) -m pytest -q -m "not slow and not browser and not binder"

# JupyterLab on working copies of the notebooks in work/ (git-ignored), so that running them never changes
# the committed notebooks/ (stored without outputs). A copy already there is kept: delete it to start over
# from the current notebooks/.
lab: setup work
	$(VENV)/bin/jupyter lab work/

work:
	@mkdir -p work && for nb in notebooks/*.ipynb; do [ -e "work/$${nb##*/}" ] || cp "$$nb" work/; done
	@echo "make: working copies of the notebooks are in work/ (delete one to get the current version back)"

# Benchmarks print tables of ratios measured side by side in one run; those that record them write
# bench/results/<name>.json, and bench/record.py gathers them into bench/RESULTS.md.
bench: setup
	$(PY) -m pip install --quiet -e '.[test,bench]'
	$(PY) bench/md_engine.py
	$(PY) bench/students.py
	$(PY) bench/student_widths.py
	$(PY) bench/diffusion.py
	$(PY) bench/chgnet_batch.py
	$(PY) bench/notebooks.py
	$(PY) bench/record.py

info: setup
	$(PY) -m toolkit info

clean:
	rm -rf $(OUT) .pytest_cache
