# Two commands do all the set-up on a fresh machine (only the package registries reachable):
#   make demo   — create .venv if missing, install, index a small sample corpus, run text queries
#   make test   — create .venv if missing, install, lint + format check + type check + tests
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint install clean

$(STAMP): pyproject.toml setup.py constraints.txt mixsearch/store/_hit_table.c mixsearch/_search_arrays.c
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev,onnx,parquet,ray,serve]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" scripts/demo.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest -q -n 2 --durations=15

clean:
	rm -rf $(VENV) demo-store
