# `make preview` and `make test` work on a fresh clone with nothing but Python 3.11+:
# the first run creates .venv and installs the pinned dependencies.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install packs preview test lint lint-types lint-ci bench clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@# bytecode for this project's modules too, as pip writes it for installed packages (PYTHONDONTWRITEBYTECODE
	@# would otherwise have every run compile them from source); a stale file is ignored for its newer source.
	@$(BIN)/python -m compileall -q -x '/venv/' components ptc policies __main__.py > /dev/null
	@touch $@

install: $(STAMP)

packs:  ## each policy pack's own virtualenv, as `pulumi preview --policy-pack` expects (runtime options: venv)
	@for pack in policies/*/; do \
		test -x $$pack/venv/bin/python || $(PYTHON) -m venv $$pack/venv; \
		$$pack/venv/bin/python -m pip install --quiet --disable-pip-version-check -r $$pack/requirements.txt; \
	done

preview: $(STAMP)  ## the dev stack through the mock engine and every policy pack
	$(BIN)/python -m ptc preview --stack dev

TEST_WORKERS ?= auto
test: $(STAMP)  ## the suite on every core (pytest-xdist); `make test TEST_WORKERS=0` runs it in one process
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

lint: $(STAMP) lint-types lint-ci  ## ruff (checks, formatting: `$(BIN)/ruff format .` fixes it), mypy, CI schemas
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

lint-types: $(STAMP)  ## mypy, strict on components/ and ptc/ (pyproject.toml)
	@# mypy cannot follow the editable install's import hook: it reads components/ through a link named
	@# like the package (pyproject.toml: mypy_path).
	@mkdir -p $(VENV)/mypy && ln -sfn $(CURDIR)/components $(VENV)/mypy/ecr_pull_through_cache
	$(BIN)/mypy -p ecr_pull_through_cache -p ptc
	$(BIN)/mypy __main__.py

lint-ci: $(STAMP)  ## the workflow and pipeline files against their published schemas (vendored, offline)
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.gitlab-ci .gitlab-ci.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) policies/*/venv .pytest_cache .hypothesis .mypy_cache
