# The two commands of the README: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: demo test lint typecheck layers unit crds bench bench-costexplorer bench-compare clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)  ## run the operator's sweep against an embedded AWS (ARGS=--once to stop after one)
	$(BIN)/mlcost demo $(ARGS)

test: lint typecheck layers unit  ## everything CI runs

lint: $(STAMP)
	$(BIN)/ruff check operator tests bench
	$(BIN)/ruff format --check operator tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/python -m pytest $(ARGS)

crds: $(STAMP)  ## regenerate crds/ from the API models
	$(BIN)/mlcost crds

.PHONY: lock
# The image's runtime dependencies, pinned with hashes for pip --require-hashes (Dockerfile), for
# Python 3.11 on every platform (linux x86_64 and aarch64 alike). Run after changing pyproject.toml's
# dependencies; tests/deploy/test_image_lock.py fails while the lock is stale. Needs PyPI.
lock: $(STAMP)  ## regenerate requirements.lock from pyproject.toml
	test -x $(BIN)/uv || $(BIN)/pip install --quiet 'uv>=0.5,<1'
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --universal --python-version 3.11 \
		--custom-compile-command "make lock" --quiet --output-file requirements.lock

bench: $(STAMP)
	$(BIN)/python bench/sweep.py

bench-costexplorer: $(STAMP)  ## Cost Explorer requests a day for 50 policies and a report (~7 min)
	$(BIN)/python bench/costexplorer.py

bench-compare: $(STAMP)  ## our sweeps beside Cloud Custodian's tag audit, 1,000 and 9,000 resources at 25 ms (~17 min; installs c7n into bench/.venv-c7n)
	$(BIN)/python bench/compare.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
