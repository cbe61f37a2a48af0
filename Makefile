# byhand — two commands from a fresh clone:
#   make serve   set up .venv, install, serve the site at http://127.0.0.1:8000
#   make test    set up .venv if needed, install, run unit + parity tests, every doc snippet, strict docs build
#
# TORCH_SPEC picks the torch wheel installed before the package (TORCH_INDEX an index to take it from);
# CI pins the CPU build:  make test TORCH_SPEC=torch==2.13.0

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch
TORCH_INDEX ?=
KATEX_VERSION ?= 0.19.1
HOST ?= 127.0.0.1:8000

BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
KATEX := docs/vendor/katex
export NO_MKDOCS_2_WARNING := 1

.PHONY: serve build test pytest docs lint format bench install assets clean distclean

serve: install assets
	$(BIN)/mkdocs serve --dev-addr $(HOST)

build: install assets
	$(BIN)/mkdocs build --strict --site-dir site

test: install assets
	@$(MAKE) --no-print-directory pytest
	@$(MAKE) --no-print-directory docs

# pytest exits 5 when it collected nothing: for this project that means the wiring broke, so it fails.
pytest:
	@$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests (exit 5): the test or sybil wiring is broken" >&2; exit 1; fi; \
	exit $$rc

docs:
	$(BIN)/mkdocs build --strict --site-dir site

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python benchmarks/bench.py

install: $(INSTALLED)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# KaTeX from the npm registry, unpacked into a gitignored folder the site serves: math renders offline.
assets: $(KATEX)/.version-$(KATEX_VERSION)

$(KATEX)/.version-$(KATEX_VERSION):
	@command -v npm >/dev/null || { echo "make assets: npm is needed to fetch katex@$(KATEX_VERSION) from the npm registry" >&2; exit 1; }
	rm -rf $(KATEX).tmp && mkdir -p $(KATEX).tmp
	cd $(KATEX).tmp && npm pack --silent katex@$(KATEX_VERSION) >/dev/null
	tar -xzf $(KATEX).tmp/katex-$(KATEX_VERSION).tgz -C $(KATEX).tmp --strip-components=2 \
		package/dist/katex.min.js package/dist/katex.min.css package/dist/contrib/auto-render.min.js package/dist/fonts
	rm $(KATEX).tmp/katex-$(KATEX_VERSION).tgz && touch $(KATEX).tmp/.version-$(KATEX_VERSION)
	rm -rf $(KATEX) && mv $(KATEX).tmp $(KATEX)

clean:
	rm -rf site $(KATEX) $(KATEX).tmp .pytest_cache .ruff_cache
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) src/*.egg-info
