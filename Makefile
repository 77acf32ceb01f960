# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PY       ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
PORT     ?= 8000
DATA_DIR ?= ./data

.PHONY: run run-deps demo test test-fast lint fmt bench system-deps clean

# The client address (login throttling) is the TCP peer unless the proxies to
# trust are named: FORWARDED_ALLOW_IPS=10.0.0.5 make run (uvicorn then takes
# X-Forwarded-For from those addresses only). See docs/infra.md, "Client address".
FORWARDED_ALLOW_IPS ?=
ifeq ($(strip $(FORWARDED_ALLOW_IPS)),)
PROXY_FLAGS := --no-proxy-headers
else
PROXY_FLAGS := --proxy-headers --forwarded-allow-ips '$(FORWARDED_ALLOW_IPS)'
endif

$(BIN)/.runtime: requirements.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

$(BIN)/.dev: requirements-dev.txt $(BIN)/.runtime
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

## Start the local service on 127.0.0.1:$(PORT) with the data dir $(DATA_DIR)
## (installs the offline speech engine first when root).
run: $(BIN)/.runtime run-deps
	@DATA_DIR=$(DATA_DIR) $(BIN)/python -m app first-run-hint
	DATA_DIR=$(DATA_DIR) PUBLIC_URL=$${PUBLIC_URL:-http://127.0.0.1:$(PORT)} \
		$(BIN)/uvicorn app.main:app --host 127.0.0.1 --port $(PORT) --no-server-header $(PROXY_FLAGS)

run-deps:
	@bash scripts/system-deps.sh run

## Try every page without a Yoto account: the fake Yoto cloud and the service
## wired to it on 127.0.0.1:$(PORT), a throw-away data dir, and an admin whose
## generated password is printed once (scripts/demo.py). Ctrl-C stops it all.
demo: $(BIN)/.runtime
	$(BIN)/python scripts/demo.py --port $(PORT)

## Install everything the tests need (apt packages too, when root) and run the whole suite
## on $(TEST_WORKERS) workers (a file, or a group from tests/tiers.py, stays on one worker).
TEST_WORKERS ?= 2
test: $(BIN)/.dev system-deps lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

## The unit tier alone (tests/tiers.py): pure code and the memory ports, no sockets, no processes.
## Only the tier's own files are collected (importing the other suites would cost more than running these).
test-fast: $(BIN)/.dev
	$(BIN)/python -m pytest -q -m unit $(shell $(BIN)/python -m tests.tiers unit)

system-deps:
	@bash scripts/system-deps.sh test

lint: $(BIN)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(BIN)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(BIN)/.dev system-deps
	$(BIN)/python bench/import_cost.py

clean:
	rm -rf $(VENV) .build .pytest_cache .ruff_cache
