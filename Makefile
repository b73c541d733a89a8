# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STORE ?= scrutiny-runs

.PHONY: demo test install lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade --quiet pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/scrutiny run specs/digits_cnn.yaml --seeds 0-2 --store $(STORE)
	$(BIN)/scrutiny runs --store $(STORE)
	@echo "Results are in $(STORE)/ (one folder per trial; 'scrutiny show <trial-id>' opens one)."

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) $(STORE) build *.egg-info src/*.egg-info
