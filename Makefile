# Two commands do all the set-up: `make run` (the app on the bundled data) and
# `make test` (the whole suite). Both create .venv on first use. `make check` runs
# the linters, the format check, the type checker and the import contracts;
# `make fmt` rewrites what ruff can fix.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pip does not byte-compile an editable install, and where PYTHONDONTWRITEBYTECODE is set
# (this CI machine) Python never caches it either: every pmax process would compile pmax's
# ~190 modules again (~0.2 s CPU each). Cheap when nothing changed.
COMPILE := $(BIN)/python -m compileall -q engine copilot tui

.PHONY: run headless test check fmt bench clean

$(STAMP): pyproject.toml scripts/install.sh
	PY=$(PY) VENV=$(VENV) sh scripts/install.sh
	touch $(STAMP)

run: $(STAMP)
	$(COMPILE)
	$(BIN)/pmax

headless: $(STAMP)
	$(COMPILE)
	$(BIN)/pmax --run

# One worker per core; each test file runs whole on one worker (a module's shared set-up,
# such as the SmolLM2 model or a serving run, is made once).
test: $(STAMP)
	$(COMPILE)
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest -q -n auto --dist loadfile --no-loadscope-reorder

# PYTHONPATH=. so the checkers read this checkout, whatever the venv's editable install points at.
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PYTHONPATH=. $(BIN)/lint-imports
	PYTHONPATH=. $(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff check --fix-only .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
