# The README's two commands:  `make run` (the studies, quick mode)  and  `make test`.
# Both create .venv and install the project from pyproject.toml first, so they work on a
# fresh clone. Use PYTHON=python3.11 to pick an interpreter (3.10-3.12).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
MODE ?= quick
OUT ?= results

.PHONY: setup run test lab info clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

run: setup
	$(PY) -m toolkit info
	$(PY) -m toolkit run all --mode $(MODE) --out $(OUT)

test: setup
	$(PY) -m pytest -q

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

info: setup
	$(PY) -m toolkit info

clean:
	rm -rf $(OUT) .pytest_cache
