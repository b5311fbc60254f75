# `make preview` and `make test` work on a fresh clone with nothing but Python 3.11+:
# the first run creates .venv and installs the pinned dependencies.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install packs preview test lint bench clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

install: $(STAMP)

packs:  ## each policy pack's own virtualenv, as `pulumi preview --policy-pack` expects (runtime options: venv)
	@for pack in policies/*/; do \
		test -x $$pack/venv/bin/python || $(PYTHON) -m venv $$pack/venv; \
		$$pack/venv/bin/python -m pip install --quiet --disable-pip-version-check -r $$pack/requirements.txt; \
	done

preview: $(STAMP)  ## the dev stack through the mock engine and every policy pack
	$(BIN)/python -m ptc preview --stack dev

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)  ## ruff's checks and its formatting (`$(BIN)/ruff format .` fixes the latter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) policies/*/venv .pytest_cache .hypothesis
