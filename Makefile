PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: venv demo test test-fast bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/kanlab demo

test: $(STAMP)
	$(BIN)/python -m pytest

# everything but the tests marked slow (end-to-end, reproduce, docs); about a minute with numba's cache warm
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/layer_speed.py
	$(BIN)/python benchmarks/fit_recipe.py
	$(BIN)/python benchmarks/large_grid.py
	$(BIN)/python benchmarks/speed_guards.py

clean:
	rm -rf $(VENV) build *.egg-info
