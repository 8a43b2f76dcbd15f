# Cổng — one command per task. `make run` and `make test` do all set-up themselves.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# llama.cpp's AMX kernels crash on some CPUs that report AMX: build without them.
export CFLAGS   ?= -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
export CXXFLAGS ?= -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
export CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF
export HF_HUB_OFFLINE := 1

.PHONY: run test lint typecheck format bench install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	scripts/install.sh $(BIN)/pip -e ".[models]"
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed-run
	scripts/install.sh $(BIN)/pip -e ".[models,dev]"
	@touch $@

install: $(VENV)/.installed-run
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/cong serve

test: install-dev
	scripts/ensure-postgres.sh
	scripts/ensure-redis.sh
	scripts/ensure-chromium.sh
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install-dev
	$(BIN)/mypy

format: install-dev
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: install-dev
	$(BIN)/python bench/run_gateway_bench.py --out bench/results.md

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
