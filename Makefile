# The two commands of the README, and the one that refreshes the stored chapter outputs.
#   make book      set up .venv (flowlib and the pinned tools) and build the site into _build/html
#   make test      set up .venv and run every test: library, chapter notebooks (quick mode),
#                  the book build and its pages in headless Chromium (skipped without it)
#   make chapters  time the chapters in quick mode, run them in full and store the outputs
#                  (made on a 2-core CPU);
#                  one chapter: make chapters CHAPTERS=chapters/00_getting_started.md

PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
CHAPTERS ?=

.PHONY: book test chapters

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)" -e ".[test]"
	touch $@

book: $(BIN)/.installed
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going

test: $(BIN)/.installed
	$(BIN)/python -m pytest -n 2 --dist loadfile

chapters: $(BIN)/.installed
	$(BIN)/python scripts/run_chapters.py $(CHAPTERS)
