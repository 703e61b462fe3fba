# Every target sets up what it needs from nothing: a fresh clone and Python 3.11 suffice.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo-out
WORKERS ?=

.PHONY: venv demo test lint typecheck unit bench fuzz train-demo clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[train,dev]'
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/python tools/typecheck.py

unit: $(STAMP)
	$(BIN)/python -m pytest -q

test: lint typecheck unit

demo: $(STAMP)
	rm -rf $(DEMO_DIR)
	$(BIN)/graves-data synth iam-ondb --out $(DEMO_DIR)/raw/iam-ondb --lines 600 --defects 0.02
	$(BIN)/graves-data build iam-ondb --raw $(DEMO_DIR)/raw/iam-ondb --out $(DEMO_DIR)/datasets/iam-ondb
	$(BIN)/graves-data stats $(DEMO_DIR)/datasets/iam-ondb
	$(BIN)/graves-data show $(DEMO_DIR)/datasets/iam-ondb a01-000u-01 --out $(DEMO_DIR)/a01-000u-01.svg

bench: $(STAMP)
	$(BIN)/python -m bench.run

# coverage-guided fuzzing of the IAM-OnDB readers (atheris), FUZZ_SECONDS per target
FUZZ_SECONDS ?= 60
fuzz: $(STAMP)
	$(BIN)/pip install --quiet atheris
	$(BIN)/python tests/reliability/fuzz.py --seconds $(FUZZ_SECONDS)

clean:
	rm -rf $(VENV) $(DEMO_DIR) .typecheck build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
