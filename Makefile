# densescope: `make run` starts the app, `make test` runs the whole suite.
# Both create .venv when missing, install requirements.txt into it, and prepare
# the built-in demo data (stdlib-docs encoded with MiniLM, numba caches warmed).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8501
HOST   ?= 127.0.0.1
N      ?= 2
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | cksum | cut -d' ' -f1)

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export RAY_AUTH_MODE := disabled
export RAY_USAGE_STATS_ENABLED := 0
export OMP_WAIT_POLICY := PASSIVE

.PHONY: run test install prepare lint bench clean serve-class

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar on -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

prepare: install
	$(BIN)/python -m core prepare

run: prepare
	@echo "densescope: open http://$(HOST):$(PORT)  (PORT=... and HOST=... to change; HOST=0.0.0.0 serves the network)"
	$(BIN)/streamlit run app.py --server.headless true --server.port $(PORT) --server.address $(HOST)

# A class at once: N app processes behind one sticky proxy on PORT, one DENSESCOPE_HOME (docs/SCALING.md)
serve-class: prepare
	$(BIN)/python -m core serve-class --processes $(N) --port $(PORT) --host $(HOST)

test: prepare
	$(BIN)/python -m ruff check .
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/encode.py
	$(BIN)/python bench/sweep.py

clean:
	rm -rf .pytest-home tests/artifacts .pytest_cache .ruff_cache
