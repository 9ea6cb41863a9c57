# Tandem: every target does its own set-up on a fresh machine with Python 3.11+ and make.
PYTHON ?= python3
PORT   ?= 8501
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RUNTIME_STAMP := $(VENV)/.runtime

.PHONY: run test test-slow test-fast bench browser-deps lint clean

# the runtime only (make run): no test tools
$(RUNTIME_STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Tandem needs Python 3.11 or newer (found $$($(PYTHON) --version))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	touch $(RUNTIME_STAMP)

# the runtime and the test extra (make test, lint, bench)
$(STAMP): $(RUNTIME_STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

## run: install the runtime, seed demo data into an empty database, serve the app on
## http://localhost:$(PORT) (PORT=8502 make run for another port; staff password:
## TANDEM_ADMIN_PASSWORD, or a fresh random one printed here)
run: $(RUNTIME_STAMP)
	TANDEM_BASE_URL=$${TANDEM_BASE_URL:-http://localhost:$(PORT)} $(BIN)/tandem demo --if-empty
	@if [ -z "$$TANDEM_ADMIN_PASSWORD" ]; then \
	  TANDEM_ADMIN_PASSWORD=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(12))'); \
	  echo "Staff area: http://localhost:$(PORT)  password for this run: $$TANDEM_ADMIN_PASSWORD"; \
	fi; \
	TANDEM_BASE_URL=$${TANDEM_BASE_URL:-http://localhost:$(PORT)} TANDEM_ADMIN_PASSWORD=$$TANDEM_ADMIN_PASSWORD \
	  exec $(BIN)/streamlit run app.py --server.port $(PORT) --server.headless true

## test: install with test extras, run the gates (make lint), then the whole default suite
## (PostgreSQL and browser tests included)
test: $(STAMP) browser-deps lint
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest

## test-fast: the suite without the browser, PostgreSQL and slow tests (a quick check while working)
test-fast: $(STAMP)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -m 'not slow and not browser and not postgres'

## lint: ruff (rules in pyproject.toml) and the import-linter layer contracts
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

## test-slow: the long statistical checks (coverage over many seeded replications)
test-slow: $(STAMP)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -m slow

## browser-deps: Debian's Chromium for the end-to-end tests and Graphviz's dot for the diagram
## tests (installed when missing and we may)
browser-deps:
	@bash scripts/ensure-chromium.sh

## bench: the benchmarks whose figures are in the docs (one: .venv/bin/python -m bench NAME)
bench: $(STAMP)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BIN)/python -m bench

## clean: remove the virtualenv and build files
clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
