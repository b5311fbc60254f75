# `make preview` and `make test` work on a fresh clone with nothing but Python 3.11+:
# the first run creates .venv and installs the pinned dependencies.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install packs tools preview real-preview test lint lint-types lint-ci bench clean

SUPPORT := policies/pack-support
SUPPORT_FILES := $(SUPPORT)/pyproject.toml $(wildcard $(SUPPORT)/ptc_policy_support/*.py)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml $(SUPPORT_FILES)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@# bytecode for this project's modules too, as pip writes it for installed packages (PYTHONDONTWRITEBYTECODE
	@# would otherwise have every run compile them from source); a stale file is ignored for its newer source.
	@$(BIN)/python -m compileall -q -x '/venv/' components ptc policies __main__.py > /dev/null
	@touch $@

install: $(STAMP)

PACKS := $(patsubst %/requirements.txt,%/venv/.installed,$(wildcard policies/*/requirements.txt))
packs: $(PACKS)  ## each policy pack's own virtualenv, as `pulumi preview --policy-pack` expects (runtime options: venv)
# The packs' shared package (ecr-ptc-policy-support, which each pins) comes from its folder here, from PyPI elsewhere.
policies/%/venv/.installed: policies/%/requirements.txt $(SUPPORT_FILES)
	@test -x policies/$*/venv/bin/python || $(PYTHON) -m venv policies/$*/venv
	policies/$*/venv/bin/python -m pip install --quiet --disable-pip-version-check ./$(SUPPORT) -r $<
	@touch $@

preview: $(STAMP)  ## the dev stack through the mock engine and every policy pack
	$(BIN)/python -m ptc preview --stack dev

# The real Pulumi CLI, built from the Go module proxy at the version tools/go.mod pins (the first build takes
# 5-10 minutes on 2 cores; later runs are no-ops), and the stand-in Python language host the tests run it with
# (tests/standin/README.md says why it is a stand-in). Nothing is downloaded but Go modules.
TOOLS := .tools/bin
# The version a binary reports is its module's, as Pulumi's release builds set it.
version_flag = -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$$(go list -m -f '{{.Version}}' $(1))"
$(TOOLS)/pulumi: tools/go.mod tools/go.sum
	cd tools && GOBIN=$(CURDIR)/$(TOOLS) go install $(call version_flag,github.com/pulumi/pulumi/pkg/v3) \
		github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
$(TOOLS)/pulumi-language-python: tests/standin/go.mod tests/standin/go.sum tests/standin/pulumi-language-python/main.go
	cd tests/standin && GOBIN=$(CURDIR)/$(TOOLS) go install $(call version_flag,github.com/pulumi/pulumi/sdk/v3) \
		./pulumi-language-python
	@# The executor script the host runs programs with, from the same release of Pulumi's SDK module.
	install -m 0755 "$$(cd tools && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)/python/cmd/pulumi-language-python-exec" $(TOOLS)/
$(TOOLS)/pulumi-language-nodejs: tests/standin/go.mod tests/standin/go.sum tests/standin/pulumi-language-nodejs/main.go
	cd tests/standin && GOBIN=$(CURDIR)/$(TOOLS) go install $(call version_flag,github.com/pulumi/pulumi/sdk/v3) \
		./pulumi-language-nodejs
tools: $(TOOLS)/pulumi $(TOOLS)/pulumi-language-python $(TOOLS)/pulumi-language-nodejs  ## the real Pulumi CLI and the stand-in language hosts in .tools/bin

STACK ?= dev
real-preview: $(STAMP) packs tools  ## `pulumi preview` of Pulumi.$(STACK).yaml with both packs: real CLI, stand-in providers, moto
	$(BIN)/python -m tests.real_engine preview $(STACK)

TEST_WORKERS ?= auto
test: $(STAMP) packs tools  ## the suite on every core (pytest-xdist); `make test TEST_WORKERS=0` runs it in one process
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

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
	$(BIN)/check-jsonschema --builtin-schema vendor.gitlab-ci .gitlab-ci.yml .gitlab/*.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) policies/*/venv .pytest_cache .hypothesis .mypy_cache .tools
