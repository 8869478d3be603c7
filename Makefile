# The two commands of the README: `make demo` (the main job on the bundled example)
# and `make test` (the whole test suite). Each creates the virtual environment it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck policy-tests unit-tests clean

$(STAMP): pyproject.toml setup.py connectors/_speedups.c connectors/_json.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/regie scan --config examples/ministry/regie.toml || [ $$? -eq 1 ]

lint: $(STAMP)
	$(BIN)/ruff check $(wildcard dsl engine connectors policies regie tests bench)
	$(BIN)/ruff format --check dsl engine connectors regie

# mypy cannot follow the package-dir mapping of pyproject.toml, so it checks a tree of
# links laid out as the installed `regie` package is.
typecheck: $(STAMP)
	@rm -rf .typecheck && mkdir -p .typecheck/regie
	@for f in regie/*; do case $$f in *__pycache__) ;; *) ln -s ../../$$f .typecheck/regie/;; esac; done
	@for d in dsl engine connectors policies; do ln -s ../../$$d .typecheck/regie/$$d; done
	MYPYPATH=.typecheck $(BIN)/mypy --strict -p regie

policy-tests: $(STAMP)
	$(BIN)/regie check policies examples/quickstart/policies
	$(BIN)/regie fmt --check policies examples/quickstart/policies
	$(BIN)/regie test policies
	$(BIN)/regie test examples/quickstart/policies
	$(BIN)/regie docs --check

unit-tests: $(STAMP)
	$(BIN)/pytest -q --doctest-modules dsl engine connectors regie tests

test: lint typecheck policy-tests unit-tests

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .typecheck
