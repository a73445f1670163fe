# Two commands do all the set-up: `make run` (the app on the bundled data) and
# `make test` (the whole suite). Both create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run headless test bench clean

$(STAMP): pyproject.toml scripts/install.sh
	PY=$(PY) VENV=$(VENV) sh scripts/install.sh
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/pmax

headless: $(STAMP)
	$(BIN)/pmax --run

# One worker per core; each test file runs whole on one worker (a module's shared set-up,
# such as the SmolLM2 model or a serving run, is made once).
test: $(STAMP)
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest -q -n auto --dist loadfile

clean:
	rm -rf $(VENV) .pytest_cache
