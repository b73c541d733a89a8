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

# The flagship case at the cpu scale: CoordConv against conv baselines on Not-so-Clevr, 9 arms x 3 seeds.
demo: install
	$(BIN)/scrutiny case coordconv --scale cpu --workers 2 --store $(STORE) --out scrutiny-reports/coordconv-cpu
	@echo "Trials are in $(STORE)/; open scrutiny-reports/coordconv-cpu/report.html for the verdicts."

test: install
	$(BIN)/python -m pytest

# ruff and mypy are pinned in the test extra; mypy's settings (strictness, files) are in pyproject.toml.
lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(STORE) scrutiny-reports build *.egg-info src/*.egg-info
