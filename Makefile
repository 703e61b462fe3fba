# Every target sets up what it needs from nothing: a fresh clone and Python 3.11 suffice.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo-out
WORKERS ?=

.PHONY: venv demo test lint typecheck unit bench gpu-check fuzz train-demo reproduce-handwriting clean browser

# the compiled stroke scanner and cleaning kernels are built by the install: a changed source
# installs again
$(STAMP): pyproject.toml constraints.txt corpora/iam_ondb/_strokescan.c pipelines/_strokeclean.c
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

# the browser tests (tests/serve) drive the system's Chromium: Debian's chromium and
# chromium-driver, installed here when missing (silent when they are there)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		echo "installing chromium and chromium-driver for the browser tests"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install \
			-y -qq chromium chromium-driver > /dev/null; \
	fi

unit: $(STAMP) browser
	$(BIN)/python -m pytest -q

test: lint typecheck unit

demo: $(STAMP)
	rm -rf $(DEMO_DIR)
	$(BIN)/graves-data synth iam-ondb --out $(DEMO_DIR)/raw/iam-ondb --lines 600 --defects 0.02
	$(BIN)/graves-data build iam-ondb --raw $(DEMO_DIR)/raw/iam-ondb --out $(DEMO_DIR)/datasets/iam-ondb
	$(BIN)/graves-data stats $(DEMO_DIR)/datasets/iam-ondb
	$(BIN)/graves-data show $(DEMO_DIR)/datasets/iam-ondb a01-000u-01 --out $(DEMO_DIR)/a01-000u-01.svg
	$(BIN)/graves-data train handwriting --data $(DEMO_DIR)/datasets/iam-ondb --run $(DEMO_DIR)/runs/prediction \
		--hidden 64 --layers 2 --mixtures 10 --steps 150 --batch-size 16 --lr 1e-3 --eval-batches 4 --no-progress
	$(BIN)/graves-data sample --run $(DEMO_DIR)/runs/prediction --steps 400 --out $(DEMO_DIR)/samples/prediction.svg
	$(BIN)/graves-data train synthesis --data $(DEMO_DIR)/datasets/iam-ondb --run $(DEMO_DIR)/runs/synthesis \
		--hidden 64 --layers 2 --mixtures 10 --window 5 --steps 150 --batch-size 16 --lr 1e-3 --eval-batches 4 --no-progress
	$(BIN)/graves-data sample --run $(DEMO_DIR)/runs/synthesis --text "a quick brown fox" --bias 1 \
		--out $(DEMO_DIR)/samples/synthesis.svg
	$(BIN)/graves-data eval --run $(DEMO_DIR)/runs/synthesis --split valid --batches 8
	$(BIN)/graves-data synth ptb --out $(DEMO_DIR)/raw/ptb --quiet
	$(BIN)/graves-data build ptb --raw $(DEMO_DIR)/raw/ptb --out $(DEMO_DIR)/datasets/ptb
	$(BIN)/graves-data stats $(DEMO_DIR)/datasets/ptb
	$(BIN)/graves-data train text --data $(DEMO_DIR)/datasets/ptb --run $(DEMO_DIR)/runs/ptb \
		--hidden 128 --steps 300 --batch-size 32 --lr 1e-3 --optimizer adam --eval-batches 4 --no-progress
	$(BIN)/graves-data eval --run $(DEMO_DIR)/runs/ptb --split valid --batches 8
	$(BIN)/graves-data sample --run $(DEMO_DIR)/runs/ptb --text "the_" --steps 200 --out $(DEMO_DIR)/samples/ptb.txt
	$(BIN)/graves-data export inkml $(DEMO_DIR)/datasets/iam-ondb --out $(DEMO_DIR)/raw/ink
	$(BIN)/graves-data build ink --raw $(DEMO_DIR)/raw/ink --out $(DEMO_DIR)/datasets/ink \
		--vocab $(DEMO_DIR)/runs/synthesis/vocab.json
	@echo "explore the datasets, write with the runs, capture your own lines:"
	@echo "  $(BIN)/graves-data serve $(DEMO_DIR)/datasets/iam-ondb $(DEMO_DIR)/datasets/ink" \
		"$(DEMO_DIR)/datasets/ptb --run $(DEMO_DIR)/runs/synthesis --run $(DEMO_DIR)/runs/prediction" \
		"--ink $(DEMO_DIR)/ink"

# a longer synthesis run (at most 2 hours on 2 CPUs) whose best sample lands in docs/
TRAIN_MINUTES ?= 110
TRAIN_DEMO_DIR ?= train-demo-out
train-demo: $(STAMP)
	$(BIN)/python tools/train_demo.py --out $(TRAIN_DEMO_DIR) --docs docs --minutes $(TRAIN_MINUTES)

# the paper's handwriting networks on the real IAM-OnDB (docs/results.md): MINUTES of training
# per network; running it again resumes every run where it stopped and trains MINUTES more
MINUTES ?= 30
REAL_RAW ?= ../shared/data/iam-ondb-release
REAL_DATA ?= datasets/iam-ondb-real
RESULTS ?= runs/results
RESULTS_OPTS ?= --no-progress --checkpoint-every 20 --eval-every 100 --eval-batches 8
reproduce-handwriting: $(STAMP)
	test -f $(REAL_DATA)/manifest.json || $(BIN)/graves-data build iam-ondb --raw $(REAL_RAW) \
		--out $(REAL_DATA) --split paper --quiet
	$(BIN)/graves-data train handwriting --data $(REAL_DATA) --run $(RESULTS)/prediction \
		--max-minutes $(MINUTES) $(RESULTS_OPTS)
	$(BIN)/graves-data train handwriting --data $(REAL_DATA) --run $(RESULTS)/prediction-noise \
		--weight-noise adaptive --max-minutes $(MINUTES) $(RESULTS_OPTS)
	$(BIN)/graves-data train synthesis --data $(REAL_DATA) --run $(RESULTS)/synthesis \
		--max-minutes $(MINUTES) $(RESULTS_OPTS)
	for run in prediction prediction-noise synthesis; do \
		$(BIN)/graves-data eval --run $(RESULTS)/$$run --json > $(RESULTS)/$$run.eval.json.tmp \
			&& mv $(RESULTS)/$$run.eval.json.tmp $(RESULTS)/$$run.eval.json || exit 1; done
	for run in prediction prediction-noise; do for bias in 0 1; do \
		$(BIN)/graves-data sample --run $(RESULTS)/$$run --bias $$bias --steps 700 \
			--out $(RESULTS)/$$run-bias$$bias.svg || exit 1; done; done
	for bias in 0 1; do $(BIN)/graves-data sample --run $(RESULTS)/synthesis --bias $$bias \
		--text "handwriting synthesis" --out $(RESULTS)/synthesis-bias$$bias.svg || exit 1; done
	$(BIN)/python tools/results.py --runs $(RESULTS) --names prediction,prediction-noise,synthesis \
		--png $(RESULTS)/curves.png --json $(RESULTS)/results.json \
		--title "graves-data on IAM-OnDB ($(REAL_DATA)), $(MINUTES) min a session"

bench: $(STAMP)
	$(BIN)/python -m bench.run

# every LSTM path of the three networks on one CUDA device (at most 8 minutes); GPU_CHECK_DATA: a
# built handwriting dataset (default: a generated one)
GPU_CHECK_DATA ?=
gpu-check: $(STAMP)
	$(BIN)/python -m bench.gpu_check --device cuda $(if $(GPU_CHECK_DATA),--data $(GPU_CHECK_DATA))

# coverage-guided fuzzing of the IAM-OnDB readers (atheris), FUZZ_SECONDS per target
FUZZ_SECONDS ?= 60
fuzz: $(STAMP)
	$(BIN)/pip install --quiet atheris
	$(BIN)/python tests/reliability/fuzz.py --seconds $(FUZZ_SECONDS)

clean:
	rm -rf $(VENV) $(DEMO_DIR) $(TRAIN_DEMO_DIR) .typecheck build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
