# One entry point for every routine. `make run` and `make test` are the README's quick start.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-fast lint services-up services-down bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/parley serve

lint: install
	$(BIN)/ruff check event_log domain commands projections api adapters parley migrations tests bench
	$(BIN)/mypy event_log domain commands projections adapters api
	PYTHONPATH=$(CURDIR) $(BIN)/lint-imports --no-cache

services-up: install
	bash deploy/services.sh up

services-down:
	bash deploy/services.sh down

# Installs everything, starts the real services, runs lint and the whole suite, stops them.
test: install
	$(MAKE) lint
	bash deploy/services.sh up
	eval "$$(bash deploy/services.sh env)" && $(BIN)/pytest -q -p no:cacheprovider --durations=25; \
	  status=$$?; bash deploy/services.sh down; exit $$status

# Unit and embedded tests only: no services needed.
test-fast: install
	$(BIN)/pytest -q -m "not services"

bench: install
	command -v wrk >/dev/null || (apt-get install -y -q wrk || (apt-get update -q && apt-get install -y -q wrk))
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
