# byhand — two commands from a fresh clone:
#   make serve   set up .venv, install, serve the site at http://127.0.0.1:8000
#   make test    set up .venv if needed, install, run unit + parity tests, every doc snippet, strict docs build
#   make test-browser   every built page read in headless Chromium (tests/browser/check_site.py)
#
# TORCH_SPEC picks the torch wheel installed before the package (TORCH_INDEX an index to take it from);
# CI pins the CPU build:  make test TORCH_SPEC=torch==2.13.0

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch
TORCH_INDEX ?=
HOST ?= 127.0.0.1:8000

BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
KATEX := docs/vendor/katex

# KaTeX (docs/vendor/katex, gitignored) is fetched from the npm registry by the build itself
# (docs/hooks/checks.py), so plain `mkdocs serve` / `mkdocs build` work without this Makefile.
# `mkdocs serve` caches build-time results in .cache/byhand-build/; `mkdocs build` never does.

.PHONY: serve build test test-browser browser-deps pytest docs lint format bench install assets clean distclean

serve: install
	$(BIN)/mkdocs serve --dev-addr $(HOST)

build: install
	$(BIN)/mkdocs build --strict --site-dir site

test: install
	@$(MAKE) --no-print-directory pytest
	@$(MAKE) --no-print-directory docs

# pytest exits 5 when it collected nothing: for this project that means the wiring broke, so it fails.
pytest:
	@$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests (exit 5): the test or sybil wiring is broken" >&2; exit 1; fi; \
	exit $$rc

docs:
	$(BIN)/mkdocs build --strict --site-dir site

# Every page at 1280x900 and 390x844 in both palettes: console errors, failed or outside requests,
# unrendered math, code or equations wider than their box, broken links, figure text too small;
# then a self-test that plants one defect of each kind. It builds the site first unless
# SITE_BUILT=1 (CI sets it: `make test` has just built site/). Screenshots: .cache/browser-shots/.
test-browser: install browser-deps
	$(if $(SITE_BUILT),,$(BIN)/mkdocs build --strict --site-dir site)
	$(BIN)/python tests/browser/check_site.py --site site --self-test

# Debian's chromium, its driver and the monospace font most Linux readers have (DejaVu Sans Mono).
browser-deps:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null \
	    || ! fc-list 2>/dev/null | grep -q DejaVuSansMono; then \
	  echo "installing chromium, chromium-driver, fonts-dejavu-core (apt-get)"; \
	  apt-get update -qq && apt-get install -y -qq chromium chromium-driver fonts-dejavu-core >/dev/null; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python benchmarks/run.py --threads 1,2

install: $(INSTALLED)

# The KaTeX copy ahead of the build (the build fetches it too when it is missing).
assets: install
	$(BIN)/python docs/hooks/checks.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

clean:
	rm -rf site $(KATEX) .cache/byhand-build .cache/mkdocs-jupyter .pytest_cache .ruff_cache
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) src/*.egg-info
